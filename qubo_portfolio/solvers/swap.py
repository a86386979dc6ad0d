"""Fixed-cardinality swap annealing: a :class:`dimod.Sampler` that keeps ``sum x = k``.

Every move swaps one selected asset ``i`` (``x_i = 1``) for one unselected asset ``j``
(``x_j = 0``), so every state the chain visits is feasible and no penalty term is needed.
With ``A`` the symmetric matrix of the objective ``E(x) = x^T A x`` and the local fields
``h = A x``, the energy change of such a swap is

    ``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij``

(see :func:`swap_delta`). Evaluating a random proposal therefore costs O(1), finding the best
partner of a selected asset one O(K) scan, and an accepted swap O(K)
(``h += A[:, j] - A[:, i]``). The kernels are compiled with numba (``cache=True``); the
random numbers come from a per-read xoshiro256** generator seeded through
``numpy.random.SeedSequence``.

Exclusive pairs (the long and short legs of one stock): with ``twin[v]`` the index of v's
partner (-1 for none), no state ever holds both. A swap of ``i`` out and ``j`` in is allowed
unless ``j``'s twin is selected and is not ``i`` (swapping a leg for its own twin flips the
side of a stock). Random starts pick a valid subset, proposals that are not allowed are
rejected, best-partner scans and the descents leave such partners out: the entry fields
``g`` of :func:`_entry_fields` mask the selected variables and their twins, and the twin of
the leaving variable is checked on its own (:func:`_best_partner`). Without twins every
kernel makes the same moves and random draws as before they knew of twins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import dimod
import numpy as np
from numba import njit, uint64

from qubo_portfolio.errors import InputError

__all__ = [
    "SwapAnnealingSampler",
    "calibrate_beta_range",
    "dense_matrix",
    "swap_delta",
    "warmup",
]

#: Relative tolerance below which a swap does not count as an improvement in the descents.
DESCENT_RTOL = 1e-12

# Fixed seed of the beta calibration: the default ``beta_range`` depends on the instance only.
_CALIBRATION_SEED = 20240531


# --------------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------------


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
def _init_state(A, x, members, pos, h):
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
def _steepest_descent(A, x, members, pos, h, k, rtol, floor, twin):
    """Apply the best improving swap until none improves by more than the tolerance.

    The delta of swapping ``i`` out and ``j`` in splits as
    ``(A_ii - 2 h_i) + (2 h_j + A_jj) - 2 A_ij``, so the best partner of each selected ``i``
    is one vectorized scan of row ``A[i]``. A swap improves when
    ``delta < -rtol * max(|E(x)|, floor)``. Returns the number of swaps made.
    ``members``/``pos``/``h`` must describe ``x`` (see :func:`_init_state`). Only allowed
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
def _first_descent(A, x, members, pos, h, k, rtol, floor, twin):
    """Cycle over the selected assets; swap each for its best partner while that improves.

    Stops after a full cycle of ``k`` selected assets without an improving swap, which is
    the same stopping test as :func:`_steepest_descent` (the result is a swap local minimum).
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
def _random_subset(x, members, k, rng, twin):
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
def _anneal_kernel(
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
            _random_subset(x, members, k, rng, twin)
        _init_state(A, x, members, pos, h)
        if betas.size > 0:
            if proposal == 1:
                _first_descent(A, x, members, pos, h, k, rtol, floor, twin)
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
        _init_state(A, x, members, pos, h)
        if descent == 0:
            descent_moves[r] = _steepest_descent(A, x, members, pos, h, k, rtol, floor, twin)
        else:
            descent_moves[r] = _first_descent(A, x, members, pos, h, k, rtol, floor, twin)
    return descent_moves


@njit(cache=True)
def _sample_swap_deltas(A, k, n_states, n_per_state, rng, twin):
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
# python helpers
# --------------------------------------------------------------------------------------------

_DESCENTS = {"steepest": 0, "first": 1}
_PROPOSALS = {"best": 1, "random": 0}
_WARM = False


def dense_matrix(bqm: dimod.BinaryQuadraticModel, variables=None) -> np.ndarray:
    """Dense symmetric ``A`` with ``bqm.energy(x) = x^T A x + bqm.offset`` (BINARY ``x``).

    Parameters
    ----------
    bqm : dimod.BinaryQuadraticModel
        A SPIN model is read through its BINARY equivalent.
    variables : sequence, optional
        Variable order of the rows/columns; defaults to ``bqm.variables``.

    Returns
    -------
    ndarray of float64, shape (K, K), C-contiguous: ``A_ii`` = linear bias of ``i``,
    ``A_ij = A_ji`` = half the quadratic bias of ``(i, j)``.
    """
    if bqm.vartype is not dimod.BINARY:
        bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
    variables = list(bqm.variables) if variables is None else list(variables)
    lin, (row, col, quad), _ = bqm.to_numpy_vectors(variables)
    K = len(variables)
    # each interaction appears once with row != col: scatter half of it into one triangle,
    # then add the transpose (exact: the other entry of each pair is 0)
    half = np.zeros((K, K))
    half.ravel()[np.asarray(row, dtype=np.int64) * K + col] = np.asarray(quad) / 2.0
    A = half + half.T
    A[np.diag_indices(K)] = lin
    return np.ascontiguousarray(A)


def calibrate_beta_range(
    A: np.ndarray,
    k: int,
    *,
    hot_quantile: float = 0.05,
    hot_acceptance: float = 0.5,
    cold_quantile: float = 0.01,
    cold_acceptance: float = 0.01,
    num_states: int = 64,
    swaps_per_state: int = 64,
    seed: int = _CALIBRATION_SEED,
    twin: np.ndarray | None = None,
) -> tuple[float, float]:
    """Inverse-temperature range ``(beta_hot, beta_cold)`` from the spread of swap deltas.

    Samples ``num_states * swaps_per_state`` random swaps out of random k-subsets and takes
    quantiles of the nonzero ``|delta|``: at ``beta_hot`` the ``hot_quantile`` delta is
    accepted with probability ``hot_acceptance``, at ``beta_cold`` the ``cold_quantile`` delta
    with probability ``cold_acceptance``; that is ``beta = -ln(acceptance) / quantile``.

    The defaults were set by measurement (time to solution on S&P 500 and synthetic
    instances, K = 253..2000): a small uphill swap (5% quantile) accepted half of the time at
    the hot end, the 1% quantile accepted 1% of the time at the cold end. A hotter start (the
    median accepted half of the time) only randomizes a state that is random already.

    With ``twin`` (exclusive pairs, see the module notes) the states and swaps are valid ones.

    Returns
    -------
    (float, float)
        ``(beta_hot, beta_cold)`` with ``beta_cold >= beta_hot``; ``(1.0, 1.0)`` when every
        sampled delta is zero.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    rng = _rng_states(seed, 1)[0]
    twin = _check_twin(twin, A.shape[0], int(k))
    deltas = np.abs(
        _sample_swap_deltas(A, int(k), int(num_states), int(swaps_per_state), rng, twin)
    )
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    deltas = deltas[deltas > 1e-12 * scale]
    if deltas.size == 0:
        return (1.0, 1.0)
    d_hot, d_cold = np.quantile(deltas, [hot_quantile, cold_quantile])
    beta_hot = -math.log(hot_acceptance) / d_hot
    beta_cold = -math.log(cold_acceptance) / d_cold
    return (float(beta_hot), float(max(beta_cold, beta_hot)))


