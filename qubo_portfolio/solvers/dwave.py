"""Simulated annealing and tabu search from dwave-samplers, on the penalty BQM.

``sa`` is the engine behind dwave-neal (``neal.SimulatedAnnealingSampler`` is now a shim that
re-exports it), so ``neal`` is an alias. Sampler parameters pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import dimod
import numpy as np

from ..core.model import PortfolioQubo
from ..errors import InputError

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


def _bad(solver: str, name: str, value: Any, expected: str) -> InputError:
    return InputError(f"solver.params.{name} = {value!r} for {solver}: expected {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def check_sa_params(params: dict[str, Any]) -> None:
    """Types and ranges of ``sa``'s parameters, so that a typo is one clear line."""
    _check_params(params, SA_PARAMETERS, "sa")
    per_beta = params.get("num_sweeps_per_beta", 1)
    if not _is_int(per_beta) or per_beta < 1:
        raise _bad("sa", "num_sweeps_per_beta", per_beta, "a whole number >= 1")
    sweeps = params.get("num_sweeps", 1000)
    if not _is_int(sweeps) or sweeps < 0 or sweeps % per_beta:
        raise _bad("sa", "num_sweeps", sweeps, f"a whole number >= 0 divisible by {per_beta}")
    beta = params.get("beta_range", "objective")
    if isinstance(beta, str):
        if beta not in ("objective", "dwave"):
            raise _bad("sa", "beta_range", beta, "objective, dwave or [hot, cold]")
    elif not (
        isinstance(beta, list | tuple)
        and len(beta) == 2
        and all(_is_number(b) and b > 0 for b in beta)
        and beta[0] <= beta[1]
    ):
        raise _bad("sa", "beta_range", beta, "[hot, cold] with 0 < hot <= cold")
    options = {
        "beta_schedule_type": ("linear", "geometric"),
        "proposal_acceptance_criteria": ("Metropolis", "Gibbs"),
    }
    for name, allowed in options.items():
        if name in params and params[name] not in allowed:
            raise _bad("sa", name, params[name], " or ".join(allowed))
    if "randomize_order" in params and not isinstance(params["randomize_order"], bool):
        raise _bad("sa", "randomize_order", params["randomize_order"], "true or false")


def check_tabu_params(params: dict[str, Any]) -> None:
    """Types and ranges of ``tabu``'s parameters (a non-positive timeout would hang)."""
    _check_params(params, TABU_PARAMETERS, "tabu")
    if "timeout" in params and not (_is_number(params["timeout"]) and params["timeout"] > 0):
        raise _bad("tabu", "timeout", params["timeout"], "milliseconds > 0")
    for name in ("tenure", "num_restarts"):
        if name in params and not (_is_int(params[name]) and params[name] >= 0):
            raise _bad("tabu", name, params[name], "a whole number >= 0")


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

    beta_range = params.pop("beta_range", "objective")
    if isinstance(beta_range, str):
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

    bqm = qubo.to_bqm(penalty=penalty, exclusion=exclusion)
    return TabuSampler().sample(bqm, num_reads=num_reads, seed=seed, **params)
