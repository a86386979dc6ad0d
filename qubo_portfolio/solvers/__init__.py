"""Solvers by name. Every solver takes a :class:`PortfolioQubo` and returns a dimod SampleSet.

========== ============================================================ =============
name       what                                                         uses lambda
========== ============================================================ =============
sa, neal   dwave-samplers simulated annealing on the penalty BQM         yes
tabu       dwave-samplers tabu search on the penalty BQM                 yes
swap       fixed-cardinality swap annealing on ``x^T A x``               no
exact      all C(K, K') subsets enumerated (<= 5e6)                      no
exact-bqm  dimod ExactSolver on the penalty BQM (K <= 20)                yes
========== ============================================================ =============

``solve(qubo, "sa", num_reads=20, seed=0)`` runs one; ``polish=True`` repairs every sample
to K' assets and descends by swaps (:mod:`qubo_portfolio.solvers.polish`), keeping the raw
figures beside the polished ones.

Long/short models (2K legs, :attr:`PortfolioQubo.variables`) work with every solver: the
penalty solvers get the exclusion penalty gamma as well, ``swap`` and ``polish`` never hold
both legs of a stock, ``exact`` enumerates stock subsets times sides. Samplesets are
labelled by ``qubo.variables``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dimod

from ..core.model import PortfolioQubo
from ..errors import InputError
from . import dwave, exact


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver: its name, what it does, its parameters, how to run it."""

    name: str
    summary: str
    run: Callable[..., dimod.SampleSet]
    """``run(qubo, *, penalty, exclusion, num_reads, seed, **params)``; :func:`solve` has
    checked ``params`` with :meth:`check_params` before calling it."""
    uses_penalty: bool
    parameters: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    check: Callable[[dict], None] | None = None
    """Raises :class:`InputError` for a bad ``solver.params`` value, before any work."""

    def check_params(self, params: dict) -> None:
        """Unknown names, and bad values where the solver declares a check."""
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            allowed = ", ".join(self.parameters) or "none"
            raise InputError(
                f"unknown solver.params for {self.name}: {', '.join(unknown)} "
                f"(allowed: {allowed}; see `qubo-portfolio solvers`)"
            )
        if self.check is not None:
            self.check(params)


def _check_swap_params(params: dict) -> None:
    whole = {"num_sweeps": 0, "proposals_per_sweep": 0}
    for name, low in whole.items():
        value = params.get(name, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(
                f"solver.params.{name} = {value!r} for swap: expected a whole number >= {low}"
            )
    options = {
        "proposal_type": ("best", "random"),
        "beta_schedule_type": ("geometric", "linear"),
        "descent": ("steepest", "first"),
    }
    for name, allowed in options.items():
        if name in params and params[name] not in allowed:
            raise InputError(
                f"solver.params.{name} = {params[name]!r} for swap: expected {' or '.join(allowed)}"
            )
    beta = params.get("beta_range")
    if beta is not None and not (
        isinstance(beta, list | tuple)
        and len(beta) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) and b > 0 for b in beta)
        and beta[0] <= beta[1]
    ):
        raise InputError(
            f"solver.params.beta_range = {beta!r} for swap: expected [hot, cold] with 0 < hot <= cold"
        )


def _run_swap(
    qubo: PortfolioQubo,
    *,
    penalty: float | None,
    num_reads: int,
    seed: int | None,
    exclusion: float | None = None,
    **params: Any,
) -> dimod.SampleSet:
    from .swap import SwapAnnealingSampler

    return SwapAnnealingSampler().sample_matrix(
        qubo.A,
        k=qubo.k,
        variables=qubo.variables,
        num_reads=num_reads,
        seed=seed,
        twin=qubo.twin if qubo.long_short else None,
        **params,
    )


SWAP_PARAMETERS = {
    "num_sweeps": "sweeps per read (default 20); a sweep is proposals_per_sweep proposals",
    "proposals_per_sweep": "proposals per sweep (default K' for best, 4 K' for random)",
    "proposal_type": "best: a random selected asset and its best partner (default) | random",
    "beta_range": "[hot, cold] (default: calibrated to the spread of swap deltas, reported)",
    "beta_schedule_type": "geometric | linear (default geometric)",
    "descent": "final swap descent: steepest (default) | first",
    "initial_states": "starting K'-subsets (array or SampleSet), else random",
}

