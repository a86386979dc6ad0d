"""One experiment, end to end: config -> prices -> returns -> QUBO -> samples -> portfolio.

:func:`run_experiment` does the work and returns a :class:`RunResult`; writing files is
:mod:`qubo_portfolio.output.run`'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dimod
import pandas as pd

from ..core.data import PriceData, load_prices
from ..core.decode import Decoded, decode
from ..core.metrics import equal_weights, portfolio_measures
from ..core.model import PortfolioQubo, build_qubo
from ..core.returns import WindowSpec, simple_returns
from ..solvers import solve
from .config import Config, DataConfig, ModelConfig, SolverConfig


@dataclass
class RunResult:
    """Everything one run produced (in memory)."""

    config: Config
    data: PriceData
    returns: pd.DataFrame  # the in-sample returns the model used (after lookback)
    qubo: PortfolioQubo
    sampleset: dimod.SampleSet
    decoded: Decoded
    metrics: dict[str, float]
    benchmark: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)
    diversification: dict | None = None  # see qubo_portfolio.classical.network.diversification


def load_data(cfg: DataConfig) -> PriceData:
    """Prices as the ``data`` section says."""
    return load_prices(
        cfg.source,
        path=cfg.path,
        tickers=cfg.tickers,
        start=cfg.start,
        end=cfg.end,
        max_gap=cfg.max_gap,
        missing=cfg.missing,
        synthetic=cfg.synthetic.model_dump() if cfg.synthetic is not None else None,
        **cfg.read_options(),
    )


def solve_configured(
    qubo: PortfolioQubo, model: ModelConfig, solver: SolverConfig, seed: int | None = None
) -> dimod.SampleSet:
    """Solve ``qubo`` as the ``solver`` section says, with the ``model`` section's penalties.

    ``seed`` replaces ``solver.seed`` (sweeps run one grid point under several seeds).
    """
    return solve(
        qubo,
        solver.name,
        num_reads=solver.num_reads,
        seed=solver.seed if seed is None else seed,
        penalty=model.penalty.value,
        penalty_scale=model.penalty.scale,
        exclusion=model.penalty.exclusion_value,
        exclusion_scale=model.penalty.exclusion_scale,
        polish=solver.polish,
        **solver.params,
    )


def window_spec(cfg: ModelConfig) -> WindowSpec:
    return WindowSpec(**cfg.windows.model_dump())


def build_model(returns: pd.DataFrame, cfg: ModelConfig) -> PortfolioQubo:
    """The QUBO of the ``model`` section over ``returns``."""
    return build_qubo(
        returns,
        k=cfg.k,
        xi=cfg.xi,
        windows=window_spec(cfg),
        return_term=cfg.return_term,
        lookback=cfg.lookback,
        positions=cfg.positions,
    )


def in_sample_returns(returns: pd.DataFrame, qubo: PortfolioQubo) -> pd.DataFrame:
    """The rows the model's windows cover (first window start to the last row)."""
    first = qubo.windows[0].first_date
    return returns.loc[returns.index >= first]


def run_experiment(cfg: Config) -> RunResult:
    """Run one config: load, build, solve, decode, measure."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = load_data(cfg.data)
    returns = simple_returns(data.prices)
    timings["load_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    qubo = build_model(returns, cfg.model)
    _ = qubo.A
    timings["build_seconds"] = time.perf_counter() - start

    sampleset = solve_configured(qubo, cfg.model, cfg.solver)
    timings.update(sampleset.info["timing"])
    decoded = decode(sampleset, qubo)

    start = time.perf_counter()
    used = in_sample_returns(returns, qubo)
    rf = cfg.report.risk_free_rate
    metrics = portfolio_measures(used, decoded.best.weights, rf)
    benchmark = portfolio_measures(used, equal_weights(qubo.tickers), rf)
    timings["metrics_seconds"] = time.perf_counter() - start

    from ..classical.network import diversification

    start = time.perf_counter()
    spread = diversification(used, decoded.best.tickers)
    timings["network_seconds"] = time.perf_counter() - start
    return RunResult(cfg, data, used, qubo, sampleset, decoded, metrics, benchmark, timings, spread)
