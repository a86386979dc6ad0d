"""Walk-forward backtest, out of sample: select at each rebalance date, buy, hold, repeat.

At each rebalance date ``d_j`` (price rows, see :func:`rebalance_rows`) the selection sees
only the returns of the ``lookback`` ending at ``d_j`` (inclusive; the model's windows live
inside it), and nothing later. The portfolio then

1. trades at ``d_j``'s close to equal value ``1/K'`` in each selected asset, paying
   proportional costs on what it trades: with ``W^-`` the wealth before trading, ``v`` the
   drifted weights before trading (``v = 0`` at the first date, bought from cash) and ``w``
   the target weights, the traded value is ``W^- sum_i |w_i - v_i|`` and
   ``cost = costs_bps / 10^4 * W^- sum_i |w_i - v_i|``, so ``W^+ = W^- - cost``;
2. holds the shares ``n_i = W^+ w_i / p_(d_j),i`` (buy and hold, the weights drift) until the
   next rebalance date's close: ``W_t = sum_i n_i p_t,i`` for ``d_j < t <= d_(j+1)``.

The equity curve holds ``W^+`` on rebalance dates (after costs) and ``W_t`` between them,
starting from wealth 1 before the first trade. Candidates at ``d_j`` are the assets with a
return on every row of the lookback; a price missing later during a hold (``data.missing:
keep``) is carried forward from the last one. Benchmarks use the same dates, prices and
costs: ``equal_weight_all`` buys 1/N of every investable asset, each column named in
``benchmarks`` (an index in the price table, never selected) is bought once and held, and
``random_subsets`` strategies each hold a fresh uniformly random K'-subset at every date.

Classical ``baselines`` (:mod:`qubo_portfolio.classical.baselines`) are refitted on each
date's lookback slice in the parent process and held the same way; ``weights`` weighs the
picks (``equal``: exactly ``1/K'``); ``tune`` (:class:`TuneSpec`) chooses model settings at each
date inside the decision task, from the slice only. :func:`curve_significance` adds bootstrap
intervals, PSR, CEQ and the Ledoit-Wolf test against ``equal_weight_all`` for every curve.

Measures (:data:`MEASURES` plus path figures) come from each curve's daily returns
``R_t = W_t / W_(t-1) - 1`` through skfolio's ``Portfolio``, exactly as in
:mod:`qubo_portfolio.core.metrics`; ``turnover`` is the mean one-way turnover
``1/2 sum_i |w_i - v_i|`` of the rebalances after the first.

Rebalance dates are independent problems: :func:`run_backtest` ships each one the returns
slice it needs through :func:`qubo_portfolio.workflows.executors.run_tasks`.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..classical.baselines import BASELINES, PICK_WEIGHTS, baseline_weights, weigh_picks
from ..core.data import restrict_to_span
from ..core.metrics import TRADING_DAYS, portfolio_measures
from ..core.returns import apply_lookback, lookback_start, simple_returns, window_bounds
from ..core.significance import (
    annualized_mean_ci,
    certainty_equivalent,
    deflated_sharpe,
    psr,
    sharpe_ci,
    sharpe_difference_test,
)
from ..errors import InputError
from ..solvers import get_solver
from .config import BacktestConfig, set_dotted, validate_config
from .executors import run_tasks
from .selector import select_assets
from .settings import SelectorSpec, load_data

if TYPE_CHECKING:
    from ..core.data import PriceData
    from .config import Config

Unit = Literal["trading_days", "calendar_days"]
Rebalance = int | Literal["weekly", "monthly", "quarterly"]
PERIODS = {"weekly": "W", "monthly": "M", "quarterly": "Q"}
RANDOM_QUANTILES = (0.05, 0.5, 0.95)
"""Pointwise quantiles of the random-subset wealth written to ``equity.csv``."""

Progress = Callable[[int, int], None]
LONG_ONLY_MESSAGE = (
    "backtest supports model.positions: long_only only (long/short buy-and-hold is not "
    "implemented; set model.positions: long_only)"
)


# --------------------------------------------------------------------------- the schedule


def rebalance_rows(
    index: pd.DatetimeIndex,
    *,
    lookback: int,
    rebalance: Rebalance,
    unit: Unit = "trading_days",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> tuple[list[int], int]:
    """Price rows of the rebalance dates, and the row of the last day evaluated.

    The first rebalance date is the first trading day on or after ``start`` whose lookback is
    complete: at least ``lookback`` return rows up to it (trading days), or a price at least
    ``lookback`` calendar days before it (calendar days). Then every ``rebalance`` rows
    (trading days), or the first trading day on or after each ``first + j * rebalance`` days
    (calendar days), or the last trading day of every week, month or quarter. The evaluation
    ends at the last trading day on or before ``end`` (default: the last price); rebalance
    dates fall strictly before it. The schedule depends on the dates only, never on prices.
    """
    n = len(index)
    stop = n - 1 if end is None else int(index.searchsorted(pd.Timestamp(end), side="right")) - 1
    if stop < 0:
        raise InputError(f"backtest.end = {end} is before the first price ({index[0].date()})")
    if unit == "trading_days":
        first = lookback
    else:
        first = int(index.searchsorted(index[0] + pd.Timedelta(days=lookback), side="left"))
    if start is not None:
        first = max(first, int(index.searchsorted(pd.Timestamp(start), side="left")))
    if first >= stop:
        enough = (
            f"{lookback} return rows" if unit == "trading_days" else f"{lookback} calendar days"
        )
        raise InputError(
            f"no rebalance date: the lookback needs {enough} before the first rebalance and "
            f"the prices end at {index[stop].date()} (widen data.start/end, move backtest.start "
            "earlier or lower backtest.lookback)"
        )
    if isinstance(rebalance, str):
        if rebalance not in PERIODS:
            raise InputError(
                f"backtest.rebalance = {rebalance!r} is unknown "
                "(use a number of days, weekly, monthly or quarterly)"
            )
        dates = pd.Series(np.arange(n), index=index)
        last = dates.groupby(index.to_period(PERIODS[rebalance])).max().to_numpy()
        rows = [int(r) for r in last if first <= r < stop]
    elif unit == "trading_days":
        rows = list(range(first, stop, int(rebalance)))
    else:
        targets = index[first] + pd.to_timedelta(
            np.arange(0, (index[stop] - index[first]).days + 1, int(rebalance)), unit="D"
        )
        found = np.unique(index.searchsorted(targets, side="left"))
        rows = [int(r) for r in found if r < stop]
    if not rows:
        raise InputError(
            f"no rebalance date between {index[first].date()} and {index[stop].date()} "
            "(widen backtest.start/end)"
        )
    return rows, stop


def lookback_slice(
    returns: pd.DataFrame, date: pd.Timestamp, lookback: int, unit: Unit = "trading_days"
) -> pd.DataFrame:
    """The returns a decision at ``date`` may use: the ``lookback`` ending at ``date``.

    Trading days: the last ``lookback`` return rows dated on or before ``date``; calendar
    days: the rows dated in ``[date - (lookback - 1) days, date]``. Only assets with a return
    on every row of the slice are kept (the investable universe at ``date``).
    """
    past = returns.loc[returns.index <= date]
    window = apply_lookback(past, lookback, unit)
    return window.loc[:, window.notna().all(axis=0).to_numpy()]


# --------------------------------------------------------------------------- buy and hold


@dataclass
class Simulation:
    """Equity of R buy-and-hold strategies rebalanced on the same rows.

    Attributes
    ----------
    wealth : ndarray (T, R)
        Wealth from the first rebalance row to the last evaluated row (inclusive); on
        rebalance rows after costs.
    traded : ndarray (J, R)
        ``sum_i |w_i - v_i|`` at each rebalance (two-way, a fraction of wealth; 1 at the
        first, bought from cash).
    costs : ndarray (J, R)
        Costs paid at each rebalance, in units of the initial wealth.
    """

    wealth: np.ndarray
    traded: np.ndarray
    costs: np.ndarray


def simulate(
    prices: np.ndarray,
    rows: Sequence[int],
    stop: int,
    weights: Sequence[np.ndarray] | Callable[[int], np.ndarray],
    costs_bps: float = 0.0,
) -> Simulation:
    """Buy at each rebalance row's close, hold the shares, pay costs on turnover.

    Parameters
    ----------
    prices : ndarray (T_all, N)
        Prices; missing values (NaN) are allowed for assets not held.
    rows : sequence of int
        Rebalance rows, ascending, all ``< stop``.
    stop : int
        The last row evaluated.
    weights : sequence or callable
        ``weights[j]`` (or ``weights(j)``): target weights ``(N,)`` or ``(N, R)`` at rows[j],
        each column summing to 1.
    costs_bps : float
        Proportional cost per unit traded, in basis points.

    Returns
    -------
    Simulation
    """
    rate = costs_bps / 1e4
    first = rows[0]
    get = weights if callable(weights) else weights.__getitem__
    wealth = current = drifted = None
    traded, costs = [], []
    for j, row in enumerate(rows):
        nxt = rows[j + 1] if j + 1 < len(rows) else stop
        w = np.asarray(get(j), dtype=np.float64)
        w = w[:, None] if w.ndim == 1 else w
        if wealth is None:
            wealth = np.empty((stop - first + 1, w.shape[1]))
            current = np.ones(w.shape[1])
            drifted = np.zeros_like(w)
        turnover = np.abs(w - drifted).sum(axis=0)
        cost = rate * turnover * current
        current = current - cost
        growth = prices[row : nxt + 1] / prices[row]
        held = w != 0
        if not np.isfinite(growth[:, held.any(axis=1)]).all():
            raise InputError(
                f"a held asset has no price between rows {row} and {nxt} "
                "(use data.missing: drop_assets or a larger data.max_gap)"
            )
        growth = np.where(np.isfinite(growth), growth, 0.0)
        path = current * (growth @ w)
        wealth[row - first : nxt - first + 1] = path
        end_value = growth[-1][:, None] * w
        drifted = end_value / end_value.sum(axis=0)
        current = path[-1]
        traded.append(turnover)
        costs.append(cost)
    return Simulation(wealth, np.vstack(traded), np.vstack(costs))


# --------------------------------------------------------------------------- decisions


def _lookback_hint(exc: InputError, selector: SelectorSpec) -> str:
    """``exc``'s text with ``model.lookback`` named ``backtest.lookback``: the backtest cuts
    each decision's returns with ``backtest.lookback`` (``model.lookback`` is not used)."""
    return str(exc).replace("model.lookback", "backtest.lookback")


