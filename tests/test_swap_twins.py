"""The swap annealer and polish with exclusive pairs (``twin``: a stock's long and short legs)."""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import pytest

from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers.polish import polish, repair, swap_descent
from qubo_portfolio.solvers.swap import (
    DESCENT_RTOL,
    SwapAnnealingSampler,
    _random_subset,
    _rng_states,
    _trace_anneal,
    calibrate_beta_range,
)


def energy(A, x):
    x = np.asarray(x, dtype=float)
    return float(x @ A @ x)


def objective_bqm(A, labels):
    K = A.shape[0]
    bqm = dimod.BinaryQuadraticModel("BINARY")
    bqm.add_linear_from((labels[i], A[i, i]) for i in range(K))
    bqm.add_quadratic_from(
        (labels[i], labels[j], 2 * A[i, j]) for i in range(K) for j in range(i + 1, K)
    )
    return bqm


def long_short_instance(n, k, seed, xi=0.05, T=60):
    """A over [long legs, short legs] from random fat-tailed returns with -r appended."""
    rng = np.random.default_rng(seed)
    market = rng.standard_t(4, size=(T, 1)) * 0.01
    beta = rng.uniform(0.5, 1.5, size=n)
    r = 0.0004 + market * beta + rng.standard_t(4, size=(T, n)) * 0.015
    legs = np.hstack([r, -r])
    a = (np.cov(legs, rowvar=False, ddof=1) - xi * np.diag(legs.mean(axis=0))) / k**2
    return (a + a.T) / 2, np.concatenate([np.arange(n, 2 * n), np.arange(n)])


def valid(x, twin):
    x = np.asarray(x)
    return not any(x[v] and x[twin[v]] for v in range(len(x)) if twin[v] >= 0)


def allowed_partners(x, twin, i):
    """Unselected j that may come in for i: j's twin is unselected, or is i."""
    return [j for j in np.flatnonzero(x == 0) if twin[j] < 0 or twin[j] == i or x[twin[j]] == 0]


def reference_descent(A, x, twin):
    """Pure-python steepest descent over the allowed swaps (full recomputation)."""
    x = np.array(x, dtype=np.int64)
    scale = np.abs(np.diag(A)).max()
    while True:
        e = energy(A, x)
        best, move = -DESCENT_RTOL * max(abs(e), scale), None
        for i in np.flatnonzero(x == 1):
            for j in allowed_partners(x, twin, i):
                y = x.copy()
                y[i], y[j] = 0, 1
                if energy(A, y) - e < best:
                    best, move = energy(A, y) - e, (i, j)
        if move is None:
            return x
        x[move[0]], x[move[1]] = 0, 1


def is_allowed_local_min(A, x, twin, rtol=1e-9):
    e = energy(A, x)
    tol = rtol * max(abs(e), np.abs(A).max())
    for i in np.flatnonzero(x == 1):
        for j in allowed_partners(np.asarray(x), twin, i):
            y = np.array(x, dtype=np.int64)
            y[i], y[j] = 0, 1
            if energy(A, y) - e < -tol:
                return False
    return True


def brute_force_min(A, k, twin):
    best = np.inf
    for subset in itertools.combinations(range(len(A)), k):
        x = np.zeros(len(A))
        x[list(subset)] = 1
        if valid(x, twin):
            best = min(best, energy(A, x))
    return best


def check_trace_with_twins(A, x0, twin, trace_move, trace_h, best_partner):
    """Replay a kernel trace with full recomputation, asserting that every state is valid.

    Per proposal: a random proposal that is not allowed must be traced with delta nan and
    rejected; otherwise the kernel's delta must equal ``E(x - e_i + e_j) - E(x)`` for an
    allowed j (with ``best_partner``: the minimum over the allowed partners only). After
    it, h must equal ``A x`` and the tracked energy ``x^T A x``. Returns the largest errors
    and counts of disallowed proposals and side flips (j the twin of i) accepted.
    """
    x = np.array(x0, dtype=np.int64)
    err = {"delta": 0.0, "best": 0.0, "h": 0.0, "energy": 0.0}
    counts = {"disallowed": 0, "flips": 0}
    for (i, j, delta, accepted, tracked), h in zip(trace_move, trace_h, strict=True):
        i, j = int(i), int(j)
        assert x[i] == 1
        e = energy(A, x)
        allowed = allowed_partners(x, twin, i)
        if np.isnan(delta):  # a random proposal that is not allowed
            assert not best_partner and j not in allowed and x[j] == 0 and not accepted
            counts["disallowed"] += 1
        else:
            swaps = {}
            for jj in allowed:
                y = x.copy()
                y[i], y[jj] = 0, 1
                swaps[jj] = energy(A, y) - e
            if j >= 0:
                assert j in allowed
                err["delta"] = max(err["delta"], abs(delta - swaps[j]))
            if best_partner:
                err["best"] = max(err["best"], abs(delta - min(swaps.values())))
        if accepted:
            counts["flips"] += int(twin[i] == j)
            x[i], x[j] = 0, 1
            assert valid(x, twin)
        err["h"] = max(err["h"], float(np.abs(h - A @ x).max()))
        err["energy"] = max(err["energy"], abs(tracked - energy(A, x)))
    return err, counts


