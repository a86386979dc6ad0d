"""Certified lower bounds for ``min x^T A x  s.t.  sum x = K', x in {0, 1}^n``.

``A`` is symmetric and may be indefinite with negative entries. Long/short models add
``x_i + x_twin(i) <= 1`` (at most one leg per stock). Every bound returned here is *valid*:
no solver's reported objective is taken on trust, each value is recomputed from a
dual-feasible point in a way where numerical inaccuracy only loosens it.

Methods
-------
eigenvalue (:func:`eigenvalue_bound`)
    For binary x with ``sum x = K'``, ``||x||^2 = K'``, so ``x^T A x >= lambda_min(A) K'``
    whatever the sign of ``lambda_min`` (with a positive ``lambda_min`` the bound is positive
    and still valid; it is *not* ``lambda_min K'^2``).
QCR (:func:`qcr_bound`, "quadratic convex reformulation")
    For binary x, ``x_i^2 = x_i``, and for feasible x, ``x_i x_twin(i) = 0``, so for any
    ``u in R^n`` and pair weights ``w``::

        x^T A x = x^T B x + u^T x,     B = A - diag(u) - W,   W_(i,twin i) = w_i

    Every feasible x lies in ``S = {sum x = K'}``; if ``B`` is positive semidefinite on the
    directions of ``S`` (``z^T B z >= 0`` for ``1^T z = 0``), ``f(x) = x^T B x + u^T x`` is
    convex on ``S`` and ``min f`` over the polytope
    ``P = {0 <= x <= 1, sum x = K', x_i + x_twin(i) <= 1}`` is a lower bound. (Constraint
    multipliers ``beta_i x_i (sum x - K')`` of the Billionnet-Elloumi QCR vanish identically
    on ``S``, which is why only the projected matrix has to be PSD.) ``u`` is uniform
    (``lambda_min(A)``) or the diagonal dual of the Shor SDP.
Shor SDP (:func:`shor_bound`)
    ``min <A, X>`` over ``[[1, x^T], [x, X]] >= 0``, ``diag X = x``, ``sum x = K'``,
    ``X 1 = K' x`` (and ``X_(i,twin i) = 0``), solved by the boundary point method (numpy;
    Clarabel or SCS through cvxpy on request). The solver's objective is *not* reported as the bound:
    the duals of ``diag X = x`` (u) and ``X_(i,twin i) = 0`` (w) are fed to QCR, which
    certifies a value equal to the SDP optimum up to the solver's accuracy.

Certification
-------------
1. Shift (:func:`convex_relaxation`). With ``V`` an orthonormal basis of ``{1^T z = 0}``
   (from the Householder reflection mapping ``1/sqrt(n)`` to ``e_1``), the eigenvalues of
   ``V^T B V`` are computed with LAPACK. A backward-stable symmetric eigensolver returns
   the eigenvalues of ``V^T B V + E`` with ``||E||_2 <= p(n) eps ||B||_2``; forming the
   projection adds an error of the same order. We take the margin
   ``m = 16 n eps ||B||_F`` (``eps = 2.2e-16``) and accept ``B`` only when the computed
   ``lambda_min >= m``; otherwise ``u`` is lowered uniformly (``B += s I`` with
   ``s = 1.01 (m - lambda_min) + tiny``) and the test is repeated on the new ``B``.
2. Bound of the convex QP (:func:`certified_bound`). For any ``y`` with ``sum y = K'`` and
   ``g = grad f(y) = 2 B y + u``, convexity on ``S`` gives for every ``x in P``
   ``f(x) >= f(y) + g^T (x - y)``, hence (as ``f(y) - g^T y = -y^T B y``)::

       min_P f >= -y^T B y + min_(x in P) g^T x

   The linear minimum is exact by sorting: long only, the sum of the K' smallest ``g_i``;
   long/short, the sum of the K' smallest ``min(g_i, g_twin(i))`` over stocks (per stock
   ``x_i + x_twin(i) <= 1`` puts at most one unit on its cheaper leg). Fixed variables (in
   branch and bound) contribute their ``g_i`` and leave fewer slots. ``y`` is any
   approximate minimizer (accelerated projected gradient, :func:`solve_relaxation`): an
   inaccurate ``y`` gives a weaker, never an invalid, bound.
3. Floating point in step 2 is covered by subtracting
   ``E = gamma (2 sum_i |y_i| r_i ymax + ymax S_K'(2 r) + S_K'(|u|)) + E_sum + E_diag`` where
   ``r_i = sum_j |B_ij|``, ``S_K'(v)`` is the sum of the K' largest ``v_i``,
   ``gamma = 2 (n + 2) eps``, ``ymax = max(1, max |y_i|)``; ``E_sum`` covers
   ``delta = |sum y - K'| + gamma sum |y_i|`` (y not exactly on S):
   ``2 delta ||B||_F (sqrt(K') + ||y||) / sqrt(n) + delta^2 ||B||_F / n``; ``E_diag =
   eps S_K'(|B_ii| + |u_i|)`` covers the rounding of ``B_ii = fl(A_ii - u_i)`` in the
   identity ``x^T A x = x^T B x + u^T x``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from ..errors import InputError

__all__ = [
    "ConvexRelaxation",
    "LowerBound",
    "RelaxationSolution",
    "certified_bound",
    "check_problem",
    "convex_relaxation",
    "eigenvalue_bound",
    "ensure_compiled",
    "projected_eigvalsh",
    "qcr_bound",
    "shor_bound",
    "solve_relaxation",
]

EPS = float(np.finfo(np.float64).eps)

#: the eigenvalue margin factor: ``m = EIG_MARGIN n eps ||B||_F``
EIG_MARGIN = 16.0


@dataclass(frozen=True)
class LowerBound:
    """A certified lower bound on ``min x^T A x`` over the feasible selections.

    Attributes
    ----------
    value : float
        The bound (valid: every feasible x has ``x^T A x >= value``).
    method : str
        ``"eigenvalue"``, ``"qcr-uniform"``, ``"qcr"`` or ``"shor"``.
    seconds : float
        Wall time to compute it (SDP solve included).
    u : ndarray or None
        The diagonal shift actually certified (``A - diag(u) - W`` PSD on ``sum z = 0``).
    w : ndarray or None
        Pair weights (long/short), ``W_(i, twin i) = w_i``; None when long only.
    x : ndarray or None
        The approximate minimizer of the convex relaxation the bound was certified at.
    solver_value : float or None
        What a numerical solver reported (the SDP objective): for information, never the bound.
    info : dict
        Details: the shift added by the certification, QP iterations, solver status, ...
    """

    value: float
    method: str
    seconds: float
    u: np.ndarray | None = None
    w: np.ndarray | None = None
    x: np.ndarray | None = None
    solver_value: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


def check_problem(
    A: np.ndarray, k: int, twin: np.ndarray | None = None
) -> tuple[np.ndarray, int, np.ndarray]:
    """Validate and normalise ``(A, k, twin)``.

    Returns ``A`` as a contiguous float64 symmetric array (``(A + A^T) / 2``), ``k`` as int and
    ``twin`` as an int64 array (-1 where a variable has no twin).

    Raises
    ------
    InputError
        Non-square or non-finite ``A``, ``k`` out of range, ``twin`` not a pairing, or no
        feasible selection (K' above the number of stocks).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise InputError(f"A must be a square matrix, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise InputError("A has non-finite entries")
    n = A.shape[0]
    A = np.ascontiguousarray((A + A.T) / 2)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n:
        raise InputError(f"k must be a whole number with 1 <= k <= {n}, got {k!r}")
    k = int(k)
    if twin is None:
        t = np.full(n, -1, dtype=np.int64)
    else:
        t = np.asarray(twin, dtype=np.int64).ravel()
        if t.shape != (n,):
            raise InputError(f"twin has length {t.size}, expected {n}")
        paired = np.flatnonzero(t >= 0)
        if (t >= n).any() or (t < -1).any() or (t[paired] == paired).any():
            raise InputError("twin must hold variable indices (or -1), never a variable itself")
        if (t[t[paired]] != paired).any():
            raise InputError("twin must pair variables up: twin[twin[i]] == i")
    units = int(np.sum(t < 0) + np.sum(t >= 0) // 2)
    if k > units:
        raise InputError(f"k = {k} exceeds the {units} stocks that can be held (one leg each)")
    return A, k, t


# --------------------------------------------------------------------------------------------
# eigenvalues on the sum-zero subspace
# --------------------------------------------------------------------------------------------


def _householder_project(B: np.ndarray) -> np.ndarray:
    """``V^T B V`` for an orthonormal basis V of ``{1^T z = 0}``.

    ``H = I - 2 v v^T / (v^T v)`` with ``v = 1/sqrt(n) + e_1`` is symmetric orthogonal and
    maps ``1/sqrt(n)`` to ``-e_1``, so its columns 2..n span ``1^perp``; ``H B H`` is two
    rank-2 updates of B (no n^3 products).
    """
    n = B.shape[0]
    v = np.full(n, 1.0 / math.sqrt(n))
    v[0] += 1.0
    beta = 2.0 / float(v @ v)
    Bv = B @ v
    # H B H = B - beta v (Bv)^T - beta (Bv) v^T + beta^2 (v^T B v) v v^T
    vBv = float(v @ Bv)
    M = B - beta * np.outer(v, Bv) - beta * np.outer(Bv, v) + beta * beta * vBv * np.outer(v, v)
    M = M[1:, 1:]
    return (M + M.T) / 2


def projected_eigvalsh(B: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of ``B`` restricted to ``{z : sum z = 0}`` (n - 1 of them)."""
    if B.shape[0] < 2:
        return np.zeros(0)
    return np.linalg.eigvalsh(_householder_project(B))


def objective_margin(A: np.ndarray, k: int) -> float:
    """A bound on the rounding error of a computed ``x^T A x`` for any selection of ``k``:
    ``k^2 eps * k^2 max|A_ij|`` (a sum of ``k^2`` terms, each at most ``max|A_ij|``, carries a
    relative error of at most ``k^2 eps`` of the sum of magnitudes). A bound that is taken from
    a computed objective (an incumbent's, an enumeration's) is lowered by it."""
    return float(k**4 * EPS * np.abs(A).max()) if A.size else 0.0


def eig_margin(B: np.ndarray) -> float:
    """``EIG_MARGIN n eps ||B||_F``: the error allowed for a computed eigenvalue of B."""
    return EIG_MARGIN * B.shape[0] * EPS * float(np.linalg.norm(B))


def _top_sum(v: np.ndarray, k: int) -> float:
    """Sum of the k largest entries of v."""
    if k >= v.size:
        return float(v.sum())
    return float(np.partition(v, v.size - k)[v.size - k :].sum())


# --------------------------------------------------------------------------------------------
# the eigenvalue bound
# --------------------------------------------------------------------------------------------


def eigenvalue_bound(A: np.ndarray, k: int) -> LowerBound:
    """``lambda_min(A) K'`` minus the eigenvalue error margin.

    For binary x with ``sum x = K'``, ``||x||^2 = K'`` and ``x^T A x >= lambda_min ||x||^2``,
    so ``x^T A x >= (lambda_min - m) K'`` with ``m = EIG_MARGIN n eps ||A||_F`` covering the
    eigensolver's error; this holds for either sign of ``lambda_min``. Twins do not change it.
    """
    t0 = time.perf_counter()
    A, k, _ = check_problem(A, k)
    lam = float(np.linalg.eigvalsh(A)[0])
    m = eig_margin(A)
    value = (lam - m) * k
    # the product (lam - m) * k rounds: step one ulp down
    value = float(np.nextafter(value, -np.inf))
    return LowerBound(
        value=value,
        method="eigenvalue",
        seconds=time.perf_counter() - t0,
        info={"lambda_min": lam, "margin": m},
    )


# --------------------------------------------------------------------------------------------
# the convex relaxation and its certificate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvexRelaxation:
    """``f(x) = x^T B x + c^T x`` with ``B`` certified PSD on ``{sum z = 0}``.

    On every feasible binary x, ``x^T A x = f(x)`` up to ``diag_error`` (rounding of
    ``B_ii``), so minimising f over the polytope P (see the module notes) bounds the
    problem from below.

    Attributes
    ----------
    B : ndarray (n, n)
        ``A - diag(u) - W``, float64, contiguous.
    c : ndarray (n,)
        ``u``, the linear term.
    k : int
    twin : ndarray (n,) int64
        -1 for no twin.
    u, w : ndarray
        The certified diagonal shift and the pair weights (zeros when long only).
    shift : float
        How much ``u`` was lowered by the certification (0 when the given u passed).
    lambda_min, lambda_max : float
        Extreme computed eigenvalues of B on ``{sum z = 0}`` (``lambda_min >= margin``).
    margin : float
        ``EIG_MARGIN n eps ||B||_F``.
    row_abs : ndarray (n,)
        ``sum_j |B_ij|``, for the floating point error term.
    fp_const : float
        Constant part of the error term: ``gamma S_K'(|c|) + E_diag``.
    top2r : float
        ``S_K'(2 r)``.
    norm_b : float
        ``||B||_F``.
    """

    B: np.ndarray
    c: np.ndarray
    k: int
    twin: np.ndarray
    u: np.ndarray
    w: np.ndarray
    shift: float
    lambda_min: float
    lambda_max: float
    margin: float
    row_abs: np.ndarray
    fp_const: float
    top2r: float
    norm_b: float

    @property
    def n(self) -> int:
        return self.B.shape[0]

    @property
    def lipschitz(self) -> float:
        """``2 lambda_max`` (+ margin): the gradient's Lipschitz constant on S."""
        return 2.0 * (max(self.lambda_max, 0.0) + self.margin) + 1e-300


def _pair_matrix(w: np.ndarray, twin: np.ndarray) -> np.ndarray:
    n = twin.size
    W = np.zeros((n, n))
    idx = np.flatnonzero(twin >= 0)
    W[idx, twin[idx]] = w[idx]  # w is symmetrised over each pair: W is symmetric
    return W


def convex_relaxation(
    A: np.ndarray,
    k: int,
    u: np.ndarray | float | None = None,
    *,
    w: np.ndarray | None = None,
    twin: np.ndarray | None = None,
) -> ConvexRelaxation:
    """Build ``B = A - diag(u) - W`` and certify it PSD on ``{sum z = 0}`` (shifting u down).

    Parameters
    ----------
    A : ndarray (n, n)
        Symmetric objective matrix.
    k : int
        K'.
    u : ndarray (n,) or float or None
        Diagonal shift; a float means uniform; None: ``lambda_min`` of A on the subspace
        (the smallest uniform shift making B PSD there).
    w : ndarray (n,) or None
        Pair weights for long/short (``W_(i, twin i) = w_i``, symmetrised); ignored when long
        only. Valid because ``x_i x_twin(i) = 0`` on feasible x.
    twin : ndarray (n,) or None

    Returns
    -------
    ConvexRelaxation
        With ``lambda_min >= margin``: ``B + E`` is PSD on the subspace for every error
        ``||E||_2 <= margin``, which covers the eigensolver's and the projection's rounding.
    """
    A, k, twin = check_problem(A, k, twin)
    n = A.shape[0]
    if u is None:
        ev = projected_eigvalsh(A)
        u_vec = np.full(n, float(ev[0]) if ev.size else 0.0)
    elif np.ndim(u) == 0:
        u_vec = np.full(n, float(u))
    else:
        u_vec = np.asarray(u, dtype=np.float64).ravel().copy()
        if u_vec.shape != (n,) or not np.isfinite(u_vec).all():
            raise InputError(f"u must be {n} finite numbers")
    if w is None or not (twin >= 0).any():
        w_vec = np.zeros(n)
    else:
        w_vec = np.asarray(w, dtype=np.float64).ravel().copy()
        if w_vec.shape != (n,) or not np.isfinite(w_vec).all():
            raise InputError(f"w must be {n} finite numbers")
        w_vec[twin < 0] = 0.0
        # symmetrise: both legs carry the mean weight
        paired = np.flatnonzero(twin >= 0)
        w_vec[paired] = (w_vec[paired] + w_vec[twin[paired]]) / 2
    W = _pair_matrix(w_vec, twin)
    total_shift = 0.0
    for _ in range(20):
        B = A - W
        B[np.diag_indices(n)] = np.diag(A) - u_vec
        B = np.ascontiguousarray((B + B.T) / 2)
        ev = projected_eigvalsh(B)
        m = eig_margin(B)
        lam_min = float(ev[0]) if ev.size else 0.0
        if lam_min >= m:
            break
        s = 1.01 * (m - lam_min) + 4 * EPS * float(np.max(np.abs(np.diag(B))) + 1e-300)
        u_vec = u_vec - s
        total_shift += s
    else:  # pragma: no cover - 20 doublings of a positive shift always succeed
        raise RuntimeError("could not certify the diagonal shift")
    lam_max = float(ev[-1]) if ev.size else 0.0
    row_abs = np.abs(B).sum(axis=1)
    gamma = 2.0 * (n + 2) * EPS
    e_diag = EPS * _top_sum(np.abs(np.diag(B)) + np.abs(u_vec), k)
    return ConvexRelaxation(
        B=B,
        c=np.ascontiguousarray(u_vec),
        k=k,
        twin=twin,
        u=u_vec,
        w=w_vec,
        shift=total_shift,
        lambda_min=lam_min,
        lambda_max=lam_max,
        margin=m,
        row_abs=row_abs,
        fp_const=gamma * _top_sum(np.abs(u_vec), k) + e_diag,
        top2r=_top_sum(2 * row_abs, k),
        norm_b=float(np.linalg.norm(B)),
    )


# --- numba kernels: the linear minimum, the certificate, the projection, the QP solver ---------


@njit(cache=True)
def _lp_min(g, lo, hi, k, twin, vals):
    """``min g^T x`` over ``{lo <= x <= hi, sum x = k, x_i + x_twin(i) <= 1}`` (lo, hi 0/1).

    Assumes a consistent node: a variable fixed to 1 has its twin fixed to 0. Returns +inf
    when the node has no feasible point. ``vals`` is scratch space of length n.
    """
    n = g.size
    total = 0.0
    r = k
    m = 0
    for i in range(n):
        if lo[i] == 1:
            total += g[i]
            r -= 1
            continue
        if hi[i] == 0:
            continue
        t = twin[i]
        if t < 0:
            vals[m] = g[i]
            m += 1
        elif lo[t] == 1:
            continue
        elif hi[t] == 0:
            vals[m] = g[i]
            m += 1
        elif i < t:
            vals[m] = min(g[i], g[t])
            m += 1
    if r < 0 or r > m:
        return np.inf
    if r == 0:
        return total
    s = np.sort(vals[:m])
    for j in range(r):
        total += s[j]
    return total


@njit(cache=True)
def _certificate(B, c, y, g, lo, hi, k, twin, row_abs, fp_const, top2r, norm_b, vals):
    """Certified lower bound of ``min f`` over the node's polytope from the point y.

    ``g = 2 B y + c`` (computed by the caller). Returns
    ``-y^T B y + min_P g^T x - E`` (module notes, steps 2 and 3).
    """
    n = y.size
    lin = _lp_min(g, lo, hi, k, twin, vals)
    if lin == np.inf:
        return np.inf
    yBy = 0.0
    s = 0.0
    sabs = 0.0
    ymax = 1.0
    ynorm2 = 0.0
    wsum = 0.0
    for i in range(n):
        yBy += y[i] * (g[i] - c[i])
        s += y[i]
        a = abs(y[i])
        sabs += a
        ynorm2 += y[i] * y[i]
        wsum += a * row_abs[i]
        if a > ymax:
            ymax = a
    yBy *= 0.5
    eps = 2.220446049250313e-16
    gamma = 2.0 * (n + 2) * eps
    delta = abs(s - k) + gamma * sabs
    e = gamma * (2.0 * wsum * ymax + ymax * top2r + 4.0 * (abs(yBy) + abs(lin))) + fp_const
    e += 2.0 * delta * norm_b * (math.sqrt(k) + math.sqrt(ynorm2)) / math.sqrt(n)
    e += delta * delta * norm_b / n
    return -yBy + lin - e


@njit(cache=True)
def _clip_sum(y, tau, lo, hi, twin, out):
    """``out = P_node(y - tau)`` per variable/pair; returns ``sum out``."""
    n = y.size
    total = 0.0
    for i in range(n):
        t = twin[i]
        if t >= 0 and i > t and hi[i] == 1 and hi[t] == 1:
            continue  # done with its pair
        if t >= 0 and hi[i] == 1 and hi[t] == 1:
            # both legs free: project (p, q) on {a, b >= 0, a + b <= 1}
            p = y[i] - tau
            q = y[t] - tau
            a = p if p > 0.0 else 0.0
            b = q if q > 0.0 else 0.0
            if a + b > 1.0:
                a = 0.5 * (p - q + 1.0)
                a = 0.0 if a < 0.0 else (1.0 if a > 1.0 else a)
                b = 1.0 - a
            out[i] = a
            out[t] = b
            total += a + b
        else:
            v = y[i] - tau
            if v < lo[i]:
                v = lo[i]
            elif v > hi[i]:
                v = hi[i]
            out[i] = v
            total += v
    return total


@njit(cache=True)
def _project(y, lo, hi, k, twin, out):
    """Euclidean projection of y on the node's polytope (bisection on the sum multiplier).

    ``sum P(y - tau)`` is continuous and non-increasing in tau; the bracket
    ``[min y - 1, max y]`` holds the root. 60 halvings, then one secant step (exact when no
    breakpoint lies in the final bracket).
    """
    lo_t = np.min(y) - 1.0
    hi_t = np.max(y)
    s_lo = _clip_sum(y, lo_t, lo, hi, twin, out)
    s_hi = _clip_sum(y, hi_t, lo, hi, twin, out)
    for _ in range(60):
        mid = 0.5 * (lo_t + hi_t)
        s = _clip_sum(y, mid, lo, hi, twin, out)
        if s > k:
            lo_t = mid
            s_lo = s
        else:
            hi_t = mid
            s_hi = s
        if hi_t - lo_t <= 1e-15 * (abs(lo_t) + abs(hi_t) + 1e-300):
            break
    if s_lo != s_hi:
        tau = lo_t + (s_lo - k) / (s_lo - s_hi) * (hi_t - lo_t)
    else:
        tau = 0.5 * (lo_t + hi_t)
    _clip_sum(y, tau, lo, hi, twin, out)


@njit(cache=True)
def _fista(
    B,
    c,
    k,
    twin,
    lo,
    hi,
    x0,
    L,
    max_iter,
    target,
    rtol,
    check_every,
    row_abs,
    fp_const,
    top2r,
    norm_b,
):
    """Accelerated projected gradient (FISTA with adaptive restart) on ``x^T B x + c^T x``.

    Stops when the certified bound reaches ``target`` (the node can be pruned), when the
    relaxation's gap ``f(x) - bound <= rtol * (|f(x)| + |bound|)``, or after ``max_iter``.
    Returns ``(x, best certified bound, f(x), g at x, iterations)``.
    """
    n = x0.size
    vals = np.empty(n)
    x = np.empty(n)
    _project(x0, lo, hi, k, twin, x)
    y = x.copy()
    xn = np.empty(n)
    z = np.empty(n)
    t = 1.0
    step = 1.0 / L
    best = -np.inf
    gx = 2.0 * (B @ x) + c
    fx = 0.5 * (x @ (gx - c)) + c @ x
    it = 0
    for it in range(1, max_iter + 1):
        gy = 2.0 * (B @ y) + c
        if it % check_every == 1 or check_every == 1:
            lb = _certificate(B, c, y, gy, lo, hi, k, twin, row_abs, fp_const, top2r, norm_b, vals)
            if lb > best:
                best = lb
            if best >= target or fx - best <= rtol * (abs(fx) + abs(best)):
                break
        for i in range(n):
            z[i] = y[i] - step * gy[i]
        _project(z, lo, hi, k, twin, xn)
        gxn = 2.0 * (B @ xn) + c
        fxn = 0.5 * (xn @ (gxn - c)) + c @ xn
        if fxn > fx:
            # restart: momentum off, plain projected step from x
            t = 1.0
            for i in range(n):
                z[i] = x[i] - step * gx[i]
            _project(z, lo, hi, k, twin, xn)
            gxn = 2.0 * (B @ xn) + c
            fxn = 0.5 * (xn @ (gxn - c)) + c @ xn
            for i in range(n):
                y[i] = xn[i]
        else:
            tn = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / tn
            for i in range(n):
                y[i] = xn[i] + beta * (xn[i] - x[i])
            t = tn
        for i in range(n):
            x[i] = xn[i]
            gx[i] = gxn[i]
        fx = fxn
    lb = _certificate(B, c, x, gx, lo, hi, k, twin, row_abs, fp_const, top2r, norm_b, vals)
    if lb > best:
        best = lb
    return x, best, fx, gx, it


@dataclass(frozen=True)
class RelaxationSolution:
    """An approximate minimizer of the convex relaxation and the certified bound.

    Attributes
    ----------
    x : ndarray
        The last iterate (in the node's polytope).
    bound : float
        Certified lower bound of the relaxation's minimum (so of the problem at the node).
    value : float
        ``f(x)``, an upper bound of the relaxation's minimum (not of the problem).
    gradient : ndarray
        ``2 B x + c``.
    iterations : int
    """

    x: np.ndarray
    bound: float
    value: float
    gradient: np.ndarray
    iterations: int


def solve_relaxation(
    rel: ConvexRelaxation,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    *,
    max_iter: int = 5000,
    target: float = np.inf,
    rtol: float = 1e-7,
    check_every: int = 5,
) -> RelaxationSolution:
    """Minimise ``f`` over ``{lo <= x <= hi, sum x = K', x_i + x_twin(i) <= 1}`` and certify.

    ``lo``, ``hi`` are int8 0/1 arrays (fixings, branch and bound); a variable fixed to 1
    must have its twin fixed to 0. Stops early once the bound reaches ``target``.
    """
    n = rel.n
    lo = np.zeros(n, dtype=np.int8) if lo is None else np.asarray(lo, dtype=np.int8)
    hi = np.ones(n, dtype=np.int8) if hi is None else np.asarray(hi, dtype=np.int8)
    x0 = np.full(n, rel.k / n) if x0 is None else np.asarray(x0, dtype=np.float64)
    x, bound, value, g, it = _fista(
        rel.B,
        rel.c,
        rel.k,
        rel.twin,
        lo,
        hi,
        x0,
        rel.lipschitz,
        int(max_iter),
        float(target),
        float(rtol),
        int(check_every),
        rel.row_abs,
        rel.fp_const,
        rel.top2r,
        rel.norm_b,
    )
    return RelaxationSolution(
        x=x, bound=float(bound), value=float(value), gradient=g, iterations=it
    )


def certified_bound(
    rel: ConvexRelaxation,
    y: np.ndarray,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    gradient: np.ndarray | None = None,
) -> float:
    """The certified bound ``-y^T B y + min_P (2 B y + c)^T x - E`` from any point y.

    ``gradient``: ``2 B y + c`` when the caller has it (a node solve returns it); the error
    term E covers its rounding either way.
    """
    n = rel.n
    lo = np.zeros(n, dtype=np.int8) if lo is None else np.asarray(lo, dtype=np.int8)
    hi = np.ones(n, dtype=np.int8) if hi is None else np.asarray(hi, dtype=np.int8)
    y = np.ascontiguousarray(y, dtype=np.float64)
    g = 2.0 * (rel.B @ y) + rel.c if gradient is None else gradient
    return float(
        _certificate(
            rel.B,
            rel.c,
            y,
            g,
            lo,
            hi,
            rel.k,
            rel.twin,
            rel.row_abs,
            rel.fp_const,
            rel.top2r,
            rel.norm_b,
            np.empty(n),
        )
    )


_WARM = False


def ensure_compiled() -> float:
    """Compile (or load from numba's on-disk cache) the relaxation's kernels, once per process.

    Callers of branch and bound run it before they start its clock, so the one-time
    compilation (several seconds on the first run after installing) neither eats the time
    limit nor hides in the bound's seconds. Returns the seconds compiling took (0.0 once
    warm, or when the kernels came from numba's on-disk cache).
    """
    from .swap.kernels import compile_seconds

    global _WARM
    if _WARM:
        return 0.0
    start = time.perf_counter()
    A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]])
    rel = convex_relaxation(A, 1)
    solution = solve_relaxation(rel, max_iter=10)
    certified_bound(rel, solution.x, gradient=solution.gradient)
    _WARM = True
    return compile_seconds(time.perf_counter() - start, _fista, _certificate)