TUNE_METRICS = ("sharpe", "sortino", "annualized_mean", "volatility")
TUNE_KEYS = (
    "model.k",
    "model.xi",
    "model.return_term",
    "model.covariance",
    "model.expected_returns",
    "model.windows.length",
    "model.windows.step",
    "model.windows.count",
    "model.penalty.scale",
    "model.penalty.value",
)
"""Keys ``backtest.tune.grid`` may vary (and ``model.estimator_params.<estimator>.<name>``)."""


@dataclass(frozen=True)
class TuneSpec:
    """Model settings chosen at every rebalance date (``backtest.tune``), shipped to workers.

    At a date whose lookback slice is ``S`` (rows up to the date), every grid point ``g``
    (``specs[g]``, the values ``points[g]`` of ``keys``) is

    1. decided at the start of the validation span: selected from ``S`` without its last
       ``validation`` rows, its picks weighted by ``weights`` on those rows;
    2. bought and held over the last ``validation`` rows of ``S`` (no costs: every grid point
       trades once from cash), and scored by ``metric`` on those daily returns
       (``volatility``: lowest best; the others: highest best; an undefined score is worst;
       ties go to the first grid point);

    and the decision at the date is the best grid point's selection from the whole ``S``.
    Every grid point is also selected from the whole ``S``, so that each one's fixed-setting
    strategy can be simulated next to the tuned one (the trials of the deflated Sharpe ratio).
    Nothing after the date is used.
    """

    keys: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]
    specs: tuple[SelectorSpec, ...]
    metric: str = "sharpe"
    validation: int = 63
    weights: str = "equal"
    risk_free_rate: float = 0.0

    def labels(self) -> list[str]:
        """``model.xi=0.5,model.k=5`` per grid point."""
        return [
            ",".join(f"{k}={v}" for k, v in zip(self.keys, values, strict=True))
            for values in self.points
        ]


def hold_returns(returns: pd.DataFrame, weights: pd.Series) -> np.ndarray:
    """Daily returns of buying ``weights`` at the close before ``returns``' first row and
    holding the shares (the weights drift): ``W_t = sum_i w_i prod_(s<=t) (1 + r_s,i)``."""
    growth = np.cumprod(1.0 + returns.loc[:, weights.index].to_numpy(dtype=np.float64), axis=0)
    wealth = np.concatenate([[1.0], growth @ weights.to_numpy(dtype=np.float64)])
    return wealth[1:] / wealth[:-1] - 1


def score(daily: np.ndarray, metric: str, risk_free_rate: float = 0.0) -> float:
    """``metric`` of daily returns with the definitions of :func:`random_measures`; larger is
    better (``volatility`` is returned negated); NaN when undefined."""
    n = len(daily)
    mean = TRADING_DAYS * daily.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "annualized_mean":
            value = mean
        elif metric == "volatility":
            value = -math.sqrt(TRADING_DAYS) * daily.std(ddof=1)
        elif metric == "sharpe":
            value = (mean - risk_free_rate) / (math.sqrt(TRADING_DAYS) * daily.std(ddof=1))
        elif metric == "sortino":
            down = np.minimum(daily - risk_free_rate / TRADING_DAYS, 0.0)
            semi = math.sqrt(TRADING_DAYS) * math.sqrt((down**2).sum() / (n - 1))
            value = (mean - risk_free_rate) / semi if semi > 0 else float("nan")
        else:
            raise InputError(f"backtest.tune.metric {metric!r} is unknown")
    value = float(value)
    return value if math.isfinite(value) else float("nan")


