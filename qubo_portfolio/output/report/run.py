"""The page of a ``run`` folder: what was run, the selection and its metrics, the quality."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.metrics import MEASURES
from ...core.quality import solution_quality
from .folder import read_csv, read_json
from .html import Cell, Section, esc, fmt, frame_table, kv_table, num, para, table
from .sections import (
    closing_sections,
    data_notes,
    data_rows,
    in_sample_text,
    metric_rows,
    windows_text,
)


def run_report(folder: Path) -> tuple[str, list[Section]]:
    """The subtitle and sections of a run's page, from ``summary.json`` and the CSV files."""
    s = read_json(folder / "summary.json")
    samples = read_csv(folder / "samples.csv")
    selection = read_csv(folder / "selection.csv")
    quality, quality_notes = run_quality(s, samples)
    sections = [
        ("overview", "What was run", _overview(s)),
        ("answer", "The answer", _answer(s, selection)),
        ("quality", "Quality of the answer", quality),
    ]
    if samples is not None:
        sections.append(("reads", "Reads", reads_table(samples)))
    plots_off = not ((s.get("config") or {}).get("report") or {}).get("plots", True)
    sections += closing_sections(folder, quality_notes + _notes(s), s.get("config"), plots_off)
    return _subtitle(s), sections


def _subtitle(s: Mapping[str, Any]) -> str:
    in_sample = s.get("in_sample") or {}
    return (
        f"{s.get('solver')} on K = {s.get('num_assets')}, K' = {s.get('k')}, xi = {s.get('xi')}; "
        f"in sample {in_sample.get('start')}..{in_sample.get('end')}"
    )


# --------------------------------------------------------------------------- what was run


def _overview(s: Mapping[str, Any]) -> str:
    """Data, in-sample days, windows, model, moments, solver, penalties and timings."""
    penalty = s.get("penalty")
    rows = [
        *data_rows(s.get("data")),
        ("in sample", in_sample_text(s.get("in_sample") or {})),
        ("windows", windows_text(s.get("windows"))),
        (
            "model",
            f"K = {s.get('num_assets')}, K' = {s.get('k')}, xi = {s.get('xi')}, "
            f"{s.get('return_term')} return term, {s.get('positions', 'long_only')}",
        ),
        (
            "moments",
            f"covariance {s.get('covariance', 'empirical')}, expected returns "
            f"{s.get('expected_returns', 'empirical')}",
        ),
        ("solver", _solver_text(s)),
        ("penalty lambda", "- (penalty-free solver)" if penalty is None else f"{penalty:.6g}"),
        *(
            [("exclusion gamma", f"{s['exclusion_penalty']:.6g}")]
            if s.get("exclusion_penalty") is not None
            else []
        ),
        ("time", _timings_text(s.get("timings"))),
    ]
    return kv_table(rows, table_id="overview")


def _solver_text(s: Mapping[str, Any]) -> str:
    return (
        f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('seed')}"
        + (f", params {s['solver_params']}" if s.get("solver_params") else "")
        + (", polished" if s.get("polished") else "")
    )


def _timings_text(timings: Mapping[str, Any] | None) -> str:
    return ", ".join(
        f"{k.removesuffix('_seconds')} {v:.2f} s"
        for k, v in (timings or {}).items()
        if isinstance(v, int | float)
    )


# --------------------------------------------------------------------------- the answer


def _answer(s: Mapping[str, Any], selection: pd.DataFrame | None) -> str:
    """The headline, the selection, its metrics in sample and its diversification."""
    return (
        _headline(s)
        + "<h3>Selection</h3>"
        + _selection_table(s, selection)
        + _metrics(s)
        + _diversification(s)
    )


def _headline(s: Mapping[str, Any]) -> str:
    tickers = s.get("tickers") or []
    return (
        f'<div class="answer">Selected <b>{esc(", ".join(tickers))}</b>: objective '
        f"x<sup>T</sup>A x = {esc(fmt(s.get('objective'), '.6e'))}, energy "
        f"{esc(fmt(s.get('energy'), '.6e'))}, "
        f"{esc(fmt(s.get('feasible_fraction'), '.0%'))} of the reads feasible"
        + (
            f" ({esc(fmt((s.get('raw') or {}).get('feasible_fraction'), '.0%'))} before polish)"
            if s.get("raw")
            else ""
        )
        + ".</div>"
    )


def _selection_table(s: Mapping[str, Any], selection: pd.DataFrame | None) -> str:
    """``selection.csv``, else the weights of ``summary.json``."""
    if selection is not None:
        return frame_table(selection, "selection", formats={"weight": ".4f"})
    weights = s.get("weights") or {}
    return table(["ticker", "weight"], [[t, num(w)] for t, w in weights.items()], "selection")


def _metrics(s: Mapping[str, Any]) -> str:
    bench = (s.get("benchmark") or {}).get("metrics") or {}
    return (
        "<h3>Metrics in sample</h3>"
        + table(
            ["measure", "selection", "1/N of all K"],
            metric_rows({"selection": s.get("metrics") or {}, "1/N": bench}, MEASURES),
            "metrics",
        )
        + para(
            "Weights held constant over the in-sample days, 252 trading days a year, "
            f"risk-free rate {((s.get('config') or {}).get('report') or {}).get('risk_free_rate', 0)}."
        )
    )


