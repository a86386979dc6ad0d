"""Figures (matplotlib, imported lazily, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ...core.metrics import equal_weights, portfolio_returns

if TYPE_CHECKING:
    from ...workflows.backtest import BacktestResult
    from ...workflows.run import RunResult
    from ..frontier import FrontierResult


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
    from ...classical.network import correlation_network

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

    plt = _pyplot()
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
    from ...classical.network import random_subset_distances

    spread = result.diversification or {}
    if spread.get("mean_tree_distance") is None:
        return None
    plt = _pyplot()
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


def plot_bench_objectives(objectives: dict, best_known: float, path: Path, title: str = "") -> Path:
    """Per solver, the distribution of every read's gap to the best known (symlog %)."""
    import textwrap

    import numpy as np

    plt = _pyplot()
    labels = list(objectives)
    scale = abs(best_known) or 1.0
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(labels) + 1.8), layout="constrained")
    rng = np.random.default_rng(0)
    ticks = []
    for row, label in enumerate(labels):
        values = np.asarray(objectives[label], dtype=float)
        feasible = values[np.isfinite(values)]
        gaps = np.maximum(100 * (feasible - best_known) / scale, 0.0)
        jitter = row + rng.uniform(-0.25, 0.25, len(gaps))
        ax.scatter(gaps, jitter, s=8, alpha=0.45, color=f"C{row % 10}", edgecolors="none")
        if len(gaps):
            ax.plot([np.median(gaps)] * 2, [row - 0.35, row + 0.35], color="k", lw=1.5)
        missing = len(values) - len(feasible)
        ticks.append(f"{label}\n({missing} of {len(values)} infeasible)" if missing else label)
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_yticks(range(len(labels)), ticks)
    ax.invert_yaxis()
    ax.set_xlabel("gap to the best known objective, % (0 = hit; black bar = median)")
    ax.set_title("\n".join(textwrap.wrap(title, 75)), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_frontier(result: FrontierResult, path: Path) -> Path:
    """The walk-through's figure: random cloud by Sharpe, exact frontier, stars, QUBO points.

    The axes frame the cloud and the marked portfolios; when the frontier runs on to a
    riskier single asset it leaves the frame at the right edge, with a note of its end.
    """
    import numpy as np
    from matplotlib.ticker import PercentFormatter

    plt = _pyplot()
    cloud, table = result.cloud, result.frontier
    ports = result.portfolios
    fig, ax = plt.subplots(figsize=(11, 7.5), layout="constrained")
    dots = ax.scatter(
        cloud["annualized_volatility"],
        cloud["annualized_return"],
        c=cloud["sharpe"],
        cmap="viridis",
        s=7,
        alpha=0.7,
        edgecolors="none",
        rasterized=True,
        label=f"{len(cloud)} random long-only portfolios (weights u / sum u, u ~ U(0, 1))",
    )
    bar = fig.colorbar(dots, ax=ax, pad=0.01)
    bar.set_label(
        f"Sharpe ratio of a random portfolio: (return - rf) / volatility, rf = "
        f"{result.risk_free_rate:g}",
        fontsize=9,
    )
    ax.plot(
        table["annualized_volatility"],
        table["annualized_return"],
        color="black",
        lw=2,
        label="efficient frontier (exact, long-only)",
        zorder=3,
    )
    targets = result.config.frontier.targets
    risk = "-" if targets.risk is None else f"{targets.risk:.1%}"
    ret_target = "-" if targets.return_ is None else f"{targets.return_:.1%}"
    marks = [
        ("min_volatility", "*", 480, "tab:green", "black", "minimum volatility"),
        ("max_sharpe", "*", 480, "tab:red", "black", "maximum Sharpe"),
        ("max_sortino", "D", 70, "tab:pink", "black", "maximum Sortino"),
        ("efficient_risk", "^", 110, "white", "black", f"efficient_risk (volatility <= {risk})"),
        (
            "efficient_return",
            "v",
            110,
            "white",
            "black",
            f"efficient_return (return >= {ret_target})",
        ),
        (
            "equal_weight_all",
            "s",
            90,
            "black",
            "white",
            f"1/N of all {len(result.expected_returns)}",
        ),
    ]
    xs, ys = [], []  # everything the frame must show (besides the cloud)
    obstacles = []  # (x, y, radius in points) of the markers labels must not cover
    for key, marker, size, color, edge, label in marks:
        if key not in ports:
            continue
        p = ports[key]
        sortino = f", Sortino {p.sortino:.2f}" if key == "max_sortino" else ""
        ax.scatter(
            p.annualized_volatility,
            p.annualized_return,
            marker=marker,
            s=size,
            c=color,
            edgecolors=edge,
            linewidths=1.2,
            zorder=5,
            label=f"{label}: return {p.annualized_return:.1%}, volatility "
            f"{p.annualized_volatility:.1%}, Sharpe {p.sharpe:.2f}{sortino}",
        )
        xs.append(p.annualized_volatility)
        ys.append(p.annualized_return)
        obstacles.append((p.annualized_volatility, p.annualized_return, np.sqrt(size) / 2 + 2))
    # one marker per distinct selection; xi values that picked the same assets share a label
    groups: dict[tuple[str, ...], list] = {}
    for point in result.qubo:
        groups.setdefault(tuple(point.selection.tickers), []).append(point)
    k = result.config.model.k
    labelled = []
    for i, points in enumerate(groups.values()):
        p = points[0].portfolio
        ax.scatter(
            p.annualized_volatility,
            p.annualized_return,
            marker="o",
            s=80,
            c="white",
            edgecolors="tab:orange",
            linewidths=2.4,
            zorder=6,
            label=f"equal-weight QUBO selection of k = {k} for each xi (labelled)"
            if i == 0
            else None,
        )
        xs.append(p.annualized_volatility)
        ys.append(p.annualized_return)
        obstacles.append((p.annualized_volatility, p.annualized_return, 8.0))
        labelled.append((p, "xi = " + ", ".join(f"{q.xi:g}" for q in points)))

    # frame: the cloud and every marker; the frontier may leave it at the right edge
    vol, ret = table["annualized_volatility"].to_numpy(), table["annualized_return"].to_numpy()
    x_all = np.concatenate([cloud["annualized_volatility"].to_numpy(), xs, vol[:1]])
    x_lo, x_hi = float(np.nanmin(x_all)), float(np.nanmax(x_all))
    x_pad = 0.06 * (x_hi - x_lo)
    x_lo, x_hi = x_lo - x_pad, x_hi + x_pad
    if vol[-1] > x_hi:
        ret_edge = float(np.interp(x_hi, vol, ret))
        top = table.iloc[-1]
        holdings = frontier_weights = table.filter(like="w_").iloc[-1]
        held = frontier_weights[frontier_weights > 0.01].sort_values(ascending=False)
        holdings = ", ".join(f"{c[2:]} {w:.0%}" for c, w in held.iloc[:3].items())
        ax.annotate(
            f"the frontier continues to {top['annualized_return']:.0%} at "
            f"{top['annualized_volatility']:.0%} volatility ({holdings})",
            (x_hi, ret_edge),
            xytext=(-6, 8),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="0.25",
        )
    else:
        ret_edge = float(ret[-1])
    y_all = np.concatenate([cloud["annualized_return"].to_numpy(), ys, [ret[0], ret_edge]])
    y_lo, y_hi = float(np.nanmin(y_all)), float(np.nanmax(y_all))
    y_pad = 0.06 * (y_hi - y_lo)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo - y_pad, y_hi + y_pad)

    returns = result.returns
    ax.set_title(
        f"Markowitz frontier and equal-weight QUBO selections, in sample "
        f"{returns.index[0].date()}..{returns.index[-1].date()} ({len(returns)} days)"
    )
    ax.set_xlabel("annualized volatility, sqrt(w' Sigma w)")
    ax.set_ylabel(f"annualized return, mu' w ({result.config.frontier.expected_returns})")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    fig.canvas.draw()  # fix the layout so that label positions can be checked in pixels
    _place_labels(ax, labelled, obstacles, fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _place_labels(ax, labelled, obstacles, fontsize: float = 9, leaders: bool = False) -> None:
    """Annotate each (portfolio, text) beside its point where it covers no other label/marker.

    Greedy: candidate offsets right, left, below, above, ...; the first whose box (estimated
    in points) stays inside the axes and clear of earlier labels and of markers is used.
    ``leaders`` draws a thin line from each label to its point (for crowded points).
    """
    scale = ax.figure.dpi / 72.0  # pixels per point
    box = ax.get_window_extent()
    to_px = ax.transData.transform
    marks = [(*to_px((x, y)), r * scale) for x, y, r in obstacles]
    placed: list[tuple[float, float, float, float]] = []
    candidates = [
        (11, 0, "left", "center"),
        (-11, 0, "right", "center"),
        (9, -12, "left", "top"),
        (9, 12, "left", "bottom"),
        (-9, -12, "right", "top"),
        (-9, 12, "right", "bottom"),
        (11, -22, "left", "top"),
        (11, 22, "left", "bottom"),
    ]
    order = sorted(labelled, key=lambda item: item[0].annualized_volatility)
    for portfolio, text in order:
        px, py = to_px((portfolio.annualized_volatility, portfolio.annualized_return))
        width = (0.58 * fontsize * len(text) + 4) * scale
        height = (1.3 * fontsize + 2) * scale
        choice, choice_box = candidates[0], None
        for cand in candidates:
            dx, dy, ha, va = cand
            x0 = px + dx * scale - (width if ha == "right" else 0.0)
            y0 = py + dy * scale - {"center": height / 2, "top": height, "bottom": 0.0}[va]
            rect = (x0, y0, x0 + width, y0 + height)
            inside = (
                box.x0 <= rect[0] and rect[2] <= box.x1 and box.y0 <= rect[1] and rect[3] <= box.y1
            )
            clear = all(
                rect[2] < b[0] or b[2] < rect[0] or rect[3] < b[1] or b[3] < rect[1] for b in placed
            ) and all(
                not (rect[0] - r < mx < rect[2] + r and rect[1] - r < my < rect[3] + r)
                for mx, my, r in marks
            )
            if inside and clear:
                choice, choice_box = cand, rect
                break
        dx, dy, ha, va = choice
        if choice_box is None:
            x0 = px + dx * scale - (width if ha == "right" else 0.0)
            y0 = py + dy * scale - {"center": height / 2, "top": height, "bottom": 0.0}[va]
            choice_box = (x0, y0, x0 + width, y0 + height)
        placed.append(choice_box)
        ax.annotate(
            text,
            (portfolio.annualized_volatility, portfolio.annualized_return),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            color="black",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7, "shrinkB": 5}
            if leaders
            else None,
            zorder=7,
        )