def _record(choice: Any, start: float) -> dict[str, Any]:
    best, info = choice.decoded.best, choice.sampleset.info
    return {
        "tickers": best.tickers,
        "objective": best.objective,
        "energy": best.energy,
        "feasible_fraction": choice.decoded.feasible_fraction,
        "penalty": info.get("penalty"),
        "num_windows": choice.qubo.num_windows,
        "solve_seconds": info["timing"]["solve_seconds"],
        "seconds": time.perf_counter() - start,
    }


def _decide(
    task: tuple[pd.Timestamp, pd.DataFrame], spec: SelectorSpec | TuneSpec
) -> dict[str, Any]:
    """One rebalance date (runs in a worker): the selection and what it cost; with a
    :class:`TuneSpec`, the grid point chosen on the validation span first."""
    date, window = task
    start = time.perf_counter()
    try:
        if isinstance(spec, TuneSpec):
            return _decide_tuned(window, spec, start)
        return _record(select_assets(window, spec), start)
    except InputError as exc:
        raise InputError(f"rebalance {date.date()}: {exc}") from exc


def _decide_tuned(window: pd.DataFrame, tune: TuneSpec, start: float) -> dict[str, Any]:
    inner, validation = window.iloc[: -tune.validation], window.iloc[-tune.validation :]
    scores, outer, solve = [], [], 0.0
    for spec in tune.specs:
        trial = select_assets(inner, spec)
        weights = weigh_picks(tune.weights, inner, trial.tickers)
        scores.append(score(hold_returns(validation, weights), tune.metric, tune.risk_free_rate))
        choice = select_assets(window, spec)
        outer.append(choice)
        solve += trial.sampleset.info["timing"]["solve_seconds"]
        solve += choice.sampleset.info["timing"]["solve_seconds"]
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    best = int(np.argmax(ranked))  # the first of equal scores
    record = _record(outer[best], start)
    record["solve_seconds"] = solve
    record["tuned"] = dict(zip(tune.keys, tune.points[best], strict=True))
    record["tune_index"] = best
    record["tune_scores"] = scores
    record["grid_tickers"] = [c.tickers for c in outer]
    return record


# --------------------------------------------------------------------------- the backtest


@dataclass
class BacktestResult:
    """Everything one backtest produced (in memory).

    Attributes
    ----------
    equity : DataFrame
        Wealth per evaluated date: ``strategy``, ``equal_weight_all``, one column per
        benchmark, and ``random_p05``, ``random_p50``, ``random_p95`` (pointwise quantiles
        over the random-subset strategies) when there are any.
    selections : DataFrame
        ``date``, ``ticker``, ``weight``: the portfolio bought at each rebalance date.
    rebalances : DataFrame
        One row per rebalance date: universe size, solver figures, turnover, costs.
    metrics : dict
        ``{curve: {measure: value}}`` for the strategy, ``equal_weight_all``, each benchmark
        and each baseline.
    random : DataFrame
        One row per random-subset strategy: its measures (empty without random subsets).
    random_summary : dict
        Quantiles of the random strategies' final wealth and Sharpe ratio and the strategy's
        percentile among them.
    settings : dict
        The schedule and model settings used.
    timings : dict
    significance : dict
        ``{curve: {sharpe_ci, annualized_mean_ci, psr, ceq, vs_equal_weight_all}}`` (see
        :func:`curve_significance`); with tuning the strategy also has ``deflated_sharpe``.
    tune : dict
        With ``tune``: the keys, metric, validation rows and, per grid point, its values, how
        often it was chosen and the measures of its fixed-setting strategy.
    tune_equity : DataFrame
        With ``tune``: the wealth of each grid point's fixed-setting strategy.
    """

    equity: pd.DataFrame
    selections: pd.DataFrame
    rebalances: pd.DataFrame
    metrics: dict[str, dict[str, float]]
    random: pd.DataFrame
    random_summary: dict[str, Any]
    settings: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    significance: dict[str, dict[str, Any]] = field(default_factory=dict)
    tune: dict[str, Any] = field(default_factory=dict)
    tune_equity: pd.DataFrame = field(default_factory=pd.DataFrame)


def run_backtest(
    prices: pd.DataFrame,
    selector: SelectorSpec,
    *,
    lookback: int = 252,
    rebalance: Rebalance = 21,
    unit: Unit = "trading_days",
    start: str | None = None,
    end: str | None = None,
    costs_bps: float = 0.0,
    benchmarks: Sequence[str] = (),
    random_subsets: int = 0,
    seed: int | None = 0,
    risk_free_rate: float = 0.0,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    baselines: Sequence[str] = (),
    weights: str = "equal",
    tune: TuneSpec | None = None,
    n_boot: int = 2000,
) -> BacktestResult:
    """Walk forward over ``prices``: select, buy, hold; score against the benchmarks.

    Parameters
    ----------
    prices : DataFrame
        Daily prices, DatetimeIndex, one column per ticker (benchmark columns included).
    selector : SelectorSpec
        The model and solver (its ``lookback`` should be None: the backtest cuts the
        ``lookback`` slice itself).
    lookback, rebalance, unit, start, end
        The schedule: see :func:`rebalance_rows` and :func:`lookback_slice`.
    costs_bps : float
        Proportional costs on traded value, in basis points, for every curve.
    benchmarks : sequence of str
        Price columns held as benchmarks and removed from the investable universe.
    random_subsets : int
        Number of random K'-subset strategies (seeded by ``seed``).
    risk_free_rate : float
        Annual, for the Sharpe and Sortino ratios.
    executor, workers, scheduler
        See :func:`qubo_portfolio.workflows.executors.run_tasks`.
    progress : callable, optional
        ``progress(done, total)`` after each rebalance date is solved.
    baselines : sequence of str
        Classical allocations (:data:`~qubo_portfolio.classical.baselines.BASELINES`) refitted
        on each date's lookback slice and held like the strategy.
    weights : {"equal", "min_volatility", "inverse_volatility"}
        How the K' picks are weighted (fitted on the picks' columns of the lookback slice).
    tune : TuneSpec, optional
        Model settings chosen at every date (see :class:`TuneSpec`); ``selector`` is then
        only the base (schedule checks, random subsets' K').
    n_boot : int
        Bootstrap resamples of the confidence intervals (seeded by ``seed``).
    """
    _check_choices(baselines, weights)
    timings: dict[str, float] = {}
    with _timed(timings, "prepare_seconds"):
        plan = prepare_schedule(
            prices,
            selector,
            lookback=lookback,
            rebalance=rebalance,
            unit=unit,
            start=start,
            end=end,
            benchmarks=benchmarks,
        )
        if tune is not None:
            tune = replace(tune, weights=weights, risk_free_rate=risk_free_rate)
            check_tune(plan, tune)
    with _timed(timings, "select_seconds"):
        decisions = decide_all(plan, tune or selector, executor, workers, scheduler, progress)
    with _timed(timings, "weights_seconds"):
        held = pick_weights(plan, decisions, weights)
    with _timed(timings, "baselines_seconds"):
        fitted, fallbacks = fit_baselines(plan, baselines, risk_free_rate)

    with _timed(timings, "simulate_seconds"):
        sims = _simulate_held(plan, decisions, held, fitted, costs_bps)
        equity, metrics = _equity_and_measures(plan, sims, risk_free_rate)
        tune_equity, tune_summary = _tune_outcome(
            plan, tune, decisions, weights, costs_bps, risk_free_rate
        )
        random_table, random_summary = _add_random_subsets(
            plan, equity, metrics, selector.k, random_subsets, seed, costs_bps, risk_free_rate
        )
    with _timed(timings, "significance_seconds"):
        significance = score_significance(
            equity, list(sims), tune, tune_summary, tune_equity, risk_free_rate, seed, n_boot
        )

    rebalances = _rebalances_with_choices(plan, decisions, sims["strategy"], equity, tune)
    timings["solve_seconds_total"] = float(rebalances["solve_seconds"].sum())
    settings = _schedule_settings(
        plan, lookback, rebalance, unit, costs_bps, benchmarks, random_subsets, seed, risk_free_rate
    )
    settings |= _strategy_settings(
        selector, weights, baselines, fallbacks, tune, n_boot, seed, executor, workers
    )
    return BacktestResult(
        equity=equity,
        selections=selection_table(plan, decisions, held),
        rebalances=rebalances,
        metrics=metrics,
        random=random_table,
        random_summary=random_summary,
        settings=settings,
        timings=timings,
        significance=significance,
        tune=tune_summary,
        tune_equity=tune_equity,
    )


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """``timings[key]``: the wall seconds the ``with`` block took."""
    clock = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - clock


