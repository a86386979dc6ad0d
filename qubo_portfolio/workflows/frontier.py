"""The ``frontier`` workflow: classical Markowitz portfolios beside the QUBO selections.

:func:`run_frontier` computes everything for one config (a :class:`FrontierResult`);
:mod:`qubo_portfolio.output.frontier` writes it and prints the console report.

Every point sits on the same axes (annualized volatility, annualized return) because every
portfolio, the equal-weight QUBO selections included, is scored with the same estimates:

- in-sample rows: the model's ``lookback`` (``model.windows.unit`` decides rows or calendar
  days), else every return row: the same rows the QUBO model uses;
- ``mu``: :func:`frontier.expected_returns` (``frontier.expected_returns``: ``mean`` or
  ``compounded``) over each asset's own observations in those rows;
- ``Sigma``: :func:`frontier.sample_covariance`, pairwise over common dates, repaired to PSD
  when needed;
- return ``mu^T w``, volatility ``sqrt(w^T Sigma w)``, Sharpe ``(return - rf) / volatility``;
- Sortino ``(252 mean_t(p_t) - rf) / (sqrt(252) sqrt(mean_t(min(p_t - rf/252, 0)^2)))`` of the
  daily portfolio returns ``p_t`` on the in-sample dates where every asset has data.

The QUBO needs complete returns: with ``data.missing: keep`` its model is built on the assets
that have data on every in-sample row (the others are listed in ``qubo_assets_excluded``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..classical import frontier
from ..core.data import PriceData
from ..core.decode import Selection, decode
from ..core.returns import apply_lookback, simple_returns
from ..errors import InputError
from .config import Config, FrontierConfig, TargetsConfig
from .settings import build_model, load_for_model, solve_configured

MARKOWITZ = (
    "min_volatility",
    "max_sharpe",
    "max_sortino",
    "efficient_risk",
    "efficient_return",
    "equal_weight_all",
)
"""Keys of the classical portfolios in ``portfolios.json`` (targets only when given)."""


@dataclass(frozen=True)
class QuboPoint:
    """The equal-weight QUBO selection for one xi, scored like the Markowitz portfolios."""

    xi: float
    selection: Selection
    portfolio: frontier.FrontierPortfolio
    feasible_fraction: float
    penalty: float | None
    solver: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "xi": self.xi,
            "tickers": list(self.selection.tickers),
            **self.portfolio.to_dict(),
            "objective": self.selection.objective,
            "energy": self.selection.energy,
            "feasible_fraction": self.feasible_fraction,
            "penalty": self.penalty,
            "solver": self.solver,
        }


@dataclass
class FrontierResult:
    """Everything one ``frontier`` run produced (in memory)."""

    config: Config
    data: PriceData
    returns: pd.DataFrame  # in-sample simple returns, every asset (NaN where not listed)
    expected_returns: pd.Series
    covariance: pd.DataFrame
    risk_free_rate: float
    portfolios: dict[str, frontier.FrontierPortfolio]
    frontier: pd.DataFrame  # efficient_frontier(...) plus a sortino column
    cloud: pd.DataFrame  # random_portfolios(...)
    random_best: dict[str, dict[str, Any]]
    qubo: list[QuboPoint]
    qubo_assets_excluded: list[str]
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- computing


def frontier_risk_free_rate(cfg: Config) -> float:
    """``frontier.risk_free_rate``, or ``report.risk_free_rate`` when it is not set."""
    rate = cfg.frontier.risk_free_rate
    return cfg.report.risk_free_rate if rate is None else rate


def in_sample(returns: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The rows every portfolio is estimated on: the model's lookback, else all rows."""
    rows = apply_lookback(returns, cfg.model.lookback, cfg.model.windows.unit)
    if len(rows) < 2:
        raise InputError(
            f"only {len(rows)} in-sample return row(s) (widen data.start/end or model.lookback)"
        )
    return rows


