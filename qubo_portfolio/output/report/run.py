"""The page of a ``run`` folder: what was run, the selection and its metrics, the quality."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.metrics import MEASURES
from ...core.quality import solution_quality
from .folder import read_csv, read_json
from .html import Cell, esc, fmt, frame_table, kv_table, num, para, table, warnings_box
from .sections import (
    config_section,
    data_notes,
    data_rows,
    environment_section,
    figures,
    metric_rows,
    windows_text,
)


def run_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    s = read_json(folder / "summary.json")
    samples = read_csv(folder / "samples.csv")
    selection = read_csv(folder / "selection.csv")
    in_sample = s.get("in_sample") or {}
    penalty = s.get("penalty")
    overview = kv_table(
        [
            *data_rows(s.get("data")),
            (
                "in sample",
                f"{in_sample.get('start')}..{in_sample.get('end')} ({in_sample.get('rows')} days)",
            ),
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
            (
                "solver",
                f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('seed')}"
                + (f", params {s['solver_params']}" if s.get("solver_params") else "")
                + (", polished" if s.get("polished") else ""),
            ),
            ("penalty lambda", "- (penalty-free solver)" if penalty is None else f"{penalty:.6g}"),
            *(
                [("exclusion gamma", f"{s['exclusion_penalty']:.6g}")]
                if s.get("exclusion_penalty") is not None
                else []
            ),
            (
                "time",
                ", ".join(
                    f"{k.removesuffix('_seconds')} {v:.2f} s"
                    for k, v in (s.get("timings") or {}).items()
                    if isinstance(v, int | float)
                ),
            ),
        ],
        table_id="overview",
    )
    tickers = s.get("tickers") or []
    answer = (
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
    if selection is not None:
        answer += "<h3>Selection</h3>" + frame_table(
            selection, "selection", formats={"weight": ".4f"}
        )
    else:
        weights = s.get("weights") or {}
        answer += "<h3>Selection</h3>" + table(
            ["ticker", "weight"], [[t, num(w)] for t, w in weights.items()], "selection"
        )
    bench = (s.get("benchmark") or {}).get("metrics") or {}
    answer += (
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
    spread = s.get("diversification") or {}
    if spread.get("mean_tree_distance") is not None:
        answer += para(
            f"Diversification: mean tree distance {spread['mean_tree_distance']:.4f} on the "
            f"correlation MST; the median of {spread.get('random_subsets')} random "
            f"{spread.get('num_selected')}-subsets is {spread.get('random_median', float('nan')):.4f} "
            f"(percentile {spread.get('percentile', float('nan')):.0f})."
        )
    quality, notes = run_quality(s, samples)
    sections = [
        ("overview", "What was run", overview),
        ("answer", "The answer", answer),
        ("quality", "Quality of the answer", quality),
    ]
    if samples is not None:
        sections.append(("reads", "Reads", reads_table(samples)))
    figs, fig_notes = figures(
        folder, plots_off=not ((s.get("config") or {}).get("report") or {}).get("plots", True)
    )
    sections.append(("figures", "Figures", figs))
    notes += data_notes(s.get("data"), in_sample.get("start"))
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
    sections.append(("notes", "Notes and warnings", warnings_box(notes + fig_notes)))
    sections.append(("config", "Config", config_section(folder, s.get("config"))))
    sections.append(("environment", "Environment", environment_section(folder)))
    subtitle = (
        f"{s.get('solver')} on K = {s.get('num_assets')}, K' = {s.get('k')}, xi = {s.get('xi')}; "
        f"in sample {in_sample.get('start')}..{in_sample.get('end')}"
    )
    return subtitle, sections


def run_quality(summary: Mapping[str, Any], samples: pd.DataFrame | None) -> tuple[str, list[str]]:
    """The quality table (from summary.json, else recomputed from samples.csv) and notes."""
    quality = summary.get("quality")
    source = ""
    if not quality and samples is not None and {"objective", "feasible", "tickers"} <= set(samples):
        frame = samples.assign(tickers=samples["tickers"].fillna(""))
        quality = solution_quality(frame)
        source = " (not in summary.json: counted from samples.csv, no exact optimum)"
    if not quality:
        return para("Not recorded in this folder."), []
    reads, at_best = quality.get("reads"), quality.get("reads_at_best")
    rows = [
        ("best found by", Cell(f"{at_best} of {reads} reads")),
        ("feasible reads", quality.get("feasible_reads")),
        ("distinct feasible selections", quality.get("distinct_solutions")),
        ("best objective", Cell(fmt(quality.get("best_objective"), ".6e"))),
        ("median objective (feasible reads)", Cell(fmt(quality.get("median_objective"), ".6e"))),
    ]
    notes = []
    if quality.get("exact_objective") is not None:
        gap = quality.get("gap")
        rows += [
            ("exact optimum (enumerated)", Cell(fmt(quality["exact_objective"], ".6e"))),
            ("gap to the optimum", Cell("0 (optimal)" if gap == 0 else fmt(gap, ".4%"))),
        ]
        if gap:
            notes.append(
                f"the best read is {gap:.4%} above the exact optimum: more reads, or another solver"
            )
    else:
        rows.append(
            ("exact optimum", Cell("not enumerated (too many portfolios)" if not source else "-"))
        )
    if quality.get("lower_bound") is not None:  # solver.certify
        gap = quality.get("certified_gap")
        rows += [
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
    if at_best == 1 and reads and reads > 1:
        notes.append(f"only one of {reads} reads found the best objective: it may not be optimal")
    body = kv_table(rows, "quality")
    body += para(
        "Reads at the best: feasible reads whose objective equals the best within 1e-9 relative."
        + source
    )
    return body, notes


def reads_table(samples: pd.DataFrame, top: int = 10) -> str:
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
