"""``qubo-portfolio data CONFIG``: an :class:`~qubo_portfolio.workflows.inspect.Inspection`
as text (or JSON)."""

from __future__ import annotations

import json
from typing import Any

from ..workflows.inspect import Inspection
from .files import to_jsonable

SHOW = 8  # list at most this many items of a kind, then "and N more"


def inspection_json(result: Inspection) -> str:
    return json.dumps(to_jsonable(result.to_dict()), indent=2, allow_nan=False)


def inspection_text(result: Inspection) -> str:
    """The inspection as labelled lines."""
    lines = [f"config    {result.config}"] if result.config else []
    lines += [f"{label:<10}{text}" for label, text in result.input.items()]
    loaded = result.loaded
    lines.append(
        f"{'loaded':<10}{loaded['start']} to {loaded['end']}: {loaded['rows']} price rows, "
        f"{loaded['assets']} assets ({loaded['rows_raw']} rows and {loaded['assets_raw']} "
        f"columns in the input, {loaded['all_missing_rows_dropped']} rows without any price "
        f"dropped; data.missing: {loaded['missing']}, data.max_gap: {loaded['max_gap']})"
    )
    run = result.run
    lines += ["", "run (and frontier, bench, export, sweep): " + _lookback(run)]
    lines += _span_lines(run)
    ins = run["in_sample"]
    spec = run["windows_spec"]
    unit = spec.get("unit", "trading_days").replace("_", " ")
    lines.append(
        f"  model     k {run['k']}; in sample {ins['start']} to {ins['end']} "
        f"({ins['return_rows']} return rows); M = {run['num_windows']} windows of "
        f"{spec.get('length') or 'all'} {unit}"
        + (f", step {spec['step']}" if spec.get("step") else "")
        + (f", count {spec['count']}" if spec.get("count") else "")
    )
    for i, w in enumerate(_head(run["windows"])):
        lines.append(
            f"    window {i + 1:>3}  {w['first_date']} to {w['last_date']}  ({w['rows']} rows)"
        )
    lines += _more(run["windows"], "windows")
    bt = result.backtest
    if bt is not None:
        rebalance = bt["rebalance"]
        every = f"every {rebalance} {bt['unit'].replace('_', ' ')}"
        lines += [
            "",
            f"backtest: lookback {bt['lookback']} {bt['unit'].replace('_', ' ')}, rebalance "
            f"{rebalance if isinstance(rebalance, str) else every}",
        ]
        lines += _span_lines(bt)
        ev = bt["evaluated"]
        dates = bt["rebalances"]
        lines.append(
            f"  evaluated {ev['start']} to {ev['end']} ({ev['trading_days']} trading days), "
            f"{len(dates)} rebalance dates"
            + (f"; benchmarks {', '.join(bt['benchmarks'])}" if bt["benchmarks"] else "")
        )
        for d in _head(dates):
            lines.append(
                f"    {d['date']}  lookback {d['lookback_rows']} return rows, "
                f"{d['candidates']} candidates"
            )
        lines += _more(dates, "rebalance dates")
    return "\n".join(lines)


def _lookback(part: dict[str, Any]) -> str:
    lookback = part.get("lookback")
    return "every row (no model.lookback)" if lookback is None else f"model.lookback {lookback}"


def _span_lines(part: dict[str, Any]) -> list[str]:
    span = part["span"]
    assets = part["assets"]
    lines = [
        f"  dates     {span['start']} to {span['end']}: {span['price_rows']} price rows, "
        f"{part['trading_days']} trading days of returns",
        f"  assets    {len(assets)} kept: {_names(assets)}",
    ]
    for ticker, why in part["dropped_assets"].items():
        lines.append(f"  dropped   {ticker}: {why}")
    if part["filled_cells"]:
        filled = ", ".join(f"{t} {n}" for t, n in part["filled_cells"].items())
        lines.append(f"  filled    gaps forward-filled (cells): {filled}")
    if part["missing_cells"]:
        missing = ", ".join(f"{t} {n}" for t, n in part["missing_cells"].items())
        lines.append(f"  missing   prices left missing (data.missing: keep): {missing}")
    moves = part["large_moves"]
    threshold = part.get("large_move_threshold") or 0.5
    if moves:
        lines.append(f"  moves     {len(moves)} one-day returns beyond +-{threshold:.0%}:")
        for m in _head(moves):
            lines.append(f"    {m['ticker']} {m['date']} {m['return']:+.1%}")
        lines += _more(moves, "moves")
    else:
        lines.append(f"  moves     no one-day return beyond +-{threshold:.0%}")
    return lines


def _names(items: list[str]) -> str:
    shown = ", ".join(items[: 3 * SHOW])
    return shown + (f" and {len(items) - 3 * SHOW} more" if len(items) > 3 * SHOW else "")


def _head(items: list) -> list:
    return items if len(items) <= SHOW + 2 else items[:SHOW]


def _more(items: list, what: str) -> list[str]:
    if len(items) <= SHOW + 2:
        return []
    return [f"    ... and {len(items) - SHOW} more {what} (--json lists them all)"]
