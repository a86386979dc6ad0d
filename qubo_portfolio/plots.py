"""Figures (matplotlib, imported lazily, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .metrics import equal_weights, portfolio_returns

if TYPE_CHECKING:
    from .pipeline import RunResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cumulative_returns(result: RunResult, path: Path) -> Path:
    """Compounded growth of 1 for the selection and the 1/N portfolio of all K, in sample."""
    plt = _pyplot()
    returns = result.returns
    best = result.decoded.best
    selection = (1 + portfolio_returns(returns, best.weights)).cumprod()
    everything = (1 + portfolio_returns(returns, equal_weights(returns.columns))).cumprod()
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    ax.plot(
        selection.index, selection, lw=1.6, label=f"QUBO selection ({len(best.tickers)} assets)"
    )
    ax.plot(
        everything.index, everything, lw=1.2, color="0.4", label=f"1/N of all {returns.shape[1]}"
    )
    for i, w in enumerate(result.qubo.windows):
        label = "window ends" if i == 0 else None
        ax.axvline(w.last_date, color="0.85", lw=0.6, zorder=0, label=label)
    ax.set_title(
        f"In-sample growth of 1, equal weights (k={result.qubo.k}, xi={result.qubo.xi:g}, "
        f"{result.qubo.num_windows} windows)"
    )
    ax.set_ylabel("growth of 1 (daily rebalanced)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
