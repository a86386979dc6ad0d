"""The page of a ``backtest`` folder: metrics out of sample, selections, rebalances."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.metrics import MEASURES
from .folder import read_csv, read_json
from .html import Section, fmt, frame_table, kv_table, para, table
from .sections import closing_sections, data_notes, data_rows, metric_rows, windows_text

HEAD_TAIL = 5
"""Long tables show this many rows from each end."""
BACKTEST_ROWS = (*MEASURES, "final_wealth", "cagr", "turnover", "total_costs")


def backtest_report(folder: Path) -> tuple[str, list[Section]]:
    """The subtitle and sections of a backtest's page, from ``metrics.json`` (when there) and
    the CSV files."""
    path = folder / "metrics.json"
    m = read_json(path) if path.is_file() else {}
    selections = read_csv(folder / "selections.csv")
    rebalances = read_csv(folder / "rebalances.csv")
    sections = [
        ("overview", "What was run", _overview(m)),
        ("metrics", "Metrics out of sample", _metrics(m)),
    ]
    if selections is not None and len(selections):
        sections.append(("selection", "Selections", _selections(selections)))
    notes = data_notes(m.get("data"))
    if rebalances is not None and len(rebalances):
        sections.append(("rebalances", "Rebalances", _rebalances(rebalances)))
        notes += _rebalance_notes(rebalances)
    sections += closing_sections(folder, notes, m.get("config"))
    return _subtitle(m), sections


def _subtitle(m: Mapping[str, Any]) -> str:
    s = m.get("settings") or {}
    period = m.get("period") or {}
    return (
        f"walk-forward {period.get('start')}..{period.get('end')}, {s.get('solver')}, "
        f"K' = {s.get('k')} of {s.get('assets')}"
    )


def _overview(m: Mapping[str, Any]) -> str:
    """Data, the out-of-sample period, rebalancing, lookback, model, solver, costs."""
    s = m.get("settings") or {}
    period = m.get("period") or {}
    unit = str(s.get("unit", "trading_days")).replace("_", " ")
    reb = s.get("rebalance")
    rows = [
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
        ("solver", f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('solver_seed')}"),
        ("costs", f"{s.get('costs_bps')} bps of traded value"),
        ("benchmarks", ", ".join(s.get("benchmarks") or []) or "1/N of all assets only"),
    ]
    return kv_table(rows, table_id="overview")


def _metrics(m: Mapping[str, Any]) -> str:
    """One column per curve (strategy, 1/N, benchmarks) and the random subsets' median."""
    labels = {"strategy": "strategy", "equal_weight_all": "1/N all"}
    columns = {labels.get(c, c): v for c, v in (m.get("metrics") or {}).items()}
    random = m.get("random_subsets") or {}
    if random.get("count"):
        columns["random median"] = {
            name: (random.get(name) or {}).get("p50") for name in BACKTEST_ROWS
        }
    body = table(["measure", *columns], metric_rows(columns, BACKTEST_ROWS), "metrics")
    if random.get("count"):
        body += _random_text(random, (m.get("settings") or {}).get("k"))
    return body


def _random_text(random: Mapping[str, Any], k: Any) -> str:
    """Where the strategy stands among the random ``k``-subsets."""
    pct = random.get("strategy_percentile") or {}
    fw, sh = random.get("final_wealth") or {}, random.get("sharpe") or {}
    return para(
        f"Against {random['count']} random {k}-subsets (seed {random.get('seed')}): "
        f"the strategy is at percentile {fmt(pct.get('final_wealth'), '.1f')} of final "
        f"wealth and {fmt(pct.get('sharpe'), '.1f')} of Sharpe; random 5-95%: final "
        f"wealth {fmt(fw.get('p05'), '.3f')}..{fmt(fw.get('p95'), '.3f')}, Sharpe "
        f"{fmt(sh.get('p05'), '.2f')}..{fmt(sh.get('p95'), '.2f')}."
    )


def _selections(selections: pd.DataFrame) -> str:
    """The holdings from the last rebalance, then the selection of every rebalance date."""
    last = selections[selections["date"] == selections["date"].max()]
    held = selections.groupby("date", sort=True)["ticker"].apply(lambda t: ", ".join(t))
    held = held.reset_index().rename(columns={"ticker": "selection"})
    return (
        para(f"Held from the last rebalance, {last['date'].iloc[0]}:")
        + frame_table(last[["ticker", "weight"]], "selection", {"weight": ".4f"})
        + "<h3>Selections per rebalance date</h3>"
        + frame_table(held, "selections", head_tail=HEAD_TAIL)
    )


def _rebalances(rebalances: pd.DataFrame) -> str:
    """``rebalances.csv``, the first and last rows."""
    formats = {c: ".4g" for c in rebalances.columns}
    formats.update({"objective": ".6e", "feasible_fraction": ".0%", "solve_seconds": ".3f"})
    return para(
        f"{len(rebalances)} rebalance dates (first and last {HEAD_TAIL}; all in rebalances.csv)."
    ) + frame_table(rebalances, "rebalances", formats, head_tail=HEAD_TAIL)


def _rebalance_notes(rebalances: pd.DataFrame) -> list[str]:
    if "feasible_fraction" in rebalances and rebalances["feasible_fraction"].min() < 1:
        return [
            f"some dates had infeasible reads: feasible fraction down to "
            f"{rebalances['feasible_fraction'].min():.0%}"
        ]
    return []
