"""Look before you run: what a config's commands would use, without solving anything.

:func:`inspect_config` loads the data as ``run`` (and ``backtest``) would, cuts it to the rows
each command uses, builds the model's windows and lays out the backtest's rebalance dates,
and returns an :class:`Inspection`: the file's detected format, the date range, the assets
kept and dropped (why), the gaps filled, the suspicious one-day moves, the windows and the
rebalance dates. It raises the same :class:`~qubo_portfolio.errors.InputError` a run would.
Printing is :mod:`qubo_portfolio.output.inspect`'s job (``qubo-portfolio data CONFIG``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..core.data import PriceData, describe_input, restrict_to_span
from ..core.returns import price_span_start, simple_returns
from .config import Config
from .settings import SelectorSpec, in_sample_returns, load_data

LOADED_KEYS = (
    "rows_raw",
    "assets_raw",
    "rows",
    "assets",
    "start",
    "end",
    "unsorted",
    "all_missing_rows_dropped",
    "missing",
    "max_gap",
)


@dataclass
class Inspection:
    """What ``data CONFIG`` reports (plain Python types: :meth:`to_dict` is JSON-ready).

    Attributes
    ----------
    input : dict
        :func:`~qubo_portfolio.core.data.describe_input`: source, file, layout, separator,
        numbers, dates, columns.
    loaded : dict
        The cleaned table before any command cuts it (rows, assets, dates, ...).
    run : dict
        What ``run`` (and ``frontier``, ``export``, ``bench``) uses: ``span`` (price rows),
        the assets kept and dropped, gaps filled and missing, large moves, the in-sample
        return rows and the model's windows.
    backtest : dict or None
        What ``backtest`` uses when the config has a ``backtest`` section: its span and
        assets as for ``run``, and the rebalance dates with their lookback rows.
    """

    input: dict[str, str]
    loaded: dict[str, Any]
    run: dict[str, Any]
    backtest: dict[str, Any] | None = None
    config: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "input": self.input,
            "loaded": self.loaded,
            "run": self.run,
            "backtest": self.backtest,
        }


def span_summary(data: PriceData) -> dict[str, Any]:
    """The rows and assets of a cut table, from its report."""
    report = data.report
    return {
        "span": {"start": report["start"], "end": report["end"], "price_rows": report["rows"]},
        "trading_days": max(report["rows"] - 1, 0),
        "assets": data.tickers,
        "dropped_assets": dict(report.get("dropped_assets") or {}),
        "filled_cells": dict(report.get("filled_cells") or {}),
        "missing_cells": dict(report.get("missing_cells") or {}),
        "large_moves": list(report.get("large_moves") or []),
        "large_move_threshold": report.get("large_move_threshold"),
    }


def inspect_config(cfg: Config, config: str | None = None) -> Inspection:
    """Load, cut and lay out everything a run (and a backtest) of ``cfg`` would use."""
    data = load_data(cfg.data, defer_missing=True)
    loaded = {k: data.report[k] for k in LOADED_KEYS if k in data.report}
    loaded["dropped_assets"] = dict(data.report.get("dropped_assets") or {})

    used = restrict_to_span(
        data, price_span_start(data.prices.index, cfg.model.lookback, cfg.model.windows.unit)
    )
    returns = simple_returns(used.prices)
    qubo = SelectorSpec.from_config(cfg).build(returns)  # the same checks as a run
    in_sample = in_sample_returns(returns, qubo)
    run = span_summary(used)
    run.update(
        in_sample={
            "start": in_sample.index[0].date().isoformat(),
            "end": in_sample.index[-1].date().isoformat(),
            "return_rows": len(in_sample),
        },
        k=qubo.k,
        lookback=cfg.model.lookback,
        windows_spec=cfg.model.windows.model_dump(),
        num_windows=qubo.num_windows,
        windows=[w.to_dict() for w in qubo.windows],
    )

    backtest = None
    if cfg.backtest is not None:
        # imported here: a config without a backtest section loads no solver
        from .backtest import backtest_span, prepare_schedule, selector_spec

        bt = cfg.backtest
        selector = selector_spec(cfg)
        cut = backtest_span(data, bt)
        plan = prepare_schedule(
            cut.prices,
            selector,
            lookback=bt.lookback,
            rebalance=bt.rebalance,
            unit=bt.unit,
            start=bt.start,
            end=bt.end,
            benchmarks=bt.benchmarks,
        )
        backtest = span_summary(cut)
        backtest.update(
            lookback=bt.lookback,
            rebalance=bt.rebalance,
            unit=bt.unit,
            evaluated={
                "start": _day(plan.eval_index[0]),
                "end": _day(plan.eval_index[-1]),
                "trading_days": len(plan.eval_index) - 1,
            },
            benchmarks=list(bt.benchmarks),
            rebalances=[
                {"date": _day(date), "lookback_rows": len(window), "candidates": window.shape[1]}
                for date, window in plan.tasks
            ],
        )
    return Inspection(describe_input(data.report), loaded, run, backtest, config)


def _day(ts: Any) -> str:
    return pd.Timestamp(ts).date().isoformat()
