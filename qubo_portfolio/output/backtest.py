"""The ``backtest`` command's files and console report.

:func:`write_backtest` writes ``equity.csv``, ``selections.csv``, ``rebalances.csv``,
``random_subsets.csv`` (when there are random subsets), ``tune_equity.csv`` (with
``backtest.tune``), ``metrics.json`` and ``equity.png``; :func:`backtest_table` is the
console report.
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
from .report import finish_folder

ROWS = (*MEASURES, "final_wealth", "cagr", "turnover", "total_costs")
"""The measures of every curve, in the order of the console table."""


def backtest_summary(result: BacktestResult) -> dict[str, Any]:
    """The ``metrics.json`` payload."""
    return {
        "period": {
            key: result.settings[key] for key in ("start", "end", "days", "rebalances", "unit")
        },
        "metrics": result.metrics,
        "significance": result.significance,
        "tune": result.tune or None,
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
    if len(result.tune_equity.columns):
        path = folder / "tune_equity.csv"
        result.tune_equity.to_csv(path, date_format="%Y-%m-%d")
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
    sig = result.significance
    extra = significance_rows(sig, curves) if sig else []
    widths = [
        max([12, len(labels.get(c, c)) + 2, *(len(values[i]) + 2 for _, values in extra)])
        for i, c in enumerate(curves)
    ]
    header = f"{'measure':<24}" + "".join(
        f"{labels.get(c, c):>{w}}" for c, w in zip(curves, widths, strict=True)
    )
    if has_random:
        header += f"{'random p50':>12}"
    lines.append(header)
    for name in ROWS:
        row = f"{name:<24}" + "".join(
            f"{result.metrics[c][name]:>{w}.4f}" for c, w in zip(curves, widths, strict=True)
        )
        if has_random:
            value = float(np.median(result.random[name])) if name in result.random else None
            row += f"{value:>12.4f}" if value is not None else f"{'-':>12}"
        lines.append(row)
    for name, values in extra:
        lines.append(
            f"{name:<24}" + "".join(f"{v:>{w}}" for v, w in zip(values, widths, strict=True))
        )
    if sig:
        block = sig["strategy"]["sharpe_ci"]["block_length"]
        lines.append(
            f"(95% stationary block bootstrap, {sig['strategy']['sharpe_ci']['n_boot']} "
            f"resamples, mean block {block:.1f} days for the strategy; p vs 1/N: Ledoit-Wolf "
            "HAC test of equal Sharpe ratios; ceq: gamma 1)"
        )
        dsr = sig["strategy"].get("deflated_sharpe")
        if dsr is not None:
            lines.append(
                f"deflated Sharpe (strategy, {dsr['n_trials']} grid points tried): "
                f"{dsr['deflated_sharpe']:.3f} (expected max Sharpe of the trials "
                f"{dsr['expected_max_sharpe']:.2f})"
            )
    if result.tune:
        lines.append(tune_line(result))
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


def significance_rows(sig: dict[str, Any], curves: list[str]) -> list[tuple[str, list[str]]]:
    """The console rows of the intervals, PSR, CEQ and the test against 1/N."""

    def ci(value: dict[str, Any], fmt: str) -> str:
        return f"{value['estimate']:{fmt}} [{value['lower']:{fmt}}, {value['upper']:{fmt}}]"

    def get(c: str, fn: Any) -> str:
        return fn(sig[c]) if c in sig else "-"

    return [
        ("sharpe [95% CI]", [get(c, lambda v: ci(v["sharpe_ci"], ".2f")) for c in curves]),
        ("mean [95% CI]", [get(c, lambda v: ci(v["annualized_mean_ci"], ".2f")) for c in curves]),
        ("psr (SR > 0)", [get(c, lambda v: f"{v['psr']:.3f}") for c in curves]),
        ("ceq (gamma 1)", [get(c, lambda v: f"{v['ceq']:.4f}") for c in curves]),
        (
            "p (Sharpe = 1/N)",
            [get(c, lambda v: f"{v['vs_equal_weight_all']['p_value']:.3f}") for c in curves],
        ),
    ]


def tune_line(result: BacktestResult) -> str:
    """How often each grid point was chosen."""
    t = result.tune
    chosen = ", ".join(f"{g['label']} {g['times_chosen']}x" for g in t["grid"])
    return (
        f"tuned {', '.join(t['keys'])} by {t['metric']} over the last {t['validation']} rows "
        f"of each lookback: {chosen}"
    )