@pytest.mark.parametrize(("n", "k"), [(7, 4), (5, 5)])
@pytest.mark.parametrize("proposal_type", ["random", "best"])
def test_kernel_trace_with_twins_matches_full_recomputation(proposal_type, n, k):
    """k = n holds every stock: the only allowed partner of a leg is its twin (a side flip)."""
    A, twin = long_short_instance(n, k, seed=3, xi=0.5)
    beta_hot, beta_cold = calibrate_beta_range(A, k, twin=twin)
    betas = np.geomspace(beta_hot / 100, beta_cold, 30)  # hot: many uphill moves accepted
    x0 = np.zeros(2 * n, dtype=np.int8)
    x0[[0, 2, 4 + n, 1 + n, 3][:k]] = 1
    if proposal_type == "best":  # its anneal starts with a descent: start at a local minimum
        x0 = reference_descent(A, x0, twin).astype(np.int8)
    assert valid(x0, twin) and x0.sum() == k
    _, moves, hs = _trace_anneal(A, x0, 7, betas, k, 30 * k, proposal_type=proposal_type, twin=twin)
    accepted = int(moves[:, 3].sum())
    assert accepted >= (10 if k < n else 3)
    err, counts = check_trace_with_twins(
        A, x0, twin, moves, hs, best_partner=proposal_type == "best"
    )
    tol = 1e-12 * np.abs(A).max()
    assert all(e < tol for e in err.values()), err
    if k == n:
        assert counts["flips"] == accepted
    if proposal_type == "random":
        assert counts["disallowed"] > 0 and counts["flips"] > 0

    # negative control: the same kernel without twins makes moves the replay rejects
    _, free, free_h = _trace_anneal(A, x0, 7, betas, k, 30 * k, proposal_type=proposal_type)
    with pytest.raises(AssertionError):
        check_trace_with_twins(A, x0, twin, free, free_h, best_partner=proposal_type == "best")


def test_random_subsets_are_valid_and_uniform():
    n, k = 5, 3
    twin = np.concatenate([np.arange(n, 2 * n), np.arange(n)]).astype(np.int64)
    rng = _rng_states(11, 1)[0]
    x = np.zeros(2 * n, dtype=np.int8)
    members = np.empty(2 * n, dtype=np.int64)
    draws = 20_000
    counts = np.zeros(2 * n)
    for _ in range(draws):
        _random_subset(x, members, k, rng, twin)
        assert x.sum() == k and valid(x, twin)
        counts += x
    # every leg with probability (k / n) / 2
    np.testing.assert_allclose(counts / draws, k / n / 2, atol=0.015)
    # without twins: the plain partial shuffle of k of the 2n variables
    free = np.full(2 * n, -1, dtype=np.int64)
    rng2 = _rng_states(11, 1)[0]
    _random_subset(x, members, k, rng2, free)
    assert x.sum() == k


@pytest.mark.parametrize(("n", "k", "seed"), [(6, 2, 0), (7, 3, 1), (8, 4, 2), (8, 6, 3)])
@pytest.mark.parametrize("proposal_type", ["best", "random"])
def test_sampler_with_twins_finds_the_valid_optimum(n, k, seed, proposal_type):
    A, twin = long_short_instance(n, k, seed)
    ss = SwapAnnealingSampler().sample_matrix(
        A, k=k, twin=twin, num_reads=20, seed=seed, proposal_type=proposal_type
    )
    X = ss.record.sample
    assert (X.sum(axis=1) == k).all()
    assert all(valid(x, twin) for x in X)
    assert ss.record.energy.min() == pytest.approx(brute_force_min(A, k, twin), rel=1e-12)
    for x in X[:5]:
        assert is_allowed_local_min(A, x, twin)


