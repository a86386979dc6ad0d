"""Exact samplers.

:class:`KSubsetExactSampler` (``exact``): the constrained optimum ``min x^T A x s.t.
sum x = K'`` by enumerating all C(K, K') subsets in vectorized chunks while there are at most
5e6 of them (long/short: C(K, K') stock subsets times the 2^K' ways to give each stock a
side); beyond that, by branch and bound on a certified convex relaxation
(:mod:`~qubo_portfolio.solvers.branch_and_bound`) within ``time_limit`` seconds, returning the
best selection with its certified lower bound (and whether optimality is proven). :class:`ExactBQMSampler` (``exact-bqm``): dimod's ``ExactSolver`` on the
penalty BQM (all 2^n states of its n <= 20 variables), which shows what the penalties do: its
lowest states are infeasible when lambda (or gamma) is too small.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import dimod
import numpy as np

from ..core.model import PortfolioQubo
from ..core.quality import PROVEN_RTOL, gap_of
from ..errors import InputError
from .common import check_int, check_k, finish, subset_problem

__all__ = [
    "ExactBQMSampler",
    "KSubsetExactSampler",
    "best_long_short",
    "best_subsets",
    "subset_objectives",
]

MAX_SUBSETS = 5_000_000
MAX_EXACT_BQM_VARIABLES = 20
CHUNK = 200_000


def subset_objectives(a: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """``x^T A x`` for each row of ``subsets`` (indices of the selected assets).

    ``x^T A x = sum_a A[s_a, s_a] + 2 sum_(a<b) A[s_a, s_b]``, gathered column pair by
    column pair over all rows at once.
    """
    k = subsets.shape[1]
    total = np.zeros(len(subsets))
    for p in range(k):
        sp = subsets[:, p]
        total += a[sp, sp]
        for q in range(p + 1, k):
            total += 2 * a[sp, subsets[:, q]]
    return total


def _combination_chunks(n: int, k: int, size: int):
    """All k-subsets of ``range(n)`` in lexicographic order, ``size`` rows at a time."""
    combos = itertools.combinations(range(n), k)
    while True:
        flat = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(combos, size)), dtype=np.intp
        )
        if flat.size == 0:
            return
        yield flat.reshape(-1, k)


def _best_of(a: np.ndarray, chunks, k: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` lowest-objective rows over all ``chunks`` (ties: the earlier row)."""
    best_idx = np.empty((0, k), dtype=np.intp)
    best_val = np.empty(0)
    for chunk in chunks:
        values = subset_objectives(a, chunk)
        keep = min(top, len(values))
        part = np.argpartition(values, keep - 1)[:keep]
        best_idx = np.vstack([best_idx, chunk[part]])
        best_val = np.concatenate([best_val, values[part]])
        order = np.lexsort((np.arange(len(best_val)), best_val))[:top]
        best_idx, best_val = best_idx[order], best_val[order]
    return best_idx, best_val


