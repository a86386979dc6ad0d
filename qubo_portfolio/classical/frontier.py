"""Classical Markowitz portfolios: estimates, exact optimizers and the Monte Carlo cloud.

The classic walk-through, done exactly. From simple daily returns ``r`` (e.g.
``prices.pct_change()``; NaN where an asset is not listed yet):

- :func:`expected_returns` and :func:`sample_covariance` give annualized estimates
  (252 trading days), the covariance pairwise over common dates and repaired to PSD if needed;
- :func:`min_volatility`, :func:`max_sharpe`, :func:`efficient_risk`, :func:`efficient_return`,
  :func:`efficient_frontier` and :func:`max_sortino` solve the convex problems with cvxpy and
  Clarabel (no random search), under ``bounds=(lower, upper)`` and ``sum(w) == 1``;
- :func:`random_portfolios` draws the long-only cloud of the walk-through and
  :func:`portfolio_performance` scores any weights.

Conventions: weights sum to 1; returns, volatility, Sharpe and Sortino are annualized with
``frequency`` periods per year (252); the risk-free rate is an annual rate (default 0).
Importing this module does not import cvxpy.

Examples
--------
>>> from skfolio.datasets import load_sp500_dataset
>>> from qubo_portfolio import frontier
>>> r = load_sp500_dataset().pct_change().iloc[1:]
>>> mu, cov = frontier.expected_returns(r), frontier.sample_covariance(r)
>>> p = frontier.max_sharpe(mu, cov)
>>> round(float(p.weights.sum()), 12)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from qubo_portfolio.errors import InputError

__all__ = [
    "FrontierPortfolio",
    "efficient_frontier",
    "efficient_return",
    "efficient_risk",
    "expected_returns",
    "is_psd",
    "max_sharpe",
    "max_sortino",
    "min_volatility",
    "nearest_psd",
    "portfolio_performance",
    "random_portfolios",
    "sample_covariance",
    "weights_of",
]

TRADING_DAYS = 252
"""Periods per year used for annualization."""

PSD_TOLERANCE = 1e-12
"""A matrix is PSD when its smallest eigenvalue is >= ``-PSD_TOLERANCE * max|eigenvalue|``."""

WEIGHT_ZERO = 1e-10
"""Weights smaller than this in absolute value are set to 0 (then renormalized)."""

# Clarabel stops at 1e-8 by default. We ask for 1e-11 and relax one decade at a time down to
# the default when it cannot certify that (it then reports "optimal_inaccurate").
_CLARABEL_TOLERANCES = (1e-11, 1e-10, 1e-9, 1e-8)


Bounds = tuple[Any, Any]


@dataclass(frozen=True)
class FrontierPortfolio:
    """A classical portfolio and its annualized figures.

    Named so as not to clash with ``skfolio.portfolio.Portfolio``.

    Attributes
    ----------
    weights : pd.Series
        Weight per ticker, summing to 1.
    annualized_return : float
        ``mu^T w`` with annualized ``mu``.
    annualized_volatility : float
        ``sqrt(w^T Sigma w)`` with annualized ``Sigma``.
    sharpe : float
        ``(annualized_return - risk_free_rate) / annualized_volatility``.
    sortino : float or None
        See :func:`portfolio_performance`; None when no daily returns were used.
    """

    weights: pd.Series
    annualized_return: float
    annualized_volatility: float
    sharpe: float
    sortino: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict; non-finite figures (e.g. zero volatility) become None."""
        return {
            "weights": {str(t): float(w) for t, w in self.weights.items()},
            "annualized_return": _json_float(self.annualized_return),
            "annualized_volatility": _json_float(self.annualized_volatility),
            "sharpe": _json_float(self.sharpe),
            "sortino": _json_float(self.sortino),
        }


# --------------------------------------------------------------------------- estimates


def expected_returns(
    returns: pd.DataFrame,
    method: Literal["mean", "compounded"] = "mean",
    frequency: int = TRADING_DAYS,
) -> pd.Series:
    """Annualized expected return per asset from simple periodic returns.

    Each asset uses its own observations (NaN skipped), so assets listed at different
    dates are fine.

    - ``"mean"``: ``mu_i = frequency * mean_t(r_it)`` (arithmetic);
    - ``"compounded"``: ``mu_i = prod_t(1 + r_it) ** (frequency / n_i) - 1`` (geometric),
      with ``n_i`` the number of observations of asset ``i``.

    Parameters
    ----------
    returns : pd.DataFrame
        Simple returns, one column per asset, one row per period.
    method : {"mean", "compounded"}
        Arithmetic or geometric annualization.
    frequency : int
        Periods per year (252 for daily returns).

    Returns
    -------
    pd.Series
        Annualized expected return, indexed by asset.
    """
    returns = _check_returns(returns)
    counts = returns.count()
    _require_observations(counts, 1, "expected return")
    if method == "mean":
        mu = returns.mean() * frequency
    elif method == "compounded":
        mu = (1.0 + returns).prod() ** (frequency / counts) - 1.0
    else:
        raise InputError(f"unknown expected-return method {method!r} (use 'mean' or 'compounded')")
    return mu.astype(float).rename("expected_return")


