"""The frontier figure: Markowitz frontier, classical portfolios and the QUBO selections."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import place_labels, pyplot

if TYPE_CHECKING:
    from ...workflows.frontier import FrontierResult


def plot_frontier(result: FrontierResult, path: Path) -> Path:
    """The walk-through's figure: random cloud by Sharpe, exact frontier, stars, QUBO points.

    The axes frame the cloud and the marked portfolios; when the frontier runs on to a
    riskier single asset it leaves the frame at the right edge, with a note of its end.
    """
    from matplotlib.ticker import PercentFormatter

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 7.5), layout="constrained")
    _draw_cloud_and_frontier(fig, ax, result)
    xs, ys, obstacles = _draw_classical(ax, result)  # what the frame must show, and avoid
    qubo_xs, qubo_ys, qubo_obstacles, labelled = _draw_qubo(ax, result)
    _frame(ax, result, [*xs, *qubo_xs], [*ys, *qubo_ys])
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
    place_labels(ax, labelled, [*obstacles, *qubo_obstacles], fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _draw_cloud_and_frontier(fig, ax, result: FrontierResult) -> None:
    """The random portfolios coloured by Sharpe ratio, and the exact frontier."""
    cloud, table = result.cloud, result.frontier
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


def _draw_classical(ax, result: FrontierResult) -> tuple[list, list, list]:
    """The Markowitz portfolios and 1/N: their points and marker sizes (for the labels)."""
    import numpy as np

    ports = result.portfolios
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
    return xs, ys, obstacles


def _draw_qubo(ax, result: FrontierResult) -> tuple[list, list, list, list]:
    """One marker per distinct QUBO selection; the xi values that picked it share a label."""
    xs, ys, obstacles = [], [], []
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

    return xs, ys, obstacles, labelled


def _frame(ax, result: FrontierResult, xs: list, ys: list) -> None:
    """Limits that show the cloud and every marker; the frontier may leave at the right edge,
    with a note of where it ends."""
    import numpy as np

    cloud, table = result.cloud, result.frontier
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
