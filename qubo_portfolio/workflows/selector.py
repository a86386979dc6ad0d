"""One selection decision: daily returns up to a date -> the K' tickers to hold.

:func:`select_assets` builds the QUBO of ``returns`` and solves it as a
:class:`~qubo_portfolio.workflows.settings.SelectorSpec` says, and decodes the best feasible read
(:func:`~qubo_portfolio.core.decode.decode`). The spec holds everything but the returns, so that a walk-forward backtest ships one small spec to every worker and one returns
slice per rebalance date. The backtest (:mod:`qubo_portfolio.workflows.backtest`) and the scikit-learn
estimator (:class:`qubo_portfolio.estimator.QuboSelection`) both decide through here, so they
pick the same assets from the same returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import pandas as pd

from ..core.decode import Decoded, decode
from ..core.model import PortfolioQubo
from .settings import SelectorSpec

__all__ = ["Choice", "SelectorSpec", "select_assets"]


@dataclass(frozen=True)
class Choice:
    """What one decision produced: the model, the raw samples, the decoded portfolios."""

    qubo: PortfolioQubo
    sampleset: dimod.SampleSet
    decoded: Decoded

    @property
    def tickers(self) -> list[str]:
        """The selected tickers (the best feasible read), in the model's ticker order."""
        return list(self.decoded.best.tickers)


def select_assets(returns: pd.DataFrame, spec: SelectorSpec) -> Choice:
    """Build, solve and decode the QUBO of ``returns``: the K' assets to hold next.

    Parameters
    ----------
    returns : DataFrame
        Simple daily returns (DatetimeIndex, one column per candidate ticker, no missing
        values), ending at the decision date: nothing later may be in it.
    spec : SelectorSpec

    Returns
    -------
    Choice
        ``choice.tickers`` are the selected assets, held in equal weights ``1 / K'``.
    """
    qubo = spec.build(returns)
    sampleset = spec.solve(qubo)
    return Choice(qubo, sampleset, decode(sampleset, qubo))