def sample_covariance(returns: pd.DataFrame, frequency: int = TRADING_DAYS) -> pd.DataFrame:
    """Annualized sample covariance, pairwise over common dates, repaired to PSD if needed.

    ``Sigma_ij = frequency * cov(r_i, r_j)`` with ``ddof=1`` over the dates where both assets
    have data (``DataFrame.cov`` pairwise). Pairwise estimates need not form a positive
    semidefinite matrix; when the smallest eigenvalue is below ``-1e-12 * max|eigenvalue|``
    the matrix is replaced by :func:`nearest_psd`. Whether that happened is recorded in
    ``result.attrs["psd_repaired"]`` (bool), with the smallest eigenvalue of the raw pairwise
    estimate in ``result.attrs["min_eigenvalue"]``.

    Parameters
    ----------
    returns : pd.DataFrame
        Simple returns, one column per asset; NaN where an asset has no data.
    frequency : int
        Periods per year (252 for daily returns).

    Returns
    -------
    pd.DataFrame
        Symmetric PSD covariance matrix indexed by asset on both axes.

    Raises
    ------
    InputError
        If an asset has fewer than 2 observations or two assets share fewer than 2 dates.
    """
    returns = _check_returns(returns)
    _require_observations(returns.count(), 2, "covariance")
    cov = returns.cov(min_periods=2) * frequency
    values = cov.to_numpy(dtype=float)
    if np.isnan(values).any():
        rows, cols = np.nonzero(np.triu(np.isnan(values), k=1))
        names = [f"{cov.index[i]} and {cov.columns[j]}" for i, j in zip(rows, cols, strict=True)]
        listed = ", ".join(names[:5]) + (
            f" (and {len(names) - 5} more pairs)" if len(names) > 5 else ""
        )
        raise InputError(
            f"fewer than 2 overlapping dates for covariance of {listed} "
            "(restrict data.start/end or drop one of each pair)"
        )
    values = 0.5 * (values + values.T)
    min_eig = float(np.linalg.eigvalsh(values)[0])
    repaired = not is_psd(values)
    if repaired:
        values = nearest_psd(values)
    out = pd.DataFrame(values, index=cov.index, columns=cov.columns)
    out.attrs["psd_repaired"] = repaired
    out.attrs["min_eigenvalue"] = min_eig
    return out


def is_psd(matrix: pd.DataFrame | np.ndarray, tolerance: float = PSD_TOLERANCE) -> bool:
    """Whether a symmetric matrix is positive semidefinite up to a relative tolerance.

    True when ``lambda_min >= -tolerance * max|lambda|`` (eigenvalues of the symmetric part).
    """
    values = np.asarray(matrix, dtype=float)
    eig = np.linalg.eigvalsh(0.5 * (values + values.T))
    scale = float(np.max(np.abs(eig))) if eig.size else 0.0
    return bool(eig.size == 0 or eig[0] >= -tolerance * scale)


def nearest_psd(matrix: pd.DataFrame | np.ndarray) -> Any:
    """Nearest PSD matrix (Frobenius norm) by spectral clipping.

    ``S = V diag(lambda) V^T  ->  V diag(max(lambda, 0)) V^T``, symmetrized. A DataFrame
    comes back as a DataFrame with the same labels, an array as an array.
    """
    values = np.asarray(matrix, dtype=float)
    eig, vec = np.linalg.eigh(0.5 * (values + values.T))
    fixed = (vec * np.clip(eig, 0.0, None)) @ vec.T
    fixed = 0.5 * (fixed + fixed.T)
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(fixed, index=matrix.index, columns=matrix.columns)
    return fixed


# --------------------------------------------------------------------------- performance


