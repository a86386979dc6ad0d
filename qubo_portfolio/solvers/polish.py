"""Repair samples to exactly k ones, then swap-descend them: :class:`PolishComposite`.

Applied to any :class:`dimod.SampleSet` (simulated annealing or tabu on the penalty BQM,
exact solvers, the swap annealer): each sample is first made feasible greedily on the
objective ``E(x) = x^T A x``, with the fields ``h = A x``,

- while it has more than k ones, drop the asset whose removal lowers ``E`` most
  (``E(x - e_i) - E(x) = A_ii - 2 h_i``);
- while it has fewer, add the asset that raises ``E`` least
  (``E(x + e_j) - E(x) = A_jj + 2 h_j``),

and then improved by steepest-descent swaps (``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj
- 2 A_ij``, see :func:`qubo_portfolio.solvers.swap.kernels.swap_delta`) until no swap lowers ``E`` by
more than a relative ``1e-12``.

With exclusive pairs (``twin``: the long and short legs of one stock) the repair first drops,
while some pair is held whole, the leg of such a pair whose removal lowers ``E`` most, only
adds variables whose twin is not selected, and the descent makes only allowed swaps (see
:mod:`qubo_portfolio.solvers.swap`): a repaired sample holds no pair.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import dimod
import numpy as np
from numba import njit

from ..core.model import PortfolioQubo
from ..errors import InputError
from .common import finish, subset_problem
from .swap.kernels import (
    DESCENT_RTOL,
    check_twin,
    compile_seconds,
    init_state,
    steepest_descent,
)

__all__ = ["PolishComposite", "polish", "repair", "swap_descent"]

_WARM = False


@njit(cache=True)
def _best_drop(A, x, h, twin, paired_only):
    """The selected leg whose removal lowers ``E`` most (``E(x - e_i) - E(x) = A_ii - 2 h_i``),
    among the legs held together with their twin when ``paired_only``; -1 when none."""
    best = np.inf
    ib = -1
    for i in range(x.size):
        t = twin[i]
        if x[i] != 0 and (not paired_only or (t >= 0 and x[t] != 0)):
            v = A[i, i] - 2.0 * h[i]
            if v < best:
                best = v
                ib = i
    return ib


@njit(cache=True)
def _flip(A, x, h, i, value):
    """Set ``x_i = value`` (0 or 1, a change) and update the fields ``h = A x``."""
    x[i] = value
    sign = 1.0 if value else -1.0
    row = A[i]
    for m in range(x.size):
        h[m] += sign * row[m]


@njit(cache=True)
def _repair_kernel(A, x, h, k, twin):
    """Greedy repair of ``x`` to exactly ``k`` ones and no pair of twins selected together;
    ``h = A x`` is kept up to date.

    Returns ``(dropped, added)``.
    """
    K = x.size
    count = 0
    for m in range(K):
        count += x[m] != 0
    dropped = 0
    added = 0
    while True:  # pairs held whole: drop the leg whose removal lowers E most
        ib = _best_drop(A, x, h, twin, True)
        if ib < 0:
            break
        _flip(A, x, h, ib, 0)
        count -= 1
        dropped += 1
    while count > k:
        _flip(A, x, h, _best_drop(A, x, h, twin, False), 0)
        count -= 1
        dropped += 1
    while count < k:
        best = np.inf
        jb = -1
        for j in range(K):
            t = twin[j]
            if x[j] == 0 and (t < 0 or x[t] == 0):
                v = A[j, j] + 2.0 * h[j]  # E(x + e_j) - E(x)
                if v < best:
                    best = v
                    jb = j
        _flip(A, x, h, jb, 1)
        count += 1
        added += 1
    return dropped, added


@njit(cache=True)
def _polish_kernel(A, X, k, do_repair, rtol, twin):
    """Repair (if ``do_repair``) and swap-descend every row of ``X`` in place.

    Rows that do not have ``k`` ones are left to the repair; without it they are only
    descended (swaps keep the count). Returns an (n, 3) int64 array (dropped, added, swaps)
    and an (n, 2) float64 array (``x^T A x`` before and after), both from fresh fields.
    """
    n, K = X.shape
    floor = 0.0
    for m in range(K):
        floor = max(floor, abs(A[m, m]))
    members = np.empty(K, dtype=np.int64)
    pos = np.empty(K, dtype=np.int64)
    h = np.empty(K)
    counts = np.zeros((n, 3), dtype=np.int64)
    objectives = np.zeros((n, 2))
    for r in range(n):
        x = X[r]
        kk = init_state(A, x, members, pos, h)
        for p in range(kk):
            objectives[r, 0] += h[members[p]]
        if do_repair:
            dropped, added = _repair_kernel(A, x, h, k, twin)
            counts[r, 0] = dropped
            counts[r, 1] = added
            kk = init_state(A, x, members, pos, h)
        counts[r, 2] = steepest_descent(A, x, members, pos, h, kk, rtol, floor, twin)
        init_state(A, x, members, pos, h)
        for p in range(kk):
            objectives[r, 1] += h[members[p]]
    return counts, objectives


def _warmup() -> float:
    """Compile (or load from cache) the kernels; returns the seconds compiling took."""
    global _WARM
    t0 = time.perf_counter()
    A = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 3.0]])
    _polish_kernel(
        A, np.array([[1, 1, 0]], dtype=np.int8), 1, True, DESCENT_RTOL, np.full(3, -1, np.int64)
    )
    _WARM = True
    return compile_seconds(time.perf_counter() - t0, _polish_kernel)


def _prepare(A, x):
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InputError(f"A must be a square matrix, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise InputError("A has non-finite entries")
    A = np.ascontiguousarray((A + A.T) / 2.0)  # exact when A is already symmetric
    x = np.asarray(x)
    if x.ndim != 1 or x.size != A.shape[0]:
        raise InputError(f"x must be a vector of length {A.shape[0]}, got shape {x.shape}")
    if not np.isin(x, (0, 1)).all():
        raise InputError("x must be a 0/1 vector")
    return A, x


def _check_k(k, K):
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= K:
        raise InputError(f"k must be an integer with 0 <= k <= K = {K}, got {k!r}")
    return int(k)


def repair(A: np.ndarray, x: np.ndarray, k: int, twin: np.ndarray | None = None) -> np.ndarray:
    """Greedy repair of ``x`` to exactly ``k`` ones on the objective ``x^T A x``.

    While ``sum x > k`` drop the asset whose removal lowers ``x^T A x`` most
    (``A_ii - 2 (A x)_i`` smallest); while ``sum x < k`` add the asset that raises it least
    (``A_jj + 2 (A x)_j`` smallest). A feasible ``x`` is returned unchanged. With ``twin``
    (index of each variable's exclusive partner, -1 for none), pairs held whole are broken
    first (dropping the better leg) and only variables whose twin is unselected are added.

    Parameters
    ----------
    A : ndarray, shape (K, K)
        Objective matrix (its symmetric part is used).
    x : ndarray of 0/1, shape (K,)
        int8, bool or any integer dtype; not modified.
    k : int
        Target number of ones, ``0 <= k <= K`` (with twins, at most singles + pairs).
    twin : ndarray of int, shape (K,), optional

    Returns
    -------
    ndarray, shape (K,), same dtype as ``x``.
    """
    A, x = _prepare(A, x)
    k = _check_k(k, A.shape[0])
    twin = check_twin(twin, A.shape[0], k)
    if not _WARM:
        _warmup()
    xx = x.astype(np.int8)
    h = A @ xx.astype(np.float64)
    _repair_kernel(A, xx, h, k, twin)
    return xx.astype(x.dtype)


def swap_descent(A: np.ndarray, x: np.ndarray, twin: np.ndarray | None = None) -> np.ndarray:
    """Steepest-descent swaps from ``x`` until no swap lowers ``x^T A x``.

    Each step applies the swap (one selected asset out, one unselected in) with the most
    negative ``delta = 2 ((A x)_j - (A x)_i) + A_ii + A_jj - 2 A_ij``; it stops when no delta
    is below ``-1e-12 * max(|x^T A x|, max_i |A_ii|)``. The number of ones is unchanged.
    With ``twin`` only allowed swaps are made (``j`` comes in only when its twin is not
    selected or is the leaving ``i``).

    Parameters
    ----------
    A : ndarray, shape (K, K)
        Objective matrix (its symmetric part is used).
    x : ndarray of 0/1, shape (K,)
        Starting point; not modified.

    Returns
    -------
    ndarray, shape (K,), same dtype as ``x``: a swap local minimum.
    """
    A, x = _prepare(A, x)
    twin = check_twin(twin, A.shape[0])
    if not _WARM:
        _warmup()
    X = x.astype(np.int8)[None, :].copy()
    _polish_kernel(A, X, 0, False, DESCENT_RTOL, twin)
    return X[0].astype(x.dtype)


def polish(
    sampleset: dimod.SampleSet,
    A: np.ndarray,
    variables: list,
    k: int,
    twin: np.ndarray | None = None,
) -> dimod.SampleSet:
    """Repair every sample to exactly ``k`` ones and swap-descend it.

    Parameters
    ----------
    sampleset : dimod.SampleSet
        Samples of any vartype (SPIN is read as BINARY); it must contain every variable of
        ``variables`` (others, such as slack variables, are dropped).
    A : ndarray, shape (K, K)
        Objective matrix in ``variables`` order (its symmetric part is used).
    variables : list
        Labels of the rows/columns of ``A``.
    k : int
        Number of ones of every polished sample.
    twin : ndarray of int, shape (K,), optional
        Index (in ``variables``) of each variable's exclusive partner, -1 for none: the long
        and short legs of a stock. Polished samples never hold both; an input sample that
        does is not feasible (``feasible_raw`` false) and is repaired.

    Returns
    -------
    dimod.SampleSet
        BINARY, one row per input row (same order, ``num_occurrences`` kept), with
        ``energy`` = ``x^T A x`` of the polished sample and the per-sample vectors
        ``objective_raw`` (``x^T A x`` of the input sample), ``feasible_raw`` (the input had
        exactly ``k`` ones and no pair of twins), ``num_selected_raw``, ``energy_raw`` (the input energy) and
        ``polish_swaps`` (swaps made by the descent); other input vectors are copied.
        ``info`` is a copy of the input ``info`` plus ``info["polish"]``: ``k``,
        ``num_repaired``, ``num_improved`` (samples whose objective went down, repaired ones
        excluded), ``swaps``, ``timing`` and ``compile`` (seconds).

    Raises
    ------
    InputError
        (a ``ValueError``) ``A`` does not match ``variables``, a variable is missing from the
        sampleset, or ``k`` is out of ``0..K``.

    Notes
    -----
    A feasible input sample is never made worse: every swap of the descent lowers
    ``x^T A x``.
    """
    t_start = time.perf_counter()
    variables = list(variables)
    K = len(variables)
    A = np.asarray(A, dtype=np.float64)
    if A.shape != (K, K):
        raise InputError(f"A must have shape ({K}, {K}) to match variables, got {A.shape}")
    if not np.isfinite(A).all():
        raise InputError("A has non-finite entries")
    A = np.ascontiguousarray((A + A.T) / 2.0)
    k = _check_k(k, K)
    twin = check_twin(twin, K, k)
    if sampleset.vartype is not dimod.BINARY:
        sampleset = sampleset.change_vartype(dimod.BINARY, inplace=False)
    have = sampleset.variables
    missing = [v for v in variables if v not in have]
    if missing:
        raise InputError(
            f"the sampleset lacks {len(missing)} of the variables, e.g. {missing[:3]!r}"
        )
    columns = [have.index(v) for v in variables]
    record = sampleset.record
    X = np.ascontiguousarray(record.sample[:, columns], dtype=np.int8)
    num_selected_raw = X.sum(axis=1, dtype=np.int64)

    t_compile = 0.0 if _WARM else _warmup()
    t0 = time.perf_counter()
    paired = np.flatnonzero(twin >= 0)
    both_raw = ((X[:, paired] != 0) & (X[:, twin[paired]] != 0)).any(axis=1)
    counts, objectives = _polish_kernel(A, X, k, True, DESCENT_RTOL, twin)
    t_kernel = time.perf_counter() - t0
    objective_raw, objective = objectives[:, 0], objectives[:, 1]

    feasible_raw = (num_selected_raw == k) & ~both_raw
    vectors = {
        name: record[name]
        for name in record.dtype.names
        if name not in ("sample", "energy", "num_occurrences")
        and name not in ("objective_raw", "feasible_raw", "num_selected_raw", "energy_raw")
        and name != "polish_swaps"
    }
    vectors.update(
        objective_raw=objective_raw,
        feasible_raw=feasible_raw,
        num_selected_raw=num_selected_raw,
        energy_raw=np.asarray(record.energy, dtype=np.float64),
        polish_swaps=counts[:, 2],
    )
    info = dict(sampleset.info)
    info["polish"] = {
        "k": k,
        "num_repaired": int((~feasible_raw).sum()),
        "num_improved": int((feasible_raw & (objective < objective_raw)).sum()),
        "swaps": int(counts[:, 2].sum()),
        "timing": time.perf_counter() - t_start - t_compile,
        "kernel_timing": t_kernel,
        "compile": t_compile,
    }
    return dimod.SampleSet.from_samples(
        (X, variables),
        vartype=dimod.BINARY,
        energy=objective,
        num_occurrences=record.num_occurrences,
        info=info,
        sort_labels=False,
        **vectors,
    )


class PolishComposite(dimod.ComposedSampler):
    """Repairs the child sampler's samples to ``k`` variables on and swap-descends them.

    In the style of dwave-samplers' ``SteepestDescentComposite``: :meth:`sample` runs the
    child on the same problem and post-processes its SampleSet with :func:`polish`, on the
    objective ``x^T A x`` whose matrix ``A`` is the model's (a :class:`PortfolioQubo`), the
    given ``objective``, or :func:`~qubo_portfolio.solvers.common.dense_matrix` of the BQM.
    The raw figures stay in the SampleSet's vectors: ``objective_raw``, ``feasible_raw``,
    ``num_selected_raw``, ``energy_raw`` (and ``polish_swaps``); ``info["polish"]`` counts
    what was done.

    Energies: ``x^T A x`` of the polished samples when ``A`` is the model's or the given
    ``objective`` (on feasible samples that is the BQM's energy), else ``bqm.energies``.
    A SPIN model is answered in SPIN, ``k`` counting the spins at +1.

    Parameters
    ----------
    child_sampler : dimod.Sampler
        Any sampler; it is given the keywords it declares in its ``parameters``.

    Examples
    --------
    >>> import dimod
    >>> from qubo_portfolio.solvers.polish import PolishComposite
    >>> bqm = dimod.BQM({"a": 1.0, "b": -1.0, "c": 0.0}, {("b", "c"): 2.0}, 0.0, "BINARY")
    >>> sampleset = PolishComposite(dimod.RandomSampler()).sample(bqm, k=2, num_reads=3, seed=0)
    >>> set(sampleset.record.sample.sum(axis=1).tolist()), float(sampleset.first.energy)
    ({2}, 0.0)
    """

    children: list = None
    parameters: dict = None
    properties: dict = None

    def __init__(self, child_sampler: dimod.Sampler) -> None:
        self.children = [child_sampler]
        self.parameters = {
            **child_sampler.parameters,
            "k": [],
            "objective": [],
            "exclusive_pairs": [],
        }
        self.properties = {"child_properties": dict(child_sampler.properties)}

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel | PortfolioQubo,
        *,
        k: int | None = None,
        objective: np.ndarray | None = None,
        exclusive_pairs: Iterable | None = None,
        **parameters: Any,
    ) -> dimod.SampleSet:
        """Sample with the child, then :func:`polish` every sample.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel or PortfolioQubo
            The problem, given to the child as it is.
        k : int
            Variables on in every polished sample (required with a BQM; a model has its own).
        objective : ndarray, optional
            ``A`` in ``bqm.variables`` order with ``bqm.energy(x) = x^T A x`` on the feasible
            ``x`` (e.g. the model's ``A`` for its penalty BQM); default ``dense_matrix(bqm)``.
        exclusive_pairs : iterable of (u, v) pairs, optional
            Variables never on together in a polished sample (long and short legs).
        **parameters
            For the child; ``k``, ``objective`` and ``exclusive_pairs`` are passed on too when
            the child declares them.

        Returns
        -------
        dimod.SampleSet
            See :func:`polish`, in the model's vartype.
        """
        child = self.child
        given = {"k": k, "objective": objective, "exclusive_pairs": exclusive_pairs}
        for name, value in given.items():
            if name in child.parameters and value is not None:
                parameters[name] = value
        sampleset = child.sample(bqm, **parameters)
        problem = subset_problem(bqm, k, exclusive_pairs, objective)
        polished = polish(sampleset, problem.A, problem.variables, problem.k, problem.twin)
        if problem.bqm is None:
            return polished
        if objective is None:
            return finish(polished, problem)
        if problem.bqm.vartype is not dimod.BINARY:
            polished = polished.change_vartype(problem.bqm.vartype, inplace=False)
        return polished
