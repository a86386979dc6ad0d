"""Figures of a run: cumulative returns, the correlation network, diversification."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...classical.network import correlation_network, random_subset_distances
from ...core.metrics import equal_weights, portfolio_returns
from .common import pyplot

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ...workflows.run import RunResult


def plot_cumulative_returns(result: RunResult, path: Path) -> Path:
    """Compounded growth of 1 for the selection and the 1/N portfolio of all K, in sample."""
    from matplotlib.lines import Line2D

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
    shown = windows if len(windows) <= 30 else ()
    for w in shown:
        ax.axvline(w.last_date, color="0.75", lw=0.8, ls=(0, (4, 3)), zorder=0)
    handles, _ = ax.get_legend_handles_labels()
    if shown:  # a legend entry that can be seen, whatever the thin lines look like
        handles.append(
            Line2D(
                [], [], color="0.45", lw=1.4, ls=(0, (4, 3)), label=f"window ends ({len(shown)})"
            )
        )
    ax.set_title(
        f"In-sample growth of 1, equal weights (k={result.qubo.k}, xi={result.qubo.xi:g}, "
        f"{result.qubo.num_windows} windows)"
    )
    ax.set_ylabel("growth of 1 (daily rebalanced)")
    ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


LONG_COLOR = "tab:green"
SHORT_COLOR = "tab:red"
LABEL_ALL = 60  # up to this many assets every node carries its ticker
KAMADA_KAWAI = 150  # up to this many assets: Kamada-Kawai layout; beyond: radial tree layout


def _network(result: RunResult):
    return correlation_network(result.returns)


def radial_tree_layout(network) -> dict[str, tuple[float, float]]:
    """Positions of a tree's nodes on rings: the ring is the number of links from the tree's
    centre, and every subtree gets an angular wedge in proportion to its leaves, so links
    never cross. O(K); deterministic."""
    import numpy as np
    from scipy.sparse.csgraph import breadth_first_order, shortest_path

    n = len(network.tickers)
    if n == 1:
        return {network.tickers[0]: (0.0, 0.0)}
    adjacency = network.adjacency
    # the centre: the middle of a longest path (two sweeps of hop counts)
    ends = shortest_path(adjacency, unweighted=True, directed=False, indices=[0])[0]
    a = int(np.argmax(ends))
    from_a = shortest_path(adjacency, unweighted=True, directed=False, indices=[a])[0]
    b = int(np.argmax(from_a))
    from_b = shortest_path(adjacency, unweighted=True, directed=False, indices=[b])[0]
    root = int(np.argmin(np.maximum(from_a, from_b)))
    order, parent = breadth_first_order(adjacency, root, directed=False)
    children: dict[int, list[int]] = {int(v): [] for v in order}
    for v in order[1:]:
        children[int(parent[v])].append(int(v))
    leaves = np.zeros(n)
    for v in order[::-1]:
        kids = children[int(v)]
        leaves[v] = 1.0 if not kids else sum(leaves[c] for c in kids)
    depth = np.zeros(n)
    start = np.zeros(n)
    width = np.zeros(n)
    width[root] = 2 * np.pi
    for v in order:
        offset = start[v]
        for c in children[int(v)]:
            depth[c] = depth[v] + 1
            start[c] = offset
            width[c] = width[v] * leaves[c] / leaves[v]
            offset += width[c]
    angle = start + width / 2
    x, y = depth * np.cos(angle), depth * np.sin(angle)
    return {t: (float(x[i]), float(y[i])) for i, t in enumerate(network.tickers)}


def label_where_they_fit(ax, positions, names, fontsize: float = 7.5) -> int:
    """Write each name just right of its point unless it would cover a name already
    written; returns how many were written (call after the axes have their final size)."""
    fig = ax.figure
    fig.canvas.draw()
    scale = fig.dpi / 72.0
    placed: list[tuple[float, float, float, float]] = []
    written = 0
    for (x, y), name in zip(positions, names, strict=True):
        px, py = ax.transData.transform((x, y))
        width = (0.6 * fontsize * len(name) + 4) * scale
        height = (1.25 * fontsize + 2) * scale
        box = (px + 3 * scale, py, px + 3 * scale + width, py + height)
        if any(
            not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]) for b in placed
        ):
            continue
        placed.append(box)
        ax.annotate(
            name,
            (x, y),
            xytext=(4, 2),
            textcoords="offset points",
            fontsize=fontsize,
            zorder=6,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
        )
        written += 1
    return written


def plot_network(result: RunResult, path: Path, network=None) -> Path:
    """The correlation MST of the universe with the selected assets highlighted.

    Nodes are the K assets, edges the K - 1 links of the minimum spanning tree of
    ``d = sqrt(2 (1 - rho))`` (in-sample daily returns), coloured by their correlation;
    long holdings green, short holdings red, the rest grey. Up to 60 assets every node is
    labelled; beyond, only held assets, where their labels fit. Layout: Kamada-Kawai on the
    tree distances (deterministic) up to 150 assets; beyond, a radial tree layout (rings =
    links from the tree's centre) in which the held assets and their direct neighbours are
    drawn full size and coloured links, every other asset a dot on a grey link.
    """
    plt = pyplot()
    network = _network(result) if network is None else network
    drawing = _drawing(result, network)
    fig, ax = plt.subplots(figsize=(10, 9), layout="constrained")
    _draw_links(fig, ax, drawing)
    held, others = _draw_assets(ax, drawing)
    labelled = _label_assets(ax, drawing, held)
    handles = _legend_handles(drawing, len(others), result.qubo.long_short)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    ax.set_title(_network_title(result, drawing, len(held), labelled), fontsize=10)
    ax.set_axis_off()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class _Drawing:
    """What the parts of :func:`plot_network` share.

    ``side`` maps each held asset to ``long`` or ``short``; ``near`` (per asset, in the order
    of ``nodes``) says whether it is drawn full size; ``small``: every node labelled (up to
    ``LABEL_ALL`` assets); ``many``: the radial layout (beyond ``KAMADA_KAWAI`` assets).
    """

    tree: Any
    layout: dict[str, Any]
    nodes: list[str]
    index: dict[str, int]
    side: dict[str, str]
    near: np.ndarray
    small: bool
    many: bool

    def is_near(self, ticker: str) -> bool:
        """Whether the asset is held or (radial layout) one link from a held asset."""
        return self.near[self.index[ticker]]


def _drawing(result: RunResult, network: Any) -> _Drawing:
    """The layout (Kamada-Kawai on the tree distances up to ``KAMADA_KAWAI`` assets, else
    the radial tree layout), the held assets' sides and the assets drawn full size."""
    import networkx as nx
    import numpy as np

    tree = network.tree
    nodes = network.tickers
    many = len(nodes) > KAMADA_KAWAI
    if many:
        layout = radial_tree_layout(network)
    else:
        layout = nx.kamada_kawai_layout(tree, weight="weight")
    best = result.decoded.best
    side = dict(zip(best.tickers, best.sides, strict=True))
    small = len(nodes) <= LABEL_ALL
    index = {t: i for i, t in enumerate(nodes)}
    held_idx = [index[t] for t in side]
    near = network.hops_from(held_idx) <= 1 if many else np.ones(len(nodes), dtype=bool)
    return _Drawing(tree, layout, nodes, index, side, near, small, many)


def _draw_links(fig: Figure, ax: Axes, d: _Drawing) -> None:
    """The tree's links: coloured by correlation (with a colour bar) between assets drawn full
    size, thin and grey elsewhere."""
    import networkx as nx

    plt = pyplot()
    tree, layout = d.tree, d.layout
    edges = list(tree.edges(data="correlation"))
    close = [(u, v, c) for u, v, c in edges if d.is_near(u) and d.is_near(v)]
    far = [(u, v) for u, v, _ in edges if not (d.is_near(u) and d.is_near(v))]
    if far:
        nx.draw_networkx_edges(tree, layout, edgelist=far, edge_color="0.82", width=0.5, ax=ax)
    correlations = [c for _, _, c in close] or [0.0]
    lines = nx.draw_networkx_edges(
        tree,
        layout,
        edgelist=[(u, v) for u, v, _ in close],
        edge_color=correlations[: len(close)],
        edge_cmap=plt.get_cmap("viridis"),
        edge_vmin=min(0.0, min(correlations)),
        edge_vmax=1.0,
        width=2.2 if not d.many else 1.6,
        ax=ax,
    )
    if close:
        bar = fig.colorbar(lines, ax=ax, shrink=0.5, pad=0.01)
        bar.set_label("correlation rho of the two linked assets (d = sqrt(2 (1 - rho)))")


def _draw_assets(ax: Axes, d: _Drawing) -> tuple[list[str], list[str]]:
    """The nodes: other assets as grey dots, the held assets' neighbours light grey, the held
    assets green (long) or red (short), drawn last, on top. Returns ``(held, others)``."""
    import networkx as nx

    colors = {"long": LONG_COLOR, "short": SHORT_COLOR, "both": "tab:purple"}
    held = [t for t in d.nodes if t in d.side]
    neighbours = [t for t in d.nodes if t not in d.side and d.is_near(t)]
    others = [t for t in d.nodes if not d.is_near(t)]
    groups = [
        (others, "0.6", 4, 0.0),
        (neighbours, "0.85", 500 if d.small else 35, 0.8),
        (held, None, 900 if d.small else (60 if d.many else 160), 0.8),
    ]
    for group, color, size, edge in groups:  # held assets drawn last, on top
        if not group:
            continue
        nx.draw_networkx_nodes(
            d.tree,
            d.layout,
            nodelist=group,
            node_color=[colors[d.side[t]] for t in group] if color is None else color,
            node_size=size,
            edgecolors="0.3",
            linewidths=edge,
            ax=ax,
        )
    return held, others


def _label_assets(ax: Axes, d: _Drawing, held: list[str]) -> int:
    """Every ticker on its node up to ``LABEL_ALL`` assets; beyond, the held assets where
    their labels fit. Returns how many held assets carry their label."""
    if d.small:
        for t in d.nodes:
            x, y = d.layout[t]
            color = "white" if t in d.side else "black"
            ax.text(x, y, t, ha="center", va="center", fontsize=7.5, color=color, zorder=5)
        return len(held)
    # too many to label all: label the held assets where their labels fit
    ax.set_axis_off()
    return label_where_they_fit(ax, [d.layout[t] for t in held], held)


def _legend_handles(d: _Drawing, num_others: int, long_short: bool) -> list[Line2D]:
    """Legend entries: held long (and short), not held, and with the radial layout the other
    assets and their links."""
    from matplotlib.lines import Line2D

    marker = 11 if d.small else 8
    handles = [
        Line2D([], [], marker="o", ls="", ms=marker, mfc=LONG_COLOR, mec="0.3", label="held long"),
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            ms=marker if d.small else 6,
            mfc="0.85",
            mec="0.3",
            label="not held" if not d.many else "not held, one link from a held asset",
        ),
    ]
    if d.many:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="-",
                ms=3,
                color="0.82",
                mfc="0.6",
                mec="0.6",
                label=f"other assets ({num_others}) and their links",
            )
        )
    if long_short:
        handles.insert(
            1,
            Line2D(
                [], [], marker="o", ls="", ms=marker, mfc=SHORT_COLOR, mec="0.3", label="held short"
            ),
        )
    return handles