def portfolio_performance(
    weights: pd.Series | Sequence[float] | np.ndarray,
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    risk_free_rate: float = 0.0,
    returns: pd.DataFrame | None = None,
    frequency: int = TRADING_DAYS,
) -> dict[str, float]:
    """Annualized return, volatility, Sharpe (and Sortino) of given weights.

    - ``annualized_return = mu^T w``
    - ``annualized_volatility = sqrt(w^T Sigma w)``
    - ``sharpe = (annualized_return - rf) / annualized_volatility``
    - ``sortino = (frequency * mean_t(p_t) - rf) / DD`` with the portfolio's daily returns
      ``p_t = r_t^T w`` and downside deviation
      ``DD = sqrt(frequency) * sqrt(mean_t(min(p_t - rf / frequency, 0) ** 2))``,
      both over the complete rows of ``returns`` (dates where every asset has data).

    Parameters
    ----------
    weights : pd.Series or array-like
        A Series is aligned on the tickers (missing tickers count as 0); an array is taken
        in the order of ``expected_returns``.
    expected_returns, covariance : pd.Series, pd.DataFrame
        Annualized estimates with the same tickers.
    risk_free_rate : float
        Annual risk-free rate.
    returns : pd.DataFrame, optional
        Daily returns; when given, ``sortino`` is added.
    frequency : int
        Periods per year.

    Returns
    -------
    dict
        ``annualized_return``, ``annualized_volatility``, ``sharpe`` and, with ``returns``,
        ``sortino``.
    """
    mu, cov, tickers = _check_estimates(expected_returns, covariance, require_psd=False)
    w = _weights_array(weights, tickers)
    ret, vol, sharpe = _performance(w[None, :], mu, cov, risk_free_rate)
    out = {
        "annualized_return": float(ret[0]),
        "annualized_volatility": float(vol[0]),
        "sharpe": float(sharpe[0]),
    }
    if returns is not None:
        daily = _complete_rows(returns, tickers)
        out["sortino"] = float(_sortino(daily, w[None, :], risk_free_rate, frequency)[0])
    return out


def random_portfolios(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    n: int = 5000,
    seed: int | None = 0,
    returns: pd.DataFrame | None = None,
    risk_free_rate: float = 0.0,
    frequency: int = TRADING_DAYS,
) -> pd.DataFrame:
    """The walk-through's Monte Carlo cloud of random long-only portfolios.

    ``w = u / sum(u)`` with ``u_i ~ Uniform(0, 1)`` drawn by ``np.random.default_rng(seed)``
    (one row of ``n x K`` draws per portfolio), scored as in :func:`portfolio_performance`.

    Parameters
    ----------
    expected_returns, covariance : pd.Series, pd.DataFrame
        Annualized estimates.
    n : int
        Number of portfolios.
    seed : int or None
        Seed; the same seed gives the same cloud.
    returns : pd.DataFrame, optional
        Daily returns; when given, a ``sortino`` column is added (complete rows only).
    risk_free_rate : float
        Annual risk-free rate.
    frequency : int
        Periods per year (for the Sortino ratio).

    Returns
    -------
    pd.DataFrame
        One row per portfolio: ``annualized_return``, ``annualized_volatility``, ``sharpe``,
        [``sortino``], then the weights as ``w_<ticker>`` columns (``weights_of(cloud)`` gives
        them back labelled by ticker).
    """
    if n < 1:
        raise InputError(f"random_portfolios needs n >= 1, got {n}")
    mu, cov, tickers = _check_estimates(expected_returns, covariance, require_psd=False)
    rng = np.random.default_rng(seed)
    u = rng.random((n, len(tickers)))
    w = u / u.sum(axis=1, keepdims=True)
    ret, vol, sharpe = _performance(w, mu, cov, risk_free_rate)
    columns: dict[str, np.ndarray] = {
        "annualized_return": ret,
        "annualized_volatility": vol,
        "sharpe": sharpe,
    }
    if returns is not None:
        daily = _complete_rows(returns, tickers)
        columns["sortino"] = _sortino(daily, w, risk_free_rate, frequency)
    frame = pd.DataFrame(columns)
    weights = pd.DataFrame(w, columns=[f"w_{t}" for t in tickers])
    return pd.concat([frame, weights], axis=1)