def _beta_schedule(beta_range, num_sweeps, schedule_type):
    """One inverse temperature per sweep, from ``beta_range[0]`` to ``beta_range[1]``."""
    hot, cold = beta_range
    if num_sweeps == 0:
        return np.empty(0)
    if schedule_type == "geometric":
        return np.geomspace(hot, cold, num_sweeps)
    return np.linspace(hot, cold, num_sweeps)


def _parse_initial_states(initial_states, variables):
    """Initial states as an (n, K) int8 array in ``variables`` order."""
    K = len(variables)
    labelled = isinstance(initial_states, dimod.SampleSet | Mapping) or (
        isinstance(initial_states, list | tuple)
        and len(initial_states) > 0
        and isinstance(initial_states[0], Mapping)
    )
    if labelled:
        arr, labels = dimod.as_samples(initial_states)
        index = {v: c for c, v in enumerate(labels)}
        missing = [v for v in variables if v not in index]
        if missing or len(labels) != K:
            raise InputError(
                f"initial_states must assign exactly the {K} variables of the bqm "
                f"(missing e.g. {missing[:3]!r})"
            )
        arr = arr[:, [index[v] for v in variables]]
    else:
        arr = np.asarray(initial_states)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != K:
            raise InputError(
                f"initial_states must have shape (n, {K}) in bqm variable order, got {arr.shape}"
            )
    if not np.isin(arr, (0, 1)).all():
        raise InputError("initial_states must be 0/1 (BINARY) assignments")
    return np.ascontiguousarray(arr, dtype=np.int8)