def plot_equity(result: BacktestResult, path: Path) -> Path:
    """Out-of-sample wealth of the strategy and its benchmarks, drawdowns below.

    The random-subset strategies show as a shaded 5-95% band (pointwise quantiles of their
    wealth) with their median dashed; rebalance dates are ticked along the bottom.
    """
    import numpy as np
    import pandas as pd
    from matplotlib.ticker import PercentFormatter

    plt = _pyplot()
    equity, s = result.equity, result.settings
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
    names = {
        "strategy": f"QUBO selection (k={s['k']}, xi={s['xi']:g}, {s['solver']})",
        "equal_weight_all": f"1/N of all {s['assets']} assets",
    }
    styles = {
        "strategy": {"color": "tab:blue", "lw": 2.0},
        "equal_weight_all": {"color": "black", "lw": 1.3},
    }
    for i, name in enumerate(curves):
        style = styles.get(name, {"color": f"C{(i + 1) % 10}", "lw": 1.3})
        label = names.get(name, f"{name} (benchmark)")
        final = equity[name].iloc[-1]
        top.plot(equity.index, equity[name], label=f"{label}: final {final:.2f}", **style)
        wealth = equity[name]
        drawdown = wealth / wealth.cummax() - 1
        bottom.plot(equity.index, drawdown, **{**style, "lw": style["lw"] * 0.7})
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
    top.legend(loc="upper left", fontsize=8.5)
    bottom.set_ylabel("drawdown from peak")
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    bottom.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _penalty_label(key: str) -> str:
    if key.endswith(".scale"):
        return "penalty scale (lambda / lambda*, lambda* the single-flip bound)"
    return "penalty lambda (absolute)"