def weights_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``w_<ticker>`` columns of a cloud or frontier table, relabelled by ticker."""
    cols = [c for c in frame.columns if isinstance(c, str) and c.startswith("w_")]
    return frame[cols].rename(columns=lambda c: c[2:])


# --------------------------------------------------------------------------- optimizers


def min_volatility(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    bounds: Bounds = (0.0, 1.0),
    risk_free_rate: float = 0.0,
) -> FrontierPortfolio:
    """Minimum-volatility portfolio.

    ``min_w w^T Sigma w  s.t.  sum(w) = 1,  lower <= w <= upper`` (a QP).

    Parameters
    ----------
    expected_returns, covariance : pd.Series, pd.DataFrame
        Annualized estimates with the same tickers (``expected_returns`` only scores).
    bounds : (lower, upper)
        Scalars or per-asset arrays/Series; ``lower < 0`` allows short positions.
    risk_free_rate : float
        Annual risk-free rate for the reported Sharpe ratio.

    Returns
    -------
    FrontierPortfolio
    """
    mu, cov, tickers = _check_estimates(expected_returns, covariance)
    lower, upper = _bounds(bounds, tickers)
    w = _min_vol_weights(cov, lower, upper)
    return _portfolio(w, mu, cov, tickers, risk_free_rate)


def max_sharpe(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    risk_free_rate: float = 0.0,
    bounds: Bounds = (0.0, 1.0),
) -> FrontierPortfolio:
    """Maximum-Sharpe (tangency) portfolio.

    ``max_w (mu^T w - rf) / sqrt(w^T Sigma w)`` is solved exactly as the QP obtained with
    ``y = kappa w``: ``min_{y, kappa} y^T Sigma y  s.t.  (mu - rf)^T y = 1,  sum(y) = kappa,
    lower kappa <= y <= upper kappa,  kappa >= 0``; then ``w = y / kappa``.

    Parameters
    ----------
    expected_returns, covariance : pd.Series, pd.DataFrame
        Annualized estimates with the same tickers.
    risk_free_rate : float
        Annual risk-free rate.
    bounds : (lower, upper)
        Scalars or per-asset arrays/Series.

    Returns
    -------
    FrontierPortfolio

    Raises
    ------
    InputError
        If no feasible portfolio earns more than ``risk_free_rate`` (long-only: no asset does).
    """
    import cvxpy as cp

    mu, cov, tickers = _check_estimates(expected_returns, covariance)
    lower, upper = _bounds(bounds, tickers)
    _require_excess(mu, lower, upper, risk_free_rate, tickers, "max_sharpe")
    y = cp.Variable(len(tickers))
    kappa = cp.Variable(nonneg=True)
    problem = cp.Problem(
        cp.Minimize(_quad(y, cov)),
        [
            (mu - risk_free_rate) @ y == 1,
            cp.sum(y) == kappa,
            y >= lower * kappa,
            y <= upper * kappa,
        ],
    )
    _solve(problem, "max_sharpe")
    w = np.asarray(y.value) / float(kappa.value)
    return _portfolio(w, mu, cov, tickers, risk_free_rate)


def efficient_return(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    target_return: float,
    bounds: Bounds = (0.0, 1.0),
    risk_free_rate: float = 0.0,
) -> FrontierPortfolio:
    """Least-volatility portfolio earning at least ``target_return``.

    ``min_w w^T Sigma w  s.t.  mu^T w >= target,  sum(w) = 1,  lower <= w <= upper``.

    With ``>=`` the answer is always on the efficient (upper) branch of the frontier: a target
    below the minimum-volatility portfolio's return gives the minimum-volatility portfolio.
    At the largest achievable return the least-volatile of the return-maximizing portfolios
    is returned.

    Raises
    ------
    InputError
        If ``target_return`` exceeds the largest achievable return; the message gives the
        feasible range.
    """
    mu, cov, tickers = _check_estimates(expected_returns, covariance)
    lower, upper = _bounds(bounds, tickers)
    top = _max_return(mu, lower, upper)
    if target_return > top + _tol(top):
        raise InputError(
            f"target_return {target_return:.6g} is not achievable "
            f"(feasible: <= {top:.6g}, the best return under the bounds)"
        )
    if target_return >= top - _tol(top):
        w = _max_return_min_vol_weights(mu, cov, lower, upper)
    else:
        w = _efficient_return_weights(mu, cov, lower, upper, [target_return])[0]
    return _portfolio(w, mu, cov, tickers, risk_free_rate)


def efficient_risk(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    target_volatility: float,
    bounds: Bounds = (0.0, 1.0),
    risk_free_rate: float = 0.0,
) -> FrontierPortfolio:
    """Highest-return portfolio with volatility at most ``target_volatility``.

    ``max_w mu^T w  s.t.  sqrt(w^T Sigma w) <= target,  sum(w) = 1,  lower <= w <= upper``
    (an SOCP). A target above the volatility of the best-return portfolio returns that
    portfolio (whose volatility is then below the target).

    Raises
    ------
    InputError
        If ``target_volatility`` is below the minimum volatility; the message gives the
        feasible range.
    """
    import cvxpy as cp

    mu, cov, tickers = _check_estimates(expected_returns, covariance)
    lower, upper = _bounds(bounds, tickers)
    w_min = _min_vol_weights(cov, lower, upper)
    vol_min = _vol(w_min, cov)
    if target_volatility < vol_min - _tol(vol_min):
        raise InputError(
            f"target_volatility {target_volatility:.6g} is below the minimum volatility "
            f"(feasible: >= {vol_min:.6g})"
        )
    w_top = _max_return_min_vol_weights(mu, cov, lower, upper)
    if target_volatility <= vol_min + _tol(vol_min):
        w = w_min
    elif target_volatility >= _vol(w_top, cov):
        w = w_top
    else:
        x = cp.Variable(len(tickers))
        problem = cp.Problem(
            cp.Maximize(mu @ x),
            [
                cp.norm(_factor(cov).T @ x) <= target_volatility,
                cp.sum(x) == 1,
                x >= lower,
                x <= upper,
            ],
        )
        _solve(problem, "efficient_risk")
        w = np.asarray(x.value)
    return _portfolio(w, mu, cov, tickers, risk_free_rate)


def efficient_frontier(
    expected_returns: pd.Series,
    covariance: pd.DataFrame,
    points: int = 50,
    bounds: Bounds = (0.0, 1.0),
    risk_free_rate: float = 0.0,
) -> pd.DataFrame:
    """The efficient branch of the mean-variance frontier, solved exactly point by point.

    Target returns are ``points`` evenly spaced values from the minimum-volatility
    portfolio's return to the largest achievable return; each point solves
    :func:`efficient_return` (``min w^T Sigma w  s.t.  mu^T w >= target``).

    Returns
    -------
    pd.DataFrame
        One row per point, ordered by return: ``annualized_return``,
        ``annualized_volatility``, ``sharpe``, then the weights as ``w_<ticker>`` columns
        (:func:`weights_of` gives them back labelled by ticker).
    """
    if points < 2:
        raise InputError(f"efficient_frontier needs points >= 2, got {points}")
    mu, cov, tickers = _check_estimates(expected_returns, covariance)
    lower, upper = _bounds(bounds, tickers)
    w_min = _min_vol_weights(cov, lower, upper)
    w_top = _max_return_min_vol_weights(mu, cov, lower, upper)
    r_min, r_top = float(mu @ w_min), float(mu @ w_top)
    if r_top - r_min <= _tol(r_top):
        inner: list[np.ndarray] = [w_min] * (points - 2)
    else:
        targets = np.linspace(r_min, r_top, points)[1:-1]
        inner = _efficient_return_weights(mu, cov, lower, upper, targets)
    w = np.vstack([_clean(v) for v in [w_min, *inner, w_top]])
    ret, vol, sharpe = _performance(w, mu, cov, risk_free_rate)
    frame = pd.DataFrame({"annualized_return": ret, "annualized_volatility": vol, "sharpe": sharpe})
    weights = pd.DataFrame(w, columns=[f"w_{t}" for t in tickers])
    return pd.concat([frame, weights], axis=1)


def max_sortino(
    returns: pd.DataFrame,
    risk_free_rate: float = 0.0,
    frequency: int = TRADING_DAYS,
    bounds: Bounds = (0.0, 1.0),
) -> FrontierPortfolio:
    """Maximum-Sortino portfolio from daily returns.

    Maximizes ``(frequency * mean_t(p_t) - rf) / DD`` with ``p_t = r_t^T w`` and
    ``DD = sqrt(frequency) * sqrt(mean_t(min(p_t - rf / frequency, 0) ** 2))``. With
    ``y = kappa w`` this is the convex QP
    ``min_{y, kappa} mean_t(min(r_t^T y - kappa rf_d, 0) ** 2)  s.t.  (m - rf_d)^T y = 1,
    sum(y) = kappa,  lower kappa <= y <= upper kappa,  kappa >= 0`` (``m`` the mean daily
    returns, ``rf_d = rf / frequency``), solved exactly; then ``w = y / kappa``.

    Only complete rows (dates where every asset has data) are used, for the mean, the
    downside deviation and the reported return, volatility (sample covariance, ``ddof=1``)
    and Sharpe ratio.

    Raises
    ------
    InputError
        If fewer than 2 complete rows remain, or no feasible portfolio's mean exceeds ``rf``.
    """
    import cvxpy as cp

    returns = _check_returns(returns)
    tickers = returns.columns
    daily = _complete_rows(returns, tickers)
    t = daily.shape[0]
    lower, upper = _bounds(bounds, tickers)
    mu = daily.mean(axis=0) * frequency
    cov = np.cov(daily, rowvar=False, ddof=1).reshape(len(tickers), len(tickers)) * frequency
    _require_excess(mu, lower, upper, risk_free_rate, tickers, "max_sortino")
    y = cp.Variable(len(tickers))
    kappa = cp.Variable(nonneg=True)
    shortfall = cp.Variable(t, nonneg=True)
    rf_daily = risk_free_rate / frequency
    # frequency * mean of squared shortfalls = DD^2 of the scaled portfolio; (mu - rf)^T y = 1
    # is frequency times the daily normalization, which leaves the maximizer unchanged.
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(shortfall) * (frequency / t)),
        [
            shortfall >= rf_daily * kappa - daily @ y,
            (mu - risk_free_rate) @ y == 1,
            cp.sum(y) == kappa,
            y >= lower * kappa,
            y <= upper * kappa,
        ],
    )
    _solve(problem, "max_sortino")
    w = _clean(np.asarray(y.value) / float(kappa.value))
    portfolio = _portfolio(w, mu, cov, tickers, risk_free_rate)
    sortino = float(_sortino(daily, w[None, :], risk_free_rate, frequency)[0])
    return FrontierPortfolio(
        weights=portfolio.weights,
        annualized_return=portfolio.annualized_return,
        annualized_volatility=portfolio.annualized_volatility,
        sharpe=portfolio.sharpe,
        sortino=sortino,
    )


# --------------------------------------------------------------------------- internals


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _tol(value: float) -> float:
    """Absolute tolerance for comparing targets with achievable figures."""
    return 1e-9 * max(1.0, abs(value))


def _check_returns(returns: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(returns, pd.DataFrame):
        raise InputError(
            f"returns must be a pandas DataFrame (one column per asset), got {type(returns).__name__}"
        )
    if returns.shape[1] == 0:
        raise InputError("returns has no asset columns")
    try:
        returns = returns.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"returns must be numeric ({exc})") from exc
    bad = returns.columns[np.isinf(returns.to_numpy()).any(axis=0)]
    if len(bad):
        raise InputError(
            f"returns of {', '.join(map(str, bad))} contain inf (check prices for zeros)"
        )
    return returns


def _require_observations(counts: pd.Series, minimum: int, what: str) -> None:
    few = counts.index[counts < minimum]
    if len(few):
        raise InputError(
            f"fewer than {minimum} observation(s) for the {what} of "
            f"{', '.join(map(str, few))} (widen data.start/end or drop them)"
        )


def _check_estimates(
    expected_returns: pd.Series, covariance: pd.DataFrame, require_psd: bool = True
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Validate and align the estimates; returns (mu, Sigma, tickers) in ``mu``'s order."""
    if not isinstance(expected_returns, pd.Series):
        raise InputError("expected_returns must be a pandas Series indexed by ticker")
    if not isinstance(covariance, pd.DataFrame):
        raise InputError("covariance must be a pandas DataFrame indexed by ticker on both axes")
    tickers = expected_returns.index
    if len(tickers) == 0:
        raise InputError("expected_returns is empty")
    if not tickers.is_unique:
        raise InputError("expected_returns has duplicate tickers")
    if set(covariance.index) != set(tickers) or set(covariance.columns) != set(tickers):
        missing = sorted(map(str, set(tickers) - set(covariance.index)))
        extra = sorted(map(str, set(covariance.index) - set(tickers)))
        raise InputError(
            "expected_returns and covariance must cover the same tickers "
            f"(missing from covariance: {missing}, extra: {extra})"
        )
    mu = expected_returns.to_numpy(dtype=float)
    cov = covariance.loc[tickers, tickers].to_numpy(dtype=float)
    if not np.isfinite(mu).all():
        bad = tickers[~np.isfinite(mu)]
        raise InputError(f"expected return of {', '.join(map(str, bad))} is not finite")
    if not np.isfinite(cov).all():
        raise InputError("covariance contains NaN or inf (estimate it with sample_covariance)")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-14):
        raise InputError("covariance is not symmetric")
    cov = 0.5 * (cov + cov.T)
    if require_psd and not is_psd(cov):
        min_eig = float(np.linalg.eigvalsh(cov)[0])
        raise InputError(
            f"covariance is not positive semidefinite (min eigenvalue {min_eig:.3g}); "
            "repair it with nearest_psd()"
        )
    return mu, cov, tickers


