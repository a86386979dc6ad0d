"""Figures of a run: cumulative returns, the correlation network, diversification."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ...classical.network import correlation_network, random_subset_distances
from ...core.metrics import equal_weights, portfolio_returns
from .common import pyplot

if TYPE_CHECKING:
    from ...workflows.run import RunResult


def plot_cumulative_returns(result: RunResult, path: Path) -> Path:
    """Compounded growth of 1 for the selection and the 1/N portfolio of all K, in sample."""
    plt = pyplot()
    returns = result.returns
    best = result.decoded.best
    prices = result.data.prices.index
    before = prices[prices < returns.index[0]]
    start = before[-1] if len(before) else returns.index[0] - pd.Timedelta(days=1)

    def growth(weights: pd.Series) -> pd.Series:
        # growth of 1 from the close before the first in-sample return
        path = (1 + portfolio_returns(returns, weights)).cumprod()
        return pd.concat([pd.Series([1.0], index=[start]), path])

    selection = growth(best.weights)
    everything = growth(equal_weights(returns.columns))
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    label = f"QUBO selection ({len(best.tickers)} assets)"
    if result.qubo.long_short:
        shorts = best.sides.count("short")
        label = (
            f"QUBO long/short selection ({len(best.tickers) - shorts} long, {shorts} short, "
            f"weights +-1/{result.qubo.k})"
        )
    ax.plot(selection.index, selection, lw=1.6, label=label)
    ax.plot(
        everything.index, everything, lw=1.2, color="0.4", label=f"1/N of all {returns.shape[1]}"
    )
    windows = result.qubo.windows
    for i, w in enumerate(windows if len(windows) <= 30 else ()):
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


LONG_COLOR = "tab:green"
SHORT_COLOR = "tab:red"


def _network(result: RunResult):

    return correlation_network(result.returns)


def plot_network(result: RunResult, path: Path, network=None) -> Path:
    """The correlation MST of the universe with the selected assets highlighted.

    Nodes are the K assets, edges the K - 1 links of the minimum spanning tree of
    ``d = sqrt(2 (1 - rho))`` (in-sample daily returns), coloured by their correlation;
    long holdings green, short holdings red, the rest grey. Layout: Kamada-Kawai on the tree
    distances (deterministic) up to 150 assets, a seeded spring layout beyond.
    """
    import networkx as nx
    from matplotlib.lines import Line2D

    plt = pyplot()
    network = network or _network(result)
    tree = network.tree
    if len(network.tickers) <= 150:
        layout = nx.kamada_kawai_layout(tree, weight="weight")
    else:
        layout = nx.spring_layout(tree, seed=0)
    best = result.decoded.best
    side = dict(zip(best.tickers, best.sides, strict=True))
    colors = {"long": LONG_COLOR, "short": SHORT_COLOR, "both": "tab:purple"}
    big = len(network.tickers) <= 60

    fig, ax = plt.subplots(figsize=(10, 8.5), layout="constrained")
    edges = list(tree.edges(data="correlation"))
    lines = nx.draw_networkx_edges(
        tree,
        layout,
        edgelist=[(u, v) for u, v, _ in edges],
        edge_color=[c for _, _, c in edges],
        edge_cmap=plt.get_cmap("viridis"),
        edge_vmin=min(0.0, min(c for _, _, c in edges)),
        edge_vmax=1.0,
        width=2.2,
        ax=ax,
    )
    bar = fig.colorbar(lines, ax=ax, shrink=0.6, pad=0.01)
    bar.set_label("correlation rho of the two linked assets (distance d = sqrt(2 (1 - rho)))")
    nodes = network.tickers
    held = [t for t in nodes if t in side]
    for group, size in (
        ([t for t in nodes if t not in side], 500 if big else 35),
        (held, 900 if big else 160),
    ):  # held assets drawn last, on top
        nx.draw_networkx_nodes(
            tree,
            layout,
            nodelist=group,
            node_color=[colors.get(side.get(t), "0.85") for t in group],
            node_size=size,
            edgecolors="0.3",
            linewidths=0.8,
            ax=ax,
        )
    if big:
        font_colors = {t: "white" if t in side else "black" for t in nodes}
        for t in nodes:
            x, y = layout[t]
            ax.text(x, y, t, ha="center", va="center", fontsize=7.5, color=font_colors[t], zorder=5)
    else:  # too many to label all: label the selection only
        for t in side:
            x, y = layout[t]
            ax.annotate(t, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
    handles = [
        Line2D([], [], marker="o", ls="", ms=11, mfc=LONG_COLOR, mec="0.3", label="held long"),
        Line2D([], [], marker="o", ls="", ms=11, mfc="0.85", mec="0.3", label="not held"),
    ]
    if result.qubo.long_short:
        handles.insert(
            1,
            Line2D(
                [], [], marker="o", ls="", ms=11, mfc=SHORT_COLOR, mec="0.3", label="held short"
            ),
        )
    ax.legend(handles=handles, loc="upper left", frameon=False)
    spread = result.diversification or {}
    note = ""
    if spread.get("mean_tree_distance") is not None:
        note = (
            f"\nmean tree distance between the selected assets {spread['mean_tree_distance']:.3f}"
            f", percentile {spread['percentile']:.0f} among random {spread['num_selected']}-subsets"
            f" (median {spread['random_median']:.3f})"
        )
    returns = result.returns
    ax.set_title(
        f"Correlation network of the {len(nodes)} assets: minimum spanning tree of "
        f"d = sqrt(2 (1 - rho)), in sample {returns.index[0].date()}..{returns.index[-1].date()}"
        + note,
        fontsize=10,
    )
    ax.set_axis_off()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_diversification(result: RunResult, path: Path, network=None) -> Path | None:
    """The selection's mean tree distance against random subsets of the same size.

    Nothing is written (``None``) when fewer than 2 assets are selected.
    """

    spread = result.diversification or {}
    if spread.get("mean_tree_distance") is None:
        return None
    plt = pyplot()
    network = network or _network(result)
    values, method = random_subset_distances(
        network, spread["num_selected"], max(spread["random_subsets"], 1), spread["seed"]
    )
    value, pct = spread["mean_tree_distance"], spread["percentile"]
    k = spread["num_selected"]
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    what = "every" if method == "all" else f"{len(values)} random (seed {spread['seed']})"
    counts, _, _ = ax.hist(
        values,
        bins=60,
        color="0.7",
        edgecolor="white",
        label=f"{what} {k}-subsets of the {len(network.tickers)} assets",
    )
    ax.axvline(
        spread["random_median"],
        color="0.3",
        ls="--",
        lw=1.2,
        label=f"median of the subsets: {spread['random_median']:.3f}",
    )
    ax.axvline(
        value,
        color="tab:blue",
        lw=2.5,
        label=f"the selection: {value:.3f}, percentile {pct:.1f} "
        "(that share of the subsets is less spread out)",
    )
    ax.set_ylim(0, 1.35 * max(float(counts.max()), 1.0))
    ax.set_xlabel(
        "mean tree distance over pairs of held assets "
        "(path length in the correlation MST, d = sqrt(2 (1 - rho)))"
    )
    ax.set_ylabel("number of subsets")
    sides = ""
    if result.qubo.long_short:
        sides = " (held stocks, long or short)"
    ax.set_title(
        f"How spread out the {k} selected assets{sides} are on the correlation tree\n"
        "larger = farther apart in the tree of strongest correlations, more diversified",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", framealpha=0.92, edgecolor="none")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