def best_subsets(a: np.ndarray, k: int, top: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best K'-subsets of ``range(len(a))`` and their objectives, best first.

    Enumerates all ``C(K, K')`` subsets; raises :class:`InputError` beyond 5e6.
    """
    n = len(a)
    count = math.comb(n, k)
    if count > MAX_SUBSETS:
        raise InputError(
            f"exact solver: C({n}, {k}) = {count:.3g} subsets exceeds the limit of "
            f"{MAX_SUBSETS:.0e} (use solver.name: swap, tabu or sa)"
        )
    return _best_of(a, _combination_chunks(n, k, CHUNK), k, top)


def best_long_short(a: np.ndarray, k: int, top: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best long/short portfolios of K' legs over ``n = len(a) / 2`` stocks.

    ``a`` is the 2n x 2n matrix over ``[long legs, short legs]``. Every portfolio is a
    K'-subset of stocks with a side per stock: the legs ``stock + n * side`` for each of the
    ``2^K'`` side patterns (side 0 long, 1 short), ``C(n, K') 2^K'`` in all, enumerated in
    vectorized chunks; raises :class:`InputError` beyond 5e6. Returns leg indices.
    """
    n = len(a) // 2
    count = math.comb(n, k) * 2**k
    if count > MAX_SUBSETS:
        raise InputError(
            f"exact solver: C({n}, {k}) * 2^{k} = {count:.3g} long/short portfolios exceeds "
            f"the limit of {MAX_SUBSETS:.0e} (use solver.name: swap, tabu or sa)"
        )
    sides = np.array(list(itertools.product((0, 1), repeat=k)), dtype=np.intp)  # (2^k, k)
    offsets = n * sides

    def chunks():
        for combos in _combination_chunks(n, k, max(1, CHUNK // len(sides))):
            yield (combos[:, None, :] + offsets[None, :, :]).reshape(-1, k)

    return _best_of(a, chunks(), k, top)


def _pair_layout(twin: np.ndarray) -> np.ndarray:
    """Variable order ``[first legs, second legs]`` of a fully paired ``twin``.

    ``first`` are the variables whose twin has a higher index, in index order; ``second``
    their twins. A long/short model's own order (``[long legs, short legs]``) comes back
    unchanged.
    """
    if (twin < 0).any():
        raise InputError(
            "exact with exclusive pairs needs every variable in a pair (a long/short model)"
        )
    first = np.flatnonzero(twin > np.arange(len(twin)))
    return np.concatenate([first, twin[first]])


class KSubsetExactSampler(dimod.Sampler):
    """The ``num_reads`` best k-subsets, by enumeration: the constrained optimum.

    Minimizes ``x^T A x`` over BINARY ``x`` with exactly ``k`` ones (``A`` from the BQM,
    :func:`~qubo_portfolio.solvers.common.dense_matrix`, or from a :class:`PortfolioQubo`),
    enumerating all ``C(K, k)`` subsets (:func:`best_subsets`), or with exclusive pairs all
    ``C(n, k) 2^k`` choices of k pairs and a side each (:func:`best_long_short`); refuses
    more than 5e6. A SPIN model is answered in SPIN, ``k`` counting the spins at +1.

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers.exact import KSubsetExactSampler
    >>> bqm = dimod.BQM({"a": 1.0, "b": -1.0, "c": 0.3}, {("b", "c"): 1.0}, 0.0, "BINARY")
    >>> sampleset = KSubsetExactSampler().sample(bqm, k=2, num_reads=2)
    >>> [sorted(v for v, x in s.items() if x) for s in sampleset.samples()]
    [['a', 'b'], ['b', 'c']]
    """

    parameter_help: dict[str, str] = {
        "time_limit": "seconds for branch and bound beyond 5e6 subsets (default 60); on the "
        "limit the best found is returned with its certified gap",
    }

    parameters: dict = None
    """Keyword arguments accepted by :meth:`sample`: ``k``, ``num_reads``, ``exclusive_pairs``,
    ``time_limit``, ``seed`` (of the branch and bound's swap-annealing incumbent)."""

    properties: dict = None
    """``max_subsets``: the most subsets (or long/short portfolios) enumerated."""

    def __init__(self) -> None:
        self.parameters = {
            "k": [],
            "num_reads": [],
            "exclusive_pairs": [],
            "time_limit": [],
            "seed": [],
        }
        self.properties = {"max_subsets": MAX_SUBSETS}

    @classmethod
    def check_parameters(cls, params: dict[str, Any], solver: str = "exact") -> None:
        """``time_limit`` must be a number >= 0."""
        value = params.get("time_limit", 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InputError(
                f"solver.params.time_limit = {value!r} for {solver}: expected seconds >= 0"
            )

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel | PortfolioQubo,
        *,
        k: int | None = None,
        num_reads: int = 1,
        exclusive_pairs: Iterable | None = None,
        time_limit: float = 60.0,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> dimod.SampleSet:
        """The ``num_reads`` best feasible selections (fewer if there are fewer), best first;
        beyond enumeration, the one best selection that branch and bound finds.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel or PortfolioQubo
            The objective; a model gives ``A``, ``k`` and its long/short pairs directly.
        k : int
            Number of variables on in every sample (required with a BQM), ``1 <= k <= K - 1``
            as for swap (with exclusive pairs at most the number of pairs).
        num_reads : int, default 1
            Number of best selections returned.
        exclusive_pairs : iterable of (u, v) pairs, optional
            Variables never on together; every variable must be in one pair.
        time_limit : float, default 60
            Seconds for branch and bound (only beyond enumeration).
        seed : int, optional
            Seed of the swap-annealing incumbent of branch and bound.

        Returns
        -------
        dimod.SampleSet
            Energies ``x^T A x`` for a model, ``bqm.energies`` for a BQM; every sample is
            feasible. ``info["method"]`` is ``"enumeration"`` or ``"branch_and_bound"``; with
            the latter, ``info`` also holds ``lower_bound`` (certified: no feasible sample's
            energy is below it), ``proven_optimal``, ``certified_gap``, ``nodes`` and
            ``seconds``.
        """
        self.remove_unknown_kwargs(**kwargs)
        problem = subset_problem(bqm, k, exclusive_pairs)
        A = np.asarray(problem.A, dtype=np.float64)
        num_reads = check_int("num_reads", num_reads, 1)
        k = check_k(problem.k, len(A), problem.twin)
        info: dict[str, Any] = {"method": "enumeration"}
        if problem.twin is None:
            count = math.comb(len(A), k)
        else:
            order = _pair_layout(problem.twin)
            count = math.comb(len(A) // 2, k) * 2**k
        if count > MAX_SUBSETS:
            samples, values, info = _branch_and_bound(A, k, problem.twin, time_limit, seed)
        else:
            if problem.twin is None:
                idx, values = best_subsets(A, k, top=num_reads)
            else:
                idx, values = best_long_short(A[np.ix_(order, order)], k, top=num_reads)
                idx = order[idx]
            samples = np.zeros((len(idx), len(A)), dtype=np.int8)
            np.put_along_axis(samples, idx, 1, axis=1)
        sampleset = dimod.SampleSet.from_samples(
            (samples, problem.variables), vartype=dimod.BINARY, energy=values, info=info
        )
        sampleset = finish(sampleset, problem)
        if "lower_bound" in info:
            # the bound is on x^T A x; a BQM's energies add its constant (its offset, in
            # BINARY terms): shift the bound by it, and measure the gap in the same units
            energy = float(sampleset.record.energy[0])
            lower = info["lower_bound"] + (energy - float(values[0]))
            gap = gap_of(energy, lower)
            sampleset.info.update(
                lower_bound=lower, certified_gap=gap, proven_optimal=gap <= PROVEN_RTOL
            )
        return sampleset


def _branch_and_bound(
    A: np.ndarray, k: int, twin: np.ndarray | None, time_limit: float, seed: int | None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The best selection branch and bound finds in ``time_limit`` s, with its certificate."""
    from .bounds import ensure_compiled  # numba kernels: only beyond enumeration
    from .branch_and_bound import branch_and_bound
    from .swap.kernels import ensure_compiled as ensure_swap_compiled  # the incumbent's

    compile_seconds = ensure_compiled() + ensure_swap_compiled()  # not within time_limit
    result = branch_and_bound(
        A, k, twin=twin, time_limit=float(time_limit), seed=0 if seed is None else int(seed)
    )
    samples = np.asarray(result.x, dtype=np.int8)[None, :]
    info = {
        "method": "branch_and_bound",
        "lower_bound": result.lower_bound,
        "proven_optimal": result.proven_optimal,
        "certified_gap": result.gap,
        "nodes": result.nodes,
        "seconds": result.seconds,
        "bound_method": result.root.method,
        "timing": {"compile": compile_seconds},
    }
    return samples, np.array([result.objective]), info


class ExactBQMSampler(dimod.ExactSolver):
    """dimod's ``ExactSolver`` on at most 20 variables, keeping the ``num_reads`` lowest.

    All ``2^n`` states of the BQM are enumerated (so on a penalty BQM the ground state is
    infeasible when lambda is too small); more than 20 variables are refused with an
    :class:`InputError`.

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers.exact import ExactBQMSampler
    >>> bqm = dimod.BQM({"a": 1.0, "b": -1.0}, {("a", "b"): 0.5}, 0.0, "BINARY")
    >>> float(ExactBQMSampler().sample(bqm, num_reads=1).first.energy)
    -1.0
    """

    parameter_help: dict[str, str] = {}
    """``exact-bqm`` takes no ``solver.params``."""

    def __init__(self) -> None:
        super().__init__()
        self.parameters = {"num_reads": []}
        self.properties = {"max_variables": MAX_EXACT_BQM_VARIABLES}

    @classmethod
    def check_parameters(cls, params: dict[str, Any], solver: str = "exact-bqm") -> None:
        """Nothing to check: ``exact-bqm`` has no ``solver.params``."""

    def sample(
        self, bqm: dimod.BinaryQuadraticModel, *, num_reads: int | None = None, **kwargs: Any
    ) -> dimod.SampleSet:
        """The ``num_reads`` lowest-energy states (all ``2^n`` without it), lowest first."""
        n = bqm.num_variables
        if n > MAX_EXACT_BQM_VARIABLES:
            raise InputError(
                f"exact-bqm enumerates 2^n states: n = {n} variables exceeds "
                f"{MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap or tabu)"
            )
        sampleset = super().sample(bqm, **kwargs)
        return sampleset if num_reads is None else sampleset.truncate(num_reads)


def check_exact_bqm_size(qubo: PortfolioQubo) -> None:
    """:class:`InputError` in the model's terms (K, or 2K legs) when exact-bqm would refuse."""
    if qubo.num_variables <= MAX_EXACT_BQM_VARIABLES:
        return
    if qubo.long_short:
        raise InputError(
            f"exact-bqm enumerates 2^(2K) states: 2K = {qubo.num_variables} long/short "
            f"variables exceeds {MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap "
            "or tabu)"
        )
    raise InputError(
        f"exact-bqm enumerates 2^K states: K = {qubo.num_assets} exceeds "
        f"{MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap or tabu)"
    )