def _bounds(bounds: Bounds, tickers: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset (lower, upper) arrays from scalars, arrays or Series; checked feasible."""
    try:
        lo_in, hi_in = bounds
    except (TypeError, ValueError) as exc:
        raise InputError(f"bounds must be a pair (lower, upper), got {bounds!r}") from exc

    def expand(value: Any, name: str) -> np.ndarray:
        if isinstance(value, pd.Series):
            missing = tickers.difference(value.index)
            if len(missing):
                raise InputError(
                    f"{name} bounds miss {', '.join(map(str, missing))} (give one per ticker)"
                )
            arr = value.reindex(tickers).to_numpy(dtype=float)
        else:
            arr = np.broadcast_to(np.asarray(value, dtype=float), (len(tickers),)).copy()
        if not np.isfinite(arr).all():
            raise InputError(f"{name} bounds must be finite (e.g. (-1, 1) to allow shorting)")
        return arr

    try:
        lower, upper = expand(lo_in, "lower"), expand(hi_in, "upper")
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"bounds must be scalars or have one value per ticker ({len(tickers)}): {exc}"
        ) from exc
    if (lower > upper).any():
        bad = tickers[lower > upper]
        raise InputError(f"lower bound above upper bound for {', '.join(map(str, bad))}")
    if lower.sum() > 1 + 1e-12 or upper.sum() < 1 - 1e-12:
        raise InputError(
            f"bounds admit no fully invested portfolio (sum of lower {lower.sum():.6g} must be "
            f"<= 1 <= sum of upper {upper.sum():.6g}); loosen the bounds"
        )
    return lower, upper


def _weights_array(weights: Any, tickers: pd.Index) -> np.ndarray:
    if isinstance(weights, pd.Series):
        extra = weights.index.difference(tickers)
        if len(extra):
            raise InputError(f"weights for unknown tickers {', '.join(map(str, extra))}")
        return weights.reindex(tickers, fill_value=0.0).to_numpy(dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(tickers),):
        raise InputError(f"weights must have {len(tickers)} entries, got shape {w.shape}")
    return w


def _complete_rows(returns: pd.DataFrame, tickers: pd.Index) -> np.ndarray:
    returns = _check_returns(returns)
    missing = tickers.difference(returns.columns)
    if len(missing):
        raise InputError(f"returns lack columns {', '.join(map(str, missing))}")
    daily = returns[tickers].dropna(how="any").to_numpy(dtype=float)
    if daily.shape[0] < 2:
        raise InputError(
            "fewer than 2 dates where every asset has data "
            "(restrict data.start/end or drop late-listed assets)"
        )
    return daily


def _performance(
    w: np.ndarray, mu: np.ndarray, cov: np.ndarray, risk_free_rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, volatility and Sharpe of each row of ``w``."""
    ret = w @ mu
    vol = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", w, cov, w), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = (ret - risk_free_rate) / vol
    return ret, vol, sharpe


def _sortino(daily: np.ndarray, w: np.ndarray, risk_free_rate: float, frequency: int) -> np.ndarray:
    """Sortino ratio of each row of ``w`` on complete daily returns (chunked, vectorized)."""
    rf_daily = risk_free_rate / frequency
    n_dates, n = daily.shape[0], w.shape[0]
    excess = (w @ daily.mean(axis=0)) * frequency - risk_free_rate
    chunk = max(1, 4_000_000 // n_dates)  # ~32 MB of dates x portfolios at a time
    buffer = np.empty((n_dates, min(chunk, n)))
    squares = np.empty(n)
    for start in range(0, n, chunk):
        block = w[start : start + chunk]
        p = buffer[:, : block.shape[0]]
        np.matmul(daily, block.T, out=p)
        p -= rf_daily
        np.minimum(p, 0.0, out=p)
        squares[start : start + chunk] = np.einsum("ij,ij->j", p, p)
    downside = np.sqrt(squares / n_dates * frequency)
    with np.errstate(divide="ignore", invalid="ignore"):
        return excess / downside


def _vol(w: np.ndarray, cov: np.ndarray) -> float:
    return float(np.sqrt(max(float(w @ cov @ w), 0.0)))


def _clean(w: np.ndarray) -> np.ndarray:
    """Zero weights below ``WEIGHT_ZERO`` in absolute value and renormalize to sum 1."""
    w = np.where(np.abs(w) < WEIGHT_ZERO, 0.0, np.asarray(w, dtype=float))
    return w / w.sum()


def _portfolio(
    w: np.ndarray, mu: np.ndarray, cov: np.ndarray, tickers: pd.Index, risk_free_rate: float
) -> FrontierPortfolio:
    w = _clean(w)
    ret, vol, sharpe = _performance(w[None, :], mu, cov, risk_free_rate)
    return FrontierPortfolio(
        weights=pd.Series(w, index=tickers, name="weight"),
        annualized_return=float(ret[0]),
        annualized_volatility=float(vol[0]),
        sharpe=float(sharpe[0]),
    )


def _factor(cov: np.ndarray) -> np.ndarray:
    """``L`` with ``L L^T = Sigma`` (eigen-decomposition, so semidefinite matrices work)."""
    eig, vec = np.linalg.eigh(cov)
    return vec * np.sqrt(np.clip(eig, 0.0, None))


def _quad(x: Any, cov: np.ndarray) -> Any:
    import cvxpy as cp

    return cp.quad_form(x, cp.psd_wrap(cov))


def _solve(problem: Any, what: str) -> None:
    """Solve with Clarabel at the tightest tolerance it certifies; raise unless optimal."""
    import warnings

    import cvxpy as cp

    for tol in _CLARABEL_TOLERANCES:
        options = {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol, "max_iter": 500}
        options["tol_ktratio"] = min(1e-6, 100 * tol)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "Solution may be inaccurate"
                problem.solve(solver=cp.CLARABEL, **options)
        except cp.error.SolverError as exc:
            raise RuntimeError(f"{what}: the Clarabel solver failed ({exc})") from exc
        if problem.status == cp.OPTIMAL:
            return
        if problem.status != cp.OPTIMAL_INACCURATE:
            break
    raise RuntimeError(
        f"{what}: solver status {problem.status!r} (expected 'optimal'); "
        "check the estimates and bounds"
    )


def _min_vol_weights(cov: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    import cvxpy as cp

    x = cp.Variable(cov.shape[0])
    problem = cp.Problem(cp.Minimize(_quad(x, cov)), [cp.sum(x) == 1, x >= lower, x <= upper])
    _solve(problem, "min_volatility")
    return _clean(np.asarray(x.value))


def _efficient_return_weights(
    mu: np.ndarray,
    cov: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    targets: Sequence[float] | np.ndarray,
) -> list[np.ndarray]:
    """Min-variance weights for each target return (one parametrized problem, re-solved)."""
    import cvxpy as cp

    x = cp.Variable(len(mu))
    target = cp.Parameter()
    problem = cp.Problem(
        cp.Minimize(_quad(x, cov)),
        [mu @ x >= target, cp.sum(x) == 1, x >= lower, x <= upper],
    )
    out = []
    for value in targets:
        target.value = float(value)
        _solve(problem, f"efficient_return (target {float(value):.6g})")
        out.append(_clean(np.asarray(x.value)))
    return out


def _max_return_face(
    mu: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """The largest achievable return and the face of portfolios attaining it.

    Greedy fill of ``max mu^T w s.t. sum(w) = 1, lower <= w <= upper``: start at ``lower``
    and give the remaining budget to the best assets first. Returns ``(best, fixed, free)``:
    assets better than the marginal one sit at ``upper``, worse ones at ``lower``; ``free``
    marks assets tied with the marginal one, which may share the remaining budget.
    """
    w = lower.copy()
    budget = 1.0 - lower.sum()
    order = np.argsort(-mu, kind="stable")
    marginal = None
    for i in order:
        if budget <= 0:
            break
        add = min(upper[i] - lower[i], budget)
        if add > 0:
            w[i] += add
            budget -= add
            marginal = mu[i]
    best = float(mu @ w)
    if marginal is None:  # sum(lower) == 1: the only feasible portfolio is ``lower``
        return best, w, np.zeros(len(mu), dtype=bool)
    free = np.abs(mu - marginal) <= 1e-12 * max(1.0, float(np.max(np.abs(mu))))
    fixed = np.where(mu > marginal, upper, lower)
    fixed[free] = 0.0
    return best, fixed, free


def _max_return(mu: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return _max_return_face(mu, lower, upper)[0]


def _max_return_min_vol_weights(
    mu: np.ndarray, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """The least-volatile portfolio among those with the largest achievable return."""
    import cvxpy as cp

    _, fixed, free = _max_return_face(mu, lower, upper)
    if free.sum() <= 1:
        w = fixed.copy()
        w[free] = 1.0 - fixed[~free].sum()
        return _clean(w)
    x = cp.Variable(len(mu))
    constraints = [cp.sum(x) == 1, x >= lower, x <= upper]
    if (~free).any():
        constraints.append(x[np.flatnonzero(~free)] == fixed[~free])
    problem = cp.Problem(cp.Minimize(_quad(x, cov)), constraints)
    _solve(problem, "max-return portfolio")
    return _clean(np.asarray(x.value))


def _require_excess(
    mu: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    risk_free_rate: float,
    tickers: pd.Index,
    what: str,
) -> None:
    best = _max_return(mu, lower, upper)
    if best <= risk_free_rate + _tol(risk_free_rate):
        i = int(np.argmax(mu))
        raise InputError(
            f"{what}: no portfolio beats the risk-free rate {risk_free_rate:.6g} "
            f"(best asset {tickers[i]} returns {mu[i]:.6g}, best portfolio {best:.6g}); "
            "lower risk_free_rate or change the data window"
        )
