"""The page of a ``sweep`` folder: the grid, the best selections, every grid point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .folder import read_csv, read_json
from .html import kv_table, num, para, table, warnings_box
from .sections import config_section, environment_section, figures, windows_text

SWEEP_RESULT_COLUMNS = ("seed", "penalty", "feasible_fraction", "objective", "energy", "tickers")


def sweep_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    state = read_json(folder / "sweep.json")
    frame = read_csv(folder / "results.csv")
    identity = state.get("config") or {}
    grid = identity.get("sweep", {}).get("grid") or []
    grid = dict(grid) if isinstance(grid, list) else dict(grid)
    seeds = identity.get("sweep", {}).get("seeds") or []
    keys = [k for k in grid if k in frame.columns]
    planned = int(np.prod([len(v) for v in grid.values()])) * max(len(seeds), 1)
    model = identity.get("model") or {}
    solver = identity.get("solver") or {}
    data = identity.get("data") or {}
    overview = kv_table(
        [
            ("data", data.get("source") + (f": {data['path']}" if data.get("path") else "")),
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
            ("runs", f"{len(frame)} of {planned} in results.csv"),
        ],
        table_id="overview",
    )
    penalty = next((k for k in ("model.penalty.value", "model.penalty.scale") if k in keys), None)
    summary_rows = []
    for values, group in frame.groupby(keys, sort=False) if keys else [((), frame)]:
        values = values if isinstance(values, tuple) else (values,)
        feasible = group[group["objective"].notna()]
        best = feasible.loc[feasible["objective"].idxmin()] if len(feasible) else None
        summary_rows.append(
            [
                *(num(v, "g") for v in values),
                num(len(group), "d"),
                num(group["feasible_fraction"].mean(), ".0%"),
                num(feasible["objective"].min() if len(feasible) else None, ".6e"),
                num(feasible["objective"].mean() if len(feasible) else None, ".6e"),
                num(None if best is None else best.get("sharpe"), ".3f"),
            ]
        )
    metrics = table(
        [*keys, "runs", "feasible", "objective min", "objective mean", "sharpe"],
        summary_rows,
        "metrics",
    )
    group_keys = [k for k in keys if k != penalty]
    feasible = frame[frame["objective"].notna()]
    selection_rows = []
    if len(feasible):
        if group_keys:
            index = feasible.groupby(group_keys, sort=False)["objective"].idxmin()
            best = feasible.loc[index.to_numpy()]
        else:
            best = feasible.loc[[feasible["objective"].idxmin()]]
        for _, row in best.iterrows():
            selection_rows.append(
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
            )
    bench_path = folder / "benchmark.json"  # absent in folders of older versions
    benchmarks = (read_json(bench_path) if bench_path.exists() else {}).get("equal_weight") or []
    for bench in benchmarks:  # 1/N of all K, measured on the same in-sample rows
        measures = bench.get("measures") or {}
        selection_rows.append(
            [
                *(num(None) for _ in group_keys),
                *([num(None)] if penalty else []),
                num(None),
                num(None),
                num(measures.get("annualized_mean"), ".4f"),
                num(measures.get("annualized_volatility"), ".4f"),
                num(measures.get("sharpe"), ".3f"),
                str(bench.get("label", "1/N")),
            ]
        )
    first_bench = len(selection_rows) - len(benchmarks)
    by = f" per {', '.join(group_keys)}" if group_keys else ""
    selection = para(
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
        selection_rows,
        "selection",
        row_class=lambda i: "benchmark" if i >= first_bench else None,
    )
    notes = []
    empty = [r for r in summary_rows if r[len(keys) + 2].text == "-"]
    if empty:
        notes.append(f"{len(empty)} grid point(s) without any feasible read (objective -)")
    if len(frame) < planned:
        notes.append(f"the sweep is not complete: {len(frame)} of {planned} runs (rerun to resume)")
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("selection", "Best selections", selection),
        ("metrics", "Grid points", metrics),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, identity)),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = f"{len(frame)} runs over {', '.join(keys) or 'no grid'} x {len(seeds)} seed(s)"
    return subtitle, sections