def run_frontier(cfg: Config) -> FrontierResult:
    """Estimate, optimize, sample the cloud and solve the QUBO for every xi of one config."""

    _check_long_only(cfg)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    data = load_for_model(cfg.data, cfg.model)
    returns = in_sample(simple_returns(data.prices), cfg)
    fcfg = cfg.frontier
    rf = frontier_risk_free_rate(cfg)
    mu = frontier.expected_returns(returns, method=fcfg.expected_returns)
    cov = frontier.sample_covariance(returns)
    timings["estimate_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    portfolios, table = _markowitz(mu, cov, returns, rf, fcfg)
    timings["optimize_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    cloud = frontier.random_portfolios(
        mu, cov, n=fcfg.random_portfolios, seed=fcfg.seed, returns=returns, risk_free_rate=rf
    )
    random_best = _random_best(cloud, portfolios)
    timings["random_seconds"] = time.perf_counter() - clock

    clock = time.perf_counter()
    points, excluded = _qubo_points(returns, cfg, mu, cov, rf)
    timings["qubo_seconds"] = time.perf_counter() - clock
    return FrontierResult(
        config=cfg,
        data=data,
        returns=returns,
        expected_returns=mu,
        covariance=cov,
        risk_free_rate=rf,
        portfolios=portfolios,
        frontier=table,
        cloud=cloud,
        random_best=random_best,
        qubo=points,
        qubo_assets_excluded=excluded,
        timings=timings,
    )


def _check_long_only(cfg: Config) -> None:
    """Refuse long/short models: the frontier draws long-only portfolios."""
    if cfg.model.positions != "long_only":
        raise InputError(
            "frontier draws long-only portfolios: the QUBO points need model.positions: "
            "long_only (use --set model.positions=long_only)"
        )


def _markowitz(
    mu: pd.Series,
    cov: pd.DataFrame,
    returns: pd.DataFrame,
    rf: float,
    fcfg: FrontierConfig,
) -> tuple[dict[str, frontier.FrontierPortfolio], pd.DataFrame]:
    """The classical portfolios (:data:`MARKOWITZ`) and the efficient frontier with a
    ``sortino`` column, every figure from the shared estimates (:func:`_score`)."""
    portfolios = {
        "min_volatility": frontier.min_volatility(mu, cov, risk_free_rate=rf),
        "max_sharpe": frontier.max_sharpe(mu, cov, risk_free_rate=rf),
        "max_sortino": frontier.max_sortino(returns, risk_free_rate=rf),
    }
    table = frontier.efficient_frontier(mu, cov, points=fcfg.points, risk_free_rate=rf)
    portfolios.update(_target_portfolios(mu, cov, rf, fcfg.targets, table))
    weights = {name: p.weights for name, p in portfolios.items()}
    weights["equal_weight_all"] = pd.Series(1.0 / len(mu), index=mu.index)
    # max_sortino reports figures from complete rows only: rescore everything alike
    portfolios = {name: _score(w, mu, cov, rf, returns) for name, w in weights.items()}
    sortino = [
        _score(w, mu, cov, rf, returns).sortino for _, w in frontier.weights_of(table).iterrows()
    ]
    table.insert(3, "sortino", sortino)
    return portfolios, table


def _target_portfolios(
    mu: pd.Series,
    cov: pd.DataFrame,
    rf: float,
    targets: TargetsConfig,
    table: pd.DataFrame,
) -> dict[str, frontier.FrontierPortfolio]:
    """``efficient_risk`` and ``efficient_return`` for the targets that are set; an
    unreachable target is refused with the span of the frontier (``table``)."""
    span = _frontier_span(table)
    out: dict[str, frontier.FrontierPortfolio] = {}
    if targets.risk is not None:
        try:
            out["efficient_risk"] = frontier.efficient_risk(
                mu, cov, targets.risk, risk_free_rate=rf
            )
        except InputError as exc:
            raise InputError(
                f"frontier.targets.risk = {targets.risk:g}: {exc}; {span} "
                "(raise frontier.targets.risk or remove it)"
            ) from exc
    if targets.return_ is not None:
        try:
            out["efficient_return"] = frontier.efficient_return(
                mu, cov, targets.return_, risk_free_rate=rf
            )
        except InputError as exc:
            raise InputError(
                f"frontier.targets.return = {targets.return_:g}: {exc}; {span} "
                "(lower frontier.targets.return or remove it)"
            ) from exc
    return out


def _frontier_span(table: pd.DataFrame) -> str:
    """The volatility and return ranges of the efficient frontier, for error messages."""
    return (
        f"the efficient frontier spans volatility {table['annualized_volatility'].iloc[0]:.6g}"
        f"..{table['annualized_volatility'].iloc[-1]:.6g} and return "
        f"{table['annualized_return'].iloc[0]:.6g}..{table['annualized_return'].iloc[-1]:.6g}"
    )


def _score(
    weights: pd.Series,
    mu: pd.Series,
    cov: pd.DataFrame,
    rf: float,
    returns: pd.DataFrame,
) -> frontier.FrontierPortfolio:
    """The portfolio with the shared estimates' return, volatility, Sharpe and Sortino."""
    weights = weights.reindex(mu.index, fill_value=0.0).astype(float).rename("weight")
    figures = frontier.portfolio_performance(weights, mu, cov, rf, returns=returns)
    return frontier.FrontierPortfolio(weights=weights, **figures)


def _random_best(
    cloud: pd.DataFrame, portfolios: dict[str, frontier.FrontierPortfolio]
) -> dict[str, dict[str, Any]]:
    """The cloud's best min-volatility, max-Sharpe and max-Sortino points and their gaps."""
    out: dict[str, dict[str, Any]] = {}
    for name, column, lowest in (
        ("min_volatility", "annualized_volatility", True),
        ("max_sharpe", "sharpe", False),
        ("max_sortino", "sortino", False),
    ):
        values = cloud[column].to_numpy(dtype=float)
        values = np.where(np.isfinite(values), values, np.inf if lowest else -np.inf)
        i = int(np.argmin(values) if lowest else np.argmax(values))
        best = float(cloud[column].iloc[i])
        exact = float(getattr(portfolios[name], column))
        gap = best - exact if lowest else exact - best  # >= 0: how far random search falls short
        row = cloud.iloc[i]
        out[name] = {
            "index": i,
            "annualized_return": float(row["annualized_return"]),
            "annualized_volatility": float(row["annualized_volatility"]),
            "sharpe": float(row["sharpe"]),
            "sortino": float(row["sortino"]),
            "measure": column,
            "exact": exact,
            "gap": gap,
            "relative_gap": gap / abs(exact) if exact else None,
        }
    return out


def _qubo_points(
    returns: pd.DataFrame, cfg: Config, mu: pd.Series, cov: pd.DataFrame, rf: float
) -> tuple[list[QuboPoint], list[str]]:
    """Solve the QUBO for every xi on the in-sample assets that have no missing return."""

    complete = returns.notna().all()
    excluded = [str(t) for t in returns.columns[~complete]]
    usable = returns.loc[:, complete]
    k = cfg.model.k
    if usable.shape[1] <= k and not excluded:  # no asset lacks data: k itself is too large
        raise InputError(
            f"model.k = {k} is out of range: choose 1 <= k < {usable.shape[1]} (the number of "
            "assets)"
        )
    if usable.shape[1] <= k:
        raise InputError(
            f"the QUBO needs complete returns, but only {usable.shape[1]} of {returns.shape[1]} "
            f"assets have data on every in-sample row (more than model.k = {k} needed; "
            "shorten model.lookback, move data.start later, or lower model.k)"
        )
    qubo = build_model(usable, cfg.model)
    points = []
    for xi in cfg.frontier.xi_values or [cfg.model.xi]:
        try:
            model = qubo.with_params(xi=float(xi))
            sampleset = solve_configured(model, cfg.model, cfg.solver)
            decoded = decode(sampleset, model)
        except InputError as exc:
            raise InputError(f"frontier.xi_values: xi = {xi:g}: {exc}") from exc
        best = decoded.best
        points.append(
            QuboPoint(
                xi=float(xi),
                selection=best,
                portfolio=_score(best.weights, mu, cov, rf, returns),
                feasible_fraction=decoded.feasible_fraction,
                penalty=sampleset.info.get("penalty"),
                solver=str(sampleset.info.get("solver", cfg.solver.name)),
            )
        )
    return points, excluded
