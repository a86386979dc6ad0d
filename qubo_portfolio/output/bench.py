"""The bench writer: ``bench.csv``, ``bench.md`` and ``bench_objectives.png``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..workflows.bench import BenchResult
from .plots.bench import plot_bench_objectives
from .report import finish_folder


def markdown_table(table: pd.DataFrame) -> str:
    """The bench table as GitHub markdown, times in ms."""
    head = (
        "| solver | params | reads | ms/read | best objective | gap | median gap | "
        "feasible | hit rate | TTS99 ms | repeats hit |"
    )
    lines = [head, "|" + " --- |" * 11]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.solver} | {r.params or '-'} | {r.reads} | {1e3 * r.time_per_read:.3f} | "
            f"{r.best_objective:.6e} | {r.gap:.2%} | {r.median_gap:.2%} | "
            f"{r.feasible_fraction:.0%} | {r.hit_rate:.0%} | "
            + (f"{1e3 * r.tts99:.2f}" if math.isfinite(r.tts99) else "inf")
            + f" | {r.repeats_hit:.0%} |"
        )
    return "\n".join(lines)


def machine_description() -> str:
    """CPU model, cores and Python version, for the record."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, one core per solver"


def write_bench(
    result: BenchResult, folder: Path, instance: str, command: str, config: Any = None
) -> list[Path]:
    """``bench.csv``, ``bench.md`` and ``bench_objectives.png`` into ``folder``, then
    ``config.yaml`` (the instance's config, when given), ``environment.json`` and
    ``report.html``."""

    paths = [folder / "bench.csv", folder / "bench.md", folder / "bench_objectives.png"]
    table = result.table.copy()
    table.insert(2, "best_known", result.best_known)
    table.to_csv(paths[0], index=False)
    text = [
        "# Solver benchmark",
        "",
        f"- instance: {instance}",
        f"- {'proven optimum' if result.proven else 'best known objective'}: "
        f"{result.best_known:.9e} ({result.best_known_source})",
        f"- machine: {machine_description()}",
        f"- command: `{command}`",
        "",
        markdown_table(result.table),
        "",
        f"hit = a read within 1e-9 relative of the {'proven optimum' if result.proven else 'best known'}; "
        "TTS99 = time per read * ln(0.01) / ln(1 - hit rate).",
    ]
    paths[1].write_text("\n".join(text) + "\n")
    # the table's rows are the cases in the order of result.objectives' labels
    per_read = dict(zip(result.objectives, result.table["time_per_read"], strict=True))
    plot_bench_objectives(
        result.objectives,
        result.best_known,
        paths[2],
        title=instance,
        time_per_read=per_read,
        reference="proven optimum" if result.proven else "best known",
    )
    return paths + finish_folder(folder, config, "bench")
