"""The backtest figure: equity curves of the strategy and its benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .common import pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ...workflows.backtest import BacktestResult


def plot_equity(result: BacktestResult, path: Path) -> Path:
    """Out-of-sample wealth of the strategy, its benchmarks and baselines, drawdowns below.

    The random-subset strategies show as a shaded 5-95% band (pointwise quantiles of their
    wealth) with their median dashed; rebalance dates are ticked along the bottom.
    """
    plt = pyplot()
    equity = result.equity
    bands = [c for c in equity.columns if c.startswith("random_p")]
    curves = [c for c in equity.columns if c not in bands]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(10, 6.5),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1]},
        layout="constrained",
    )
    _draw_random_band(top, result, bands)
    _draw_curves(top, bottom, equity, curves, result.settings)
    _tick_rebalances(top, result)
    _decorate_wealth(top, result.settings)
    # below the figure, not over the curves (they fill the upper left often enough)
    fig.legend(
        *top.get_legend_handles_labels(),
        loc="outside lower center",
        ncols=2,
        fontsize=8.5,
        frameon=False,
    )
    _decorate_drawdowns(bottom)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _draw_random_band(top: Axes, result: BacktestResult, bands: list[str]) -> None:
    """The random subsets' pointwise 5-95% wealth band (shaded) and their median (dashed)."""
    equity, s = result.equity, result.settings
    if {"random_p05", "random_p95"} <= set(bands):
        top.fill_between(
            equity.index,
            equity["random_p05"],
            equity["random_p95"],
            color="tab:gray",
            alpha=0.25,
            lw=0,
            label=f"{result.random_summary['count']} random {s['k']}-subsets, 5-95% (pointwise)",
        )
    if "random_p50" in bands:  # drawn above the curves: it often runs along 1/N
        top.plot(
            equity.index,
            equity["random_p50"],
            color="0.55",
            lw=1,
            ls="--",
            zorder=3,
            label="random subsets, median (pointwise)",
        )


def _curve_names(s: dict[str, Any]) -> dict[str, str]:
    """Legend names of the strategy (its model, tuning and weights), 1/N and the baselines;
    any other curve is a benchmark."""
    names = {
        "strategy": f"QUBO selection (k={s['k']}, xi={s['xi']:g}, {s['solver']})",
        "equal_weight_all": f"1/N of all {s['assets']} assets",
    }
    if s.get("tune"):  # the model settings were chosen per date
        names["strategy"] = f"QUBO selection (k={s['k']}, tuned {', '.join(s['tune']['grid'])})"
    if s.get("weights", "equal") != "equal":
        names["strategy"] = names["strategy"][:-1] + f", {s['weights']} weights)"
    for name in set(s.get("baselines") or ()):  # classical baselines
        names[name] = f"{name.replace('_', ' ')} (baseline)"
    return names


def _curve_style(name: str, i: int, baselines: set[str]) -> dict[str, Any]:
    """Line style of curve ``i``: the strategy blue and thick, 1/N black, the others in the
    colour cycle; baselines thinner and dash-dotted."""
    styles = {
        "strategy": {"color": "tab:blue", "lw": 2.0},
        "equal_weight_all": {"color": "black", "lw": 1.3},
    }
    style = styles.get(name, {"color": f"C{(i + 1) % 10}", "lw": 1.3})
    if name in baselines:
        style = {**style, "lw": 1.1, "ls": "-."}
    return style


def _draw_curves(
    top: Axes, bottom: Axes, equity: pd.DataFrame, curves: list[str], s: dict[str, Any]
) -> None:
    """Each curve's wealth (labelled with its final value) above, its drawdown below."""
    names = _curve_names(s)
    baselines = set(s.get("baselines") or ())
    for i, name in enumerate(curves):
        style = _curve_style(name, i, baselines)
        label = names.get(name, f"{name} (benchmark)")
        final = equity[name].iloc[-1]
        top.plot(equity.index, equity[name], label=f"{label}: final {final:.2f}", **style)
        wealth = equity[name]
        drawdown = wealth / wealth.cummax() - 1
        bottom.plot(equity.index, drawdown, **{**style, "lw": style["lw"] * 0.7})


def _tick_rebalances(top: Axes, result: BacktestResult) -> None:
    """A tick at the bottom of the wealth axes on every rebalance date."""
    import numpy as np

    rebalance_dates = pd.to_datetime(result.rebalances["date"])
    top.plot(
        rebalance_dates,
        np.zeros(len(rebalance_dates)),
        "|",
        color="0.3",
        ms=8,
        transform=top.get_xaxis_transform(),
        label="rebalance dates",
        clip_on=False,
    )


def _decorate_wealth(top: Axes, s: dict[str, Any]) -> None:
    """The wealth axes' line at 1, label, title (period, rebalances, lookback, costs), grid."""
    top.axhline(1.0, color="0.6", lw=0.8, zorder=0)
    top.set_ylabel("wealth (1 before the first trade, after costs)")
    costs = f", costs {s['costs_bps']:g} bps" if s["costs_bps"] else ""
    top.set_title(
        f"Out-of-sample wealth {s['start']}..{s['end']}: buy at each rebalance date's close, "
        f"hold\n{s['rebalances']} rebalances, lookback {s['lookback']} "
        f"{s['unit'].replace('_', ' ')}{costs}",
        fontsize=10,
    )
    top.grid(alpha=0.3)


def _decorate_drawdowns(bottom: Axes) -> None:
    """The drawdown axes' label, percent ticks and grid."""
    from matplotlib.ticker import PercentFormatter

    bottom.set_ylabel("drawdown from peak")
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    bottom.grid(alpha=0.3)
