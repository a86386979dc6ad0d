"""The bench figure: per solver, the share of reads within a gap of the best known."""

from __future__ import annotations

from pathlib import Path

from .common import pyplot

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
STYLES = ("-", "--", "-.", ":")


def wrap_clauses(text: str, width: int = 90) -> str:
    """Break ``text`` into lines at ``", "`` only (a clause such as ``lambda = 0.05 lambda*``
    is never split), each line at most ``width`` characters when the clauses allow."""
    lines: list[str] = []
    for clause in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(clause) <= width:
            lines[-1] += ", " + clause
        else:
            lines.append(clause if not lines else clause)
    return ",\n".join(lines)


def plot_bench_objectives(
    objectives: dict,
    best_known: float,
    path: Path,
    title: str = "",
    time_per_read: dict | None = None,
    reference: str = "best known",
) -> Path:
    """Per solver, the ECDF of every read's gap to the best known objective.

    The curve at gap ``g`` is the share of reads within ``g`` % of the best known: its height
    at 0 (marked) is the hit rate, and an infeasible read never counts, so such a curve
    stops below 100%. The x axis is linear up to the smallest gap seen and logarithmic
    beyond (symlog). ``time_per_read`` (seconds, per label) goes into the legend with the
    hit rate.
    """
    import numpy as np
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    plt = pyplot()
    labels = list(objectives)
    scale = abs(best_known) or 1.0
    gaps = {}
    for label in labels:
        values = np.asarray(objectives[label], dtype=float)
        gap = np.full(len(values), np.inf)
        finite = np.isfinite(values)
        gap[finite] = np.maximum(100 * (values[finite] - best_known) / scale, 0.0)
        gap[finite & (values <= best_known + 1e-9 * scale)] = 0.0  # a hit, as the table counts
        gaps[label] = gap
    everything = np.concatenate([g[np.isfinite(g)] for g in gaps.values()] or [np.zeros(1)])
    positive = everything[everything > 0]
    # linear below the smallest gap seen (a decade under it), logarithmic above
    linthresh = 10.0 ** np.floor(np.log10(positive.min())) if len(positive) else 1e-3
    right = max(float(positive.max()) * 2 if len(positive) else 1.0, 10 * linthresh)

    fig, ax = plt.subplots(figsize=(9.5, 6.2), layout="constrained")
    for n, label in enumerate(labels):
        gap = gaps[label]
        color, marker = f"C{n % 10}", MARKERS[n % len(MARKERS)]
        reads = len(gap)
        hit = float(np.mean(gap == 0)) if reads else 0.0
        above = np.sort(gap[np.isfinite(gap) & (gap > 0)])  # the misses, feasible
        share = (np.sum(gap == 0) + np.arange(1, len(above) + 1)) / max(reads, 1)
        x = np.concatenate([[0.0], above, [right]])
        y = np.concatenate([[hit], share, [share[-1] if len(share) else hit]])
        text = f"{label}: hit rate {hit:.0%}"
        if time_per_read and label in time_per_read:
            text += f", {1e3 * time_per_read[label]:.3g} ms/read"
        infeasible = int(np.sum(~np.isfinite(gap)))
        if infeasible:
            text += f", {infeasible} of {reads} infeasible"
        # later solvers: thinner lines, other dashes and smaller markers, so that curves and
        # hit-rate markers that coincide (two solvers at 100%) both stay visible
        ax.plot(
            x,
            y,
            drawstyle="steps-post",
            color=color,
            ls=STYLES[n % len(STYLES)] if len(labels) > 1 else "-",
            lw=2.4 - 1.2 * n / max(len(labels) - 1, 1),
            marker=marker,
            markevery=[0],
            ms=11 - 5 * n / max(len(labels) - 1, 1),
            mec="white",
            label=text,
            clip_on=False,
            zorder=3 + n / 100,
        )
    ax.set_xscale("symlog", linthresh=linthresh, linscale=0.6)
    ax.set_xlim(0, right)
    ax.set_ylim(-0.02, 1.04)  # curves at 0% and 100% clear of the frame
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel(
        f"gap to the {reference} objective (linear up to {linthresh:g}%, logarithmic beyond)"
    )
    ax.set_ylabel("share of reads within that gap\n(marker at 0 = hit rate)")
    ax.grid(alpha=0.3, which="both")
    heading = f"Solver benchmark: how often each solver gets within a gap of the {reference}"
    ax.set_title(heading + ("\n" + wrap_clauses(title) if title else ""), fontsize=10)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8.5, frameon=False)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
