"""What every report page shares: figures, data notes, config, environment, metric rows."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ...errors import InputError
from ..environment import CONFIG_FILE, ENVIRONMENT_FILE
from .folder import read_json
from .html import Section, esc, fmt, kv_table, num, para, warnings_box

MAX_FIGURE_BYTES = 4_000_000
"""A PNG larger than this is named, not embedded (the page stays a few MB at most)."""

FIGURE_CAPTIONS = {
    "cumulative_returns.png": "In-sample growth of 1: the selection against 1/N of all K.",
    "network.png": "The correlation network (minimum spanning tree) of the K assets, the "
    "selection marked.",
    "diversification.png": "The selection's mean tree distance against random subsets of the "
    "same size.",
    "equity.png": "Out-of-sample wealth of the strategy, 1/N of all K, the benchmarks and the "
    "random subsets.",
    "frontier.png": "Markowitz portfolios, the exact efficient frontier, the random cloud and "
    "the equal-weight QUBO selections.",
    "sweep_penalty.png": "Raw feasible fraction and objective gap against the penalty.",
    "sweep_heatmap.png": "Median objective over xi x penalty.",
    "sweep_frontier.png": "The best selection per xi in volatility and return, 1/N marked.",
    "bench_objectives.png": "Every read's gap to the best known objective, per solver.",
}

MEASURE_LABELS = {
    "annualized_mean": "annualized mean",
    "annualized_volatility": "annualized volatility",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "max drawdown",
    "final_wealth": "final wealth",
    "cagr": "CAGR",
    "turnover": "turnover (mean per rebalance)",
    "total_costs": "total costs",
}


def figures(folder: Path, plots_off: bool = False) -> tuple[str, list[str]]:
    """Every PNG in ``folder`` as an embedded ``<img>`` (data URI); notes for skipped ones."""
    notes = []
    parts = []
    order = list(FIGURE_CAPTIONS)
    pngs = sorted(
        (p for p in folder.glob("*.png") if not p.name.startswith(".")),
        key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name),
    )
    for path in pngs:
        size = path.stat().st_size
        if size > MAX_FIGURE_BYTES:
            notes.append(f"{path.name} ({size / 1e6:.1f} MB) is not embedded: open it beside")
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        caption = FIGURE_CAPTIONS.get(path.name, "")
        parts.append(
            f'<figure><img alt="{esc(path.name)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(path.name)}</b>{' ' + esc(caption) if caption else ''}"
            "</figcaption></figure>"
        )
    if not parts:
        why = " (report.plots: false)" if plots_off else ""
        return para(f"No figures in this folder{why}."), notes
    return "".join(parts), notes


def data_notes(report: Mapping[str, Any] | None, since: str | None = None) -> list[str]:
    """What loading and cleaning the prices did, as sentences."""
    if not report:
        return []
    notes = []
    dropped = report.get("dropped_assets") or {}
    if dropped:
        names = ", ".join(
            f"{t} ({why})" if isinstance(why, str | int) else t for t, why in dropped.items()
        )
        notes.append(f"{len(dropped)} incomplete asset(s) dropped: {names}")
    filled = report.get("filled_cells") or {}
    if filled:
        total = sum(v for v in filled.values() if isinstance(v, int | float))
        notes.append(
            f"{int(total)} missing price(s) forward-filled (gaps of at most "
            f"{report.get('max_gap')} rows) in {len(filled)} asset(s): "
            + ", ".join(list(filled)[:10])
            + (" ..." if len(filled) > 10 else "")
        )
    missing = report.get("missing_cells") or {}
    if missing:
        notes.append(f"{len(missing)} asset(s) keep missing prices: " + ", ".join(list(missing)))
    if report.get("all_missing_rows_dropped"):
        notes.append(f"{report['all_missing_rows_dropped']} row(s) without any price dropped")
    if report.get("unsorted"):
        notes.append("the dates were not sorted in the file (sorted on loading)")
    moves = report.get("large_moves") or []
    if moves:
        threshold = report.get("large_move_threshold", 0.5)
        inside = [m for m in moves if since is None or str(m.get("date", "")) >= since]
        listed = ", ".join(
            f"{m.get('ticker')} {m.get('date')} ({fmt(m.get('return'), '+.0%')})"
            for m in (inside or moves)[:8]
        )
        where = (
            f", {len(inside)} of them in the period used"
            if since is not None and inside
            else ", none in the period used"
            if since is not None
            else ""
        )
        notes.append(
            f"{len(moves)} one-day move(s) beyond +-{threshold:.0%} in the data{where}: {listed}"
        )
    return notes


def data_rows(report: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """The overview's rows about the prices: their source and size."""
    if not report:
        return [("data", "not recorded")]
    source = report.get("source")
    if report.get("path"):
        source = f"{source}: {report['path']}"
    return [
        ("data", source),
        (
            "prices",
            f"{report.get('rows')} rows x {report.get('assets')} assets "
            f"({report.get('start')}..{report.get('end')})",
        ),
    ]