def _simulate_held(
    plan: Schedule,
    decisions: Sequence[dict[str, Any]],
    held: Sequence[pd.Series],
    fitted: dict[str, list[pd.Series]],
    costs_bps: float,
) -> dict[str, Simulation]:
    """The strategy, 1/N and the benchmarks (:func:`simulate_curves`), then every baseline
    with its weights refitted at each date, all with the same costs."""
    sims = simulate_curves(plan, decisions, costs_bps, held)
    valued = plan.assets.ffill().to_numpy(dtype=np.float64)
    for name, per_date in fitted.items():
        sims[name] = simulate(valued, plan.rows, plan.stop, _dense(plan, per_date), costs_bps)
    return sims


def _equity_and_measures(
    plan: Schedule, sims: dict[str, Simulation], risk_free_rate: float
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The wealth of every simulated curve per evaluated date, and each curve's measures."""
    equity = pd.DataFrame(
        {name: sim.wealth[:, 0] for name, sim in sims.items()}, index=plan.eval_index
    )
    equity.index.name = "date"
    metrics = {
        name: curve_measures(equity[name], sim, risk_free_rate) for name, sim in sims.items()
    }
    return equity, metrics


def _tune_outcome(
    plan: Schedule,
    tune: TuneSpec | None,
    decisions: Sequence[dict[str, Any]],
    weights: str,
    costs_bps: float,
    risk_free_rate: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`tune_curves` with tuning; without, an empty table and summary."""
    if tune is None:
        return pd.DataFrame(), {}
    return tune_curves(plan, tune, decisions, weights, costs_bps, risk_free_rate)


def _add_random_subsets(
    plan: Schedule,
    equity: pd.DataFrame,
    metrics: dict[str, dict[str, float]],
    k: int,
    count: int,
    seed: int | None,
    costs_bps: float,
    risk_free_rate: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The random-subset strategies (:func:`random_strategies`): their measures and summary
    (the strategy's percentile from ``metrics``); their wealth quantile bands are added to
    ``equity``.
    Without any (``count = 0``): an empty table and ``{"count": 0}``."""
    if count <= 0:
        return pd.DataFrame(), {"count": 0}
    table, bands = random_strategies(plan, k, count, seed, costs_bps, risk_free_rate)
    for name, values in bands.items():
        equity[name] = values
    return table, summarize_random(table, metrics["strategy"], seed)


def _rebalances_with_choices(
    plan: Schedule,
    decisions: Sequence[dict[str, Any]],
    strategy: Simulation,
    equity: pd.DataFrame,
    tune: TuneSpec | None,
) -> pd.DataFrame:
    """:func:`rebalance_table`, with tuning one column per tuned key (the value chosen at
    each date) after the universe columns."""
    rebalances = rebalance_table(plan, decisions, strategy, equity["strategy"])
    if tune is not None:
        for i, key in enumerate(tune.keys):
            rebalances.insert(3 + i, key, [d["tuned"][key] for d in decisions])
    return rebalances


def _schedule_settings(
    plan: Schedule,
    lookback: int,
    rebalance: Rebalance,
    unit: Unit,
    costs_bps: float,
    benchmarks: Sequence[str],
    random_subsets: int,
    seed: int | None,
    risk_free_rate: float,
) -> dict[str, Any]:
    """The first part of :attr:`BacktestResult.settings`: the schedule and period, costs,
    benchmarks, random subsets, risk-free rate and the number of assets."""
    return {
        "lookback": lookback,
        "rebalance": rebalance,
        "unit": unit,
        **_period(plan),
        "costs_bps": costs_bps,
        "benchmarks": list(benchmarks),
        "random_subsets": random_subsets,
        "seed": seed,
        "risk_free_rate": risk_free_rate,
        "assets": plan.num_assets,
    }


def _strategy_settings(
    selector: SelectorSpec,
    weights: str,
    baselines: Sequence[str],
    fallbacks: dict[str, list[str]],
    tune: TuneSpec | None,
    n_boot: int,
    seed: int | None,
    executor: str,
    workers: int | None,
) -> dict[str, Any]:
    """The rest of :attr:`BacktestResult.settings`: the model and solver, the weights of the
    picks, the baselines (and their fallback dates), tuning, significance and executor."""
    return {
        **selector_settings(selector),
        "weights": weights,
        "baselines": list(baselines),
        "baseline_fallbacks": fallbacks,
        "tune": tune_settings(tune),
        "significance": _significance_settings(n_boot, seed),
        "executor": executor,
        "workers": workers,
    }


def _check_choices(baselines: Sequence[str], weights: str) -> None:
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise InputError(
            f"backtest.baselines: {', '.join(unknown)} is unknown (use {', '.join(BASELINES)})"
        )
    if weights not in PICK_WEIGHTS:
        raise InputError(f"backtest.weights {weights!r} is unknown (use {', '.join(PICK_WEIGHTS)})")


def score_significance(
    equity: pd.DataFrame,
    curves: Sequence[str],
    tune: TuneSpec | None,
    tune_summary: dict[str, Any],
    tune_equity: pd.DataFrame,
    risk_free_rate: float,
    seed: int | None,
    n_boot: int,
) -> dict[str, dict[str, Any]]:
    """Per curve, :func:`curve_significance` against 1/N; the tuned strategy also gets the
    deflated Sharpe ratio over its grid points' Sharpe ratios (the trials), and every grid
    point's entry in ``tune_summary`` its own significance."""
    reference = equity["equal_weight_all"]
    significance = {
        name: curve_significance(equity[name], reference, risk_free_rate, seed, n_boot)
        for name in curves
    }
    if tune is not None and len(tune.specs) > 1:
        trials = [g["metrics"]["sharpe"] for g in tune_summary["grid"]]
        daily = equity["strategy"].pct_change().iloc[1:]
        significance["strategy"]["deflated_sharpe"] = deflated_sharpe(
            daily, n_trials=len(trials), trials_sharpes=trials, risk_free_rate=risk_free_rate
        )
    for entry in tune_summary.get("grid", []):
        entry["significance"] = curve_significance(
            tune_equity[entry["label"]], reference, risk_free_rate, seed, n_boot
        )
    return significance


def _period(plan: Schedule) -> dict[str, Any]:
    return {
        "start": plan.eval_index[0].date().isoformat(),
        "end": plan.eval_index[-1].date().isoformat(),
        "days": len(plan.eval_index) - 1,
        "rebalances": len(plan.rows),
    }


def _significance_settings(n_boot: int, seed: int | None) -> dict[str, Any]:
    return {
        "level": 0.95,
        "n_boot": n_boot,
        "seed": seed,
        "bootstrap": "stationary block bootstrap (Politis & Romano 1994), percentile "
        "intervals, mean block length by Politis & White (2004) per curve",
        "ceq_gamma": 1.0,
        "reference": "equal_weight_all",
    }


@dataclass
class Schedule:
    """What :func:`prepare_schedule` lays out before anything is solved.

    Attributes
    ----------
    assets, bench_prices : DataFrame
        The investable prices and the benchmark columns held on their own.
    rows : list of int
        Price rows of the rebalance dates; ``stop`` the last evaluated row.
    dates : DatetimeIndex
        The rebalance dates.
    tasks : list of (Timestamp, DataFrame)
        Each date with its lookback slice of complete returns (what one decision sees).
    """

    assets: pd.DataFrame
    bench_prices: pd.DataFrame
    index: pd.DatetimeIndex
    rows: list[int]
    stop: int
    dates: pd.DatetimeIndex
    tasks: list[tuple[pd.Timestamp, pd.DataFrame]]

    @property
    def eval_index(self) -> pd.DatetimeIndex:
        return self.index[self.rows[0] : self.stop + 1]

    @property
    def columns(self) -> dict[str, int]:
        return {str(c): i for i, c in enumerate(self.assets.columns)}

    @property
    def num_assets(self) -> int:
        return self.assets.shape[1]

    def universes(self) -> list[np.ndarray]:
        """Column indices of the assets each decision could pick."""
        columns = self.columns
        return [np.array([columns[str(c)] for c in window.columns]) for _, window in self.tasks]


def prepare_schedule(
    prices: pd.DataFrame,
    selector: SelectorSpec,
    *,
    lookback: int,
    rebalance: Rebalance,
    unit: Unit,
    start: str | None,
    end: str | None,
    benchmarks: Sequence[str],
) -> Schedule:
    """Rebalance dates and each date's lookback slice, every model's windows checked before
    anything is shipped to a worker."""
    missing = [b for b in benchmarks if b not in prices.columns]
    if missing:
        raise InputError(
            f"backtest.benchmarks: {', '.join(missing)} is not a price column "
            "(name columns of the price table, or remove backtest.benchmarks)"
        )
    bench_prices = prices.loc[:, list(benchmarks)]
    assets = prices.drop(columns=list(benchmarks))
    index = pd.DatetimeIndex(prices.index)
    rows, stop = rebalance_rows(
        index, lookback=lookback, rebalance=rebalance, unit=unit, start=start, end=end
    )
    dates = index[rows]
    returns = simple_returns(assets)
    tasks = []
    for date in dates:
        window = lookback_slice(returns, date, lookback, unit)
        check_windows(window, selector, date)
        tasks.append((date, window))
    return Schedule(assets, bench_prices, index, rows, stop, dates, tasks)


def check_windows(window: pd.DataFrame, selector: SelectorSpec, date: pd.Timestamp) -> None:
    """Raise :class:`InputError` unless ``selector``'s windows fit in ``window`` and more
    than K' assets are candidates."""
    try:  # the model's windows inside the slice
        used = apply_lookback(window, selector.lookback, selector.windows.unit)
        origin = lookback_start(
            pd.DatetimeIndex(window.index), selector.lookback, selector.windows.unit
        )
        window_bounds(pd.DatetimeIndex(used.index), selector.windows, origin=origin)
    except InputError as exc:
        raise InputError(f"rebalance {date.date()}: {_lookback_hint(exc, selector)}") from None
    if window.shape[1] <= selector.k:
        raise InputError(
            f"rebalance {date.date()}: only {window.shape[1]} assets have complete returns "
            f"over the lookback, need more than k = {selector.k} (lower model.k)"
        )


def check_tune(plan: Schedule, tune: TuneSpec) -> None:
    """Every grid point's windows fit in every date's slice without its validation rows."""
    for date, window in plan.tasks:
        if len(window) <= tune.validation + 1:
            raise InputError(
                f"rebalance {date.date()}: backtest.tune.validation = {tune.validation} leaves "
                f"no rows of the {len(window)}-row lookback to decide on (lower it)"
            )
        inner = window.iloc[: -tune.validation]
        for label, spec in zip(tune.labels(), tune.specs, strict=True):
            try:
                check_windows(inner, spec, date)
            except InputError as exc:
                raise InputError(
                    f"backtest.tune ({label}, on the lookback without its last "
                    f"{tune.validation} validation rows): {exc}"
                ) from None


def decide_all(
    plan: Schedule,
    selector: SelectorSpec | TuneSpec,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One decision per rebalance date, on the executor, in date order."""
    decisions: list[dict[str, Any] | None] = [None] * len(plan.tasks)
    if progress is not None:
        progress(0, len(plan.tasks))
    done = 0
    for i, decision in run_tasks(
        _decide,
        plan.tasks,
        shared=selector,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
    ):
        decisions[i] = decision
        done += 1
        if progress is not None:
            progress(done, len(plan.tasks))
    return decisions  # type: ignore[return-value]


def pick_weights(
    plan: Schedule, decisions: Sequence[dict[str, Any]], rule: str = "equal"
) -> list[pd.Series]:
    """The weights of each decision's picks (``backtest.weights``), fitted on that date's
    lookback slice only (:func:`~qubo_portfolio.classical.baselines.weigh_picks`)."""
    return [
        weigh_picks(rule, window, d["tickers"])
        for (_, window), d in zip(plan.tasks, decisions, strict=True)
    ]


def fit_baselines(
    plan: Schedule, names: Sequence[str], risk_free_rate: float = 0.0
) -> tuple[dict[str, list[pd.Series]], dict[str, list[str]]]:
    """Each baseline's weights at each date, fitted on that date's lookback slice only, and
    the dates where one fell back (``max_sharpe`` without an asset above the risk-free rate)."""
    fitted: dict[str, list[pd.Series]] = {}
    fallbacks: dict[str, list[str]] = {}
    for name in names:
        fitted[name] = []
        for date, window in plan.tasks:
            try:
                w, note = baseline_weights(name, window, risk_free_rate)
            except InputError as exc:
                raise InputError(f"rebalance {date.date()}: baseline {name}: {exc}") from None
            if note is not None:
                fallbacks.setdefault(name, []).append(date.date().isoformat())
            fitted[name].append(w)
    return fitted, fallbacks


def _dense(plan: Schedule, per_date: Sequence[pd.Series]) -> Callable[[int], np.ndarray]:
    """``weights(j)``: date j's weights (a Series over tickers) as a vector of every asset."""
    columns = plan.columns

    def weights(j: int) -> np.ndarray:
        w = np.zeros(plan.num_assets)
        series = per_date[j]
        w[[columns[str(t)] for t in series.index]] = series.to_numpy(dtype=np.float64)
        return w

    return weights


def simulate_curves(
    plan: Schedule,
    decisions: Sequence[dict[str, Any]],
    costs_bps: float,
    held: Sequence[pd.Series] | None = None,
) -> dict[str, Simulation]:
    """Buy-and-hold between rebalances for the strategy (equal weights on its picks, or
    ``held``: each date's weights), 1/N of each date's universe and every benchmark column,
    all with the same costs."""
    valued = plan.assets.ffill().to_numpy(dtype=np.float64)
    columns = plan.columns
    universes = plan.universes()
    n_assets = plan.num_assets

    def equal(j: int) -> np.ndarray:
        w = np.zeros(n_assets)
        picks = [columns[t] for t in decisions[j]["tickers"]]
        w[picks] = 1.0 / len(picks)
        return w

    chosen = equal if held is None else _dense(plan, held)

    def everything(j: int) -> np.ndarray:
        w = np.zeros(n_assets)
        w[universes[j]] = 1.0 / len(universes[j])
        return w

    rows, stop = plan.rows, plan.stop
    sims = {
        "strategy": simulate(valued, rows, stop, chosen, costs_bps),
        "equal_weight_all": simulate(valued, rows, stop, everything, costs_bps),
    }
    held_index = plan.bench_prices.ffill().to_numpy(dtype=np.float64)
    for i, name in enumerate(plan.bench_prices.columns):
        if not np.isfinite(held_index[rows[0], i]):
            raise InputError(
                f"backtest.benchmarks: {name} has no price on the first rebalance date "
                f"{plan.dates[0].date()} (move backtest.start later)"
            )
        sims[str(name)] = simulate(held_index[:, [i]], rows, stop, lambda j: np.ones(1), costs_bps)
    return sims


def random_strategies(
    plan: Schedule, k: int, count: int, seed: int | None, costs_bps: float, risk_free_rate: float
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """``count`` random K'-subset strategies (seeded): their measures, and the wealth
    quantile bands ``random_p05``, ``random_p50``, ``random_p95``."""
    rng = np.random.default_rng(seed)
    valued = plan.assets.ffill().to_numpy(dtype=np.float64)
    draws = [_random_weights(rng, u, k, count, plan.num_assets) for u in plan.universes()]
    sim = simulate(valued, plan.rows, plan.stop, draws, costs_bps)
    table = random_measures(sim, plan.eval_index, risk_free_rate)
    quantiles = np.quantile(sim.wealth, RANDOM_QUANTILES, axis=1)
    bands = {
        f"random_p{round(q * 100):02d}": values
        for q, values in zip(RANDOM_QUANTILES, quantiles, strict=True)
    }
    return table, bands


def selection_table(
    plan: Schedule, decisions: Sequence[dict[str, Any]], held: Sequence[pd.Series] | None = None
) -> pd.DataFrame:
    """``date, ticker, weight``: every pick of every decision (equal weights, or ``held``)."""
    if held is None:
        held = [pd.Series(1.0 / len(d["tickers"]), index=d["tickers"]) for d in decisions]
    return pd.DataFrame(
        [
            {"date": date.date().isoformat(), "ticker": t, "weight": float(w[t])}
            for date, d, w in zip(plan.dates, decisions, held, strict=True)
            for t in d["tickers"]
        ],
        columns=["date", "ticker", "weight"],
    )


def tune_curves(
    plan: Schedule,
    tune: TuneSpec,
    decisions: Sequence[dict[str, Any]],
    rule: str,
    costs_bps: float,
    risk_free_rate: float,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each grid point's fixed-setting strategy (its own selection at every date, weighted by
    ``rule``, same costs): the wealth per grid point and the ``tune`` summary."""
    valued = plan.assets.ffill().to_numpy(dtype=np.float64)
    labels = tune.labels()
    wealth, grid = {}, []
    chosen = [d["tune_index"] for d in decisions]
    for g, (label, values) in enumerate(zip(labels, tune.points, strict=True)):
        picks = [d["grid_tickers"][g] for d in decisions]
        held = [weigh_picks(rule, w, p) for (_, w), p in zip(plan.tasks, picks, strict=True)]
        sim = simulate(valued, plan.rows, plan.stop, _dense(plan, held), costs_bps)
        curve = pd.Series(sim.wealth[:, 0], index=plan.eval_index)
        wealth[label] = curve
        grid.append(
            {
                "label": label,
                "values": dict(zip(tune.keys, values, strict=True)),
                "times_chosen": int(sum(c == g for c in chosen)),
                "metrics": curve_measures(curve, sim, risk_free_rate),
            }
        )
    equity = pd.DataFrame(wealth, index=plan.eval_index)
    equity.index.name = "date"
    return equity, {
        "keys": list(tune.keys),
        "metric": tune.metric,
        "validation": tune.validation,
        "grid": grid,
    }


def tune_settings(tune: TuneSpec | None) -> dict[str, Any] | None:
    """What ``settings.tune`` records (None without tuning)."""
    if tune is None:
        return None
    return {
        "grid": {key: _first_seen([p[i] for p in tune.points]) for i, key in enumerate(tune.keys)},
        "metric": tune.metric,
        "validation": tune.validation,
        "points": len(tune.points),
        "protocol": "per date: each grid point decided on the lookback without its last "
        "`validation` rows, bought and held over those rows (no costs) and scored by `metric`; "
        "the best grid point's selection from the whole lookback is held",
    }


def _first_seen(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in order (values need not be hashable)."""
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def rebalance_table(
    plan: Schedule, decisions: Sequence[dict[str, Any]], strategy: Simulation, wealth: pd.Series
) -> pd.DataFrame:
    """One row per rebalance date: universe, model, solver figures, trading and wealth."""
    rows = plan.rows
    return pd.DataFrame(
        {
            "date": [d.date().isoformat() for d in plan.dates],
            "universe": [len(u) for u in plan.universes()],
            "lookback_rows": [len(w) for _, w in plan.tasks],
            "num_windows": [d["num_windows"] for d in decisions],
            "objective": [d["objective"] for d in decisions],
            "feasible_fraction": [d["feasible_fraction"] for d in decisions],
            "penalty": [d["penalty"] for d in decisions],
            "traded": strategy.traded[:, 0],
            "costs": strategy.costs[:, 0],
            "wealth_after": wealth.to_numpy()[np.asarray(rows) - rows[0]],
            "solve_seconds": [d["solve_seconds"] for d in decisions],
        }
    )


def selector_settings(selector: SelectorSpec) -> dict[str, Any]:
    """The model and solver settings a backtest records (``settings`` in metrics.json)."""
    return {
        "k": selector.k,
        "xi": selector.xi,
        "return_term": selector.return_term,
        "covariance": selector.covariance,
        "expected_returns": selector.expected_returns,
        "estimator_params": dict(selector.estimator_params),
        "windows": {
            "length": selector.windows.length,
            "step": selector.windows.step,
            "count": selector.windows.count,
            "unit": selector.windows.unit,
        },
        "solver": selector.solver,
        "num_reads": selector.num_reads,
        "solver_seed": selector.seed,
        "solver_params": dict(selector.params),
        "penalty": selector.penalty,
        "penalty_scale": selector.penalty_scale,
        "polish": selector.polish,
    }


def _random_weights(
    rng: np.random.Generator, universe: np.ndarray, k: int, count: int, n_assets: int
) -> np.ndarray:
    """``(n_assets, count)`` weights: each column 1/k on a uniformly random k-subset."""
    picks = np.argsort(rng.random((count, len(universe))), axis=1)[:, :k]
    w = np.zeros((n_assets, count))
    w[universe[picks], np.arange(count)[:, None]] = 1.0 / k
    return w


# --------------------------------------------------------------------------- measures


def curve_measures(wealth: pd.Series, sim: Simulation, risk_free_rate: float = 0.0) -> dict:
    """The measures of one equity curve (column 0 of ``sim``).

    ``metrics.MEASURES`` from skfolio's ``Portfolio`` on the daily returns
    ``R_t = W_t / W_(t-1) - 1``; ``final_wealth = W_T`` (from 1 before the first trade),
    ``cagr = W_T^(252 / n) - 1`` over the n evaluated days, ``turnover`` the mean one-way
    turnover ``1/2 sum_i |w_i - v_i|`` of the rebalances after the first, ``total_costs``
    the costs paid in units of the initial wealth.
    """
    daily = wealth.pct_change().iloc[1:].rename("curve").to_frame()
    one = pd.Series({"curve": 1.0})
    values = portfolio_measures(daily, one, risk_free_rate)
    final = float(wealth.iloc[-1])
    values["final_wealth"] = final
    values["cagr"] = final ** (TRADING_DAYS / len(daily)) - 1
    traded = sim.traded[:, 0]
    values["turnover"] = float(traded[1:].mean() / 2) if len(traded) > 1 else 0.0
    values["total_costs"] = float(sim.costs[:, 0].sum())
    return values


def random_measures(
    sim: Simulation, index: pd.DatetimeIndex, risk_free_rate: float = 0.0
) -> pd.DataFrame:
    """Per strategy (column of ``sim``): the measures of :func:`curve_measures`, vectorized.

    The definitions of :mod:`qubo_portfolio.core.metrics`, for daily returns ``R_t`` of n days:
    ``annualized_mean = 252 mean(R)``, ``annualized_volatility = sqrt(252) std(R)`` (ddof=1),
    ``sharpe = (annualized_mean - rf) / annualized_volatility``,
    ``sortino = (annualized_mean - rf) / (sqrt(252) sqrt(sum min(R - rf/252, 0)^2 / (n - 1)))``,
    ``max_drawdown = max_t (1 - W_t / max_(s<=t) W_s)``; ``final_wealth``, ``cagr``,
    ``turnover`` and ``total_costs`` as in :func:`curve_measures`.
    """
    wealth = sim.wealth
    daily = wealth[1:] / wealth[:-1] - 1
    n = len(daily)
    mean = TRADING_DAYS * daily.mean(axis=0)
    vol = np.sqrt(TRADING_DAYS) * daily.std(axis=0, ddof=1)
    downside = np.minimum(daily - risk_free_rate / TRADING_DAYS, 0.0)
    semi = np.sqrt(TRADING_DAYS) * np.sqrt((downside**2).sum(axis=0) / (n - 1))
    # growth of 1 from the start, so that a fall on the first day counts (as in skfolio)
    cumulative = np.vstack([np.ones((1, daily.shape[1])), np.cumprod(1 + daily, axis=0)])
    peak = np.maximum.accumulate(cumulative, axis=0)
    table = pd.DataFrame(
        {
            "annualized_mean": mean,
            "annualized_volatility": vol,
            "sharpe": (mean - risk_free_rate) / vol,
            "sortino": (mean - risk_free_rate) / semi,
            "max_drawdown": (1 - cumulative / peak).max(axis=0),
            "final_wealth": wealth[-1],
            "cagr": wealth[-1] ** (TRADING_DAYS / n) - 1,
            "turnover": sim.traded[1:].mean(axis=0) / 2 if len(sim.traded) > 1 else 0.0,
            "total_costs": sim.costs.sum(axis=0),
        }
    )
    table.index.name = "subset"
    return table


def curve_significance(
    wealth: pd.Series,
    reference: pd.Series,
    risk_free_rate: float = 0.0,
    seed: int | None = 0,
    n_boot: int = 2000,
    level: float = 0.95,
) -> dict[str, Any]:
    """Is a curve's performance real? From its daily returns ``R_t = W_t / W_(t-1) - 1``:

    - ``sharpe_ci``, ``annualized_mean_ci``: ``level`` percentile intervals of the stationary
      block bootstrap (``n_boot`` resamples, seeded, the mean block length by Politis &
      White and stated), from :mod:`qubo_portfolio.core.significance`;
    - ``psr``: probabilistic Sharpe ratio against 0; ``ceq``: certainty-equivalent return
      with gamma = 1 (DeMiguel, Garlappi & Uppal 2009), annualized;
    - ``vs_equal_weight_all``: ``sharpe_diff`` (this curve's annualized Sharpe minus the
      reference's), ``p_value`` (two-sided) and ``method`` of the Ledoit & Wolf (2008) test
      on the same dates (``reference``: 1/N of all candidates).
    """
    daily = wealth.pct_change().iloc[1:]
    ref = reference.pct_change().iloc[1:]

    def interval(ci: dict[str, Any]) -> dict[str, Any]:
        keep = ("estimate", "lower", "upper", "level", "block_length", "n_boot", "seed")
        return {k: ci[k] for k in keep}

    test = sharpe_difference_test(daily, ref, risk_free_rate)
    return {
        "sharpe_ci": interval(sharpe_ci(daily, risk_free_rate, level, n_boot, seed=seed)),
        "annualized_mean_ci": interval(annualized_mean_ci(daily, level, n_boot, seed=seed)),
        "psr": psr(daily, 0.0, risk_free_rate),
        "ceq": certainty_equivalent(daily, 1.0, risk_free_rate),
        "vs_equal_weight_all": {k: test[k] for k in ("sharpe_diff", "p_value", "method")},
    }


def percentile_of(values: np.ndarray, value: float) -> float:
    """Percent of ``values`` below ``value`` (ties count half)."""
    values = np.asarray(values, dtype=float)
    below = np.sum(values < value) + 0.5 * np.sum(values == value)
    return float(100 * below / len(values))


def summarize_random(table: pd.DataFrame, strategy: dict, seed: int | None) -> dict[str, Any]:
    """Quantiles of the random strategies and the strategy's percentile among them."""
    summary: dict[str, Any] = {"count": len(table), "seed": seed}
    for name in ("final_wealth", "sharpe", "annualized_mean", "annualized_volatility"):
        q = np.quantile(table[name], [0.05, 0.25, 0.5, 0.75, 0.95])
        summary[name] = {
            "p05": q[0],
            "p25": q[1],
            "p50": q[2],
            "p75": q[3],
            "p95": q[4],
            "mean": float(table[name].mean()),
        }
    summary["strategy_percentile"] = {
        "final_wealth": percentile_of(table["final_wealth"], strategy["final_wealth"]),
        "sharpe": percentile_of(table["sharpe"], strategy["sharpe"]),
    }
    return summary


# --------------------------------------------------------------------------- from a config


def selector_spec(cfg: Config) -> SelectorSpec:
    """The :class:`SelectorSpec` of a config's ``model`` and ``solver`` sections.

    ``model.lookback`` is not used: the backtest's own ``backtest.lookback`` cuts the
    returns each decision sees. With calendar days for both the backtest and the windows it
    is passed on as well (a no-op on the cut slice), so that the windows are laid out from
    the lookback's first calendar day and M is the same at every date
    (:func:`~qubo_portfolio.core.returns.lookback_start`). ``model.positions: long_short`` is
    refused: the backtest buys and holds long-only equal-weight portfolios.
    """
    if cfg.model.positions != "long_only":
        raise InputError(LONG_ONLY_MESSAGE)
    bt = cfg.backtest
    calendar = bt is not None and bt.unit == cfg.model.windows.unit == "calendar_days"
    return SelectorSpec.from_config(cfg).with_lookback(bt.lookback if calendar else None)


def backtest_span(data: PriceData, bt: BacktestConfig) -> PriceData:
    """The prices a backtest uses: from the close before its first rebalance date's lookback
    to its last evaluated day, the assets judged complete on those rows only (a gap before
    the first lookback, or after the end, no longer drops an asset). The schedule is the
    same on the cut table (:func:`rebalance_rows` depends on the dates only)."""
    index = pd.DatetimeIndex(data.prices.index)
    rows, stop = rebalance_rows(
        index,
        lookback=bt.lookback,
        rebalance=bt.rebalance,
        unit=bt.unit,
        start=bt.start,
        end=bt.end,
    )
    if bt.unit == "trading_days":
        begin = rows[0] - bt.lookback
    else:
        first_day = index[rows[0]] - pd.Timedelta(days=bt.lookback - 1)
        begin = int(index.searchsorted(first_day, side="left")) - 1
    return restrict_to_span(
        data,
        index[begin] if begin > 0 else None,
        index[stop] if stop < len(index) - 1 else None,
    )


def tune_spec(cfg: Config) -> TuneSpec | None:
    """The :class:`TuneSpec` of ``backtest.tune`` (None without it): every combination of the
    grid's values applied to the config, validated, and turned into a spec by
    :func:`selector_spec` (so a tuned key means what it means everywhere)."""
    bt = cfg.backtest
    if bt is None or bt.tune is None:
        return None
    keys = list(bt.tune.grid)
    for key in keys:
        params = key.startswith("model.estimator_params.") and key.count(".") == 3
        if key not in TUNE_KEYS and not params:
            raise InputError(
                f"backtest.tune.grid: {key} cannot be tuned (use {', '.join(TUNE_KEYS)} or "
                "model.estimator_params.<covariance|expected_returns>.<name>)"
            )
    base = cfg.model_dump(by_alias=True)
    base["backtest"]["tune"] = None
    points = list(itertools.product(*(bt.tune.grid[k] for k in keys)))
    specs = []
    for values in points:
        raw = copy.deepcopy(base)
        for key, value in zip(keys, values, strict=True):
            set_dotted(raw, key, value)
        label = ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        specs.append(selector_spec(validate_config(raw, f"backtest.tune.grid ({label})")))
    return TuneSpec(
        keys=tuple(keys),
        points=tuple(points),
        specs=tuple(specs),
        metric=bt.tune.metric,
        validation=bt.tune.validation,
        weights=bt.weights,
        risk_free_rate=cfg.report.risk_free_rate,
    )


def backtest_config(
    cfg: Config,
    *,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    data: PriceData | None = None,
) -> BacktestResult:
    """Run the backtest of one config (its ``backtest`` section, defaults when absent)."""

    get_solver(cfg.solver.name)  # an unknown solver fails before any data is read
    selector = selector_spec(cfg)  # and so does model.positions: long_short
    tune = tune_spec(cfg)  # and a grid key that cannot be tuned
    bt = cfg.backtest or BacktestConfig()
    clock = time.perf_counter()
    data = data if data is not None else load_data(cfg.data, defer_missing=True)
    data = backtest_span(data, bt)
    load_seconds = time.perf_counter() - clock
    result = run_backtest(
        data.prices,
        selector,
        lookback=bt.lookback,
        rebalance=bt.rebalance,
        unit=bt.unit,
        start=bt.start,
        end=bt.end,
        costs_bps=bt.costs_bps,
        benchmarks=bt.benchmarks,
        random_subsets=bt.random_subsets,
        seed=bt.seed,
        risk_free_rate=cfg.report.risk_free_rate,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        baselines=bt.baselines,
        weights=bt.weights,
        tune=tune,
    )
    result.timings = {"load_seconds": load_seconds, **result.timings}
    result.data = data.report
    result.config = cfg.model_dump(by_alias=True)
    return result
