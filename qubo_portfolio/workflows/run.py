"""One experiment, end to end: config -> prices -> returns -> QUBO -> samples -> portfolio.

:func:`run_experiment` does the work and returns a :class:`RunResult`; writing files is
:mod:`qubo_portfolio.output.run`'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dimod
import pandas as pd

from ..classical.network import diversification
from ..core.data import PriceData
from ..core.decode import Decoded, decode
from ..core.metrics import equal_weights, portfolio_measures
from ..core.model import PortfolioQubo
from ..core.returns import simple_returns
from ..solvers.certify import certify
from .config import Config
from .settings import SelectorSpec, in_sample_returns, load_for_model


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
    certificate: dict | None = None  # solver.certify: see qubo_portfolio.solvers.certify


def run_experiment(cfg: Config) -> RunResult:
    """Run one config: load, build, solve, decode, measure."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = load_for_model(cfg.data, cfg.model)
    returns = simple_returns(data.prices)
    timings["load_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    spec = SelectorSpec.from_config(cfg)
    qubo = spec.build(returns)
    _ = qubo.A
    timings["build_seconds"] = time.perf_counter() - start

    sampleset = spec.solve(qubo)
    timings.update(sampleset.info["timing"])
    decoded = decode(sampleset, qubo)

    start = time.perf_counter()
    used = in_sample_returns(returns, qubo)
    rf = cfg.report.risk_free_rate
    metrics = portfolio_measures(used, decoded.best.weights, rf)
    benchmark = portfolio_measures(used, equal_weights(qubo.tickers), rf)
    timings["metrics_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    spread = diversification(used, decoded.best.tickers)
    timings["network_seconds"] = time.perf_counter() - start
    certificate = None
    if cfg.solver.certify:
        certificate = certify(
            qubo,
            decoded.best.legs,
            time_limit=cfg.solver.certify_time_limit,
            seed=cfg.solver.seed or 0,
        )
        timings["certify_seconds"] = certificate["bound_seconds"]
    return RunResult(
        cfg, data, used, qubo, sampleset, decoded, metrics, benchmark, timings, spread, certificate
    )
