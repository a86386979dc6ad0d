"""The page of a ``backtest`` folder: metrics out of sample, selections, rebalances."""

from __future__ import annotations

from pathlib import Path

from ...core.metrics import MEASURES
from .folder import read_csv, read_json
from .html import fmt, frame_table, kv_table, para, table, warnings_box
from .sections import (
    config_section,
    data_notes,
    data_rows,
    environment_section,
    figures,
    metric_rows,
    windows_text,
)

HEAD_TAIL = 5
BACKTEST_ROWS = (*MEASURES, "final_wealth", "cagr", "turnover", "total_costs")


def backtest_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    path = folder / "metrics.json"
    m = read_json(path) if path.is_file() else {}
    s = m.get("settings") or {}
    period = m.get("period") or {}
    selections = read_csv(folder / "selections.csv")
    rebalances = read_csv(folder / "rebalances.csv")
    unit = str(s.get("unit", "trading_days")).replace("_", " ")
    reb = s.get("rebalance")
    overview = kv_table(
        [
            *data_rows(m.get("data")),
            (
                "out of sample",
                f"{period.get('start')}..{period.get('end')} ({period.get('days')} trading days), "
                f"{period.get('rebalances')} rebalances",
            ),
            ("rebalance", reb if isinstance(reb, str) else f"every {reb} {unit}"),
            ("lookback", f"{s.get('lookback')} {unit}"),
            (
                "model",
                f"{s.get('assets')} assets, K' = {s.get('k')}, xi = {s.get('xi')}, "
                f"{s.get('return_term')}, {windows_text(s.get('windows'))}",
            ),
            (
                "solver",
                f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('solver_seed')}",
            ),
            ("costs", f"{s.get('costs_bps')} bps of traded value"),
            ("benchmarks", ", ".join(s.get("benchmarks") or []) or "1/N of all assets only"),
        ],
        table_id="overview",
    )
    curves = m.get("metrics") or {}
    labels = {"strategy": "strategy", "equal_weight_all": "1/N all"}
    columns = {labels.get(c, c): v for c, v in curves.items()}
    random = m.get("random_subsets") or {}
    if random.get("count"):
        columns["random median"] = {
            name: (random.get(name) or {}).get("p50") for name in BACKTEST_ROWS
        }
    body = table(["measure", *columns], metric_rows(columns, BACKTEST_ROWS), "metrics")
    if random.get("count"):
        pct = random.get("strategy_percentile") or {}
        fw, sh = random.get("final_wealth") or {}, random.get("sharpe") or {}
        body += para(
            f"Against {random['count']} random {s.get('k')}-subsets (seed {random.get('seed')}): "
            f"the strategy is at percentile {fmt(pct.get('final_wealth'), '.1f')} of final "
            f"wealth and {fmt(pct.get('sharpe'), '.1f')} of Sharpe; random 5-95%: final "
            f"wealth {fmt(fw.get('p05'), '.3f')}..{fmt(fw.get('p95'), '.3f')}, Sharpe "
            f"{fmt(sh.get('p05'), '.2f')}..{fmt(sh.get('p95'), '.2f')}."
        )
    sections = [("overview", "What was run", overview), ("metrics", "Metrics out of sample", body)]
    if selections is not None and len(selections):
        last = selections[selections["date"] == selections["date"].max()]
        held = selections.groupby("date", sort=True)["ticker"].apply(lambda t: ", ".join(t))
        held = held.reset_index().rename(columns={"ticker": "selection"})
        sel = (
            para(f"Held from the last rebalance, {last['date'].iloc[0]}:")
            + frame_table(last[["ticker", "weight"]], "selection", {"weight": ".4f"})
            + "<h3>Selections per rebalance date</h3>"
            + frame_table(held, "selections", head_tail=HEAD_TAIL)
        )
        sections.append(("selection", "Selections", sel))
    notes = data_notes(m.get("data"))
    if rebalances is not None and len(rebalances):
        formats = {c: ".4g" for c in rebalances.columns}
        formats.update({"objective": ".6e", "feasible_fraction": ".0%", "solve_seconds": ".3f"})
        sections.append(
            (
                "rebalances",
                "Rebalances",
                para(
                    f"{len(rebalances)} rebalance dates (first and last {HEAD_TAIL}; all in "
                    "rebalances.csv)."
                )
                + frame_table(rebalances, "rebalances", formats, head_tail=HEAD_TAIL),
            )
        )
        if "feasible_fraction" in rebalances and rebalances["feasible_fraction"].min() < 1:
            notes.append(
                f"some dates had infeasible reads: feasible fraction down to "
                f"{rebalances['feasible_fraction'].min():.0%}"
            )
    figs, fig_notes = figures(folder)
    sections += [
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, m.get("config"))),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = (
        f"walk-forward {period.get('start')}..{period.get('end')}, {s.get('solver')}, "
        f"K' = {s.get('k')} of {s.get('assets')}"
    )
    return subtitle, sections