def test_descent_from_initial_states_and_exclusive_pairs_labels():
    n, k = 6, 3
    A, twin = long_short_instance(n, k, seed=8)
    labels = [f"long:S{i}" for i in range(n)] + [f"short:S{i}" for i in range(n)]
    pairs = [(f"long:S{i}", f"short:S{i}") for i in range(n)]
    rng = np.random.default_rng(0)
    starts = np.zeros((4, 2 * n), dtype=np.int8)
    for row in starts:
        stocks = rng.choice(n, k, replace=False)
        row[stocks + n * rng.integers(0, 2, k)] = 1
    sampler = SwapAnnealingSampler()
    for descent in ("steepest", "first"):
        ss = sampler.sample_matrix(
            A, k=k, twin=twin, variables=labels, num_sweeps=0, initial_states=starts,
            descent=descent,
        )  # fmt: skip
        for start, x in zip(starts, ss.record.sample, strict=True):
            assert valid(x, twin) and is_allowed_local_min(A, x, twin)
            if descent == "steepest":
                np.testing.assert_array_equal(x, reference_descent(A, start, twin))
    bqm = objective_bqm(A, labels)
    a = sampler.sample(bqm, k=k, exclusive_pairs=pairs, num_reads=6, seed=4)
    b = sampler.sample_matrix(A, k=k, variables=labels, twin=twin, num_reads=6, seed=4)
    np.testing.assert_array_equal(a.record.sample, b.record.sample)
    np.testing.assert_allclose(a.record.energy, b.record.energy, rtol=1e-9)

    bad = starts[:1].copy()
    bad[0, :] = 0
    bad[0, [0, n, 1]] = 1  # long and short S0
    with pytest.raises(InputError, match="selects a variable and its twin"):
        sampler.sample_matrix(A, k=k, twin=twin, initial_states=bad)
    with pytest.raises(InputError, match=r"k = 7 exceeds the 6 variables"):
        sampler.sample_matrix(A, k=7, twin=twin)
    with pytest.raises(InputError, match="pair variables up"):
        sampler.sample_matrix(A, k=2, twin=np.r_[twin[:-1], 0])
    with pytest.raises(InputError, match="in two pairs"):
        sampler.sample(bqm, k=2, exclusive_pairs=[*pairs, ("long:S0", "long:S1")])


def test_polish_with_twins():
    n, k = 7, 3
    A, twin = long_short_instance(n, k, seed=6)
    rng = np.random.default_rng(3)
    X = (rng.random((40, 2 * n)) < 0.35).astype(np.int8)
    X[0] = 0
    X[0, [0, n, 1, n + 1, 2]] = 1  # two stocks held on both sides, five legs
    variables = [f"v{i}" for i in range(2 * n)]
    ss = dimod.SampleSet.from_samples((X, variables), "BINARY", energy=np.zeros(len(X)))
    out = polish(ss, A, variables, k, twin)
    Y = out.record.sample
    assert (Y.sum(axis=1) == k).all() and all(valid(y, twin) for y in Y)
    for y in Y:
        assert is_allowed_local_min(A, y, twin)
    has_both = np.array([not valid(x, twin) for x in X])
    np.testing.assert_array_equal(out.record.feasible_raw, (X.sum(axis=1) == k) & ~has_both)
    # repair drops the better leg of each doubled stock first, then fills up greedily
    y = repair(A, X[0], k, twin)
    assert y.sum() == k and valid(y, twin)
    x = X[0].astype(np.int64).copy()
    while not valid(x, twin):
        doubled = [v for v in np.flatnonzero(x) if x[twin[v]]]
        drop = min(doubled, key=lambda v: energy(A, x - np.eye(2 * n, dtype=int)[v]))
        x[drop] = 0
    while x.sum() > k:
        on = np.flatnonzero(x)
        x[min(on, key=lambda v: energy(A, x - np.eye(2 * n, dtype=int)[v]))] = 0
    np.testing.assert_array_equal(y, x)
    z = swap_descent(A, y, twin)
    assert valid(z, twin) and is_allowed_local_min(A, z, twin)
