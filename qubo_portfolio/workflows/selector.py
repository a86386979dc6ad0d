"""One selection decision: daily returns up to a date -> the K' tickers to hold.

:func:`select_assets` builds the QUBO of ``returns`` (:func:`~qubo_portfolio.core.model.build_qubo`),
solves it (:func:`~qubo_portfolio.solvers.solve`) and decodes the best feasible read
(:func:`~qubo_portfolio.core.decode.decode`). :class:`SelectorSpec` holds everything but the
returns, so that a walk-forward backtest ships one small spec to every worker and one returns
slice per rebalance date. The backtest (:mod:`qubo_portfolio.workflows.backtest`) and the scikit-learn
estimator (:class:`qubo_portfolio.estimator.QuboSelection`) both decide through here, so they
pick the same assets from the same returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dimod
import pandas as pd

from ..core.decode import Decoded, decode
from ..core.model import PortfolioQubo, ReturnTerm, build_qubo
from ..core.returns import WindowSpec
from ..solvers import solve


@dataclass(frozen=True)
class SelectorSpec:
    """How to turn a returns table into a selection (the model and solver settings).

    Parameters
    ----------
    k : int
        K', the number of assets held.
    xi : float
        Return weight in ``A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m))``.
    windows : WindowSpec
        The M averaging windows inside the returns given.
    return_term : {"linear", "squared"}
        ``P^(m) = diag(mu^(m))`` or ``mu^(m) mu^(m)^T``.
    lookback : int or None
        Use only the last ``lookback`` rows (days with calendar windows); ``None``: all rows.
    solver : str
        A registered solver name (``qubo-portfolio solvers``).
    num_reads, seed : int
        Reads per solve and the solver's seed (the same seed at every decision).
    penalty : float or None
        Absolute lambda; ``None``: ``penalty_scale * lambda*``.
    penalty_scale : float
    polish : bool
        Repair every read to K' assets and descend by swaps.
    params : mapping
        Passed to the sampler (``solver.params``).
    """

    k: int
    xi: float = 0.0
    windows: WindowSpec = field(default_factory=WindowSpec)
    return_term: ReturnTerm = "linear"
    lookback: int | None = None
    solver: str = "swap"
    num_reads: int = 20
    seed: int | None = 0
    penalty: float | None = None
    penalty_scale: float = 1.0
    polish: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


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
    qubo = build_qubo(
        returns,
        k=spec.k,
        xi=spec.xi,
        windows=spec.windows,
        return_term=spec.return_term,
        lookback=spec.lookback,
    )
    sampleset = solve(
        qubo,
        spec.solver,
        num_reads=spec.num_reads,
        seed=spec.seed,
        penalty=spec.penalty,
        penalty_scale=spec.penalty_scale,
        polish=spec.polish,
        **dict(spec.params),
    )
    return Choice(qubo, sampleset, decode(sampleset, qubo))
