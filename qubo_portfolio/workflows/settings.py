"""The one translation from config sections to objects: prices, a model, a solver call.

Every workflow (run, sweep, backtest, frontier, bench) and the scikit-learn estimator go
through here, so a config key means the same thing everywhere:

- :func:`load_data`: the ``data`` section -> :class:`~qubo_portfolio.core.data.PriceData`;
  :func:`load_for_model`: the same, cut to the rows the ``model`` uses (its lookback), the
  assets judged complete or not on those rows only;
- :class:`SelectorSpec`: the ``model`` and ``solver`` sections as one small frozen value
  (``SelectorSpec.from_config(cfg)``); :meth:`SelectorSpec.build` makes the
  :class:`~qubo_portfolio.core.model.PortfolioQubo` of a returns table and
  :meth:`SelectorSpec.solve` runs the solver on it with the configured penalties. It is small
  and picklable, so a walk-forward backtest ships one spec to every worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import dimod
import pandas as pd

from ..core.data import PriceData, load_prices, restrict_to_span
from ..core.model import PortfolioQubo, Positions, ReturnTerm, build_qubo
from ..core.returns import WindowSpec, price_span_start
from .config import Config, DataConfig, ModelConfig, SolverConfig


def load_data(cfg: DataConfig, *, defer_missing: bool = False) -> PriceData:
    """Prices as the ``data`` section says (``defer_missing``: incomplete assets are kept
    for :func:`~qubo_portfolio.core.data.restrict_to_span` to judge on the rows used)."""
    return load_prices(
        cfg.source,
        path=cfg.path,
        tickers=cfg.tickers,
        start=cfg.start,
        end=cfg.end,
        max_gap=cfg.max_gap,
        missing=cfg.missing,
        synthetic=cfg.synthetic.model_dump() if cfg.synthetic is not None else None,
        defer_missing=defer_missing,
        **cfg.read_options(),
    )


def load_for_model(cfg: DataConfig, model: ModelConfig) -> PriceData:
    """Prices for one model: the rows its lookback uses (from the close before its first
    return; all rows without a lookback), the assets complete on them (``data.missing``)."""
    data = load_data(cfg, defer_missing=True)
    start = price_span_start(data.prices.index, model.lookback, model.windows.unit)
    return restrict_to_span(data, start)


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
    positions : {"long_only", "long_short"}
        Long/short doubles the variables (``long:<t>``, ``short:<t>``).
    covariance, expected_returns : str
        The moment estimators of each window (``model.covariance``,
        ``model.expected_returns``; see :mod:`qubo_portfolio.core.moments`).
    estimator_params : mapping
        ``{"covariance": {...}, "expected_returns": {...}}`` passed to the estimators.
    solver : str
        A registered solver name (``qubo-portfolio solvers``).
    num_reads, seed : int
        Reads per solve and the solver's seed.
    penalty : float or None
        Absolute lambda; ``None``: ``penalty_scale * lambda*``.
    penalty_scale : float
    exclusion : float or None
        Absolute gamma (long/short: no stock on both sides); ``None``:
        ``exclusion_scale * gamma*``.
    exclusion_scale : float
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
    positions: Positions = "long_only"
    covariance: str = "empirical"
    expected_returns: str = "empirical"
    estimator_params: Mapping[str, Any] = field(default_factory=dict)
    solver: str = "swap"
    num_reads: int = 20
    seed: int | None = 0
    penalty: float | None = None
    penalty_scale: float = 1.0
    exclusion: float | None = None
    exclusion_scale: float = 1.0
    polish: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sections(cls, model: ModelConfig, solver: SolverConfig | None = None) -> SelectorSpec:
        """The spec of a ``model`` section (and a ``solver`` section; defaults when absent)."""
        solver = solver if solver is not None else SolverConfig()
        return cls(
            k=model.k,
            xi=model.xi,
            windows=WindowSpec(**model.windows.model_dump()),
            return_term=model.return_term,
            lookback=model.lookback,
            positions=model.positions,
            covariance=model.covariance,
            expected_returns=model.expected_returns,
            estimator_params=model.estimator_params.model_dump(),
            solver=solver.name,
            num_reads=solver.num_reads,
            seed=solver.seed,
            penalty=model.penalty.value,
            penalty_scale=model.penalty.scale,
            exclusion=model.penalty.exclusion_value,
            exclusion_scale=model.penalty.exclusion_scale,
            polish=solver.polish,
            params=dict(solver.params),
        )

    @classmethod
    def from_config(cls, cfg: Config) -> SelectorSpec:
        """The spec of a config's ``model`` and ``solver`` sections."""
        return cls.from_sections(cfg.model, cfg.solver)

    def with_lookback(self, lookback: int | None) -> SelectorSpec:
        return replace(self, lookback=lookback)

    def build(self, returns: pd.DataFrame) -> PortfolioQubo:
        """The QUBO of ``returns`` (simple daily returns, no missing values)."""
        return build_qubo(
            returns,
            k=self.k,
            xi=self.xi,
            windows=self.windows,
            return_term=self.return_term,
            lookback=self.lookback,
            positions=self.positions,
            covariance=self.covariance,
            expected_returns=self.expected_returns,
            estimator_params=dict(self.estimator_params),
        )

    def solve(self, qubo: PortfolioQubo, seed: int | None = None) -> dimod.SampleSet:
        """Solve ``qubo`` with this spec's solver and penalties; ``seed`` replaces ``self.seed``
        (sweeps run one grid point under several seeds)."""
        # imported here: commands that only build models (export, data) load no solver
        from ..solvers import solve

        return solve(
            qubo,
            self.solver,
            num_reads=self.num_reads,
            seed=self.seed if seed is None else seed,
            penalty=self.penalty,
            penalty_scale=self.penalty_scale,
            exclusion=self.exclusion,
            exclusion_scale=self.exclusion_scale,
            polish=self.polish,
            **dict(self.params),
        )


def build_model(returns: pd.DataFrame, cfg: ModelConfig) -> PortfolioQubo:
    """The QUBO of the ``model`` section over ``returns``."""
    return SelectorSpec.from_sections(cfg).build(returns)


def solve_configured(
    qubo: PortfolioQubo, model: ModelConfig, solver: SolverConfig, seed: int | None = None
) -> dimod.SampleSet:
    """Solve ``qubo`` as the ``solver`` section says, with the ``model`` section's penalties.

    ``seed`` replaces ``solver.seed`` (sweeps run one grid point under several seeds).
    """
    return SelectorSpec.from_sections(model, solver).solve(qubo, seed)


def in_sample_returns(returns: pd.DataFrame, qubo: PortfolioQubo) -> pd.DataFrame:
    """The rows the model's windows cover (first window start to the last row)."""
    first = qubo.windows[0].first_date
    return returns.loc[returns.index >= first]