def _penalty_xscale(ax, values) -> None:
    """Log x when the penalty values are positive and span more than a factor of 10."""
    import numpy as np

    values = np.asarray(sorted(set(values)), dtype=float)
    if len(values) > 1 and values[0] > 0 and values[-1] / values[0] > 10:
        ax.set_xscale("log")
    elif len(values) > 1 and values[0] == 0 and values[-1] > 0:
        ax.set_xscale("symlog", linthresh=float(values[values > 0][0]))
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def plot_sweep_penalty(lines: list, penalty_key: str, seeds: int, path: Path) -> Path:
    """Raw feasible fraction (top) and objective gap (bottom) vs the penalty, one line per xi.

    ``lines`` holds ``(xi or None, label of other grid values, frame)``, the frame indexed by
    penalty with ``feasible`` (mean raw feasible fraction over seeds), ``gap`` (median over
    seeds of ``(objective - best) / |best|``, best over the sweep for that xi) and
    ``gap_min``/``gap_max``.
    """
    import numpy as np
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    plt = _pyplot()
    xis = sorted({xi for xi, _, _ in lines if xi is not None})
    cmap = plt.get_cmap("viridis")
    colour = {xi: cmap(0.9 * i / max(len(xis) - 1, 1)) for i, xi in enumerate(xis)}
    others = list(dict.fromkeys(label for _, label, _ in lines))
    styles = ["-", "--", ":", "-."]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 8), sharex=True, layout="constrained", height_ratios=[1, 1.3]
    )
    bands = len(lines) <= 4  # min..max bands of more lines hide each other
    for n, (xi, other, frame) in enumerate(lines):
        x = frame.index.to_numpy(dtype=float)
        color = colour.get(xi, f"C{n % 10}")
        style = styles[others.index(other) % len(styles)]
        label = ", ".join(t for t in (f"xi = {xi:g}" if xi is not None else "", other) if t)
        # later lines get smaller markers, so that coinciding points stay visible
        marks = {"marker": "o", "ms": 10 - 6 * n / max(len(lines) - 1, 1), "mec": "white"}
        top.plot(x, frame["feasible"], style, color=color, label=label, **marks)
        gap = 100 * frame["gap"].to_numpy(dtype=float)
        bottom.plot(x, gap, style, color=color, label=label, **marks)
        if bands:
            lo = 100 * frame["gap_min"].to_numpy(dtype=float)
            hi = 100 * frame["gap_max"].to_numpy(dtype=float)
            bottom.fill_between(x, lo, hi, color=color, alpha=0.12, lw=0)
    all_x = np.concatenate([f.index.to_numpy(dtype=float) for _, _, f in lines])
    _penalty_xscale(bottom, all_x)
    top.set_ylim(-0.03, 1.03)
    top.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top.set_ylabel("feasible reads (raw, mean over seeds)")
    fig.suptitle(
        f"Feasibility and solution quality vs the penalty weight ({seeds} seeds per point)"
    )
    bottom.set_yscale("symlog", linthresh=0.1)
    highest = [np.nanmax(100 * f["gap_max" if bands else "gap"]) for _, _, f in lines]
    highest = [h for h in highest if np.isfinite(h)]
    bottom.set_ylim(0, 3 * max([*highest, 1.0]))  # headroom above the highest point
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    bottom.set_ylabel(
        "objective gap to the best found for that xi\n(median over seeds"
        + ("; band: min..max)" if bands else ")")
    )
    bottom.set_xlabel(_penalty_label(penalty_key))
    bottom.annotate(
        "no point: no seed found a feasible read",
        (0.01, 0.98),
        xycoords="axes fraction",
        ha="left",
        va="top",
        fontsize=8,
        color="0.35",
    )
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    short = all(not other for _, other, _ in lines)
    fig.legend(
        *top.get_legend_handles_labels(),
        loc="outside lower center",
        ncols=min(len(lines), 5) if short else 2,
        fontsize=8,
        frameon=False,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_sweep_heatmap(panels: dict, penalty_key: str, path: Path) -> Path:
    """xi x penalty: median objective over seeds (cell text), coloured by its gap to the
    best objective found for that xi; cells where no seed found a feasible read are grey.

    ``panels`` maps a label (other grid values, or "") to ``(median, gap)``,
    frames indexed by xi with one column per penalty value.
    """
    import numpy as np
    from matplotlib.colors import SymLogNorm

    plt = _pyplot()
    n = len(panels)
    first = next(iter(panels.values()))[0]
    width = max(6.0, 0.95 * first.shape[1] + 3)
    height = max(4.0, 0.55 * first.shape[0] + 2)
    ncols = min(n, 2 if n <= 4 else 3)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), layout="constrained", squeeze=False
    )
    axes = grid.ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    gaps = np.concatenate([100 * g.to_numpy(dtype=float).ravel() for _, g in panels.values()])
    top = max(float(np.nanmax(gaps)) if np.isfinite(gaps).any() else 1.0, 1.0)
    norm = SymLogNorm(linthresh=0.1, vmin=0.0, vmax=top)
    cmap = plt.get_cmap("magma_r").with_extremes(bad="0.85")
    image = None
    for ax, (label, (median, gap)) in zip(axes, panels.items(), strict=False):
        values = 100 * gap.to_numpy(dtype=float)
        image = ax.imshow(
            np.ma.masked_invalid(values), cmap=cmap, norm=norm, origin="lower", aspect="auto"
        )
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                obj = median.iat[i, j]
                if np.isfinite(obj):
                    gap_text = (
                        f"{values[i, j]:.0f}" if values[i, j] >= 100 else f"{values[i, j]:.2g}"
                    )
                    text = f"{obj:.3e}\n{gap_text}%"
                    dark = norm(values[i, j]) > 0.55
                    color = "white" if dark else "black"
                else:
                    text, color = "no feasible\nread", "0.3"
                ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=color)
        ax.set_xticks(range(median.shape[1]), [f"{v:g}" for v in median.columns])
        ax.set_yticks(range(median.shape[0]), [f"{v:g}" for v in median.index])
        ax.set_xlabel(_penalty_label(penalty_key))
        ax.set_ylabel("xi (return weight)")
        if label:
            ax.set_title(label, fontsize=10)
    bar = fig.colorbar(image, ax=axes[:n].tolist(), shrink=0.9)
    bar.set_label("median gap to the best objective found for that xi (%)")
    fig.suptitle(
        "Median objective x'Ax over seeds (cell: value and gap to the row's best)", fontsize=11
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_sweep_frontier(series: dict, benchmarks: list, title: str, path: Path) -> Path:
    """The QUBO's frontier: volatility vs return of the best selection per xi, 1/N marked.

    ``series`` maps a label (other grid values, or "") to a frame with ``xi``,
    ``volatility`` and ``return`` (annualized, in sample); ``benchmarks`` lists
    ``(label, measures)`` of the 1/N portfolios.
    """
    from types import SimpleNamespace

    from matplotlib.ticker import PercentFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6.5), layout="constrained")
    labelled, obstacles = [], []
    for n, (label, frame) in enumerate(series.items()):
        color = f"C{n % 10}" if len(series) > 1 else "tab:orange"
        name = "best equal-weight selection per xi" + (f" ({label})" if label else "")
        ax.plot(
            frame["volatility"],
            frame["return"],
            "-o",
            color=color,
            mfc="white",
            mew=2,
            ms=8,
            lw=1.2,
            label=name,
            zorder=4,
        )
        groups: dict = {}
        for _, row in frame.iterrows():
            groups.setdefault((row["volatility"], row["return"]), []).append(row["xi"])
        for (vol, ret), xis in groups.items():
            point = SimpleNamespace(annualized_volatility=vol, annualized_return=ret)
            labelled.append((point, "xi = " + ", ".join(f"{x:g}" for x in xis)))
            obstacles.append((vol, ret, 8.0))
    for label, b in benchmarks:
        vol, ret = b["annualized_volatility"], b["annualized_mean"]
        ax.scatter(
            vol,
            ret,
            marker="s",
            s=90,
            c="black",
            edgecolors="white",
            zorder=5,
            label=f"{label}: return {ret:.1%}, volatility {vol:.1%}",
        )
        obstacles.append((vol, ret, 8.0))
        labelled.append((SimpleNamespace(annualized_volatility=vol, annualized_return=ret), "1/N"))
    ax.margins(0.12)
    ax.set_title(title)
    ax.set_xlabel("annualized volatility (sqrt(252) x std of daily returns)")
    ax.set_ylabel("annualized return (252 x mean daily return)")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.canvas.draw()
    _place_labels(ax, labelled, obstacles, fontsize=9, leaders=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
