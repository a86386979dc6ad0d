"""Simulated annealing and tabu search from dwave-samplers, on the penalty BQM.

``sa`` is the engine behind dwave-neal (``neal.SimulatedAnnealingSampler`` is now a shim that
re-exports it), so ``neal`` is an alias. Sampler parameters pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import dimod
import numpy as np

from ..errors import InputError
from ..model import PortfolioQubo

SA_PARAMETERS = {
    "num_sweeps": "sweeps per read (dwave-samplers default 1000)",
    "beta_range": "[hot, cold], 'objective' (default: from x^T A x's flip deltas) or 'dwave'",
    "beta_schedule_type": "linear | geometric (default geometric)",
    "num_sweeps_per_beta": "sweeps at each beta (default 1)",
    "randomize_order": "visit variables in random order (default false)",
    "proposal_acceptance_criteria": "Metropolis | Gibbs (default Metropolis)",
}

TABU_PARAMETERS = {
    "timeout": "milliseconds per read (default 20)",
    "tenure": "tabu tenure (default min(20, K/4))",
    "num_restarts": "restarts per read (default 1e6, bounded by timeout)",
}


def _check_params(params: dict[str, Any], allowed: dict[str, str], solver: str) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown solver.params for {solver}: {', '.join(unknown)} "
            f"(allowed: {', '.join(allowed)}; see `qubo-portfolio solvers`)"
        )


def objective_flip_deltas(
    a: np.ndarray, k: int, states: int = 200, seed: int = 0, long_short: bool = False
) -> np.ndarray:
    """``|Delta_i|`` of single flips of ``x^T A x`` at random K'-subsets (nonzero ones).

    Flipping bit i (``s = 1 - 2 x_i``) changes ``x^T A x`` by ``2 s h_i + A_ii`` with
    ``h = A x``; the penalty terms are left out on purpose. ``long_short``: ``a`` is over
    ``[long legs, short legs]`` and the states are valid portfolios (K' random stocks, each
    on a random side).
    """
    rng = np.random.default_rng(seed)
    n = len(a)
    x = np.zeros((states, n))
    if long_short:
        stocks = n // 2
        picks = np.argsort(rng.random((states, stocks)), axis=1)[:, :k]
        picks = picks + stocks * rng.integers(0, 2, size=picks.shape)
    else:
        picks = np.argsort(rng.random((states, n)), axis=1)[:, :k]
    np.put_along_axis(x, picks, 1.0, axis=1)
    deltas = np.abs(2 * (1 - 2 * x) * (x @ a) + np.diag(a))
    return deltas[deltas > 0]


def objective_beta_range(
    a: np.ndarray, k: int, seed: int = 0, long_short: bool = False
) -> list[float]:
    """``[ln 2 / median |Delta|, ln 100 / q01 |Delta|]`` from :func:`objective_flip_deltas`.

    The hot end accepts a typical uphill flip of the objective with probability 1/2, the
    cold end a flip at the 1% quantile with probability 1/100. dwave-samplers' own default
    is computed from the penalty BQM, whose coefficients are dominated by lambda: its cold
    end is then hotter than most objective differences.
    """
    deltas = objective_flip_deltas(a, k, seed=seed, long_short=long_short)
    if deltas.size == 0:
        return [0.1, 1.0]
    hot = np.log(2) / np.median(deltas)
    cold = np.log(100) / np.quantile(deltas, 0.01)
    return [float(hot), float(max(cold, hot))]


def run_sa(
    qubo: PortfolioQubo,
    *,
    penalty: float,
    num_reads: int,
    seed: int | None,
    exclusion: float | None = None,
    **params: Any,
) -> dimod.SampleSet:
    """dwave-samplers ``SimulatedAnnealingSampler`` on ``qubo.to_bqm(penalty, exclusion=...)``.

    ``beta_range`` defaults to :func:`objective_beta_range` (``"objective"``); ``"dwave"``
    selects dwave-samplers' default, computed from the penalty BQM.
    """
    from dwave.samplers import SimulatedAnnealingSampler

    _check_params(params, SA_PARAMETERS, "sa")
    beta_range = params.pop("beta_range", "objective")
    if isinstance(beta_range, str):
        if beta_range not in ("objective", "dwave"):
            raise InputError(f"sa beta_range = {beta_range!r}: use objective, dwave or [hot, cold]")
        if beta_range == "objective":
            params["beta_range"] = objective_beta_range(qubo.A, qubo.k, long_short=qubo.long_short)
    else:
        params["beta_range"] = beta_range
    bqm = qubo.to_bqm(penalty=penalty, exclusion=exclusion)
    return SimulatedAnnealingSampler().sample(bqm, num_reads=num_reads, seed=seed, **params)


def run_tabu(
    qubo: PortfolioQubo,
    *,
    penalty: float,
    num_reads: int,
    seed: int | None,
    exclusion: float | None = None,
    **params: Any,
) -> dimod.SampleSet:
    """dwave-samplers ``TabuSampler`` on ``qubo.to_bqm(penalty, exclusion=...)``."""
    from dwave.samplers import TabuSampler

    _check_params(params, TABU_PARAMETERS, "tabu")
    bqm = qubo.to_bqm(penalty=penalty, exclusion=exclusion)
    return TabuSampler().sample(bqm, num_reads=num_reads, seed=seed, **params)