def qcr_bound(
    A: np.ndarray,
    k: int,
    u: np.ndarray | float | None = None,
    *,
    w: np.ndarray | None = None,
    twin: np.ndarray | None = None,
    max_iter: int = 20000,
    rtol: float = 1e-9,
    method: str | None = None,
) -> LowerBound:
    """The QCR bound ``min_P x^T (A - diag(u) - W) x + u^T x``, certified.

    Parameters
    ----------
    A, k, twin
        The problem.
    u : ndarray or float or None
        The diagonal shift (None: uniform ``lambda_min`` of A on ``{sum z = 0}``); lowered by
        :func:`convex_relaxation` if needed to certify convexity.
    w : ndarray or None
        Pair weights (long/short).
    max_iter, rtol
        Of the QP solver; a looser solve gives a lower (still valid) bound.
    """
    t0 = time.perf_counter()
    rel = convex_relaxation(A, k, u, w=w, twin=twin)
    sol = solve_relaxation(rel, max_iter=max_iter, rtol=rtol, check_every=1)
    if method is None:
        method = "qcr-uniform" if u is None or np.ndim(u) == 0 else "qcr"
    return LowerBound(
        value=sol.bound,
        method=method,
        seconds=time.perf_counter() - t0,
        u=rel.u,
        w=rel.w if (rel.twin >= 0).any() else None,
        x=sol.x,
        info={
            "shift": rel.shift,
            "relaxation_value": sol.value,
            "iterations": sol.iterations,
            "lambda_min_projected": rel.lambda_min,
        },
    )


