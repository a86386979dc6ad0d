"""Solvers by name: every one a :class:`dimod.Sampler`, run on a :class:`PortfolioQubo`.

========== ============================================================ =============
name       what                                                         uses lambda
========== ============================================================ =============
sa, neal   dwave-samplers simulated annealing on the penalty BQM         yes
tabu       dwave-samplers tabu search on the penalty BQM                 yes
swap       fixed-cardinality swap annealing on ``x^T A x``               no
exact      all C(K, K') subsets enumerated (<= 5e6)                      no
exact-bqm  dimod ExactSolver on the penalty BQM (K <= 20)                yes
========== ============================================================ =============

``get_sampler(name)`` is the sampler (:class:`~.dwave.SimulatedAnnealingSampler`,
:class:`~.dwave.TabuSampler`, :class:`~.swap.SwapAnnealingSampler`,
:class:`~.exact.KSubsetExactSampler`, :class:`~.exact.ExactBQMSampler`); each declares
``parameters`` and ``properties``, the parameters a config may set (``parameter_help``) and
their checks (``check_parameters``), which the registry reads. ``solve(qubo, "sa",
num_reads=20, seed=0)`` runs one on the model's penalty BQM or on the model itself;
``polish=True`` wraps it in :class:`~.polish.PolishComposite`, which repairs every sample to
K' assets and descends by swaps, keeping the raw figures beside the polished ones.

Long/short models (2K legs, :attr:`PortfolioQubo.variables`) work with every solver: the
penalty solvers get the exclusion penalty gamma as well, ``swap`` and ``polish`` never hold
both legs of a stock, ``exact`` enumerates stock subsets times sides. Samplesets are
labelled by ``qubo.variables``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dimod

from ..core.model import PortfolioQubo
from ..errors import InputError

Prepared = tuple[Any, dict[str, Any]]
"""What a solver samples (a BQM or the model) and the keywords it may take besides
``num_reads``, ``seed`` and ``solver.params``."""


def _penalty_bqm(qubo: PortfolioQubo, lam: float | None, gamma: float | None) -> Prepared:
    """The penalty BQM, and what the objective calibration and polish read from the model."""
    bqm = qubo.to_bqm(penalty=lam, exclusion=gamma)
    pairs = None
    if qubo.long_short:
        n = qubo.num_assets
        pairs = list(zip(qubo.variables[:n], qubo.variables[n:], strict=True))
    return bqm, {"k": qubo.k, "objective": qubo.A, "exclusive_pairs": pairs}


def _exact_bqm(qubo: PortfolioQubo, lam: float | None, gamma: float | None) -> Prepared:
    from .exact import check_exact_bqm_size

    check_exact_bqm_size(qubo)  # refused in the model's terms before the BQM is built
    return _penalty_bqm(qubo, lam, gamma)


def _model(qubo: PortfolioQubo, lam: float | None, gamma: float | None) -> Prepared:
    """The model itself: the fixed-cardinality samplers read ``A``, ``k`` and pairs from it."""
    return qubo, {}


@dataclass(frozen=True)
class SolverSpec:
    """A registered solver: its name, what it does, its sampler, how the model is given to it.

    ``parameters`` (name -> help) and :meth:`check_params` come from the sampler class
    (``parameter_help`` and ``check_parameters``); the class is imported on first use, so
    that importing the package loads no numba.
    """

    name: str
    summary: str
    sampler: str
    """``"module:Class"`` of the sampler, relative to this package."""
    uses_penalty: bool
    prepare: Callable[[PortfolioQubo, float | None, float | None], Prepared]
    aliases: tuple[str, ...] = ()

    @property
    def sampler_class(self) -> type[dimod.Sampler]:
        """The sampler class (imported now if it was not)."""
        module, name = self.sampler.split(":")
        return getattr(importlib.import_module(module, __name__), name)

    @property
    def parameters(self) -> Mapping[str, str]:
        """The ``solver.params`` a config may set, with their help (the sampler's table)."""
        return self.sampler_class.parameter_help

    def check_params(self, params: dict) -> None:
        """Unknown names, then bad values (the sampler's ``check_parameters``): one line."""
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            allowed = ", ".join(self.parameters) or "none"
            raise InputError(
                f"unknown solver.params for {self.name}: {', '.join(unknown)} "
                f"(allowed: {allowed}; see `qubo-portfolio solvers`)"
            )
        self.sampler_class.check_parameters(params, self.name)


SOLVERS: dict[str, SolverSpec] = {
    spec.name: spec
    for spec in (
        SolverSpec(
            "sa",
            "dwave-samplers SimulatedAnnealingSampler (dwave-neal's engine) on the penalty BQM",
            ".dwave:SimulatedAnnealingSampler",
            True,
            _penalty_bqm,
            aliases=("neal",),
        ),
        SolverSpec(
            "tabu",
            "dwave-samplers TabuSampler on the penalty BQM",
            ".dwave:TabuSampler",
            True,
            _penalty_bqm,
        ),
        SolverSpec(
            "swap",
            "fixed-cardinality swap annealing on x^T A x: every state holds exactly K' assets",
            ".swap:SwapAnnealingSampler",
            False,
            _model,
        ),
        SolverSpec(
            "exact",
            "the constrained optimum: all C(K, K') subsets enumerated up to 5e6, beyond that "
            "branch and bound with a certified lower bound",
            ".exact:KSubsetExactSampler",
            False,
            _model,
        ),
        SolverSpec(
            "exact-bqm",
            "dimod ExactSolver on the penalty BQM, K <= 20 (shows what the penalty does)",
            ".exact:ExactBQMSampler",
            True,
            _exact_bqm,
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


def get_sampler(name: str) -> dimod.Sampler:
    """A new instance of the sampler registered as ``name`` (or an alias such as ``neal``).

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers import get_sampler
    >>> isinstance(get_sampler("tabu"), dimod.Sampler)
    True
    """
    return get_solver(name).sampler_class()


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
    sampler = spec.sampler_class()
    if polish:
        from .polish import PolishComposite  # numba kernels: loaded on first use

        sampler = PolishComposite(sampler)
    problem, extra = spec.prepare(qubo, lam, gamma)
    keywords = {"num_reads": num_reads, "seed": seed, **extra}
    keywords = {key: value for key, value in keywords.items() if key in sampler.parameters}
    sampleset = _sample(spec, sampler, problem, keywords, params)
    elapsed = time.perf_counter() - start
    info = dict(sampleset.info)
    if "timing" in info:
        info["sampler_timing"] = info.pop("timing")
    timing = {"solve_seconds": elapsed}
    if polish:
        polish_seconds = info["polish"]["timing"] + info["polish"]["compile"]
        timing = {"solve_seconds": elapsed - polish_seconds, "polish_seconds": polish_seconds}
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


def _sample(
    spec: SolverSpec,
    sampler: dimod.Sampler,
    problem: Any,
    keywords: dict[str, Any],
    params: dict[str, Any],
) -> dimod.SampleSet:
    """``sampler.sample(problem, **keywords, **params)``; a value of ``params`` the sampler
    refuses becomes one :class:`InputError` line naming the solver."""
    try:
        return sampler.sample(problem, **keywords, **params)
    except (TypeError, ValueError) as exc:
        if not params or isinstance(exc, InputError):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"{spec.name} rejected solver.params {params}: {detail} (see `qubo-portfolio solvers`)"
        ) from exc


__all__ = ["ALIASES", "SOLVERS", "SolverSpec", "get_sampler", "get_solver", "solve"]
