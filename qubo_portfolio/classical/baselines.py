"""Classical allocation baselines fitted on one returns slice (what a backtest date sees).

Every function takes simple daily returns (DatetimeIndex, one column per ticker, no missing
values: the lookback slice of one rebalance date, nothing later) and returns long-only,
fully invested weights (a Series over the columns, summing to 1):

- :func:`min_volatility_weights`: Markowitz minimum variance
  (:func:`qubo_portfolio.classical.frontier.min_volatility`) on the slice's annualized
  sample covariance;
- :func:`max_sharpe_weights`: the tangency portfolio
  (:func:`qubo_portfolio.classical.frontier.max_sharpe`) on the slice's annualized mean and
  covariance; when no asset's mean beats the risk-free rate the tangency portfolio does not
  exist and the minimum-variance portfolio is held instead (``fallback`` says so);
- :func:`inverse_volatility_weights`: ``w_i = (1 / sigma_i) / sum_j (1 / sigma_j)`` with
  ``sigma_i`` the sample standard deviation (ddof=1);
- :func:`hrp_weights`: skfolio's ``HierarchicalRiskParity`` with its defaults (variance risk
  measure, empirical prior, Pearson distance, Ward linkage).

:func:`baseline_weights` dispatches by name (:data:`BASELINES`); :func:`weigh_picks` weighs a
chosen subset (``equal``, ``min_volatility`` or ``inverse_volatility``). skfolio and cvxpy are
imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from . import frontier

BASELINES = ("min_volatility", "max_sharpe", "inverse_volatility", "hrp")
"""The classical baselines a backtest can hold next to the QUBO selection."""

PICK_WEIGHTS = ("equal", "min_volatility", "inverse_volatility")
"""How the QUBO's K' picks can be weighted."""


def _clean(weights: pd.Series) -> pd.Series:
    """Clip solver round-off below 0 and renormalize to sum 1."""
    w = weights.astype(np.float64).clip(lower=0.0)
    return (w / w.sum()).rename("weight")


def min_volatility_weights(returns: pd.DataFrame) -> pd.Series:
    """Minimum-variance weights (long-only, fully invested) of ``returns``' sample covariance."""
    mu = frontier.expected_returns(returns)
    cov = frontier.sample_covariance(returns)
    return _clean(frontier.min_volatility(mu, cov).weights)


def max_sharpe_weights(
    returns: pd.DataFrame, risk_free_rate: float = 0.0
) -> tuple[pd.Series, str | None]:
    """Maximum-Sharpe weights, and ``None`` or the reason the minimum-variance portfolio was
    held instead (no asset's annualized mean above ``risk_free_rate``)."""
    mu = frontier.expected_returns(returns)
    cov = frontier.sample_covariance(returns)
    if not (mu > risk_free_rate).any():
        reason = "no asset's mean return beats the risk-free rate: min_volatility held"
        return _clean(frontier.min_volatility(mu, cov).weights), reason
    return _clean(frontier.max_sharpe(mu, cov, risk_free_rate).weights), None


def inverse_volatility_weights(returns: pd.DataFrame) -> pd.Series:
    """``(1 / sigma_i) / sum_j (1 / sigma_j)``, ``sigma_i`` the daily standard deviation."""
    sigma = returns.std(ddof=1)
    if not (sigma > 0).all():
        flat = ", ".join(map(str, sigma.index[~(sigma > 0)][:3]))
        raise InputError(f"inverse_volatility: {flat} has zero volatility over the lookback")
    inv = 1.0 / sigma
    return (inv / inv.sum()).rename("weight")


def hrp_weights(returns: pd.DataFrame) -> pd.Series:
    """skfolio's ``HierarchicalRiskParity()`` fitted on ``returns`` (its defaults).

    With fewer lookback rows than assets the sample covariance is singular and skfolio
    replaces it by the nearest positive definite matrix (eigenvalue clipping, its default);
    its warning about that, expected here at every date, is not repeated on the console.
    """
    import warnings

    from skfolio.optimization import HierarchicalRiskParity

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The covariance matrix is not positive definite")
        model = HierarchicalRiskParity().fit(returns)
    return _clean(pd.Series(model.weights_, index=returns.columns))


def baseline_weights(
    name: str, returns: pd.DataFrame, risk_free_rate: float = 0.0
) -> tuple[pd.Series, str | None]:
    """The weights of baseline ``name`` (one of :data:`BASELINES`) fitted on ``returns``,
    and a note when it had to fall back (``max_sharpe`` only)."""
    if name == "min_volatility":
        return min_volatility_weights(returns), None
    if name == "max_sharpe":
        return max_sharpe_weights(returns, risk_free_rate)
    if name == "inverse_volatility":
        return inverse_volatility_weights(returns), None
    if name == "hrp":
        return hrp_weights(returns), None
    raise InputError(f"baseline {name!r} is unknown (use {', '.join(BASELINES)})")


def weigh_picks(rule: str, returns: pd.DataFrame, picks: Sequence[str]) -> pd.Series:
    """Weights of the chosen ``picks`` (a Series over ``picks``, summing to 1).

    ``equal``: ``1 / K'`` each (exactly ``1.0 / len(picks)``); ``min_volatility`` and
    ``inverse_volatility``: those baselines fitted on the picks' columns of ``returns``.
    """
    picks = list(picks)
    if rule == "equal":
        return pd.Series(1.0 / len(picks), index=picks, name="weight")
    if rule == "min_volatility":
        return min_volatility_weights(returns.loc[:, picks]).reindex(picks)
    if rule == "inverse_volatility":
        return inverse_volatility_weights(returns.loc[:, picks]).reindex(picks)
    raise InputError(f"backtest.weights {rule!r} is unknown (use {', '.join(PICK_WEIGHTS)})")
