"""The page of a ``bench`` folder: the instance and one row per solver configuration."""

from __future__ import annotations

from pathlib import Path

from .folder import read_csv
from .html import kv_table, num, para, table, warnings_box
from .sections import config_section, environment_section, figures


def bench_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    frame = read_csv(folder / "bench.csv", keep_default_na=False, na_values=[""])
    md = folder / "bench.md"
    facts = []
    if md.is_file():
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith("- ") and ":" in line:
                key, value = line[2:].split(":", 1)
                facts.append((key.strip(), value.strip().strip("`")))
    overview = kv_table(facts or [("instance", "not recorded (no bench.md)")], "overview")
    rows = []
    for r in frame.to_dict("records"):
        tts = r.get("tts99")
        rows.append(
            [
                r.get("solver"),
                r.get("params") if isinstance(r.get("params"), str) and r.get("params") else "-",
                num(r.get("reads"), "g"),
                num(
                    1e3 * r["time_per_read"] if r.get("time_per_read") is not None else None, ".3f"
                ),
                num(r.get("best_objective"), ".6e"),
                num(r.get("gap"), ".2%"),
                num(r.get("median_gap"), ".2%"),
                num(r.get("feasible_fraction"), ".0%"),
                num(r.get("hit_rate"), ".0%"),
                num(1e3 * tts if isinstance(tts, int | float) else tts, ".2f"),
                num(r.get("repeats_hit"), ".0%"),
            ]
        )
    body = table(
        [
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
        ],
        rows,
        "bench",
    ) + para(
        "hit = a read within 1e-9 relative of the best known; TTS99 = time per read * ln(0.01) "
        "/ ln(1 - hit rate)."
    )
    notes = []
    for r in frame.to_dict("records"):
        if isinstance(r.get("feasible_fraction"), float) and r["feasible_fraction"] < 1:
            notes.append(
                f"{r['solver']} {r.get('params') or ''}: only {r['feasible_fraction']:.0%} of "
                "the reads feasible".replace("  ", " ")
            )
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("bench", "Solvers", body),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, None)),
        ("environment", "Environment", environment_section(folder)),
    ]
    return f"{len(frame)} solver configurations", sections
