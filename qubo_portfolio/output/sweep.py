"""The sweep writer: the console summary and the figures beside results.csv."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..workflows.sweep import (
    PENALTY_KEYS,
    RESULTS_FILE,
    XI_KEY,
    SweepPlan,
    SweepResult,
    plural,
)
from .files import write_json
from .plots import sweep as plots
from .report import finish_folder


def penalty_key(keys: Sequence[str]) -> str | None:
    """The grid key on the penalty axis: ``model.penalty.value`` or ``.scale`` (or None)."""
    return next((k for k in PENALTY_KEYS if k in keys), None)


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def point_summary(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per grid point: runs, mean raw feasible fraction, min/mean objective over seeds, and
    the Sharpe ratio and tickers of the seed with the lowest objective."""
    rows = []
    for point, group in frame.groupby("point", sort=True):
        feasible = group[group["objective"].notna()]
        best = feasible.loc[feasible["objective"].idxmin()] if len(feasible) else None
        rows.append(
            {
                **{k: group[k].iloc[0] for k in keys},
                "point": point,
                "runs": len(group),
                "feasible_fraction": group["feasible_fraction"].mean(),
                "objective_min": feasible["objective"].min() if len(feasible) else np.nan,
                "objective_mean": feasible["objective"].mean() if len(feasible) else np.nan,
                "sharpe": np.nan if best is None else best["sharpe"],
            }
        )
    return pd.DataFrame(rows)


