"""``QuboSelection``: the QUBO selection as a skfolio (scikit-learn) portfolio estimator.

This module imports skfolio and scikit-learn when it is imported; ``import qubo_portfolio``
does not import it (``from qubo_portfolio.estimator import QuboSelection``).

Examples
--------
>>> from skfolio.model_selection import WalkForward, cross_val_predict
>>> from qubo_portfolio import load_prices, simple_returns
>>> from qubo_portfolio.estimator import QuboSelection
>>> X = simple_returns(load_prices("sample").prices).iloc[-504:]
>>> model = QuboSelection(k=5, xi=0.5, windows={"length": 42, "step": 21}, solver="exact")
>>> model.fit(X.iloc[:126]).selected_
['BAC', 'HD', 'MSFT', 'RRC', 'UNH']
>>> cv = WalkForward(train_size=126, test_size=21)
>>> out_of_sample = cross_val_predict(model, X, cv=cv)  # a MultiPeriodPortfolio
>>> len(out_of_sample.portfolios)
18
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import sklearn.utils.validation as skv
from skfolio.optimization._base import BaseOptimization

from .core.returns import WindowSpec, check_returns
from .errors import InputError
from .workflows.selector import select_assets
from .workflows.settings import SelectorSpec


class QuboSelection(BaseOptimization):
    """Equal weights ``1/K'`` on the K' assets that minimize the averaged QUBO.

    ``fit(X)`` builds ``A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m))`` over M windows of the
    returns ``X`` (the last ``lookback`` rows), solves ``min x^T A x  s.t.  sum x = K'`` with
    ``solver`` and holds the best feasible read in equal weights: ``w_i = 1/K'`` if selected,
    else 0. The CLI backtest decides through the same function
    (:func:`qubo_portfolio.workflows.selector.select_assets`), so both pick the same assets from the
    same returns.

    Parameters
    ----------
    k : int, default=10
        K', the number of assets held.
    xi : float, default=0.0
        Return weight; large xi favours return.
    windows : dict, optional
        ``{"length": L, "step": s | "count": M, "unit": "trading_days" | "calendar_days"}``
        (calendar days need a DatetimeIndex); ``None``: one window of every row.
    lookback : int, optional
        Use only the last ``lookback`` rows (days with calendar windows) of ``X``.
    return_term : {"linear", "squared"}, default="linear"
        ``P^(m) = diag(mu^(m))`` or ``mu^(m) mu^(m)^T``.
    solver : str, default="swap"
        A solver name (``qubo-portfolio solvers``).
    num_reads : int, default=20
    seed : int or None, default=0
        The solver's seed: the same data and seed give the same selection.
    penalty_scale : float, default=1.0
        lambda = ``penalty_scale`` times the single-flip bound lambda* (penalty solvers).
    solver_params : dict, optional
        Passed to the sampler (e.g. ``{"timeout": 20}`` for ``tabu``).
    positions : {"long_only", "long_short"}, default="long_only"
        Long/short picks K' legs among the 2K (``long:<t>``, ``short:<t>``), never both
        sides of a stock, and weighs them ``+1/K'`` (long) or ``-1/K'`` (short).
    exclusion_scale : float, default=1.0
        Long/short: gamma = ``exclusion_scale`` times the bound gamma* (penalty solvers).
    covariance, expected_returns : str, default="empirical"
        The moment estimators of each window (``model.covariance``, ``model.expected_returns``).
    estimator_params : dict, optional
        ``{"covariance": {...}, "expected_returns": {...}}`` passed to those estimators.
    portfolio_params : dict, optional
        Passed to the ``Portfolio`` that ``predict`` returns (skfolio).

    Attributes
    ----------
    weights_ : ndarray of shape (n_assets,)
        ``1/K'`` on the selected assets (``-1/K'`` on those held short), 0 elsewhere.
    selected_ : list of str
        The selected assets (column names of ``X``; ``x0, x1, ...`` for arrays).
    qubo_ : PortfolioQubo
        The model that was solved.
    sampleset_ : dimod.SampleSet
        Every read the solver returned.
    objective_ : float
        ``x^T A x`` of the selection.
    """

    def __init__(
        self,
        k: int = 10,
        xi: float = 0.0,
        windows: Mapping[str, Any] | None = None,
        lookback: int | None = None,
        return_term: str = "linear",
        solver: str = "swap",
        num_reads: int = 20,
        seed: int | None = 0,
        penalty_scale: float = 1.0,
        solver_params: Mapping[str, Any] | None = None,
        portfolio_params: dict | None = None,
        positions: str = "long_only",
        exclusion_scale: float = 1.0,
        covariance: str = "empirical",
        expected_returns: str = "empirical",
        estimator_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(portfolio_params=portfolio_params)
        self.k = k
        self.xi = xi
        self.windows = windows
        self.lookback = lookback
        self.return_term = return_term
        self.solver = solver
        self.num_reads = num_reads
        self.seed = seed
        self.penalty_scale = penalty_scale
        self.solver_params = solver_params
        self.positions = positions
        self.exclusion_scale = exclusion_scale
        self.covariance = covariance
        self.expected_returns = expected_returns
        self.estimator_params = estimator_params

    def fit(self, X: Any, y: None = None, **fit_params: Any) -> QuboSelection:
        """Select K' assets from the returns ``X``.

        Parameters
        ----------
        X : array-like of shape (n_observations, n_assets)
            Daily simple returns, oldest first; a DataFrame keeps its tickers and dates
            (its rows must be strictly oldest first, else :class:`InputError`).
        y : Ignored

        Returns
        -------
        self : QuboSelection
        """
        skv.validate_data(self, X, skip_check_array=True)
        windows = WindowSpec.from_any(self.windows)
        returns = _as_returns(X, dated=windows.unit == "calendar_days")
        spec = SelectorSpec(
            k=self.k,
            xi=self.xi,
            windows=windows,
            return_term=self.return_term,
            lookback=self.lookback,
            solver=self.solver,
            num_reads=self.num_reads,
            seed=self.seed,
            penalty_scale=self.penalty_scale,
            params=dict(self.solver_params or {}),
            positions=self.positions,
            exclusion_scale=self.exclusion_scale,
            covariance=self.covariance,
            expected_returns=self.expected_returns,
            estimator_params=dict(self.estimator_params or {}),
        )
        choice = select_assets(returns, spec)
        weights = choice.decoded.best.weights  # signed: -1/K' on short legs
        self.selected_ = list(choice.tickers)
        self.weights_ = np.array([float(weights.get(t, 0.0)) for t in returns.columns])
        self.qubo_ = choice.qubo
        self.sampleset_ = choice.sampleset
        self.objective_ = choice.decoded.best.objective
        return self


def _as_returns(X: Any, dated: bool = False) -> pd.DataFrame:
    """``X`` as a DataFrame with string columns and a DatetimeIndex.

    A DataFrame must pass :func:`~qubo_portfolio.core.returns.check_returns` (rows oldest
    first, one numeric column per ticker). Without dates (an array, or ``dated=False`` and
    no DatetimeIndex) the rows get business days as placeholders: trading-day windows only
    count rows. ``dated=True`` (calendar-day windows) requires a DatetimeIndex.
    """
    if isinstance(X, pd.DataFrame):
        check_returns(X, "X")
        frame = X.copy()
    else:
        values = np.asarray(X)
        if values.ndim != 2:
            raise InputError(
                f"X must be 2-dimensional (rows = dates, columns = assets), not {values.ndim}-"
                "dimensional (one asset's Series: X.to_frame())"
            )
        if values.dtype.kind not in "iuf":
            raise InputError(f"X must hold numbers, got {values.dtype} values")
        frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
    frame.columns = [str(c) for c in frame.columns]
    if not isinstance(frame.index, pd.DatetimeIndex):
        if dated:
            raise InputError(
                "calendar-day windows need returns with a DatetimeIndex (pass a DataFrame "
                "indexed by date, or use trading_days)"
            )
        frame.index = pd.bdate_range("2000-01-03", periods=len(frame), name="date")
    return frame
