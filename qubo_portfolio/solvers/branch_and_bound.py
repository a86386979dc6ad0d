"""Best-first branch and bound on the QCR relaxation: certified optimal K'-subsets.

Solves ``min x^T A x  s.t.  sum x = K', x in {0, 1}^n`` (and ``x_i + x_twin(i) <= 1`` for
long/short models) to proven optimality, or, on the time limit, returns the best selection
found with a certified gap.

Every node fixes some variables (``lo <= x <= hi`` with 0/1 bounds; fixing a leg to 1 fixes
its twin to 0). Its bound is the convex QCR relaxation of
:mod:`qubo_portfolio.solvers.bounds` restricted to the node,

    ``min f(x) = x^T B x + u^T x``  over  ``{lo <= x <= hi, sum x = K', x_i + x_twin(i) <= 1}``

with ``B = A - diag(u) - W`` certified PSD on ``{sum z = 0}`` once at the root (u from the
Shor SDP's dual by default). ``f`` equals ``x^T A x`` on every feasible binary x, so the
node's relaxed minimum bounds every selection in the node. The node QP is solved
approximately by accelerated projected gradient (numba), and the bound used for pruning is
the certified linearization bound ``-y^T B y + min_P (2 B y + u)^T x - E`` (see
:func:`qubo_portfolio.solvers.bounds.certified_bound`): valid at any iterate y, so pruning
never removes a selection better than the incumbent.

Reduced-cost fixing: the linear minimum is a sort, so the bound of the node with ``x_j``
forced to 1 (or 0) is available in closed form from the same certificate (the sorted
values change in one place); variables whose forced bound reaches the incumbent are fixed,
and the two children of the branching variable start with these bounds.

The incumbent comes from the swap annealer
(:class:`qubo_portfolio.solvers.swap.SwapAnnealingSampler`) and is improved by rounding the
node solutions. Nodes are explored best bound first, so the smallest open bound is the
global lower bound at any moment (``history``).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.quality import gap_of
from ..errors import InputError
from .bounds import (
    EPS,
    ConvexRelaxation,
    LowerBound,
    RelaxationSolution,
    certified_bound,
    check_problem,
    convex_relaxation,
    objective_margin,
    qcr_bound,
    shor_bound,
    solve_relaxation,
)

__all__ = ["BranchAndBoundResult", "branch_and_bound", "swap_incumbent"]


@dataclass(frozen=True)
class BranchAndBoundResult:
    """What :func:`branch_and_bound` found and proved.

    Attributes
    ----------
    x : ndarray (n,)
        The best selection as a 0/1 vector (feasible).
    selection : ndarray of int
        Its indices.
    objective : float
        ``x^T A x``.
    lower_bound : float
        Certified: no feasible selection has ``x^T A x < lower_bound``.
    proven_optimal : bool
        ``gap <= rtol``.
    gap : float
        :func:`~qubo_portfolio.core.quality.gap_of`: ``(objective - lower_bound) /
        max(|objective|, |lower_bound|)``.
    nodes : int
        Nodes whose relaxation was solved.
    seconds : float
        Wall time, root bound and incumbent included.
    root : LowerBound
        The root bound (its ``u`` is the shift used at every node).
    history : list of (seconds, lower_bound, objective)
        The global bound and incumbent whenever the bound rose (and at the end).
    info : dict
        Timings (``root_seconds``, ``incumbent_seconds``), ``open_nodes``, ``time_limit_hit``.
    """

    x: np.ndarray
    selection: np.ndarray
    objective: float
    lower_bound: float
    proven_optimal: bool
    gap: float
    nodes: int
    seconds: float
    root: LowerBound
    history: list[tuple[float, float, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def swap_incumbent(
    A: np.ndarray, k: int, twin: np.ndarray | None = None, *, num_reads: int = 20, seed: int = 0
) -> np.ndarray | None:
    """The best of ``num_reads`` swap-annealing reads as a 0/1 vector (None if it cannot run)."""
    from .swap import SwapAnnealingSampler  # numba kernels: loaded when an incumbent is wanted

    n = A.shape[0]
    has_twins = twin is not None and bool((np.asarray(twin) >= 0).any())
    try:
        ss = SwapAnnealingSampler().sample_matrix(
            A,
            k=k,
            variables=list(range(n)),
            num_reads=num_reads,
            seed=seed,
            twin=twin if has_twins else None,
        )
    except InputError:
        return None
    best = ss.first.sample
    return np.array([best[i] for i in range(n)], dtype=np.float64)


def _round(xh: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int, twin: np.ndarray):
    """A feasible selection near ``xh`` inside the node: fixed ones, then the largest free
    values, at most one leg per stock. None when the node has none."""
    x = lo.astype(np.float64)
    r = k - int(lo.sum())
    if r == 0:
        return x
    order = np.argsort(-xh, kind="stable")
    for i in order:
        if r == 0:
            break
        if hi[i] == 0 or lo[i] == 1:
            continue
        t = twin[i]
        if t >= 0 and x[t] == 1:
            continue
        x[i] = 1.0
        r -= 1
    return x if r == 0 else None


def _stock_values(g: np.ndarray, twin: np.ndarray, free: np.ndarray):
    """Per free variable j: ``s_p`` (its stock's value in the linear minimum: min of g over
    the stock's free legs) and ``s'_p`` (the value once j is forced to 0: g of the free
    twin, or +inf)."""
    n = g.size
    t = twin
    has_t = t >= 0
    t_safe = np.where(has_t, t, np.arange(n))
    twin_free = has_t & free[t_safe]
    g_twin = np.where(twin_free, g[t_safe], np.inf)
    s = np.minimum(g, g_twin)
    s_drop = g_twin
    return s, s_drop


def _reduced_costs(g, lo, hi, k, twin):
    """Increase of the linear minimum when each free variable is forced to 1 / to 0.

    With the free stocks' values sorted (``v_1 <= v_2 <= ...``), r slots left, ``s_p`` the
    value of j's stock and ``s'_p`` its value without j:

        ``Delta_1(j) = (g_j - s_p) + max(0, s_p - v_r)``
        ``Delta_0(j) = max(0, min(s'_p, v_(r+1)) - s_p)``

    Returns ``(free mask, Delta_1, Delta_0)``; both Deltas are +inf for fixed variables.
    """
    n = g.size
    free = (lo == 0) & (hi == 1)
    # a leg whose twin is fixed to 1 is not free (its hi is 0 already); keep the mask plain
    r = k - int(lo.sum())
    s, s_drop = _stock_values(g, twin, free)
    # one value per free stock: the representative is the free leg with the smaller index
    t = twin
    rep = free & ~((t >= 0) & (t < np.arange(n)) & free[np.where(t >= 0, t, 0)])
    vals = np.sort(s[rep])
    v_r = vals[r - 1] if 1 <= r <= vals.size else -np.inf
    v_r1 = vals[r] if r < vals.size else np.inf
    d1 = np.full(n, np.inf)
    d0 = np.full(n, np.inf)
    d1[free] = (g[free] - s[free]) + np.maximum(0.0, s[free] - v_r)
    d0[free] = np.maximum(0.0, np.minimum(s_drop[free], v_r1) - s[free])
    return free, d1, d0


def _fix_one(lo: np.ndarray, hi: np.ndarray, j: int, twin: np.ndarray) -> None:
    lo[j] = 1
    hi[j] = 1
    if twin[j] >= 0:
        hi[twin[j]] = 0
        lo[twin[j]] = 0


def _leaf(lo, hi, k, twin):
    """The node's only feasible selection when its fixings leave no choice, else None;
    ``False`` when the node is infeasible."""
    r = k - int(lo.sum())
    free = (lo == 0) & (hi == 1)
    if r < 0:
        return False
    if r == 0:
        return lo.astype(np.float64)
    t = twin
    paired_free = free & (t >= 0) & free[np.where(t >= 0, t, 0)]
    stocks = int(free.sum() - paired_free.sum() / 2)
    if stocks < r:
        return False
    if stocks == r and not paired_free.any():
        x = lo.astype(np.float64)
        x[free] = 1.0
        return x
    return None


def _start_incumbent(
    A: np.ndarray,
    k: int,
    twin: np.ndarray,
    incumbent: str | np.ndarray | None,
    num_reads: int,
    seed: int,
) -> np.ndarray:
    """The first incumbent: swap annealing, a given 0/1 vector (checked), or a rounding."""
    n = A.shape[0]
    best_x: np.ndarray | None = None
    if isinstance(incumbent, str):
        if incumbent != "swap":
            raise InputError(f"incumbent must be 'swap', a 0/1 vector or None, not {incumbent!r}")
        best_x = swap_incumbent(A, k, twin, num_reads=num_reads, seed=seed)
    elif incumbent is not None:
        best_x = np.asarray(incumbent, dtype=np.float64).ravel().copy()
        if best_x.shape != (n,) or not np.isin(best_x, (0.0, 1.0)).all() or best_x.sum() != k:
            raise InputError(f"incumbent must be a 0/1 vector of length {n} with {k} ones")
        paired = np.flatnonzero(twin >= 0)
        if (best_x[paired] * best_x[twin[paired]]).any():
            raise InputError("incumbent holds both legs of a stock")
    if best_x is None:
        best_x = _round(np.zeros(n), np.zeros(n, np.int8), np.ones(n, np.int8), k, twin)
    return best_x


def _root_bound(
    A: np.ndarray,
    k: int,
    twin: np.ndarray,
    shift: str | np.ndarray | LowerBound,
    sdp_options: dict | None,
    sdp_fraction: float,
    deadline: float,
) -> LowerBound:
    """The root bound whose shift u every node uses (see :func:`branch_and_bound`)."""
    if isinstance(shift, LowerBound):
        return qcr_bound(A, k, shift.u, w=shift.w, twin=twin, method=shift.method)
    if isinstance(shift, str) and shift == "sdp":
        opts = dict(sdp_options or {})
        # the SDP may use up to sdp_fraction of the time left; cut short, its dual still
        # gives a certified (weaker) shift
        budget = sdp_fraction * (deadline - time.perf_counter())
        opts["time_limit"] = min(opts.get("time_limit", np.inf), max(budget, 0.05))
        return shor_bound(A, k, twin=twin, **opts)
    if isinstance(shift, str) and shift == "uniform":
        return qcr_bound(A, k, None, twin=twin)
    if isinstance(shift, str):
        raise InputError(f"shift must be 'sdp', 'uniform', a vector or a LowerBound, not {shift!r}")
    return qcr_bound(A, k, np.asarray(shift, dtype=np.float64), twin=twin)


def _fix_by_reduced_costs(
    base: float,
    gradient: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    k: int,
    twin: np.ndarray,
    cut: float,
    gamma: float,
) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """Fix the free variables whose forced value cannot beat ``cut`` (the incumbent less the
    tolerance): ``base + d1_j`` bounds the node with ``x_j = 1``, ``base + d0_j`` with
    ``x_j = 0``, each less a rounding slack.

    Returns the new ``lo, hi`` (``None, None`` when the node is closed) and the smallest
    bound of the selections the fixings drop (they are accounted for in the global bound).
    """
    lo = lo.copy()
    hi = hi.copy()
    free, d1, d0 = _reduced_costs(gradient, lo, hi, k, twin)
    slack = 4 * gamma * (abs(base) + np.abs(np.where(np.isfinite(d1), d1, 0.0)))
    b1 = base + d1 - slack
    slack = 4 * gamma * (abs(base) + np.abs(np.where(np.isfinite(d0), d0, 0.0)))
    b0 = base + d0 - slack
    out = free & (b1 >= cut)
    into = free & (b0 >= cut)
    if (out & into).any():
        # no selection in this node beats the incumbent (by more than the tolerance)
        return None, None, float(np.min(np.minimum(b1, b0)[out & into]))
    dropped = np.inf
    if out.any() or into.any():
        # selections these fixings drop have x^T A x >= best - tol: account for them
        dropped = float(np.min(np.r_[b1[out], b0[into]]))
    hi[out] = 0
    for j in np.flatnonzero(into):
        if hi[j] == 1:
            _fix_one(lo, hi, j, twin)
    if int(lo.sum()) > k:
        return None, None, dropped
    return lo, hi, dropped


@dataclass
class _Tree:
    """The state of the best-first search over nodes ``lo <= x <= hi``.

    ``heap`` holds the open nodes as ``(bound, tie-break, lo, hi, warm start)``; ``best`` and
    ``best_x`` the incumbent; ``pruned_min`` the smallest bound of a node pruned within the
    tolerance (bound < best); ``history`` the global bound and incumbent as they moved.
    """

    A: np.ndarray
    k: int
    twin: np.ndarray
    rel: ConvexRelaxation
    rtol: float
    gamma: float
    node_iterations: int
    node_rtol: float
    best: float
    best_x: np.ndarray
    t_start: float
    heap: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)
    history: list[tuple[float, float, float]] = field(default_factory=list)
    global_lb: float = -np.inf
    nodes: int = 0
    pruned_min: float = np.inf
    time_hit: bool = False

    def cut(self) -> float:
        """Nodes bounded at or above this are pruned: ``best - rtol |best|``."""
        return self.best - self.rtol * abs(self.best)

    def offer(self, x: np.ndarray) -> None:
        """Make the feasible selection ``x`` the incumbent if its ``x^T A x`` is lower."""
        val = float(x @ self.A @ x)
        if val < self.best:
            self.best, self.best_x = val, x

    def prune(self, bound: float) -> None:
        """Account for a node (or fixing) dropped with this bound."""
        self.pruned_min = min(self.pruned_min, bound)

    def push(self, bound: float, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> None:
        """Open a node; ``x`` warm-starts its relaxation."""
        heapq.heappush(self.heap, (bound, next(self.counter), lo, hi, x))

    def record(self, lower: float) -> None:
        """Add ``(seconds, lower, best)`` to the history."""
        self.history.append((time.perf_counter() - self.t_start, lower, self.best))

    def open_root(self, root: LowerBound) -> None:
        """The root node (nothing fixed, warm-started at the root bound's minimizer)."""
        n = self.A.shape[0]
        lo0 = np.zeros(n, dtype=np.int8)
        hi0 = np.ones(n, dtype=np.int8)
        x_root = root.x if root.x is not None else np.full(n, self.k / n)
        self.push(root.value, lo0, hi0, x_root)
        self.global_lb = min(root.value, self.best)
        self.record(self.global_lb)

    def raise_bound(self, lb: float) -> None:
        """The popped node's bound is the global bound now (best bound first): record a rise."""
        if lb > self.global_lb:
            self.global_lb = min(lb, self.best)
            self.record(self.global_lb)


def _explore(tree: _Tree, deadline: float) -> None:
    """Pop nodes best bound first until none can beat the incumbent or time runs out."""
    while tree.heap:
        if tree.heap[0][0] >= tree.cut():
            tree.prune(tree.heap[0][0])
            tree.heap = []
            break
        if time.perf_counter() >= deadline:
            tree.time_hit = True
            break
        lb, _, lo, hi, xw = heapq.heappop(tree.heap)
        tree.raise_bound(lb)
        _process(tree, lb, lo, hi, xw)


def _settled(tree: _Tree, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether the node needs no bound: infeasible, or a leaf (offered as incumbent)."""
    leaf = _leaf(lo, hi, tree.k, tree.twin)
    if leaf is False:
        return True
    if leaf is not None:
        tree.offer(leaf)
        return True
    return False


def _process(tree: _Tree, lb: float, lo: np.ndarray, hi: np.ndarray, xw: np.ndarray) -> None:
    """One node: solve its relaxation, round it to an incumbent, prune, fix, branch."""
    if _settled(tree, lo, hi):
        return
    tree.nodes += 1
    sol = solve_relaxation(
        tree.rel,
        lo,
        hi,
        xw,
        max_iter=tree.node_iterations,
        target=tree.cut(),
        rtol=tree.node_rtol,
        check_every=3,
    )
    node_lb = max(lb, sol.bound)
    # incumbent from the rounded node solution
    xr = _round(sol.x, lo, hi, tree.k, tree.twin)
    if xr is not None:
        tree.offer(xr)
    if node_lb >= tree.cut():
        tree.prune(node_lb)
        return
    # reduced-cost fixing from the certificate at the final iterate
    base = certified_bound(tree.rel, sol.x, lo, hi, gradient=sol.gradient)
    if not np.isfinite(base):
        return  # the node has no feasible point
    lo, hi, cut_min = _fix_by_reduced_costs(
        base, sol.gradient, lo, hi, tree.k, tree.twin, tree.cut(), tree.gamma
    )
    tree.prune(cut_min)
    if lo is None or _settled(tree, lo, hi):
        return
    _branch(tree, sol, base, node_lb, lo, hi)


def _branching_variable(x: np.ndarray, free: np.ndarray, d1: np.ndarray, d0: np.ndarray) -> int:
    """The most fractional free variable of ``x``; at an integral ``x``, the free variable
    whose worse child is best bounded."""
    frac = np.where(free, np.minimum(x, 1.0 - x), -1.0)
    j = int(np.argmax(frac))
    if frac[j] <= 1e-9:
        # integral relaxation point that is not pruned yet: branch on the free variable
        # whose worse child is best bounded
        j = int(np.argmax(np.where(free, np.minimum(d1, d0), -np.inf)))
    return j


def _branch(
    tree: _Tree,
    sol: RelaxationSolution,
    base: float,
    node_lb: float,
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:
    """Split the node on one variable; each child starts with its reduced-cost bound
    ``base + Delta (1 - 4 gamma)`` (at least the node's) and is pushed only if it can beat
    the incumbent."""
    free, d1, d0 = _reduced_costs(sol.gradient, lo, hi, tree.k, tree.twin)
    if not free.any():
        return
    j = _branching_variable(sol.x, free, d1, d0)
    lo1, hi1 = lo.copy(), hi.copy()
    _fix_one(lo1, hi1, j, tree.twin)
    lo0c, hi0c = lo, hi.copy()
    hi0c[j] = 0
    b1 = max(node_lb, base + d1[j] * (1 - 4 * tree.gamma))
    b0 = max(node_lb, base + d0[j] * (1 - 4 * tree.gamma))
    for b, lo_c, hi_c in ((b1, lo1, hi1), (b0, lo0c, hi0c)):
        if b < tree.cut():
            tree.push(b, lo_c, hi_c, sol.x)
        else:
            tree.prune(b)


def _final_bound(tree: _Tree, root_value: float) -> float:
    """The certified lower bound when the search stops.

    Every selection is in an open node, in a pruned node (bound >= best - tol) or was
    evaluated; the bound is the smallest of these (never above the incumbent), at least the
    root's. When it reaches the incumbent's computed objective it is lowered by that
    objective's rounding error (:func:`~qubo_portfolio.solvers.bounds.objective_margin`).
    """
    best = tree.best
    lower = min(best, tree.pruned_min, tree.heap[0][0] if tree.heap else np.inf)
    lower = max(lower, min(root_value, best))
    if lower >= best:  # the bound is the incumbent's computed objective: allow its rounding
        lower = best - objective_margin(tree.A, tree.k)
    return lower


def _optimality_gap(best: float, lower: float, rtol: float) -> tuple[bool, float]:
    """``(proven, gap)``: the gap of :func:`~qubo_portfolio.core.quality.gap_of`
    (``(best - lower) / max(|best|, |lower|)``, the one formula every certificate uses),
    proven when it is at most ``rtol``."""
    gap = gap_of(best, lower)
    return gap <= rtol, gap


def branch_and_bound(
    A: np.ndarray,
    k: int,
    *,
    twin: np.ndarray | None = None,
    time_limit: float = 60.0,
    shift: str | np.ndarray | LowerBound = "sdp",
    incumbent: str | np.ndarray | None = "swap",
    num_reads: int = 20,
    seed: int = 0,
    rtol: float = 1e-9,
    node_iterations: int = 400,
    node_rtol: float = 1e-5,
    sdp_options: dict | None = None,
    sdp_fraction: float = 0.6,
) -> BranchAndBoundResult:
    """Certified minimum of ``x^T A x`` over K'-subsets (one leg per stock with ``twin``).

    Parameters
    ----------
    A : ndarray (n, n)
        Symmetric; may be indefinite.
    k : int
        K'.
    twin : ndarray (n,) or None
        ``twin[i]`` the other leg of variable i's stock (-1 or None: no twin).
    time_limit : float
        Seconds for the whole run (root bound, incumbent and tree). On the limit the best
        selection found is returned with its certified gap.
    shift : {"sdp", "uniform"} or ndarray or LowerBound
        The diagonal shift u of the relaxation: from the Shor SDP's dual (default), the
        uniform ``lambda_min``, a given vector, or a bound from
        :mod:`~qubo_portfolio.solvers.bounds` (its ``u`` and ``w``). Any u is certified
        (lowered if needed) before use.
    incumbent : "swap" or ndarray or None
        Start from the best of ``num_reads`` swap-annealing reads (``seed``), a given 0/1
        vector, or nothing (rounding of node solutions only).
    rtol : float
        A node is pruned when its bound ``>= objective - rtol |objective|``; proven optimal
        means no selection is better by more than that.
    node_iterations, node_rtol : int, float
        Effort per node QP (a looser solve only weakens bounds).
    sdp_options : dict or None
        Passed to :func:`~qubo_portfolio.solvers.bounds.shor_bound`.
    sdp_fraction : float
        Share of the time left that the SDP may use (its ``time_limit``).

    Returns
    -------
    BranchAndBoundResult
    """
    t_start = time.perf_counter()
    A, k, twin = check_problem(A, k, twin)
    n = A.shape[0]
    deadline = t_start + float(time_limit)

    t0 = time.perf_counter()
    best_x = _start_incumbent(A, k, twin, incumbent, num_reads, seed)
    best = float(best_x @ A @ best_x)
    t_incumbent = time.perf_counter() - t0
    t0 = time.perf_counter()
    root = _root_bound(A, k, twin, shift, sdp_options, sdp_fraction, deadline)
    rel = convex_relaxation(A, k, root.u, w=root.w, twin=twin)
    t_root = time.perf_counter() - t0

    tree = _Tree(
        A=A,
        k=k,
        twin=twin,
        rel=rel,
        rtol=rtol,
        gamma=2.0 * (n + 2) * EPS,
        node_iterations=node_iterations,
        node_rtol=node_rtol,
        best=best,
        best_x=best_x,
        t_start=t_start,
    )
    tree.open_root(root)
    _explore(tree, deadline)

    open_nodes = len(tree.heap)
    lower = _final_bound(tree, root.value)
    proven, gap = _optimality_gap(tree.best, lower, rtol)
    seconds = time.perf_counter() - t_start
    tree.history.append((seconds, lower, tree.best))
    x_out = np.asarray(tree.best_x, dtype=np.float64)
    return BranchAndBoundResult(
        x=x_out,
        selection=np.flatnonzero(x_out > 0.5),
        objective=tree.best,
        lower_bound=float(lower),
        proven_optimal=bool(proven),
        gap=float(max(gap, 0.0)),
        nodes=tree.nodes,
        seconds=seconds,
        root=root,
        history=tree.history,
        info={
            "root_seconds": t_root,
            "incumbent_seconds": t_incumbent,
            "open_nodes": open_nodes,
            "time_limit_hit": tree.time_hit,
            "shift": rel.shift,
        },
    )
