"""``report.html``: one self-contained page per result folder, built from the folder's files.

The page says what was run (config, data, windows), gives the answer (selection, metrics
against the benchmarks, quality), embeds every PNG figure of the folder as a base64 data
URI, shows the tables a reader needs, the notes and warnings, and the environment. It is plain
HTML with inline CSS: nothing is fetched when it opens (no scripts, no fonts, no links out).

It reads only the files, never a result in memory, so ``qubo-portfolio report DIR`` rebuilds
it for any result folder, older ones included (what they lack is said, not invented). The kind
of folder is told by its files (:func:`detect_kind`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..environment import write_config, write_environment
from ..files import write_text_atomic
from .backtest import backtest_report
from .bench import bench_report
from .folder import detect_kind
from .frontier import frontier_report
from .html import Section, page
from .run import run_report
from .sweep import sweep_report

__all__ = [
    "REPORT_FILE",
    "build_report",
    "detect_kind",
    "finish_folder",
    "write_report",
]

REPORT_FILE = "report.html"

BUILDERS: dict[str, Callable[[Path], tuple[str, list[Section]]]] = {
    "run": run_report,
    "sweep": sweep_report,
    "backtest": backtest_report,
    "frontier": frontier_report,
    "bench": bench_report,
}


def build_report(folder: Path, kind: str | None = None) -> str:
    """The ``report.html`` text of a result folder (its kind detected unless given)."""
    folder = Path(folder)
    kind = kind or detect_kind(folder)
    subtitle, sections = BUILDERS[kind](folder)
    return page(kind, folder, sections, subtitle)


def write_report(folder: Path, kind: str | None = None) -> Path:
    """Build and write ``folder/report.html`` atomically (temporary file, then replace)."""
    path = Path(folder) / REPORT_FILE
    write_text_atomic(path, build_report(folder, kind))
    return path


def finish_folder(folder: Path, config: Any, command: str) -> list[Path]:
    """The files every result folder ends with: ``config.yaml`` (when ``config`` is given),
    ``environment.json`` and, last (it reads the others), ``report.html``."""
    written = []
    if config is not None:
        written.append(write_config(folder, config, command))
    written.append(write_environment(folder))
    written.append(write_report(folder, command))
    return written
