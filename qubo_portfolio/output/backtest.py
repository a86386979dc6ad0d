"""The ``backtest`` command's files and console report.

:func:`write_backtest` writes ``equity.csv``, ``selections.csv``, ``rebalances.csv``,
``random_subsets.csv`` (when there are random subsets), ``metrics.json`` and ``equity.png``;
:func:`backtest_table` is the console report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..core.metrics import MEASURES
from ..errors import InputError
from ..solvers import get_solver
from ..workflows.backtest import BacktestResult
from .files import write_json
from .plots.backtest import plot_equity
from .report_html import finish_folder

ROWS = (*MEASURES, "final_wealth", "cagr", "turnover", "total_costs")
"""The measures of every curve, in the order of the console table."""


def backtest_summary(result: BacktestResult) -> dict[str, Any]:
    """The ``metrics.json`` payload."""
    return {
        "period": {
            key: result.settings[key] for key in ("start", "end", "days", "rebalances", "unit")
        },
        "metrics": result.metrics,
        "random_subsets": result.random_summary,
        "settings": result.settings,
        "timings": result.timings,
        "data": result.data,
        "config": result.config,
        "version": __version__,
    }


def write_backtest(result: BacktestResult, folder: Path, plots: bool = True) -> list[Path]:
    """Write one backtest's files into ``folder`` (use inside ``staged_output``)."""
    folder = Path(folder)
    written = []
    path = folder / "equity.csv"
    result.equity.to_csv(path, date_format="%Y-%m-%d")
    written.append(path)
    for name, table in (("selections", result.selections), ("rebalances", result.rebalances)):
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        written.append(path)
    if len(result.random):
        path = folder / "random_subsets.csv"
        result.random.to_csv(path)
        written.append(path)
    path = folder / "metrics.json"
    write_json(path, backtest_summary(result))
    written.append(path)
    if plots:
        written.append(plot_equity(result, folder / "equity.png"))
    written += finish_folder(folder, result.config, "backtest")  # config.yaml, environment, report
    return written


def _rebalance_text(settings: dict[str, Any]) -> str:
    rebalance = settings["rebalance"]
    if isinstance(rebalance, str):
        return rebalance
    return f"every {rebalance} {settings['unit'].replace('_', ' ')}"


def _windows_text(settings: dict[str, Any]) -> str:
    w = settings["windows"]
    unit = "calendar days" if w["unit"] == "calendar_days" else "rows"
    spacing = f" step {w['step']}" if w["step"] else (f" count {w['count']}" if w["count"] else "")
    return f"windows {w['length'] or 'all'}{spacing} {unit}"


def _uses_penalty(name: str) -> bool:
    """Whether solver ``name`` solves the penalty BQM (True for an unknown name)."""

    try:
        return get_solver(name).uses_penalty
    except InputError:
        return True


def backtest_table(result: BacktestResult) -> str:
    """A plain-text report of one backtest for the terminal."""
    s = result.settings
    unit = s["unit"].replace("_", " ")
    solver = f"solver {s['solver']}  reads {s['num_reads']}"
    if not _uses_penalty(s["solver"]):  # swap, exact: no penalty, as `run` prints it
        solver += "  penalty -"
    elif s["penalty"] is not None:
        solver += f"  penalty {s['penalty']:g}"
    else:
        solver += f"  penalty scale {s['penalty_scale']:g}"
    reb = result.rebalances
    lines = [
        f"out of sample {s['start']}..{s['end']} ({s['days']} trading days), {s['rebalances']} "
        f"rebalances {_rebalance_text(s)}, lookback {s['lookback']} {unit}",
        f"assets {s['assets']}  k {s['k']}  xi {s['xi']:g}  {s['return_term']}  "
        f"{_windows_text(s)}  costs {s['costs_bps']:g} bps",
        f"{solver}  feasible (min over dates) {reb['feasible_fraction'].min():.0%}  "
        f"solve {result.timings.get('solve_seconds_total', float('nan')):.2f} s, "
        f"selection wall {result.timings.get('select_seconds', float('nan')):.2f} s",
        "",
    ]
    curves = list(result.metrics)
    labels = {"strategy": "strategy", "equal_weight_all": "1/N all"}
    has_random = len(result.random) > 0
    header = f"{'measure':<24}" + "".join(f"{labels.get(c, c):>12}" for c in curves)
    if has_random:
        header += f"{'random p50':>12}"
    lines.append(header)
    for name in ROWS:
        row = f"{name:<24}" + "".join(f"{result.metrics[c][name]:>12.4f}" for c in curves)
        if has_random:
            value = float(np.median(result.random[name])) if name in result.random else None
            row += f"{value:>12.4f}" if value is not None else f"{'-':>12}"
        lines.append(row)
    summary = result.random_summary
    if has_random:
        pct = summary["strategy_percentile"]
        fw, sh = summary["final_wealth"], summary["sharpe"]
        lines += [
            "",
            f"random {s['k']}-subsets ({summary['count']}, seed {summary['seed']}): strategy at "
            f"percentile {pct['final_wealth']:.1f} of final wealth and {pct['sharpe']:.1f} of "
            f"Sharpe; random 5-95%: final wealth {fw['p05']:.3f}..{fw['p95']:.3f}, "
            f"Sharpe {sh['p05']:.2f}..{sh['p95']:.2f}",
        ]
    return "\n".join(lines)