def _network_title(result: RunResult, d: _Drawing, num_held: int, labelled: int) -> str:
    """The tree and the in-sample period, then the selection's spread on the tree, how many
    held assets are labelled and the layout, one line each where they apply."""
    spread = result.diversification or {}
    lines_ = []
    if spread.get("mean_tree_distance") is not None:
        lines_.append(
            f"mean tree distance between the selected assets {spread['mean_tree_distance']:.3f}"
            f" (median of random {spread['num_selected']}-subsets {spread['random_median']:.3f})"
        )
        lines_.append(
            f"percentile {spread['percentile']:.0f} among the random subsets: higher = more "
            "spread out"
        )
    if not d.small and labelled < num_held:
        lines_.append(f"{labelled} of the {num_held} held assets labelled (where the names fit)")
    if d.many:
        lines_.append("radial layout: ring = number of links from the centre of the tree")
    returns = result.returns
    return (
        f"Correlation network of the {len(d.nodes)} assets: minimum spanning tree of "
        f"d = sqrt(2 (1 - rho))\nin sample {returns.index[0].date()}..{returns.index[-1].date()}"
        + "".join("\n" + line for line in lines_)
    )


def plot_diversification(result: RunResult, path: Path, network=None) -> Path | None:
    """The selection's mean tree distance against random subsets of the same size.

    Nothing is written (``None``) when fewer than 2 assets are selected.
    """

    spread = result.diversification or {}
    if spread.get("mean_tree_distance") is None:
        return None
    plt = pyplot()
    network = _network(result) if network is None else network
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
        "(that share of the subsets is less spread out; higher = more spread out)",
    )
    ax.set_ylim(0, 1.08 * max(float(counts.max()), 1.0))
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
    fig.legend(loc="outside lower center", ncols=1, frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
