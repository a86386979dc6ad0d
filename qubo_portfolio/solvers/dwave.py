"""Simulated annealing and tabu search from dwave-samplers, on the penalty BQM.

``sa`` is the engine behind dwave-neal (``neal.SimulatedAnnealingSampler`` is now a shim that
re-exports it), so ``neal`` is an alias. Sampler parameters pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import dimod

from ..model import PortfolioQubo

SA_PARAMETERS = {
    "num_sweeps": "sweeps per read (dwave-samplers default 1000)",
    "beta_range": "[hot, cold] inverse temperatures (default: dwave-samplers' from the BQM)",
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
    from ..errors import InputError

    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown solver.params for {solver}: {', '.join(unknown)} "
            f"(allowed: {', '.join(allowed)}; see `qubo-portfolio solvers`)"
        )


def run_sa(
    qubo: PortfolioQubo, *, penalty: float, num_reads: int, seed: int | None, **params: Any
) -> dimod.SampleSet:
    """dwave-samplers ``SimulatedAnnealingSampler`` on ``qubo.to_bqm(penalty)``."""
    from dwave.samplers import SimulatedAnnealingSampler

    _check_params(params, SA_PARAMETERS, "sa")
    bqm = qubo.to_bqm(penalty=penalty)
    return SimulatedAnnealingSampler().sample(bqm, num_reads=num_reads, seed=seed, **params)


def run_tabu(
    qubo: PortfolioQubo, *, penalty: float, num_reads: int, seed: int | None, **params: Any
) -> dimod.SampleSet:
    """dwave-samplers ``TabuSampler`` on ``qubo.to_bqm(penalty)``."""
    from dwave.samplers import TabuSampler

    _check_params(params, TABU_PARAMETERS, "tabu")
    bqm = qubo.to_bqm(penalty=penalty)
    return TabuSampler().sample(bqm, num_reads=num_reads, seed=seed, **params)
