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
from ..core.quality import enumeration_size, solution_quality
from ..core.returns import simple_returns
from ..solvers.certify import certify, exact_optimum
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
    quality: dict | None = None  # see qubo_portfolio.core.quality.solution_quality
    # and, with solver.certify, qubo_portfolio.solvers.certify.certify


EXACT_WORK = 1e7
"""Enumerate for ``quality`` when portfolios x K'(K'+1)/2 (the pair terms summed) is at most
this. Measured with ``solvers.exact`` on a 2-core VM: C(20, 10) = 184756 subsets (1.0e7 terms)
in 0.42 s, C(30, 5) (2.1e6) in 0.08 s, long/short C(20, 5) 2^5 (7.4e6) in 0.12 s, while
C(25, 8) (3.9e7) takes 2.7 s."""


def exact_objective(qubo: PortfolioQubo, max_work: float | None = None) -> float | None:
    """The exact ``min x^T A x`` over the feasible portfolios, or None when enumerating them
    would take longer than a fraction of a second (see :data:`EXACT_WORK`)."""
    max_work = EXACT_WORK if max_work is None else max_work
    k = qubo.k
    count = enumeration_size(qubo.num_assets, k, qubo.long_short)
    if count * k * (k + 1) / 2 > max_work:
        return None
    return exact_optimum(qubo)


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

    start = time.perf_counter()
    quality = solution_quality(decoded.samples, exact_objective(qubo))
    timings["quality_seconds"] = time.perf_counter() - start
    info = sampleset.info
    if "lower_bound" in info and not cfg.solver.certify:  # exact beyond enumeration
        quality.update(
            lower_bound=info["lower_bound"],
            certified_gap=info["certified_gap"],
            proven_optimal=info["proven_optimal"],
            bound_method="branch_and_bound (the exact solver)",
            bound_seconds=info["seconds"],
        )
    if cfg.solver.certify:  # a valid lower bound and the certified gap of the answer
        certificate = certify(
            qubo,
            decoded.best.legs,
            time_limit=cfg.solver.certify_time_limit,
            seed=cfg.solver.seed or 0,
            optimum=quality["exact_objective"],  # enumerated already: not again
        )
        quality.update(
            {
                key: certificate[key]
                for key in (
                    "lower_bound",
                    "certified_gap",
                    "proven_optimal",
                    "bound_method",
                    "bound_seconds",
                )
            }
        )
        timings["certify_seconds"] = certificate["bound_seconds"]
        timings["certify_compile_seconds"] = certificate["compile_seconds"]
    return RunResult(
        cfg, data, used, qubo, sampleset, decoded, metrics, benchmark, timings, spread, quality
    )