def best_rows(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The feasible row with the lowest objective per group of ``by`` (over all else)."""
    feasible = frame[frame["objective"].notna()]
    if feasible.empty:
        return feasible
    if not by:
        return feasible.loc[[feasible["objective"].idxmin()]]
    index = feasible.groupby(list(by), sort=True, dropna=False)["objective"].idxmin()
    return feasible.loc[index.to_numpy()].sort_values("point", kind="stable")


def sweep_table(result: SweepResult) -> str:
    """The console summary: per grid point, then the best selection per xi, then 1/N."""
    plan, frame = result.plan, result.frame
    keys = list(plan.keys)
    summary = point_summary(frame, keys)
    who = result.executor + (f", {plural(result.workers, 'worker')}" if result.workers else "")
    lines = [
        f"{len(frame)} of {len(plan.runs)} runs ({plural(len(plan.points), 'grid point')} x "
        f"{plural(len(plan.seeds), 'seed')}) in {result.out / RESULTS_FILE}: {result.new_runs} run now "
        f"({result.seconds:.1f} s on {who}), {result.resumed_runs} by an earlier call",
        "",
    ]
    key_width = [max(len(k), 6) for k in keys]
    head = "  ".join(f"{k:>{w}}" for k, w in zip(keys, key_width, strict=True))
    head += f"{'':2}{'seeds':>5}  {'feasible':>8}  {'objective min':>14}  {'objective mean':>14}  "
    head += f"{'sharpe':>7}"
    lines.append(head.strip() if not keys else head)
    for _, row in summary.iterrows():
        values = plan.points[int(row["point"])].cells
        cells = "  ".join(f"{c:>{w}}" for c, w in zip(values, key_width, strict=True))
        lines.append(
            f"{cells}{'':2}{int(row['runs']):>5}  {_fmt(row['feasible_fraction'], '.0%'):>8}  "
            f"{_fmt(row['objective_min'], '.6e'):>14}  {_fmt(row['objective_mean'], '.6e'):>14}  "
            f"{_fmt(row['sharpe'], '.3f'):>7}"
        )
    pen = penalty_key(keys)
    group = [k for k in keys if k != pen]
    best = best_rows(frame, group)
    if len(best):  # in grid order of the group's values
        ranks = [_grid_rank(plan, int(p), group) for p in best["point"]]
        best = best.iloc[sorted(range(len(best)), key=ranks.__getitem__)]
        title = "best selection" + (f" per {', '.join(group)}" if group else "")
        lines += ["", f"{title} (lowest objective over penalties and seeds), in sample:"]
        for _, row in best.iterrows():
            label = _series_label(plan, row, group, "  ") or "all"
            tickers = row["tickers"].split(";")
            shown = ", ".join(tickers[:8]) + (f" +{len(tickers) - 8}" if len(tickers) > 8 else "")
            lines.append(
                f"  {label}  objective {row['objective']:.6e}  return "
                f"{row['annualized_mean']:.4f}  volatility {row['annualized_volatility']:.4f}  "
                f"sharpe {row['sharpe']:.3f}  {shown}"
            )
    for i, scheme in enumerate(result.schemes):
        b = scheme.benchmark
        which = f" (data/window scheme {i + 1})" if len(result.schemes) > 1 else ""
        lines.append(
            f"  1/N of all {len(scheme.moments.tickers)}{which}  return "
            f"{b['annualized_mean']:.4f}  volatility {b['annualized_volatility']:.4f}  "
            f"sharpe {b['sharpe']:.3f}"
        )
    return "\n".join(lines)


def _grid_rank(plan: SweepPlan, point: int, keys: Sequence[str]) -> tuple[int, ...]:
    """Positions of the point's values of ``keys`` in their grid lists."""
    grid, values = plan.config.sweep.grid, plan.points[point].values
    return tuple(grid[k].index(values[k]) for k in keys)  # as given, not as validated


def _series_label(
    plan: SweepPlan, row: Mapping[str, Any], keys: Sequence[str], sep: str = ", "
) -> str:
    """``key=value`` of ``keys`` for the grid point of ``row``, values as in the config."""
    point = plan.points[int(row["point"])]
    return sep.join(f"{k}={point.cells[plan.keys.index(k)]}" for k in keys)


def with_gaps(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``frame`` plus ``gap``: ``(objective - best) / |best|``, best over the rows that
    share every grid value but the penalty's (so per xi in an xi x penalty grid)."""
    group = [k for k in keys if k != penalty_key(keys)]
    frame = frame.copy()
    if group:
        best = frame.groupby(group, sort=False, dropna=False)["objective"].transform("min")
    else:
        best = pd.Series(frame["objective"].min(), index=frame.index)
    frame["gap"] = (frame["objective"] - best) / best.abs()
    return frame


BENCHMARK_FILE = "benchmark.json"


def benchmark_payload(result: SweepResult) -> dict[str, Any]:
    """1/N of all K assets per data/window scheme, measured in sample like each row of
    results.csv: ``{"equal_weight": [{label, assets, in_sample: {start, end, days}, measures}]}``.
    """
    rows = []
    for i, scheme in enumerate(result.schemes):
        dates = scheme.in_sample.index
        rows.append(
            {
                "label": f"1/N of all {len(scheme.moments.tickers)}"
                + (f" (scheme {i + 1})" if len(result.schemes) > 1 else ""),
                "assets": len(scheme.moments.tickers),
                "in_sample": {
                    "start": dates[0].date().isoformat(),
                    "end": dates[-1].date().isoformat(),
                    "days": len(dates),
                },
                "measures": dict(scheme.benchmark),
            }
        )
    return {"equal_weight": rows}


def write_sweep(result: SweepResult, plots: bool = True) -> list[Path]:
    """The files beside results.csv and sweep.json: the figures (:func:`write_sweep_plots`,
    when ``plots``), ``benchmark.json`` (:func:`benchmark_payload`), then ``config.yaml``,
    ``environment.json`` and ``report.html``, each written atomically (the sweep folder is
    written in place, to be resumable)."""
    written = write_sweep_plots(result) if plots else []
    write_json(result.out / BENCHMARK_FILE, benchmark_payload(result))
    written.append(result.out / BENCHMARK_FILE)
    return written + finish_folder(result.out, result.plan.config, "sweep")


def write_sweep_plots(result: SweepResult) -> list[Path]:
    """The figures next to results.csv, each written atomically; those that need a grid key
    the sweep lacks are skipped.

    - ``sweep_penalty.png`` (needs a penalty key): raw feasible fraction and objective gap
      vs the penalty, one line per xi (and per value of any other grid key);
    - ``sweep_heatmap.png`` (needs xi and a penalty key): xi x penalty, median objective;
    - ``sweep_frontier.png``: the best selection per xi in volatility/return, 1/N marked.
    """

    plan = result.plan
    keys = list(plan.keys)
    frame = with_gaps(result.frame, keys)
    pen = penalty_key(keys)
    others = [k for k in keys if k not in (XI_KEY, pen)]
    out = result.out
    written = []
    if pen is not None:
        lines = []  # (xi or None, label of the other grid values, per-penalty aggregates)
        line_keys = [*([XI_KEY] if XI_KEY in keys else []), *others]
        groups = frame.groupby(line_keys, sort=False) if line_keys else [((), frame)]
        for _, group in groups:
            first = group.iloc[0]
            agg = group.groupby(pen, sort=True).agg(
                feasible=("feasible_fraction", "mean"),
                gap=("gap", "median"),
                gap_min=("gap", "min"),
                gap_max=("gap", "max"),
            )
            xi = first[XI_KEY] if XI_KEY in keys else None
            lines.append((xi, _series_label(plan, first, others), agg))
        path = out / "sweep_penalty.png"
        _atomic(path, lambda p: plots.plot_sweep_penalty(lines, pen, len(plan.seeds), p))
        written.append(path)
    if pen is not None and XI_KEY in keys:
        panels = {}
        groups = frame.groupby(others, sort=False) if others else [((), frame)]
        for _, group in groups:
            label = _series_label(plan, group.iloc[0], others)
            median = group.groupby([XI_KEY, pen])["objective"].median().unstack(pen)
            gap = group.groupby([XI_KEY, pen])["gap"].median().unstack(pen)
            panels[label] = (median, gap)
        path = out / "sweep_heatmap.png"
        _atomic(path, lambda p: plots.plot_sweep_heatmap(panels, pen, p))
        written.append(path)
    series_keys = [k for k in keys if k not in (XI_KEY, pen)]
    best = best_rows(frame, [*series_keys, *([XI_KEY] if XI_KEY in keys else [])])
    if len(best):
        series = {}
        groups = best.groupby(series_keys, sort=False) if series_keys else [((), best)]
        for _, group in groups:
            label = _series_label(plan, group.iloc[0], series_keys)
            xi = group[XI_KEY] if XI_KEY in keys else result.plan.points[0].config.model.xi
            series[label] = pd.DataFrame(
                {
                    "xi": xi,
                    "volatility": group["annualized_volatility"],
                    "return": group["annualized_mean"],
                    "scheme": group["scheme"],
                }
            ).sort_values("xi")
        benchmarks = [
            (
                f"1/N of all {len(s.moments.tickers)}"
                + (f" (scheme {i + 1})" if len(result.schemes) > 1 else ""),
                s.benchmark,
            )
            for i, s in enumerate(result.schemes)
        ]
        k_values = sorted({p.config.model.k for p in result.plan.points})
        title = f"Best equal-weight QUBO selection per xi (k = {', '.join(map(str, k_values))})"
        if len(result.schemes) == 1:
            rows = result.schemes[0].in_sample.index
            title += f", in sample {rows[0].date()}..{rows[-1].date()} ({len(rows)} days)"
        title += "\nbest: the lowest objective over all penalties and seeds"
        path = out / "sweep_frontier.png"
        _atomic(path, lambda p: plots.plot_sweep_frontier(series, benchmarks, title, p))
        written.append(path)
    return written


def _atomic(path: Path, draw: Callable[[Path], Any]) -> None:
    """Draw into a temporary PNG beside ``path``, then move it into place."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        draw(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
