"""Portfolio measures, computed with skfolio's ``Portfolio``.

Weights are held constant (rebalanced daily) over the returns given. Annualization uses
``frequency`` (252 trading days); the risk-free rate ``rf`` is annual and enters per day as
``rf / frequency``:

- ``annualized_mean = 252 * mean(R)``
- ``annualized_volatility = sqrt(252) * std(R)`` (ddof=1)
- ``sharpe = (annualized_mean - rf) / annualized_volatility``
- ``sortino = (annualized_mean - rf) / (sqrt(252) * downside deviation)``, the downside
  deviation of R below the daily risk-free rate, ``sqrt(sum min(R - rf/252, 0)^2 / (n - 1))``
- ``max_drawdown``: the largest fall of compounded wealth from its running peak (a fraction)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

TRADING_DAYS = 252
MEASURES = ("annualized_mean", "annualized_volatility", "sharpe", "sortino", "max_drawdown")


def equal_weights(tickers: Iterable[str]) -> pd.Series:
    """``1 / n`` for each of the n tickers."""
    tickers = list(tickers)
    weights = pd.Series(1.0 / len(tickers), index=tickers, name="weight", dtype=float)
    weights.index.name = "ticker"
    return weights


def portfolio_returns(returns: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Daily returns ``R_t = sum_i w_i r_t,i`` of constant weights (missing weights are 0)."""
    w = weights.reindex(returns.columns).fillna(0.0).to_numpy()
    return pd.Series(returns.to_numpy() @ w, index=returns.index, name="portfolio")


def portfolio_measures(
    returns: pd.DataFrame,
    weights: pd.Series,
    risk_free_rate: float = 0.0,
    frequency: int = TRADING_DAYS,
) -> dict[str, float]:
    """The five measures of ``MEASURES`` for constant ``weights`` over daily ``returns``."""
    from skfolio import Portfolio

    w = weights.reindex(returns.columns).fillna(0.0).to_numpy()
    daily_rf = risk_free_rate / frequency
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        p = Portfolio(
            X=returns,
            weights=w,
            risk_free_rate=daily_rf,
            annualization_factor=frequency,
            min_acceptable_return=daily_rf,
            compounded=True,
        )
        values = {
            "annualized_mean": p.annualized_mean,
            "annualized_volatility": p.annualized_standard_deviation,
            "sharpe": p.annualized_sharpe_ratio,
            "sortino": p.annualized_sortino_ratio,
            "max_drawdown": p.max_drawdown,
        }
    return {name: float(np.asarray(v)) for name, v in values.items()}