# --------------------------------------------------------------------------------------------
# the Shor SDP
# --------------------------------------------------------------------------------------------


class _ShorOperator:
    """The linear constraints of the Shor SDP on ``Y = [[1, x^T], [x, X]]`` (size n + 1).

    ``op(Y)`` stacks ``Y_00``; ``Y_ii - Y_0i`` (diag X = x); ``sum_i Y_0i``;
    ``sum_j Y_ij - K' Y_0i`` (X 1 = K' x); ``Y_(i, twin i)`` for each pair; ``adjoint(y)`` is
    the symmetric matrix with ``<adjoint(y), Y> = y^T op(Y)``.
    """

    def __init__(self, n: int, k: int, twin: np.ndarray):
        self.n, self.k = n, k
        self.pi = np.flatnonzero((twin >= 0) & (np.arange(n) < twin))
        self.ti = twin[self.pi]
        self.m = 2 * n + 2 + self.pi.size
        self.b = np.zeros(self.m)
        self.b[0] = 1.0
        self.b[n + 1] = k

    def op(self, Y: np.ndarray) -> np.ndarray:
        k = self.k
        x = Y[0, 1:]
        X = Y[1:, 1:]
        return np.concatenate(
            [
                [Y[0, 0]],
                np.diag(X) - x,
                [x.sum()],
                X.sum(axis=1) - k * x,
                X[self.pi, self.ti],
            ]
        )

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        n, k = self.n, self.k
        yc = y[1 : n + 1]
        ys = y[n + 1]
        yr = y[n + 2 : 2 * n + 2]
        yp = y[2 * n + 2 :]
        S = np.zeros((n + 1, n + 1))
        S[0, 0] = y[0]
        S[1:, 1:] = (yr[:, None] + yr[None, :]) / 2
        idx = np.arange(1, n + 1)
        S[idx, idx] += yc
        border = (-yc + ys - k * yr) / 2
        S[0, 1:] = border
        S[1:, 0] = border
        S[self.pi + 1, self.ti + 1] += yp / 2
        S[self.ti + 1, self.pi + 1] += yp / 2
        return S

    def gram_inverse(self) -> np.ndarray:
        """``(op adjoint)^-1`` (m x m), built column by column."""
        G = np.empty((self.m, self.m))
        e = np.zeros(self.m)
        for j in range(self.m):
            e[j] = 1.0
            G[:, j] = self.op(self.adjoint(e))
            e[j] = 0.0
        G = (G + G.T) / 2
        return np.linalg.pinv(G, hermitian=True)