def _diversification(s: Mapping[str, Any]) -> str:
    """The mean tree distance against random subsets ("" when not recorded)."""
    spread = s.get("diversification") or {}
    if spread.get("mean_tree_distance") is None:
        return ""
    return para(
        f"Diversification: mean tree distance {spread['mean_tree_distance']:.4f} on the "
        f"correlation MST; the median of {spread.get('random_subsets')} random "
        f"{spread.get('num_selected')}-subsets is {spread.get('random_median', float('nan')):.4f} "
        f"(percentile {spread.get('percentile', float('nan')):.0f})."
    )


# --------------------------------------------------------------------------- quality and reads


def run_quality(summary: Mapping[str, Any], samples: pd.DataFrame | None) -> tuple[str, list[str]]:
    """The quality table (from summary.json, else recomputed from samples.csv) and notes."""
    quality, source = _recorded_quality(summary, samples)
    if not quality:
        return para("Not recorded in this folder."), []
    reads, at_best = quality.get("reads"), quality.get("reads_at_best")
    rows = [
        ("best found by", Cell(f"{at_best} of {reads} reads")),
        ("feasible reads", quality.get("feasible_reads")),
        ("distinct feasible selections", quality.get("distinct_solutions")),
        ("best objective", Cell(fmt(quality.get("best_objective"), ".6e"))),
        ("median objective (feasible reads)", Cell(fmt(quality.get("median_objective"), ".6e"))),
        *_optimum_rows(quality, source),
        *_bound_rows(quality),
    ]
    body = kv_table(rows, "quality")
    body += para(
        "Reads at the best: feasible reads whose objective equals the best within 1e-9 relative."
        + source
    )
    return body, _quality_notes(quality)


def _recorded_quality(
    summary: Mapping[str, Any], samples: pd.DataFrame | None
) -> tuple[Mapping[str, Any] | None, str]:
    """``quality`` of summary.json, else counted from samples.csv; and where it came from."""
    quality = summary.get("quality")
    if not quality and samples is not None and {"objective", "feasible", "tickers"} <= set(samples):
        frame = samples.assign(tickers=samples["tickers"].fillna(""))
        source = " (not in summary.json: counted from samples.csv, no exact optimum)"
        return solution_quality(frame), source
    return quality, ""


def _optimum_rows(quality: Mapping[str, Any], source: str) -> list[tuple[str, Any]]:
    """The exact optimum and the gap to it, when it was enumerated."""
    if quality.get("exact_objective") is None:
        return [
            ("exact optimum", Cell("not enumerated (too many portfolios)" if not source else "-"))
        ]
    gap = quality.get("gap")
    return [
        ("exact optimum (enumerated)", Cell(fmt(quality["exact_objective"], ".6e"))),
        ("gap to the optimum", Cell("0 (optimal)" if gap == 0 else fmt(gap, ".4%"))),
    ]


def _bound_rows(quality: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The certified lower bound and gap (``solver.certify``)."""
    if quality.get("lower_bound") is None:
        return []
    gap = quality.get("certified_gap")
    return [
        (
            "certified lower bound",
            Cell(
                f"{fmt(quality['lower_bound'], '.6e')} ({quality.get('bound_method')}, "
                f"{fmt(quality.get('bound_seconds'), '.2f')} s)"
            ),
        ),
        (
            "certified gap",
            Cell("0 (proven optimal)" if quality.get("proven_optimal") else fmt(gap, ".4%")),
        ),
    ]


def _quality_notes(quality: Mapping[str, Any]) -> list[str]:
    notes = []
    gap = quality.get("gap")
    if quality.get("exact_objective") is not None and gap:
        notes.append(
            f"the best read is {gap:.4%} above the exact optimum: more reads, or another solver"
        )
    reads, at_best = quality.get("reads"), quality.get("reads_at_best")
    if at_best == 1 and reads and reads > 1:
        notes.append(f"only one of {reads} reads found the best objective: it may not be optimal")
    return notes


def reads_table(samples: pd.DataFrame, top: int = 10) -> str:
    """The ``top`` distinct feasible selections of samples.csv, best first."""
    feasible = samples[samples["feasible"].astype(bool)]
    if feasible.empty:
        return para("No feasible read.")
    groups = (
        feasible.groupby("tickers", sort=False)
        .agg(reads=("objective", "size"), objective=("objective", "min"))
        .sort_values(["objective", "reads"], ascending=[True, False])
    )
    rows = [
        [str(t).replace(";", ", "), num(int(r.reads), "d"), num(r.objective, ".6e")]
        for t, r in groups.head(top).iterrows()
    ]
    shown = f"the best {top} of them " if len(groups) > top else ""
    text = (
        f"{len(groups)} distinct feasible selection{'s' * (len(groups) != 1)} among "
        f"{len(samples)} reads, {shown}best first (every read is in samples.csv)."
    )
    return para(text) + table(
        ["selection", "reads", "objective"],
        rows,
        "reads",
        row_class=lambda i: "best" if i == 0 else None,
    )


# --------------------------------------------------------------------------- notes


def _notes(s: Mapping[str, Any]) -> list[str]:
    """The data's notes, the raw reads before polish, reads that are not feasible."""
    notes = data_notes(s.get("data"), (s.get("in_sample") or {}).get("start"))
    raw = s.get("raw")
    if raw:
        notes.append(
            f"polished: before repair {raw.get('feasible_fraction', 0):.0%} of the reads were "
            f"feasible; best raw feasible objective {fmt(raw.get('best_feasible_objective'), '.6e')}, "
            f"median raw objective {fmt(raw.get('median_objective'), '.6e')}"
        )
    if s.get("feasible_fraction") is not None and s["feasible_fraction"] < 1:
        notes.append(
            f"only {s['feasible_fraction']:.0%} of the reads are feasible (hold exactly K' "
            "assets): the answer is the best feasible read"
        )
    return notes
