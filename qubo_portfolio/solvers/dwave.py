"""Simulated annealing and tabu search from dwave-samplers, on the penalty BQM.

``sa`` is the engine behind dwave-neal (``neal.SimulatedAnnealingSampler`` is now a shim that
re-exports it), so ``neal`` is an alias. The two samplers here are thin subclasses of
dwave-samplers' own: they add the table of the parameters a config may set
(``parameter_help``) and their checks (``check_parameters``); the annealer also computes its
default ``beta_range`` from the objective ``x^T A x`` (:func:`objective_beta_range`) when it
is given the objective matrix and ``k``. Everything else passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dimod
import numpy as np
from dwave import samplers

from ..errors import InputError

__all__ = [
    "SimulatedAnnealingSampler",
    "TabuSampler",
    "objective_beta_range",
    "objective_flip_deltas",
]


def _bad(solver: str, name: str, value: Any, expected: str) -> InputError:
    return InputError(f"solver.params.{name} = {value!r} for {solver}: expected {expected}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


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


class SimulatedAnnealingSampler(samplers.SimulatedAnnealingSampler):
    """dwave-samplers simulated annealing with a default ``beta_range`` from ``x^T A x``.

    Given ``objective`` (the matrix ``A`` of the objective in ``bqm.variables`` order) and
    ``k``, ``beta_range`` defaults to ``"objective"``: :func:`objective_beta_range`, from
    the single-flip deltas ``|2 s h_i + A_ii|`` of ``x^T A x`` at random K'-subsets.
    ``"dwave"`` (the default without ``objective``) is dwave-samplers' own range, computed
    from the BQM, whose coefficients a penalty dominates. ``exclusive_pairs`` given: the
    variables are ``[long legs, short legs]`` of a long/short model and the random states
    are valid portfolios. Other parameters are dwave-samplers' (``num_reads``, ``seed``,
    ``num_sweeps``, ...).

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers.dwave import SimulatedAnnealingSampler
    >>> bqm = dimod.BQM({"a": 1.0, "b": -1.0}, {("a", "b"): 0.5}, 0.0, "BINARY")
    >>> best = SimulatedAnnealingSampler().sample(bqm, num_reads=2, seed=1).first
    >>> {v: int(x) for v, x in best.sample.items()}, float(best.energy)
    ({'a': 0, 'b': 1}, -1.0)
    """

    parameter_help: Mapping[str, str] = {
        "num_sweeps": "sweeps per read (dwave-samplers default 1000)",
        "beta_range": "[hot, cold], 'objective' (default: from x^T A x's flip deltas) or 'dwave'",
        "beta_schedule_type": "linear | geometric (default geometric)",
        "num_sweeps_per_beta": "sweeps at each beta (default 1)",
        "randomize_order": "visit variables in random order (default false)",
        "proposal_acceptance_criteria": "Metropolis | Gibbs (default Metropolis)",
    }
    """What ``qubo-portfolio solvers`` lists: the parameters a config may set."""

    def __init__(self) -> None:
        super().__init__()
        self.parameters.update(k=[], objective=[], exclusive_pairs=[])

    @classmethod
    def check_parameters(cls, params: Mapping[str, Any], solver: str = "sa") -> None:
        """Types and ranges of ``sa``'s parameters, so that a typo is one clear line."""
        per_beta = params.get("num_sweeps_per_beta", 1)
        if not _is_int(per_beta) or per_beta < 1:
            raise _bad(solver, "num_sweeps_per_beta", per_beta, "a whole number >= 1")
        sweeps = params.get("num_sweeps", 1000)
        if not _is_int(sweeps) or sweeps < 0 or sweeps % per_beta:
            raise _bad(solver, "num_sweeps", sweeps, f"a whole number >= 0 divisible by {per_beta}")
        beta = params.get("beta_range", "objective")
        if isinstance(beta, str):
            if beta not in ("objective", "dwave"):
                raise _bad(solver, "beta_range", beta, "objective, dwave or [hot, cold]")
        elif not (
            isinstance(beta, list | tuple)
            and len(beta) == 2
            and all(_is_number(b) and b > 0 for b in beta)
            and beta[0] <= beta[1]
        ):
            raise _bad(solver, "beta_range", beta, "[hot, cold] with 0 < hot <= cold")
        options = {
            "beta_schedule_type": ("linear", "geometric"),
            "proposal_acceptance_criteria": ("Metropolis", "Gibbs"),
        }
        for name, allowed in options.items():
            if name in params and params[name] not in allowed:
                raise _bad(solver, name, params[name], " or ".join(allowed))
        if "randomize_order" in params and not isinstance(params["randomize_order"], bool):
            raise _bad(solver, "randomize_order", params["randomize_order"], "true or false")

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        beta_range: Any = None,
        k: int | None = None,
        objective: np.ndarray | None = None,
        exclusive_pairs: Iterable | None = None,
        **parameters: Any,
    ) -> dimod.SampleSet:
        """dwave-samplers' ``sample`` with ``beta_range`` resolved first.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            The (penalty) model.
        beta_range : [hot, cold], "objective" or "dwave", optional
            Default ``"objective"`` when ``objective`` is given, else ``"dwave"``.
        k : int, optional
            Number of selected variables of the states :func:`objective_beta_range` draws.
        objective : ndarray, optional
            ``A`` of the objective ``x^T A x`` (``bqm.variables`` order).
        exclusive_pairs : iterable of pairs, optional
            Marks a long/short model (``[long legs, short legs]``); only the calibration
            reads it, the penalty BQM carries the exclusion itself.
        **parameters
            dwave-samplers' parameters.
        """
        if beta_range is None:
            beta_range = "objective" if objective is not None else "dwave"
        if isinstance(beta_range, str):
            if beta_range == "objective":
                if objective is None or k is None:
                    raise InputError("beta_range 'objective' needs objective (A) and k")
                long_short = exclusive_pairs is not None
                beta_range = objective_beta_range(objective, k, long_short=long_short)
            elif beta_range == "dwave":
                beta_range = None
            else:
                raise _bad("sa", "beta_range", beta_range, "objective, dwave or [hot, cold]")
        if beta_range is not None:
            parameters["beta_range"] = beta_range
        return super().sample(bqm, **parameters)


class TabuSampler(samplers.TabuSampler):
    """dwave-samplers tabu search, with the table and checks of its config parameters.

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers.dwave import TabuSampler
    >>> bqm = dimod.BQM({"a": 1.0, "b": -1.0}, {("a", "b"): 0.5}, 0.0, "BINARY")
    >>> best = TabuSampler().sample(bqm, num_reads=1, seed=1, timeout=5).first
    >>> {v: int(x) for v, x in best.sample.items()}
    {'a': 0, 'b': 1}
    """

    parameter_help: Mapping[str, str] = {
        "timeout": "milliseconds per read (default 20)",
        "tenure": "tabu tenure (default min(20, K/4))",
        "num_restarts": "restarts per read (default 1e6, bounded by timeout)",
    }
    """What ``qubo-portfolio solvers`` lists: the parameters a config may set."""

    @classmethod
    def check_parameters(cls, params: Mapping[str, Any], solver: str = "tabu") -> None:
        """Types and ranges of ``tabu``'s parameters (a non-positive timeout would hang)."""
        if "timeout" in params and not (_is_number(params["timeout"]) and params["timeout"] > 0):
            raise _bad(solver, "timeout", params["timeout"], "milliseconds > 0")
        for name in ("tenure", "num_restarts"):
            if name in params and not (_is_int(params[name]) and params[name] >= 0):
                raise _bad(solver, name, params[name], "a whole number >= 0")
