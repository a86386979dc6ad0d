"""The bench figure: each solver's objectives against the best known."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .common import pyplot

if TYPE_CHECKING:
    pass


def plot_bench_objectives(objectives: dict, best_known: float, path: Path, title: str = "") -> Path:
    """Per solver, the distribution of every read's gap to the best known (symlog %)."""
    import textwrap

    import numpy as np

    plt = pyplot()
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
