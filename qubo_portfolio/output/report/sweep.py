"""The page of a ``sweep`` folder: the grid, the best selections, every grid point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .folder import read_csv, read_json
from .html import Cell, Section, kv_table, num, para, table
from .sections import closing_sections, windows_text

SWEEP_RESULT_COLUMNS = ("seed", "penalty", "feasible_fraction", "objective", "energy", "tickers")
PENALTY_KEYS = ("model.penalty.value", "model.penalty.scale")


def sweep_report(folder: Path) -> tuple[str, list[Section]]:
    """The subtitle and sections of a sweep's page, from ``sweep.json`` and ``results.csv``."""
    state = read_json(folder / "sweep.json")
    frame = read_csv(folder / "results.csv")
    identity = state.get("config") or {}
    grid, seeds = _grid(identity)
    keys = [k for k in grid if k in frame.columns]
    planned = int(np.prod([len(v) for v in grid.values()])) * max(len(seeds), 1)
    penalty = next((k for k in PENALTY_KEYS if k in keys), None)
    points = _grid_point_rows(frame, keys)
    sections = [
        ("overview", "What was run", _overview(identity, grid, seeds, len(frame), planned)),
        ("selection", "Best selections", _best_selections(folder, frame, keys, penalty)),
        ("metrics", "Grid points", _grid_points(points, keys)),
        *closing_sections(folder, _notes(points, keys, len(frame), planned), identity),
    ]
    subtitle = f"{len(frame)} runs over {', '.join(keys) or 'no grid'} x {len(seeds)} seed(s)"
    return subtitle, sections


