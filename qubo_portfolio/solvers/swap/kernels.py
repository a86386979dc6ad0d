"""Numba kernels of the fixed-cardinality swap annealer and of polish.

Every move swaps one selected asset ``i`` (``x_i = 1``) for one unselected asset ``j``
(``x_j = 0``), so every state the chain visits is feasible and no penalty term is needed.
With ``A`` the symmetric matrix of the objective ``E(x) = x^T A x`` and the local fields
``h = A x``, the energy change of such a swap is

    ``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij``

(see :func:`swap_delta`). Evaluating a random proposal therefore costs O(1), finding the best
partner of a selected asset one O(K) scan, and an accepted swap O(K)
(``h += A[:, j] - A[:, i]``). The kernels are compiled with numba (``cache=True``); the
random numbers come from a per-read xoshiro256** generator seeded through
``numpy.random.SeedSequence`` (:func:`rng_states`).

Exclusive pairs (the long and short legs of one stock): with ``twin[v]`` the index of v's
partner (-1 for none), no state ever holds both. A swap of ``i`` out and ``j`` in is allowed
unless ``j``'s twin is selected and is not ``i`` (swapping a leg for its own twin flips the
side of a stock). Random starts pick a valid subset, proposals that are not allowed are
rejected, best-partner scans and the descents leave such partners out: the entry fields
``g`` of :func:`_entry_fields` mask the selected variables and their twins, and the twin of
the leaving variable is checked on its own (:func:`_best_partner`). Without twins every
kernel makes the same moves and random draws as before they knew of twins.

Public names (used by :mod:`.calibration`, :mod:`.sampler` and
:mod:`qubo_portfolio.solvers.polish`): :func:`swap_delta`, :func:`init_state`,
:func:`steepest_descent`, :func:`first_descent`, :func:`random_subset`,
:func:`anneal_kernel`, :func:`sample_swap_deltas`, :func:`rng_states`, :func:`check_twin`,
:func:`ensure_compiled`, :func:`trace_anneal`, ``DESCENT_RTOL``, ``DESCENTS``, ``PROPOSALS``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numba import njit, uint64

from ...errors import InputError

__all__ = [
    "DESCENTS",
    "DESCENT_RTOL",
    "PROPOSALS",
    "anneal_kernel",
    "check_twin",
    "ensure_compiled",
    "first_descent",
    "init_state",
    "random_subset",
    "rng_states",
    "sample_swap_deltas",
    "steepest_descent",
    "swap_delta",
    "trace_anneal",
    "warmup",
]

#: Relative tolerance below which a swap does not count as an improvement in the descents.
DESCENT_RTOL = 1e-12

#: Codes of the final descents and of the proposal types, as the kernels take them.
DESCENTS = {"steepest": 0, "first": 1}
PROPOSALS = {"best": 1, "random": 0}

_WARM = False


@njit(cache=True)
def swap_delta(A, h, i, j):
    """Energy change of swapping selected asset ``i`` out and unselected asset ``j`` in.

    With ``E(x) = x^T A x`` (``A`` symmetric), ``h = A x``, ``x_i = 1``, ``x_j = 0`` and
    ``x' = x - e_i + e_j``::

        E(x') - E(x) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij

    (expand ``(x + d)^T A (x + d)`` with ``d = e_j - e_i``: ``2 d^T A x = 2 (h_j - h_i)`` and
    ``d^T A d = A_jj + A_ii - 2 A_ij``).

    Parameters
    ----------
    A : ndarray of float64, shape (K, K)
        Symmetric objective matrix.
    h : ndarray of float64, shape (K,)
        Local fields ``A x`` of the current state.
    i, j : int
        The selected asset leaving and the unselected asset entering.

    Returns
    -------
    float
        ``E(x - e_i + e_j) - E(x)``.
    """
    return 2.0 * (h[j] - h[i]) + A[i, i] + A[j, j] - 2.0 * A[i, j]


@njit(cache=True)
def init_state(A, x, members, pos, h):
    """Fill ``members`` (selected first), ``pos`` (inverse of ``members``) and ``h = A x``.

    Returns the number of selected assets.
    """
    K = x.size
    c = 0
    for i in range(K):
        if x[i] != 0:
            members[c] = i
            c += 1
    k = c
    for i in range(K):
        if x[i] == 0:
            members[c] = i
            c += 1
    for p in range(K):
        pos[members[p]] = p
    h[:] = 0.0
    for p in range(k):
        row = A[members[p]]
        for m in range(K):
            h[m] += row[m]
    return k


@njit(cache=True)
def _apply_swap(A, x, members, pos, h, p, q):
    """Swap the selected asset at ``members[p]`` for the unselected one at ``members[q]``.

    Updates ``x``, ``members``, ``pos`` and the fields ``h += A[:, j] - A[:, i]`` in O(K)
    (rows are used, ``A`` is symmetric).
    """
    i = members[p]
    j = members[q]
    ri = A[i]
    rj = A[j]
    for m in range(h.size):
        h[m] += rj[m] - ri[m]
    x[i] = 0
    x[j] = 1
    members[p] = j
    members[q] = i
    pos[j] = p
    pos[i] = q


_BIG = 1e300  # stands in for +inf in masked scans (fastmath code must not see inf)


@njit(cache=True, inline="always")
def _rotl(v, s):
    return (v << uint64(s)) | (v >> uint64(64 - s))


@njit(cache=True)
def _next_u64(state):
    """xoshiro256** step on a (4,) uint64 state."""
    result = _rotl(state[1] * uint64(5), 7) * uint64(9)
    t = state[1] << uint64(17)
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = _rotl(state[3], 45)
    return result


@njit(cache=True)
def _rand_below(state, n):
    """Integer in ``[0, n)`` for ``n < 2**32`` (multiply-shift, bias < n / 2**32)."""
    return np.int64(((_next_u64(state) >> uint64(32)) * uint64(n)) >> uint64(32))


@njit(cache=True)
def _rand_unit(state):
    """Float in ``[0, 1)`` with 53 random bits."""
    return np.float64(_next_u64(state) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, fastmath=True)
def _row_min(g, row):
    """``min_j (g_j - 2 row_j)`` with four accumulators (vectorizes; ``g`` must be finite)."""
    K = g.size
    m0 = _BIG
    m1 = _BIG
    m2 = _BIG
    m3 = _BIG
    K4 = K - K % 4
    for j in range(0, K4, 4):
        v0 = g[j] - 2.0 * row[j]
        v1 = g[j + 1] - 2.0 * row[j + 1]
        v2 = g[j + 2] - 2.0 * row[j + 2]
        v3 = g[j + 3] - 2.0 * row[j + 3]
        m0 = v0 if v0 < m0 else m0
        m1 = v1 if v1 < m1 else m1
        m2 = v2 if v2 < m2 else m2
        m3 = v3 if v3 < m3 else m3
    for j in range(K4, K):
        v = g[j] - 2.0 * row[j]
        m0 = v if v < m0 else m0
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    return m2 if m2 < m0 else m0


@njit(cache=True)
def _row_argmin(g, row):
    """``argmin_j (g_j - 2 row_j)`` and the minimum (plain loop, exact)."""
    best = _BIG
    jbest = -1
    for j in range(g.size):
        v = g[j] - 2.0 * row[j]
        if v < best:
            best = v
            jbest = j
    return jbest, best


@njit(cache=True)
def _entry_fields(A, x, h, g, twin):
    """``g_j = 2 h_j + A_jj`` for unselected ``j`` (the part of the swap delta that depends
    on the entering asset only) and a huge finite value for selected ones and for those
    whose twin is selected (they may only come in for their own twin, see
    :func:`_best_partner`)."""
    for m in range(x.size):
        t = twin[m]
        if x[m] != 0 or (t >= 0 and x[t] != 0):
            g[m] = _BIG
        else:
            g[m] = 2.0 * h[m] + A[m, m]


@njit(cache=True)
def _twin_value(A, h, i, twin):
    """``g_t - 2 A_it`` for the twin t of the leaving ``i`` (``_BIG`` when it has none)."""
    t = twin[i]
    if t < 0:
        return _BIG
    return 2.0 * h[t] + A[t, t] - 2.0 * A[i, t]


@njit(cache=True)
def _best_value(A, h, g, i, twin):
    """``min_j (g_j - 2 A_ij)`` over the allowed partners of ``i`` (vectorized scan)."""
    v = _row_min(g, A[i])
    if twin[i] >= 0:
        vt = _twin_value(A, h, i, twin)
        if vt < v:
            v = vt
    return v


@njit(cache=True)
def _best_partner(A, h, g, i, twin):
    """``argmin_j (g_j - 2 A_ij)`` over the allowed partners of ``i`` and the minimum."""
    j, v = _row_argmin(g, A[i])
    if twin[i] >= 0:
        vt = _twin_value(A, h, i, twin)
        if vt < v:
            j = twin[i]
            v = vt
    return j, v


@njit(cache=True)
def _allowed(x, twin, i, j):
    """Whether ``j`` may come in for ``i``: its twin is not selected, or is ``i``."""
    t = twin[j]
    return t < 0 or t == i or x[t] == 0


@njit(cache=True)
def _apply_swap_g(A, x, members, pos, h, g, p, q, twin):
    """:func:`_apply_swap` that also keeps the entry fields ``g`` of
    :func:`_entry_fields` up to date (masked entries stay huge: ``1e300 + O(1) == 1e300``).
    """
    i = members[p]
    j = members[q]
    ri = A[i]
    rj = A[j]
    for m in range(h.size):
        d = rj[m] - ri[m]
        h[m] += d
        g[m] += 2.0 * d
    g[j] = _BIG
    ti = twin[i]
    tj = twin[j]
    if tj >= 0:  # j's twin may no longer come in (when it is i, i stays masked below)
        g[tj] = _BIG
    if tj == i:
        g[i] = _BIG
    else:
        g[i] = 2.0 * h[i] + A[i, i]
        if ti >= 0:  # i's twin is free to come in again
            g[ti] = 2.0 * h[ti] + A[ti, ti]
    x[i] = 0
    x[j] = 1
    members[p] = j
    members[q] = i
    pos[j] = p
    pos[i] = q


@njit(cache=True)
def steepest_descent(A, x, members, pos, h, k, rtol, floor, twin):
    """Apply the best improving swap until none improves by more than the tolerance.

    The delta of swapping ``i`` out and ``j`` in splits as
    ``(A_ii - 2 h_i) + (2 h_j + A_jj) - 2 A_ij``, so the best partner of each selected ``i``
    is one vectorized scan of row ``A[i]``. A swap improves when
    ``delta < -rtol * max(|E(x)|, floor)``. Returns the number of swaps made.
    ``members``/``pos``/``h`` must describe ``x`` (see :func:`init_state`). Only allowed
    swaps are made (``twin``, see the module notes).
    """
    K = x.size
    g = np.empty(K)
    n_moves = 0
    while True:
        energy = 0.0
        for p in range(k):
            energy += h[members[p]]
        tol = rtol * max(abs(energy), floor)
        _entry_fields(A, x, h, g, twin)
        best = -tol
        bp = -1
        for p in range(k):
            i = members[p]
            v = A[i, i] - 2.0 * h[i] + _best_value(A, h, g, i, twin)
            if v < best:
                best = v
                bp = p
        if bp < 0:
            return n_moves
        i = members[bp]
        j, v = _best_partner(A, h, g, i, twin)
        if A[i, i] - 2.0 * h[i] + v >= -tol:  # rounding of the vectorized scan: stop
            return n_moves
        _apply_swap(A, x, members, pos, h, bp, pos[j])
        n_moves += 1


@njit(cache=True)
def first_descent(A, x, members, pos, h, k, rtol, floor, twin):
    """Cycle over the selected assets; swap each for its best partner while that improves.

    Stops after a full cycle of ``k`` selected assets without an improving swap, which is
    the same stopping test as :func:`steepest_descent` (the result is a swap local minimum).
    Returns the number of swaps made.
    """
    K = x.size
    g = np.empty(K)
    n_moves = 0
    energy = 0.0
    for p in range(k):
        energy += h[members[p]]
    _entry_fields(A, x, h, g, twin)
    p = 0
    idle = 0
    while idle < k:
        i = members[p]
        tol = rtol * max(abs(energy), floor)
        ci = A[i, i] - 2.0 * h[i]
        moved = False
        if ci + _best_value(A, h, g, i, twin) < -tol:
            j, v = _best_partner(A, h, g, i, twin)
            if ci + v < -tol:
                _apply_swap_g(A, x, members, pos, h, g, p, pos[j], twin)
                energy += ci + v
                n_moves += 1
                moved = True
        idle = 0 if moved else idle + 1
        p = p + 1 if p + 1 < k else 0
    return n_moves


@njit(cache=True)
def random_subset(x, members, k, rng, twin):
    """Set ``x`` to a uniformly random valid k-subset (partial Fisher-Yates on ``members``).

    Variables are drawn in random order and taken unless their twin was taken already:
    with twin pairs that is k uniformly random stocks, each on a uniformly random side,
    i.e. uniform over the valid subsets. Without twins it is the plain partial shuffle.
    ``k`` must not exceed the number of variables without twins plus the number of pairs.
    """
    K = x.size
    for p in range(K):
        members[p] = p
    x[:] = 0
    c = 0
    p = 0
    while c < k:
        r = p + _rand_below(rng, K - p)
        t = members[p]
        members[p] = members[r]
        members[r] = t
        v = members[p]
        tv = twin[v]
        if tv < 0 or x[tv] == 0:
            x[v] = 1
            c += 1
        p += 1


@njit(cache=True)
def anneal_kernel(
    A,
    states,
    random_init,
    k,
    rng_states,
    betas,
    proposals_per_sweep,
    proposal,
    descent,
    rtol,
    trace_move,
    trace_h,
    twin,
):
    """Swap-anneal every read, then swap-descend its best state to a local minimum.

    Parameters
    ----------
    A : (K, K) float64, symmetric, C-contiguous.
    states : (R, K) int8, initial states (rows with ``random_init`` set are overwritten);
        the final states are written in place.
    random_init : (R,) bool, start read r from a random k-subset.
    k : int, number of selected assets.
    rng_states : (R, 4) uint64, per-read xoshiro256** states (advanced in place).
    betas : (S,) float64, inverse temperature of each sweep.
    proposals_per_sweep : int.
    proposal : int
        0 ("random"): a uniformly random selected ``i`` and unselected ``j``; O(1).
        1 ("best"): a uniformly random selected ``i`` and its best partner
        ``j = argmin_j delta(i, j)``; O(K), one vectorized scan of ``A[i]``. Reads start
        with a first-improvement descent (only when there is an anneal).
    descent : int, 0 steepest descent, 1 first-improvement (cyclic) descent.
    rtol : float, relative tolerance of the descents.
    trace_move : (T, 5) float64 and trace_h : (T, K) float64. Debug trace of the first T
        proposals of read 0: ``(i, j, delta, accepted, energy)`` and ``h`` after the
        proposal (``energy`` is the incrementally tracked ``x^T A x``). Pass arrays with
        T = 0 to switch tracing off. A random proposal that is not allowed (see ``twin``)
        is traced with ``delta = nan`` and rejected.
    twin : (K,) int64, each variable's exclusive partner, -1 for none (module notes);
        given initial states must be valid.

    Returns
    -------
    (R,) int64, number of swaps made by the final descent of each read.

    Notes
    -----
    Each read keeps the lowest-energy state its anneal visits and descends from it.
    """
    R, K = states.shape
    floor = 0.0
    for m in range(K):
        floor = max(floor, abs(A[m, m]))
    members = np.empty(K, dtype=np.int64)
    pos = np.empty(K, dtype=np.int64)
    h = np.empty(K)
    g = np.empty(K)
    best_x = np.empty(K, dtype=np.int8)
    n_trace = trace_move.shape[0]
    descent_moves = np.zeros(R, dtype=np.int64)
    nu = K - k
    for r in range(R):
        rng = rng_states[r]
        x = states[r]
        if random_init[r]:
            random_subset(x, members, k, rng, twin)
        init_state(A, x, members, pos, h)
        if betas.size > 0:
            if proposal == 1:
                first_descent(A, x, members, pos, h, k, rtol, floor, twin)
                _entry_fields(A, x, h, g, twin)
            energy = 0.0
            for p in range(k):
                energy += h[members[p]]
            best_energy = energy
            best_x[:] = x
            t = 0
            for s in range(betas.size):
                beta = betas[s]
                for _ in range(proposals_per_sweep):
                    p = _rand_below(rng, k)
                    i = members[p]
                    allowed = True
                    if proposal == 0:
                        q = k + _rand_below(rng, nu)
                        j = members[q]
                        allowed = _allowed(x, twin, i, j)
                        delta = swap_delta(A, h, i, j) if allowed else math.nan
                    else:
                        delta = A[i, i] - 2.0 * h[i] + _best_value(A, h, g, i, twin)
                        j = -1
                        q = -1
                    accept = allowed and delta <= 0.0
                    if allowed and not accept:
                        bd = beta * delta
                        accept = bd < 40.0 and _rand_unit(rng) < math.exp(-bd)
                    if accept:
                        if proposal == 1:
                            j, v = _best_partner(A, h, g, i, twin)
                            q = pos[j]
                            delta = A[i, i] - 2.0 * h[i] + v
                        if proposal == 1:
                            _apply_swap_g(A, x, members, pos, h, g, p, q, twin)
                        else:
                            _apply_swap(A, x, members, pos, h, p, q)
                        energy += delta
                        if energy < best_energy:
                            best_energy = energy
                            best_x[:] = x
                    if r == 0 and t < n_trace:
                        trace_move[t, 0] = i
                        trace_move[t, 1] = j
                        trace_move[t, 2] = delta
                        trace_move[t, 3] = 1.0 if accept else 0.0
                        trace_move[t, 4] = energy
                        trace_h[t, :] = h
                        t += 1
            x[:] = best_x
        # fresh fields (no drift) before the final descent
        init_state(A, x, members, pos, h)
        if descent == 0:
            descent_moves[r] = steepest_descent(A, x, members, pos, h, k, rtol, floor, twin)
        else:
            descent_moves[r] = first_descent(A, x, members, pos, h, k, rtol, floor, twin)
    return descent_moves


@njit(cache=True)
def sample_swap_deltas(A, k, n_states, n_per_state, rng, twin):
    """Deltas of ``n_per_state`` random swaps from each of ``n_states`` random k-subsets.

    The fields are computed per swap in O(k) (no full ``A x``), so the cost is
    ``O(n_states * n_per_state * k)``. With twins the subsets are valid (a variable whose
    twin is taken is set aside) and swaps that are not allowed are drawn again; without
    twins the draws are the plain partial shuffles.
    """
    K = A.shape[0]
    members = np.arange(K)
    taken = np.zeros(K, dtype=np.int8)
    out = np.empty(n_states * n_per_state)
    c = 0
    for _ in range(n_states):
        taken[:] = 0
        lo = 0
        hi = K
        while lo < k:
            r = lo + _rand_below(rng, hi - lo)
            v = members[r]
            tv = twin[v]
            if tv < 0 or taken[tv] == 0:
                members[r] = members[lo]
                members[lo] = v
                taken[v] = 1
                lo += 1
            else:  # set aside: members[k:] still holds every unselected variable
                members[r] = members[hi - 1]
                members[hi - 1] = v
                hi -= 1
        for _ in range(n_per_state):
            i = members[_rand_below(rng, k)]
            j = members[k + _rand_below(rng, K - k)]
            while twin[j] >= 0 and twin[j] != i and taken[twin[j]] != 0:
                j = members[k + _rand_below(rng, K - k)]
            hi = 0.0
            hj = 0.0
            for m in range(k):
                s = members[m]
                hi += A[i, s]
                hj += A[j, s]
            out[c] = 2.0 * (hj - hi) + A[i, i] + A[j, j] - 2.0 * A[i, j]
            c += 1
    return out


# --------------------------------------------------------------------------------------------
# python side: seeds, checks, compilation, debug trace
# --------------------------------------------------------------------------------------------


def rng_states(seed: int | None, num_reads: int) -> np.ndarray:
    """Per-read xoshiro256** states, shape (num_reads, 4) uint64.

    Read r's state comes from ``SeedSequence(seed).spawn(num_reads)[r]``, which does not
    depend on ``num_reads``: read r is the same whatever the number of reads.
    """
    root = np.random.SeedSequence(seed)
    states = np.empty((num_reads, 4), dtype=np.uint64)
    for r, child in enumerate(root.spawn(num_reads)):
        states[r] = child.generate_state(4, np.uint64)
        if not states[r].any():  # the all-zero state is a fixed point of xoshiro
            states[r, 0] = 1
    return states


def check_twin(twin: np.ndarray | None, K: int, k: int | None = None) -> np.ndarray:
    """``twin`` as a (K,) int64 array (-1s when None), checked to pair variables up.

    With ``k``, also checks that a valid k-subset exists (k <= singles + pairs).
    """
    if twin is None:
        return np.full(K, -1, dtype=np.int64)
    t = np.asarray(twin)
    if t.shape != (K,) or not np.issubdtype(t.dtype, np.integer):
        raise InputError(f"twin must be an integer array of length {K}, got shape {t.shape}")
    t = np.ascontiguousarray(t, dtype=np.int64)
    paired = np.flatnonzero(t >= 0)
    if (t < -1).any() or (t >= K).any():
        raise InputError(f"twin entries must be -1 or a variable index in 0..{K - 1}")
    if (t[paired] == paired).any() or (t[t[paired]] != paired).any():
        raise InputError("twin must pair variables up: twin[twin[v]] == v != twin[v]")
    if k is not None:
        groups = K - len(paired) // 2
        if k > groups:
            raise InputError(
                f"k = {k} exceeds the {groups} variables that can be held together "
                "(a variable and its twin exclude each other)"
            )
    return t


def compile_seconds(seconds: float, *kernels: Any) -> float:
    """``seconds`` when numba compiled any of ``kernels`` in this process (a cache miss: the
    first run after installing or after a change), else 0.0 (loaded from its on-disk cache,
    a fraction of a second that is not a compilation)."""
    missed = sum(sum(kernel.stats.cache_misses.values()) for kernel in kernels)
    return seconds if missed else 0.0


def warmup() -> float:
    """Compile (or load from numba's on-disk cache) all kernels on a tiny instance.

    :meth:`SwapAnnealingSampler.sample` calls it once per process (:func:`ensure_compiled`) and
    reports the time as ``info["timing"]["compile"]``. Returns the seconds it took to compile
    (0.0 when the kernels came from the cache: :func:`compile_seconds`).
    """
    global _WARM
    t0 = time.perf_counter()
    A = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 3.0]])
    for proposal in PROPOSALS.values():
        for descent in DESCENTS.values():
            anneal_kernel(
                A,
                np.zeros((1, 3), dtype=np.int8),
                np.ones(1, dtype=np.bool_),
                1,
                rng_states(0, 1),
                np.ones(2),
                2,
                proposal,
                descent,
                DESCENT_RTOL,
                np.empty((0, 5)),
                np.empty((0, 3)),
                np.full(3, -1, dtype=np.int64),
            )
    sample_swap_deltas(A, 1, 2, 2, rng_states(0, 1)[0], np.full(3, -1, dtype=np.int64))
    _WARM = True
    return compile_seconds(time.perf_counter() - t0, anneal_kernel, sample_swap_deltas)


def ensure_compiled() -> float:
    """:func:`warmup` on the first call in a process, then nothing; returns its seconds."""
    return 0.0 if _WARM else warmup()


def trace_anneal(
    A: np.ndarray,
    x0: np.ndarray,
    seed: int | None,
    betas: np.ndarray,
    proposals_per_sweep: int,
    num_trace: int,
    proposal_type: str = "random",
    twin: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run one read from ``x0`` with the debug trace on (for tests).

    Returns ``(x_final, trace_move, trace_h)``: per proposal ``(i, j, delta, accepted,
    energy)`` and the fields ``h`` after it, see :func:`anneal_kernel`.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    states = np.array(x0, dtype=np.int8, ndmin=2)  # a copy: the kernel writes into it
    trace_move = np.zeros((num_trace, 5))
    trace_h = np.zeros((num_trace, A.shape[0]))
    anneal_kernel(
        A,
        states,
        np.zeros(1, dtype=np.bool_),
        int(states[0].sum()),
        rng_states(seed, 1),
        np.asarray(betas, dtype=np.float64),
        int(proposals_per_sweep),
        PROPOSALS[proposal_type],
        DESCENTS["steepest"],
        DESCENT_RTOL,
        trace_move,
        trace_h,
        check_twin(twin, A.shape[0]),
    )
    return states[0], trace_move, trace_h