def _boundary_point(
    C: np.ndarray,
    k: int,
    twin: np.ndarray,
    *,
    max_iters: int,
    tol: float,
    time_limit: float | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The Shor SDP's dual by the boundary point method (Povh, Rendl, Wiegele 2006).

    Augmented Lagrangian on the dual ``max b^T y  s.t.  Z = C - op^T(y) PSD`` with the primal
    Y as multiplier: ``y = G^-1 (op(C - Z) + (b - op(Y)) / sigma)``,
    ``W = C - op^T(y) - Y / sigma``, ``Z = W_+``, ``Y = -sigma W_-`` (one eigendecomposition
    per iteration), ``sigma`` balanced between the primal and dual residuals. Any iterate's
    y gives a shift that :func:`convex_relaxation` certifies, so stopping early is safe.
    Returns ``(y, info)``.
    """
    t0 = time.perf_counter()
    n = C.shape[0] - 1
    ops = _ShorOperator(n, k, twin)
    Ginv = ops.gram_inverse()
    b = ops.b
    Y = np.zeros_like(C)
    Z = np.zeros_like(C)
    sigma = 1.0
    y = np.zeros(ops.m)
    rp = rd = np.inf
    it = 0
    for it in range(1, max_iters + 1):
        y = Ginv @ (ops.op(C - Z) + (b - ops.op(Y)) / sigma)
        W = C - ops.adjoint(y) - Y / sigma
        ev, V = np.linalg.eigh(W)
        pos = ev > 0
        Vp = V[:, pos] * ev[pos]
        Z = Vp @ V[:, pos].T
        Y = sigma * (Z - W)
        Y = (Y + Y.T) / 2
        rp = float(np.linalg.norm(ops.op(Y) - b)) / (1.0 + float(np.linalg.norm(b)))
        rd = float(np.linalg.norm(C - ops.adjoint(y) - Z)) / (1.0 + float(np.linalg.norm(C)))
        if max(rp, rd) < tol:
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        if it % 5 == 0:
            if rp > 5 * rd:
                sigma /= 1.6
            elif rd > 5 * rp:
                sigma *= 1.6
    return y, {
        "iterations": it,
        "primal_residual": rp,
        "dual_residual": rd,
        "sigma": sigma,
        "objective": float(b @ y),
    }


def shor_bound(
    A: np.ndarray,
    k: int,
    *,
    twin: np.ndarray | None = None,
    solver: str | None = None,
    eps: float | None = None,
    max_iters: int | None = None,
    time_limit: float | None = None,
    verbose: bool = False,
) -> LowerBound:
    """The Shor SDP relaxation, certified through QCR with its dual.

    Solves (cvxpy, A scaled to ``max |A_ij| = 1``)::

        min <A, X>  s.t.  [[1, x^T], [x, X]] PSD,  diag X = x,  sum x = K',  X 1 = K' x,
                          X_(i, twin i) = 0  (long/short)

    and reads ``u`` (dual of ``diag X = x``) and ``w`` (dual of ``X_(i, twin i) = 0``). By
    Lagrangian duality the SDP value is ``max_(u, w)`` of the QCR bound, so
    ``qcr_bound(A, k, u, w=w)`` reproduces it, but certified: the returned ``value`` is that
    certified number, ``solver_value`` what the solver reported (a loose solve, e.g. SCS
    with eps 1e-3, only gives a weaker certified value, never a wrong one).

    Parameters
    ----------
    solver : {"CLARABEL", "SCS", "BPM"} or None
        Default "BPM", the boundary point method in numpy (:func:`_boundary_point`, one
        eigendecomposition per iteration; no cvxpy). "CLARABEL" (interior point, through
        cvxpy; slow beyond ~100 variables), "SCS" only if installed.
    eps : float or None
        BPM's relative residual tolerance (default 1e-6), SCS's ``eps`` (default 1e-6),
        Clarabel's tolerances (default 1e-8).
    max_iters : int or None
        BPM's (default 2000) or SCS's (default 100000) iteration cap.
    time_limit : float or None
        Seconds for the solver (SCS ``time_limit_secs``, Clarabel ``time_limit``); a solve cut
        short still gives a certified (weaker) bound.
    """
    t0 = time.perf_counter()
    A, k, twin = check_problem(A, k, twin)
    scale = _sdp_scale(A)
    if solver is None:
        solver = "BPM"
    solver = solver.upper()
    pairs = _first_legs(twin)
    if solver == "BPM":
        u, w, solver_value, info = _shor_dual_bpm(
            A / scale, k, twin, pairs, scale, max_iters=max_iters, eps=eps, time_limit=time_limit
        )
    else:
        u, w, solver_value, info = _shor_dual_cvxpy(
            A / scale,
            k,
            twin,
            pairs,
            scale,
            solver=solver,
            eps=eps,
            max_iters=max_iters,
            time_limit=time_limit,
            verbose=verbose,
        )
    return _shor_from_dual(A, k, u, w, twin, t0, solver_value, info)


def _sdp_scale(A: np.ndarray) -> float:
    """``max |A_ij|`` (1 for a zero matrix): the SDP is solved on ``A / scale``."""
    scale = float(np.max(np.abs(A)))
    if scale == 0.0:
        scale = 1.0
    return scale


def _first_legs(twin: np.ndarray) -> np.ndarray:
    """The variables ``i < twin[i]``: one per long/short pair (empty for long only)."""
    n = twin.size
    return np.flatnonzero((twin >= 0) & (np.arange(n) < twin))


def _pair_shift(n: int, pairs: np.ndarray, twin: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The pair shift w: ``values`` on both legs of each pair (first legs ``pairs``), 0 else."""
    w = np.zeros(n)
    w[pairs] = values
    w[twin[pairs]] = w[pairs]
    return w


def _shor_dual_bpm(
    As: np.ndarray,
    k: int,
    twin: np.ndarray,
    pairs: np.ndarray,
    scale: float,
    *,
    max_iters: int | None,
    eps: float | None,
    time_limit: float | None,
) -> tuple[np.ndarray, np.ndarray | None, float, dict[str, Any]]:
    """The shift ``(u, w)`` from the boundary point method's dual (:func:`_boundary_point`)
    on the scaled ``As``, in ``A``'s units, with the solver's value and info."""
    n = As.shape[0]
    C = np.zeros((n + 1, n + 1))
    C[1:, 1:] = As
    t_solve = time.perf_counter()
    yv, bpm_info = _boundary_point(
        C, k, twin, max_iters=max_iters or 2000, tol=eps or 1e-6, time_limit=time_limit
    )
    t_solve = time.perf_counter() - t_solve
    u = yv[1 : n + 1] * scale
    w = None
    if pairs.size:
        w = _pair_shift(n, pairs, twin, yv[2 * n + 2 :] / 2 * scale)
    info = {"solver": "BPM", "solver_seconds": t_solve, "bpm": bpm_info}
    return u, w, bpm_info["objective"] * scale, info


def _shor_problem(As: np.ndarray, k: int, twin: np.ndarray, pairs: np.ndarray) -> tuple[Any, list]:
    """The Shor SDP in cvxpy and its constraints (``cons[1]`` is ``diag X = x``, the last one
    ``X_(i, twin i) = 0`` when there are pairs)::

        min <As, X>  s.t.  Y = [[1, x^T], [x, X]] PSD,  diag X = x,  sum x = K',  X 1 = K' x
    """
    import cvxpy as cp

    n = As.shape[0]
    Y = cp.Variable((n + 1, n + 1), PSD=True)
    x = Y[0, 1:]
    X = Y[1:, 1:]
    cons = [Y[0, 0] == 1, cp.diag(X) == x, cp.sum(x) == k, X @ np.ones(n) == k * x]
    if pairs.size:
        cons.append(X[pairs, twin[pairs]] == 0)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(As, X))), cons)
    return prob, cons