def _rng_states(seed, num_reads):
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


def _check_twin(twin, K, k=None):
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


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def warmup() -> float:
    """Compile (or load from numba's on-disk cache) all kernels on a tiny instance.

    :meth:`SwapAnnealingSampler.sample` calls it once per process and reports the time as
    ``info["timing"]["compile"]``. Returns the seconds it took.
    """
    global _WARM
    t0 = time.perf_counter()
    A = np.array([[1.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 3.0]])
    for proposal in _PROPOSALS.values():
        for descent in _DESCENTS.values():
            _anneal_kernel(
                A,
                np.zeros((1, 3), dtype=np.int8),
                np.ones(1, dtype=np.bool_),
                1,
                _rng_states(0, 1),
                np.ones(2),
                2,
                proposal,
                descent,
                DESCENT_RTOL,
                np.empty((0, 5)),
                np.empty((0, 3)),
                np.full(3, -1, dtype=np.int64),
            )
    _sample_swap_deltas(A, 1, 2, 2, _rng_states(0, 1)[0], np.full(3, -1, dtype=np.int64))
    _WARM = True
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# the sampler
# --------------------------------------------------------------------------------------------


class SwapAnnealingSampler(dimod.Sampler):
    """Simulated annealing over k-subsets with swap moves, then a swap descent.

    Minimizes ``bqm.energy(x)`` over BINARY ``x`` with exactly ``k`` ones: every move swaps a
    selected asset ``i`` for an unselected asset ``j``, so no penalty is needed. The energy
    change is ``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij`` (:func:`swap_delta`) with
    the fields ``h = A x`` kept up to date in O(K) per accepted swap.

    A read starts from a uniformly random k-subset (or an initial state), runs ``num_sweeps``
    sweeps of ``proposals_per_sweep`` Metropolis proposals at inverse temperatures stepping
    from ``beta_range[0]`` to ``beta_range[1]``, keeps the lowest-energy state it visits and
    ends with a swap descent from it, so every sample is a swap local minimum (no single swap
    lowers its energy). Two kinds of proposal:

    - ``"best"`` (default): a random selected ``i`` and its best partner
      ``j = argmin_j delta(i, j)``, one vectorized O(K) scan of row ``A[i]``. The read first
      descends from its start, so the anneal hops between nearby swap local minima.
    - ``"random"``: a random selected ``i`` and a random unselected ``j``, O(1) per proposal.

    Defaults, set by measurement on the S&P 500 instance of DESIGN.md (K=470, k=30) and
    synthetic factor-model markets (K=253, k=20; K=2000, k=100):

    - ``num_sweeps=20``; ``proposals_per_sweep`` counts proposals per *selected* asset:
      ``k`` for ``"best"``, ``4 k`` for ``"random"``.
    - ``beta_range`` from :func:`calibrate_beta_range`: 4096 random swaps out of random
      k-subsets; at the hot end the 5% quantile of ``|delta|`` is accepted with probability
      1/2, at the cold end the 1% quantile with probability 1/100. It depends on the instance
      only (fixed calibration seed) and is reported in ``info["beta_range"]``.
    - ``beta_schedule_type="geometric"``, ``descent="steepest"``.

    With those, one core, a read on the S&P 500 instance takes about 0.2 ms and hits the
    best known portfolio 28% of the time (random proposals: 0.12 ms, 12%); on the synthetic
    K=253 market 0.08 ms and 93% (0.05 ms, 49%). Random proposals at a cold temperature
    behave like a random-order descent and settle in worse minima than best-partner moves,
    more so as K grows (K=2000: 2% of reads hit against 40%).

    The penalty-free objective BQM (linear ``A_ii``, quadratic ``2 A_ij``) is the intended
    input; a penalty BQM gives the same samples in exact arithmetic (its penalty is constant
    on k-subsets) but loses precision. Energies are ``bqm.energies`` of the samples.

    ``exclusive_pairs`` (pairs of variables never both selected, such as the long and short
    legs of a stock) are respected by every state: random starts, proposals and the final
    descent (see the module notes); every sample is then a swap local minimum among the
    allowed swaps.

    Examples
    --------
    >>> import dimod
    >>> import numpy as np
    >>> from qubo_portfolio.solvers.swap import SwapAnnealingSampler
    >>> rng = np.random.default_rng(0)
    >>> R = rng.normal(0.0005, 0.01, size=(60, 10))
    >>> A = (np.cov(R, rowvar=False) - 0.05 * np.diag(R.mean(axis=0))) / 3**2
    >>> bqm = dimod.BQM(np.triu(2 * A, 1) + np.diag(np.diag(A)), "BINARY")
    >>> sampleset = SwapAnnealingSampler().sample(bqm, k=3, num_reads=5, seed=1)
    >>> len(sampleset), set(sampleset.record.sample.sum(axis=1).tolist())
    (5, {3})
    >>> bool(np.allclose(sampleset.record.energy, bqm.energies(sampleset)))
    True
    """

    properties: dict = None
    """``beta_schedule_options``, ``proposal_type_options`` and ``descent_options``."""

    parameters: dict = None
    """Keyword arguments accepted by :meth:`sample`."""

    def __init__(self):
        self.parameters = {
            "k": [],
            "num_reads": [],
            "num_sweeps": [],
            "proposals_per_sweep": [],
            "proposal_type": ["proposal_type_options"],
            "beta_range": [],
            "beta_schedule_type": ["beta_schedule_options"],
            "descent": ["descent_options"],
            "seed": [],
            "initial_states": [],
            "exclusive_pairs": [],
        }
        self.properties = {
            "beta_schedule_options": ("geometric", "linear"),
            "proposal_type_options": tuple(_PROPOSALS),
            "descent_options": tuple(_DESCENTS),
        }

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        k: int,
        num_reads: int | None = None,
        num_sweeps: int = 20,
        proposals_per_sweep: int | None = None,
        proposal_type: str = "best",
        beta_range: tuple[float, float] | None = None,
        beta_schedule_type: str = "geometric",
        descent: str = "steepest",
        seed: int | None = None,
        initial_states=None,
        exclusive_pairs=None,
        **kwargs,
    ) -> dimod.SampleSet:
        """Sample low-energy k-subsets.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel
            Objective ``x^T A x`` (a SPIN model is solved through its BINARY equivalent and
            the samples are BINARY).
        k : int
            Number of ones in every sample, ``1 <= k <= K - 1``.
        num_reads : int, optional
            Number of reads (independent anneals). Default 10, or the number of initial
            states when those are given; more reads than states start the rest at random,
            fewer use the first ``num_reads`` states.
        num_sweeps : int, default 20
            Number of temperatures. 0 skips the anneal: each read is a descent only.
        proposals_per_sweep : int, optional
            Proposals at each temperature; default ``k`` (``"best"``) or ``4 k``
            (``"random"``).
        proposal_type : {"best", "random"}, default "best"
            Partner of the leaving asset: its best swap partner, or a random unselected asset.
        beta_range : (float, float), optional
            ``(hot, cold)`` inverse temperatures; default :func:`calibrate_beta_range`.
        beta_schedule_type : {"geometric", "linear"}, default "geometric"
            Spacing of the inverse temperatures.
        descent : {"steepest", "first"}, default "steepest"
            Final descent: best swap overall at each step, or the best partner of each
            selected asset in turn. Both stop at a swap local minimum (relative tolerance
            ``DESCENT_RTOL``).
        seed : int, optional
            Seed; the same seed and parameters give the same SampleSet, and read ``r`` is the
            same whatever ``num_reads`` is.
        initial_states : array-like (n, K), SampleSet or list of dicts, optional
            Starting k-subsets (arrays in ``bqm.variables`` order); each must have exactly
            ``k`` ones (and hold no exclusive pair).
        exclusive_pairs : iterable of (u, v) variable pairs, optional
            Variables that are never selected together (each variable in one pair at most),
            e.g. ``[("long:AAPL", "short:AAPL"), ...]``.

        Returns
        -------
        dimod.SampleSet
            BINARY, variables in ``bqm.variables`` order, one row per read (not aggregated,
            read order), ``energy = bqm.energies``, vector
            ``num_descent_swaps`` (swaps made by each read's final descent). ``info``:
            ``k``, ``beta_range``, ``beta_schedule_type``, ``num_sweeps``,
            ``proposals_per_sweep``, ``proposal_type``, ``descent`` and ``timing`` in
            seconds (``compile``: kernel compile/cache load, first call in a process only;
            ``beta_calibration``; ``sampling``: the compiled reads; ``per_read``; ``total``).

        Raises
        ------
        InputError
            (a ``ValueError``) Bad ``k``, ``num_reads``, ``num_sweeps``, option, initial state
            or pairs.
        """
        self.remove_unknown_kwargs(**kwargs)  # warns about, and ignores, unknown keywords
        if bqm.vartype is not dimod.BINARY:
            bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
        variables = list(bqm.variables)
        twin = None
        if exclusive_pairs is not None:
            index = {v: c for c, v in enumerate(variables)}
            twin = np.full(len(variables), -1, dtype=np.int64)
            for pair in exclusive_pairs:
                u, v = pair
                if u not in index or v not in index or u == v:
                    raise InputError(f"exclusive pair {pair!r}: two distinct bqm variables")
                if twin[index[u]] >= 0 or twin[index[v]] >= 0:
                    raise InputError(f"exclusive pair {pair!r}: a variable is in two pairs")
                twin[index[u]], twin[index[v]] = index[v], index[u]
        sampleset = self.sample_matrix(
            dense_matrix(bqm, variables),
            k=k,
            variables=variables,
            num_reads=num_reads,
            num_sweeps=num_sweeps,
            proposals_per_sweep=proposals_per_sweep,
            proposal_type=proposal_type,
            beta_range=beta_range,
            beta_schedule_type=beta_schedule_type,
            descent=descent,
            seed=seed,
            initial_states=initial_states,
            twin=twin,
        )
        sampleset.record.energy[:] = bqm.energies(sampleset)
        return sampleset

    def sample_matrix(
        self,
        A: np.ndarray,
        *,
        k: int,
        variables: list | None = None,
        num_reads: int | None = None,
        num_sweeps: int = 20,
        proposals_per_sweep: int | None = None,
        proposal_type: str = "best",
        beta_range: tuple[float, float] | None = None,
        beta_schedule_type: str = "geometric",
        descent: str = "steepest",
        seed: int | None = None,
        initial_states=None,
        twin: np.ndarray | None = None,
    ) -> dimod.SampleSet:
        """:meth:`sample` on a dense symmetric matrix ``A``: energies ``x^T A x``.

        The fast path for callers that hold ``A`` already (no BQM round trip); ``variables``
        labels its rows (default ``0..K-1``). ``twin[v]`` is the index of the variable that
        excludes v (-1 for none; ``None``: no exclusions), e.g. the other leg of a stock in a
        long/short model. Other parameters as in :meth:`sample`.
        """
        t_start = time.perf_counter()
        A = np.ascontiguousarray(A, dtype=np.float64)
        K = len(A)
        if A.shape != (K, K) or not np.array_equal(A, A.T):
            raise InputError(f"A must be a symmetric square matrix, got shape {A.shape}")
        variables = list(range(K)) if variables is None else list(variables)
        if len(variables) != K:
            raise InputError(f"{len(variables)} variables for a {K} x {K} matrix")
        if K < 2:
            raise InputError(f"swap annealing needs at least 2 variables, the bqm has {K}")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= K - 1:
            raise InputError(f"k must be an integer with 1 <= k <= K - 1 = {K - 1}, got {k!r}")
        k = int(k)
        twin = _check_twin(twin, K, k)
        for name, value, options in (
            ("proposal_type", proposal_type, self.properties["proposal_type_options"]),
            ("beta_schedule_type", beta_schedule_type, self.properties["beta_schedule_options"]),
            ("descent", descent, self.properties["descent_options"]),
        ):
            if value not in options:
                raise InputError(f"{name} must be one of {options}, got {value!r}")
        num_sweeps = _check_int("num_sweeps", num_sweeps, 0)
        if proposals_per_sweep is None:
            proposals_per_sweep = k if proposal_type == "best" else 4 * k
        proposals_per_sweep = _check_int("proposals_per_sweep", proposals_per_sweep, 0)

        if initial_states is not None:
            init = _parse_initial_states(initial_states, variables)
            counts = init.sum(axis=1, dtype=np.int64)
            bad = np.flatnonzero(counts != k)
            if bad.size:
                raise InputError(
                    f"every initial state must have exactly k={k} ones; "
                    f"state {bad[0]} has {counts[bad[0]]}"
                )
            paired = np.flatnonzero(twin >= 0)
            both = (init[:, paired] != 0) & (init[:, twin[paired]] != 0)
            if both.any():
                bad = int(np.flatnonzero(both.any(axis=1))[0])
                raise InputError(
                    f"initial state {bad} selects a variable and its twin "
                    f"({variables[paired[both[bad]][0]]!r})"
                )
        else:
            init = np.zeros((0, K), dtype=np.int8)
        if num_reads is None:
            num_reads = len(init) or 10
        num_reads = _check_int("num_reads", num_reads, 1)

        if beta_range is not None:
            given = beta_range
            try:
                if isinstance(beta_range, str) or len(beta_range) != 2:
                    raise TypeError
                beta_range = (float(beta_range[0]), float(beta_range[1]))
            except (TypeError, ValueError):
                raise InputError(f"beta_range must be [hot, cold], got {given!r}") from None
            if not (0 < beta_range[0] <= beta_range[1] < np.inf):
                raise InputError(
                    f"beta_range must be [hot, cold] with 0 < hot <= cold, got {list(beta_range)}"
                )

        t_compile = 0.0 if _WARM else warmup()

        if not np.isfinite(A).all():
            raise InputError("the matrix has non-finite entries")
        t0 = time.perf_counter()
        if beta_range is None:
            beta_range = calibrate_beta_range(A, k, twin=twin)
        t_calib = time.perf_counter() - t0
        betas = _beta_schedule(beta_range, num_sweeps, beta_schedule_type)

        states = np.zeros((num_reads, K), dtype=np.int8)
        n_init = min(len(init), num_reads)
        states[:n_init] = init[:n_init]
        random_init = np.ones(num_reads, dtype=np.bool_)
        random_init[:n_init] = False
        rng_states = _rng_states(seed, num_reads)

        t0 = time.perf_counter()
        descent_swaps = _anneal_kernel(
            A,
            states,
            random_init,
            k,
            rng_states,
            betas,
            proposals_per_sweep,
            _PROPOSALS[proposal_type],
            _DESCENTS[descent],
            DESCENT_RTOL,
            np.empty((0, 5)),
            np.empty((0, K)),
            twin,
        )
        t_sample = time.perf_counter() - t0

        xs = states.astype(np.float64)
        energies = ((xs @ A) * xs).sum(axis=1)
        info = {
            "k": k,
            "beta_range": beta_range,
            "beta_schedule_type": beta_schedule_type,
            "num_sweeps": num_sweeps,
            "proposals_per_sweep": proposals_per_sweep,
            "proposal_type": proposal_type,
            "descent": descent,
            "timing": {
                "compile": t_compile,
                "beta_calibration": t_calib,
                "sampling": t_sample,
                "per_read": t_sample / num_reads,
                "total": time.perf_counter() - t_start,
            },
        }
        return dimod.SampleSet.from_samples(
            (states, variables),
            vartype=dimod.BINARY,
            energy=energies,
            info=info,
            sort_labels=False,
            num_descent_swaps=descent_swaps,
        )


def _trace_anneal(
    A, x0, seed, betas, proposals_per_sweep, num_trace, proposal_type="random", twin=None
):
    """Run one read from ``x0`` with the debug trace on (for tests).

    Returns ``(x_final, trace_move, trace_h)``: per proposal ``(i, j, delta, accepted,
    energy)`` and the fields ``h`` after it, see :func:`_anneal_kernel`.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    states = np.array(x0, dtype=np.int8, ndmin=2)  # a copy: the kernel writes into it
    trace_move = np.zeros((num_trace, 5))
    trace_h = np.zeros((num_trace, A.shape[0]))
    _anneal_kernel(
        A,
        states,
        np.zeros(1, dtype=np.bool_),
        int(states[0].sum()),
        _rng_states(seed, 1),
        np.asarray(betas, dtype=np.float64),
        int(proposals_per_sweep),
        _PROPOSALS[proposal_type],
        _DESCENTS["steepest"],
        DESCENT_RTOL,
        trace_move,
        trace_h,
        _check_twin(twin, A.shape[0]),
    )
    return states[0], trace_move, trace_h