SOLVERS: dict[str, SolverSpec] = {
    spec.name: spec
    for spec in (
        SolverSpec(
            "sa",
            "dwave-samplers SimulatedAnnealingSampler (dwave-neal's engine) on the penalty BQM",
            dwave.run_sa,
            True,
            dwave.SA_PARAMETERS,
            aliases=("neal",),
            check=dwave.check_sa_params,
        ),
        SolverSpec(
            "tabu",
            "dwave-samplers TabuSampler on the penalty BQM",
            dwave.run_tabu,
            True,
            dwave.TABU_PARAMETERS,
            check=dwave.check_tabu_params,
        ),
        SolverSpec(
            "swap",
            "fixed-cardinality swap annealing on x^T A x: every state holds exactly K' assets",
            _run_swap,
            False,
            SWAP_PARAMETERS,
            check=_check_swap_params,
        ),
        SolverSpec(
            "exact",
            "the constrained optimum: all C(K, K') subsets enumerated (up to 5e6)",
            exact.run_exact,
            False,
        ),
        SolverSpec(
            "exact-bqm",
            "dimod ExactSolver on the penalty BQM, K <= 20 (shows what the penalty does)",
            exact.run_exact_bqm,
            True,
        ),
    )
}
ALIASES = {alias: spec.name for spec in SOLVERS.values() for alias in spec.aliases}


def get_solver(name: str) -> SolverSpec:
    """The solver registered as ``name`` (or an alias such as ``neal``)."""
    key = ALIASES.get(name, name)
    if key not in SOLVERS:
        names = ", ".join([*SOLVERS, *ALIASES])
        raise InputError(f"unknown solver {name!r} (choose one of: {names})")
    return SOLVERS[key]


def solve(
    qubo: PortfolioQubo,
    solver: str = "swap",
    *,
    num_reads: int = 20,
    seed: int | None = 0,
    penalty: float | None = None,
    penalty_scale: float = 1.0,
    polish: bool = False,
    exclusion: float | None = None,
    exclusion_scale: float = 1.0,
    **params: Any,
) -> dimod.SampleSet:
    """Run solver ``solver`` on ``qubo`` and return its SampleSet, labelled by
    ``qubo.variables`` (the tickers, or the long/short legs).

    ``penalty`` (absolute) or ``penalty_scale`` (times ``qubo.penalty_bound()``) sets the
    lambda of the penalty BQM for solvers that use one; for long/short models ``exclusion``
    (absolute) or ``exclusion_scale`` (times ``qubo.exclusion_bound()``) sets its gamma.
    ``info`` records ``solver``, ``penalty`` (the lambda used, ``None`` for penalty-free
    solvers), ``exclusion_penalty`` (the gamma used, ``None`` for penalty-free solvers and
    long-only models), ``params`` and ``timing`` (seconds).

    Examples
    --------
    >>> from qubo_portfolio import build_qubo, load_prices, solve
    >>> from qubo_portfolio.core.returns import simple_returns
    >>> r = simple_returns(load_prices("sample").prices).iloc[-126:]
    >>> qubo = build_qubo(r, k=4, xi=0.5, windows={"length": 21, "step": 10})
    >>> sampleset = solve(qubo, "exact", num_reads=3)
    >>> len(sampleset)
    3
    """
    spec = get_solver(solver)
    spec.check_params(params)
    if num_reads < 1:
        raise InputError(f"solver.num_reads = {num_reads} must be >= 1")
    if seed is not None and not 0 <= seed < 2**32:
        raise InputError(f"solver.seed = {seed} must be in [0, 2^32)")
    lam = qubo.penalty_weight(penalty, penalty_scale) if spec.uses_penalty else None
    gamma = qubo.exclusion_weight(exclusion, exclusion_scale) if spec.uses_penalty else None
    start = time.perf_counter()
    try:
        sampleset = spec.run(
            qubo, penalty=lam, exclusion=gamma, num_reads=num_reads, seed=seed, **params
        )
    except (TypeError, ValueError) as exc:
        if not params or isinstance(exc, InputError):
            raise
        # the sampler refused a value of solver.params: say which solver, one line
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{spec.name} rejected solver.params {params}: {detail} (see `qubo-portfolio solvers`)"
        ) from exc
    elapsed = time.perf_counter() - start
    info = dict(sampleset.info)
    if "timing" in info:
        info["sampler_timing"] = info.pop("timing")
    timing = {"solve_seconds": elapsed}
    if polish:
        from .polish import polish as polish_samples

        start = time.perf_counter()
        sampleset = polish_samples(
            sampleset, qubo.A, qubo.variables, qubo.k, qubo.twin if qubo.long_short else None
        )
        timing["polish_seconds"] = time.perf_counter() - start
        info = {**info, **sampleset.info}
    info.update(
        solver=spec.name,
        penalty=lam,
        penalty_bound=qubo.penalty_bound(),
        exclusion_penalty=gamma,
        exclusion_penalty_bound=qubo.exclusion_bound(),
        params=dict(params),
        timing=timing,
        polished=polish,
    )
    sampleset.info.clear()
    sampleset.info.update(info)
    return sampleset


__all__ = ["SOLVERS", "SolverSpec", "get_solver", "solve"]