def _cvxpy_options(
    solver: str, eps: float | None, max_iters: int | None, time_limit: float | None
) -> dict[str, Any]:
    """Tolerances, iteration cap and time limit in the words of SCS or Clarabel."""
    opts: dict[str, Any] = {}
    if solver == "SCS":
        opts = {"eps": eps or 1e-6, "max_iters": max_iters or 100000}
        if time_limit is not None:
            opts["time_limit_secs"] = max(float(time_limit), 0.1)
    elif solver == "CLARABEL":
        tol = eps or 1e-8
        opts = {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
        if time_limit is not None:
            opts["time_limit"] = max(float(time_limit), 0.1)
    return opts


def _shor_dual_cvxpy(
    As: np.ndarray,
    k: int,
    twin: np.ndarray,
    pairs: np.ndarray,
    scale: float,
    *,
    solver: str,
    eps: float | None,
    max_iters: int | None,
    time_limit: float | None,
    verbose: bool,
) -> tuple[np.ndarray, np.ndarray | None, float | None, dict[str, Any]]:
    """The shift ``(u, w)`` from the duals of :func:`_shor_problem` solved by cvxpy on the
    scaled ``As``, in ``A``'s units, with the solver's value and info."""
    import cvxpy as cp

    n = As.shape[0]
    prob, cons = _shor_problem(As, k, twin, pairs)
    opts = _cvxpy_options(solver, eps, max_iters, time_limit)
    t_solve = time.perf_counter()
    try:
        prob.solve(solver=solver, verbose=verbose, **opts)
    except cp.error.SolverError as exc:
        raise InputError(f"the SDP solver {solver} failed: {exc}") from exc
    t_solve = time.perf_counter() - t_solve
    y = cons[1].dual_value
    if y is None:
        raise InputError(f"the SDP solver {solver} returned no dual ({prob.status})")
    # cvxpy's Lagrangian is <A, X> + y^T (diag X - x): the QCR shift is u = -y (and the
    # certification below checks the resulting matrix anyway)
    u = -np.asarray(y, dtype=np.float64).ravel() * scale
    w = None
    if pairs.size:
        z = np.asarray(cons[-1].dual_value, dtype=np.float64).ravel() * scale
        # <A, X> + sum_p z_p X_(i,t): the pair term in B is +z_p/2 on both (i,t) and (t,i),
        # i.e. B = A - diag(u) + Z  <=>  W_(i,t) = -z_p / 2 ... on each triangle
        w = _pair_shift(n, pairs, twin, -z / 2)
    solver_value = float(prob.value) * scale if prob.value is not None else None
    info = {
        "solver": solver,
        "status": prob.status,
        "solver_seconds": t_solve,
        "solver_options": opts,
    }
    return u, w, solver_value, info


def _shor_from_dual(
    A: np.ndarray,
    k: int,
    u: np.ndarray,
    w: np.ndarray | None,
    twin: np.ndarray,
    t0: float,
    solver_value: float | None,
    info: dict,
) -> LowerBound:
    """The Shor bound as printed: the certified QCR value of the SDP dual's shift (u, w),
    never the solver's objective (kept as ``solver_value`` for information)."""
    qcr = qcr_bound(A, k, u, w=w, twin=twin, method="shor")
    return LowerBound(
        value=qcr.value,
        method="shor",
        seconds=time.perf_counter() - t0,
        u=qcr.u,
        w=qcr.w,
        x=qcr.x,
        solver_value=solver_value,
        info={**qcr.info, **info},
    )
