"""Sweep figures: feasibility and gap against the penalty, heatmaps, the per-xi frontier."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import place_labels, pyplot

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")

if TYPE_CHECKING:
    pass


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

    plt = pyplot()
    xis = sorted({xi for xi, _, _ in lines if xi is not None})
    # one tab10 colour and one marker shape per xi (a sequential map cannot tell 10 apart)
    colour = {xi: f"C{i % 10}" for i, xi in enumerate(xis)}
    shape = {xi: MARKERS[i % len(MARKERS)] for i, xi in enumerate(xis)}
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
        # later lines get smaller markers, so that coinciding points stay visible; points on
        # the axes' edges (0% or 100% feasible, gap 0) are drawn whole (clip_on=False)
        marks = {
            "marker": shape.get(xi, MARKERS[n % len(MARKERS)]),
            "ms": 10 - 5 * n / max(len(lines) - 1, 1),
            "mec": "white",
            "mew": 0.8,
            "clip_on": False,
        }
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
    # headroom above the highest point, and a little room below 0 so that gap-0 points sit
    # above the axis line instead of on it
    bottom.set_ylim(-0.02, 3 * max([*highest, 1.0]))
    bottom.margins(x=0.04)
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

    plt = pyplot()
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

    plt = pyplot()
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
    place_labels(ax, labelled, obstacles, fontsize=9, leaders=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