def config_section(folder: Path, fallback: Mapping[str, Any] | None) -> str:
    """``config.yaml`` of the folder, else the config the result files recorded, folded."""
    path = folder / CONFIG_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        intro = para(
            f"{CONFIG_FILE} in this folder: the resolved config (defaults filled in, paths "
            "absolute); rerun it with the command in its first lines."
        )
    elif fallback:
        text = yaml.safe_dump(dict(fallback), sort_keys=False, allow_unicode=True)
        intro = para(
            f"No {CONFIG_FILE} in this folder (written before it was recorded); the config as "
            "the result files recorded it:"
        )
    else:
        return para("No config recorded in this folder.")
    return intro + f"<details><summary>show the config</summary><pre>{esc(text)}</pre></details>"


def environment_section(folder: Path) -> str:
    """``environment.json`` of the folder as a table: versions, git commit, machine."""
    path = folder / ENVIRONMENT_FILE
    if not path.is_file():
        return para(f"No {ENVIRONMENT_FILE} in this folder (written before it was recorded).")
    try:
        env = read_json(path)
    except InputError as exc:  # a damaged file: the rest of the page still builds
        return para(f"{ENVIRONMENT_FILE} cannot be read: {exc}")
    git = env.get("git")
    if isinstance(git, dict):
        git_text = f"{git.get('commit')}" + (" (uncommitted changes)" if git.get("dirty") else "")
    else:
        git_text = "not a git checkout"
    rows = [
        ("qubo_portfolio", env.get("qubo_portfolio")),
        ("git commit", git_text),
        ("python", f"{env.get('python')} ({env.get('implementation')})"),
        ("platform", env.get("platform")),
        ("cpu", f"{env.get('cpu')}, {env.get('cpu_count')} cores"),
        ("written", env.get("created")),
    ]
    packages = env.get("packages") or {}
    rows += [(name, version or "not installed") for name, version in packages.items()]
    return kv_table(rows, table_id="environment")


def metric_rows(columns: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> list[list]:
    """One row per measure in ``names`` (a label, then one value per column); rows without
    any value are left out."""
    rows = []
    for name in names:
        values = [col.get(name) if col else None for col in columns.values()]
        if all(v is None for v in values):
            continue
        rows.append([MEASURE_LABELS.get(name, name), *(num(v) for v in values)])
    return rows


def windows_text(windows: Mapping[str, Any] | None) -> str:
    """The windows of the model in words (``10 windows of 63 rows, step 21``)."""
    if not windows:
        return "-"
    unit = "calendar days" if windows.get("unit") == "calendar_days" else "rows"
    count = f"{windows['num_windows']} windows" if windows.get("num_windows") else "windows"
    text = f"{count} of {windows.get('length') or 'all'} {unit}"
    if windows.get("step"):
        text += f", step {windows['step']}"
    if windows.get("count"):
        text += f", count {windows['count']}"
    if windows.get("lookback"):
        text += f"; lookback {windows['lookback']}"
    return text


def in_sample_text(in_sample: Mapping[str, Any]) -> str:
    """The in-sample days: ``start..end (rows days)``."""
    return f"{in_sample.get('start')}..{in_sample.get('end')} ({in_sample.get('rows')} days)"


def closing_sections(
    folder: Path,
    notes: Sequence[str],
    config: Mapping[str, Any] | None,
    plots_off: bool = False,
) -> list[Section]:
    """The sections every page ends with: figures, notes and warnings (``notes``, then those of
    the figures), the config (``config`` when the folder has no ``config.yaml``), environment."""
    figs, fig_notes = figures(folder, plots_off=plots_off)
    return [
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box([*notes, *fig_notes])),
        ("config", "Config", config_section(folder, config)),
        ("environment", "Environment", environment_section(folder)),
    ]