def _grid(identity: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The grid (key -> values) and the seeds of the sweep's config."""
    sweep = identity.get("sweep") or {}
    grid = sweep.get("grid") or []
    seeds = sweep.get("seeds") or []
    return dict(grid), seeds


def _overview(
    identity: Mapping[str, Any],
    grid: Mapping[str, Any],
    seeds: Sequence[Any],
    runs: int,
    planned: int,
) -> str:
    """Data, model, solver, the grid, the seeds and how many runs are done."""
    model = identity.get("model") or {}
    solver = identity.get("solver") or {}
    data = identity.get("data") or {}
    rows = [
        ("data", f"{data.get('source')}" + (f": {data['path']}" if data.get("path") else "")),
        (
            "model",
            f"K' = {model.get('k')}, xi = {model.get('xi')}, {model.get('return_term')}, "
            f"{model.get('positions', 'long_only')}, lookback {model.get('lookback')}, "
            f"{windows_text(model.get('windows'))}",
        ),
        (
            "solver",
            f"{solver.get('name')}, {solver.get('num_reads')} reads, params "
            f"{solver.get('params') or {}}",
        ),
        *((f"grid: {k}", ", ".join(map(str, v))) for k, v in grid.items()),
        ("seeds", ", ".join(map(str, seeds))),
        ("runs", f"{runs} of {planned} in results.csv"),
    ]
    return kv_table(rows, table_id="overview")


# --------------------------------------------------------------------------- grid points


def _grid_point_rows(frame: pd.DataFrame, keys: Sequence[str]) -> list[list[Cell]]:
    """Per grid point: its values, runs, mean feasible fraction, objective min and mean, and
    the Sharpe ratio of its best run."""
    rows = []
    for values, group in frame.groupby(keys, sort=False) if keys else [((), frame)]:
        values = values if isinstance(values, tuple) else (values,)
        feasible = group[group["objective"].notna()]
        best = feasible.loc[feasible["objective"].idxmin()] if len(feasible) else None
        rows.append(
            [
                *(num(v, "g") for v in values),
                num(len(group), "d"),
                num(group["feasible_fraction"].mean(), ".0%"),
                num(feasible["objective"].min() if len(feasible) else None, ".6e"),
                num(feasible["objective"].mean() if len(feasible) else None, ".6e"),
                num(None if best is None else best.get("sharpe"), ".3f"),
            ]
        )
    return rows


def _grid_points(rows: list[list[Cell]], keys: Sequence[str]) -> str:
    return table(
        [*keys, "runs", "feasible", "objective min", "objective mean", "sharpe"],
        rows,
        "metrics",
    )


# --------------------------------------------------------------------------- best selections


def _best_selections(
    folder: Path, frame: pd.DataFrame, keys: Sequence[str], penalty: str | None
) -> str:
    """The lowest objective per grid point but the penalty (over penalties and seeds), then
    the rows of ``benchmark.json`` (1/N of all assets on the same days)."""
    group_keys = [k for k in keys if k != penalty]
    rows = _best_rows(frame, group_keys, penalty)
    benchmarks = _benchmarks(folder)
    rows += [_benchmark_row(bench, group_keys, penalty) for bench in benchmarks]
    first_bench = len(rows) - len(benchmarks)
    by = f" per {', '.join(group_keys)}" if group_keys else ""
    return para(
        f"The lowest objective{by} over {'penalties and ' if penalty else ''}seeds, in sample"
        + (", and 1/N of all assets on the same days." if benchmarks else ".")
    ) + table(
        [
            *group_keys,
            *([penalty] if penalty else []),
            "seed",
            "objective",
            "return",
            "volatility",
            "sharpe",
            "selection",
        ],
        rows,
        "selection",
        row_class=lambda i: "benchmark" if i >= first_bench else None,
    )


def _best_rows(
    frame: pd.DataFrame, group_keys: Sequence[str], penalty: str | None
) -> list[list[Any]]:
    feasible = frame[frame["objective"].notna()]
    if not len(feasible):
        return []
    if group_keys:
        index = feasible.groupby(group_keys, sort=False)["objective"].idxmin()
        best = feasible.loc[index.to_numpy()]
    else:
        best = feasible.loc[[feasible["objective"].idxmin()]]
    return [
        [
            *(num(row[k], "g") for k in group_keys),
            *([num(row[penalty], "g")] if penalty else []),
            num(row["seed"], "g"),
            num(row["objective"], ".6e"),
            num(row.get("annualized_mean"), ".4f"),
            num(row.get("annualized_volatility"), ".4f"),
            num(row.get("sharpe"), ".3f"),
            str(row["tickers"]).replace(";", ", "),
        ]
        for _, row in best.iterrows()
    ]


def _benchmarks(folder: Path) -> list[Mapping[str, Any]]:
    """The equal-weight benchmarks of ``benchmark.json`` (absent in folders of older versions)."""
    path = folder / "benchmark.json"
    rows = (read_json(path) if path.exists() else {}).get("equal_weight") or []
    return [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []


def _benchmark_row(
    bench: Mapping[str, Any], group_keys: Sequence[str], penalty: str | None
) -> list[Any]:
    """1/N of all K, measured on the same in-sample rows: no grid values, seed or objective."""
    measures = bench.get("measures")
    measures = measures if isinstance(measures, Mapping) else {}
    label = str(bench.get("label", "1/N"))
    days = bench.get("in_sample")
    if isinstance(days, Mapping) and "(scheme" in label:  # several data/window schemes
        label += f", in sample {days.get('start')}..{days.get('end')}"
    return [
        *(num(None) for _ in group_keys),
        *([num(None)] if penalty else []),
        num(None),
        num(None),
        num(measures.get("annualized_mean"), ".4f"),
        num(measures.get("annualized_volatility"), ".4f"),
        num(measures.get("sharpe"), ".3f"),
        label,
    ]


def _notes(points: list[list[Cell]], keys: Sequence[str], runs: int, planned: int) -> list[str]:
    """Grid points without any feasible read; an incomplete sweep."""
    notes = []
    empty = [r for r in points if r[len(keys) + 2].text == "-"]  # the objective min column
    if empty:
        notes.append(f"{len(empty)} grid point(s) without any feasible read (objective -)")
    if runs < planned:
        notes.append(f"the sweep is not complete: {runs} of {planned} runs (rerun to resume)")
    return notes
