"""The page of a ``bench`` folder: the instance and one row per solver configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .folder import read_csv
from .html import Section, kv_table, num, para, table
from .sections import closing_sections

BENCH_COLUMNS = (
    "solver",
    "params",
    "reads",
    "ms/read",
    "best objective",
    "gap",
    "median gap",
    "feasible",
    "hit rate",
    "TTS99 ms",
    "repeats hit",
)


def bench_report(folder: Path) -> tuple[str, list[Section]]:
    """The subtitle and sections of a bench's page, from ``bench.csv`` and ``bench.md``."""
    frame = read_csv(folder / "bench.csv", keep_default_na=False, na_values=[""])
    records = frame.to_dict("records")
    sections = [
        ("overview", "What was run", _overview(folder)),
        ("bench", "Solvers", _solvers(records)),
        *closing_sections(folder, _notes(records), None),
    ]
    return f"{len(frame)} solver configurations", sections


def _overview(folder: Path) -> str:
    """The instance as ``bench.md`` lists it (its ``- key: value`` lines)."""
    md = folder / "bench.md"
    facts = []
    if md.is_file():
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith("- ") and ":" in line:
                key, value = line[2:].split(":", 1)
                facts.append((key.strip(), value.strip().strip("`")))
    return kv_table(facts or [("instance", "not recorded (no bench.md)")], "overview")


def _solvers(records: list[dict[str, Any]]) -> str:
    return table(list(BENCH_COLUMNS), [_solver_row(r) for r in records], "bench") + para(
        "hit = a read within 1e-9 relative of the best known; TTS99 = time per read * ln(0.01) "
        "/ ln(1 - hit rate)."
    )


def _solver_row(r: Mapping[str, Any]) -> list[Any]:
    tts = r.get("tts99")
    return [
        r.get("solver"),
        r.get("params") if isinstance(r.get("params"), str) and r.get("params") else "-",
        num(r.get("reads"), "g"),
        num(1e3 * r["time_per_read"] if r.get("time_per_read") is not None else None, ".3f"),
        num(r.get("best_objective"), ".6e"),
        num(r.get("gap"), ".2%"),
        num(r.get("median_gap"), ".2%"),
        num(r.get("feasible_fraction"), ".0%"),
        num(r.get("hit_rate"), ".0%"),
        num(1e3 * tts if isinstance(tts, int | float) else tts, ".2f"),
        num(r.get("repeats_hit"), ".0%"),
    ]


def _notes(records: list[dict[str, Any]]) -> list[str]:
    """Solvers whose reads are not all feasible."""
    notes = []
    for r in records:
        if isinstance(r.get("feasible_fraction"), float) and r["feasible_fraction"] < 1:
            notes.append(
                f"{r['solver']} {r.get('params') or ''}: only {r['feasible_fraction']:.0%} of "
                "the reads feasible".replace("  ", " ")
            )
    return notes
