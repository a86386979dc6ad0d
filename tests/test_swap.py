"""Tests of the fixed-cardinality swap annealer (qubo_portfolio.solvers.swap)."""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import pytest

from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers.swap import (
    DESCENT_RTOL,
    SwapAnnealingSampler,
    _trace_anneal,
    calibrate_beta_range,
    dense_matrix,
    swap_delta,
)


def make_instance(K, k, seed, xi=0.05, T=60):
    """A = (cov - xi diag(mean)) / k^2 from random fat-tailed daily returns (real-data scale)."""
    rng = np.random.default_rng(seed)
    market = rng.standard_t(4, size=(T, 1)) * 0.01
    beta = rng.uniform(0.5, 1.5, size=K)
    returns = 0.0004 + market * beta + rng.standard_t(4, size=(T, K)) * 0.015
    Q = np.cov(returns, rowvar=False, ddof=1)
    mu = returns.mean(axis=0)
    return (Q - xi * np.diag(mu)) / k**2


def objective_bqm(A, labels=None):
    K = A.shape[0]
    labels = list(range(K)) if labels is None else labels
    bqm = dimod.BinaryQuadraticModel("BINARY")
    bqm.add_linear_from((labels[i], A[i, i]) for i in range(K))
    bqm.add_quadratic_from(
        (labels[i], labels[j], 2 * A[i, j]) for i in range(K) for j in range(i + 1, K)
    )
    return bqm


def energy(A, x):
    x = np.asarray(x, dtype=float)
    return float(x @ A @ x)


def brute_force_min(A, k):
    K = A.shape[0]
    combos = np.array(list(itertools.combinations(range(K), k)))
    X = np.zeros((len(combos), K))
    X[np.arange(len(combos))[:, None], combos] = 1.0
    energies = np.einsum("ij,jk,ik->i", X, A, X)
    return float(energies.min())


def reference_steepest_descent(A, x):
    """Pure-python steepest swap descent (full recomputation of every swap)."""
    x = np.array(x, dtype=np.int64)
    scale = np.abs(np.diag(A)).max()
    while True:
        e = energy(A, x)
        tol = DESCENT_RTOL * max(abs(e), scale)
        best, move = -tol, None
        for i in np.flatnonzero(x == 1):
            for j in np.flatnonzero(x == 0):
                y = x.copy()
                y[i], y[j] = 0, 1
                d = energy(A, y) - e
                if d < best:
                    best, move = d, (i, j)
        if move is None:
            return x
        x[move[0]], x[move[1]] = 0, 1


def is_swap_local_min(A, x, rtol=1e-9):
    e = energy(A, x)
    tol = rtol * max(abs(e), np.abs(A).max())
    for i in np.flatnonzero(x == 1):
        for j in np.flatnonzero(x == 0):
            y = np.array(x, dtype=np.int64)
            y[i], y[j] = 0, 1
            if energy(A, y) - e < -tol:
                return False
    return True


# --------------------------------------------------------------------------------------------
# the delta formula and the incremental fields
# --------------------------------------------------------------------------------------------


def check_trace(A, x0, trace_move, trace_h, best_partner=False):
    """Replay a kernel trace with full recomputation; return the largest errors.

    For every proposal: the kernel's delta against ``E(x - e_i + e_j) - E(x)`` recomputed
    from scratch (with ``best_partner``, also against the best partner's delta found by
    brute force), and after it the kernel's fields ``h`` against ``A @ x`` and its tracked
    energy against ``x^T A x``.
    """
    x = np.array(x0, dtype=np.int64)
    err = {"delta": 0.0, "best": 0.0, "h": 0.0, "energy": 0.0}
    for (i, j, delta, accepted, tracked), h in zip(trace_move, trace_h, strict=True):
        i, j = int(i), int(j)
        assert x[i] == 1
        e = energy(A, x)
        swaps = {}
        for jj in np.flatnonzero(x == 0):
            y = x.copy()
            y[i], y[jj] = 0, 1
            swaps[jj] = energy(A, y) - e
        if j >= 0:  # rejected "best" proposals do not look the partner up
            assert x[j] == 0
            err["delta"] = max(err["delta"], abs(delta - swaps[j]))
        if best_partner:
            err["best"] = max(err["best"], abs(delta - min(swaps.values())))
        if accepted:
            x[i], x[j] = 0, 1
        err["h"] = max(err["h"], float(np.abs(h - A @ x).max()))
        err["energy"] = max(err["energy"], abs(tracked - energy(A, x)))
    return err


@pytest.mark.parametrize("proposal_type", ["random", "best"])
def test_kernel_deltas_and_fields_match_full_recomputation(proposal_type):
    K, k = 12, 5
    A = make_instance(K, k, seed=3)
    beta_hot, beta_cold = calibrate_beta_range(A, k)
    betas = np.geomspace(beta_hot / 10, beta_cold, 30)  # hot enough to accept many uphill
    x0 = np.zeros(K, dtype=np.int8)
    x0[[0, 2, 4, 6, 8]] = 1
    if proposal_type == "best":  # its anneal starts with a descent: start at a local minimum
        x0 = reference_steepest_descent(A, x0).astype(np.int8)
    n = 30 * k
    _, moves, hs = _trace_anneal(A, x0, 7, betas, k, n, proposal_type=proposal_type)
    assert moves[:, 3].sum() >= 20  # many accepted moves, uphill ones included
    assert (moves[moves[:, 3] == 1, 2] > 0).any()
    errors = check_trace(A, x0, moves, hs, best_partner=proposal_type == "best")
    tol = 1e-12 * np.abs(A).max()
    assert all(err < tol for err in errors.values()), errors


def test_trace_check_detects_a_wrong_field_or_delta():
    """Negative control: the replay check fails when the kernel's numbers are off."""
    K, k = 10, 4
    A = make_instance(K, k, seed=4)
    betas = np.geomspace(*calibrate_beta_range(A, k), 10)
    x0 = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=np.int8)
    _, moves, hs = _trace_anneal(A, x0, 1, betas, 4 * k, 40)
    tol = 1e-12 * np.abs(A).max()
    bad_h = hs.copy()
    bad_h[17, 3] += 1e-3 * np.abs(A).max()
    assert check_trace(A, x0, moves, bad_h)["h"] > tol
    bad_moves = moves.copy()
    bad_moves[:, 2] += 2 * A[0, 1]  # e.g. a sign error on the A_ij term
    assert check_trace(A, x0, bad_moves, hs)["delta"] > tol


def test_swap_delta_formula():
    K = 9
    A = make_instance(K, 3, seed=5)
    x = np.array([1, 0, 1, 0, 0, 1, 0, 0, 1])
    h = A @ x
    for i in np.flatnonzero(x):
        for j in np.flatnonzero(x == 0):
            y = x.copy()
            y[i], y[j] = 0, 1
            assert swap_delta(A, h, i, j) == pytest.approx(energy(A, y) - energy(A, x), abs=1e-18)


# --------------------------------------------------------------------------------------------
# the sampler
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("K", "k", "seed"), [(12, 3, 0), (13, 4, 1), (14, 5, 2), (15, 6, 3), (16, 4, 4), (16, 6, 5)]
)
@pytest.mark.parametrize("proposal_type", ["best", "random"])
def test_finds_brute_force_optimum(K, k, seed, proposal_type):
    A = make_instance(K, k, seed)
    bqm = objective_bqm(A)
    ss = SwapAnnealingSampler().sample(
        bqm, k=k, num_reads=20, seed=seed, proposal_type=proposal_type
    )
    best = brute_force_min(A, k)
    assert ss.first.energy == pytest.approx(best, rel=1e-12, abs=1e-18)


def test_samples_have_k_ones_and_energies_match():
    K, k = 40, 7
    A = make_instance(K, k, seed=11)
    labels = [f"T{i:02d}" for i in range(K)]
    bqm = objective_bqm(A, labels)
    for proposal_type in ("best", "random"):
        for descent in ("steepest", "first"):
            ss = SwapAnnealingSampler().sample(
                bqm, k=k, num_reads=15, seed=3, proposal_type=proposal_type, descent=descent
            )
            assert ss.vartype is dimod.BINARY
            assert len(ss) == 15
            assert (ss.record.sample.sum(axis=1) == k).all()
            np.testing.assert_allclose(ss.record.energy, bqm.energies(ss), rtol=1e-12)
            X = ss.record.sample[:, [ss.variables.index(v) for v in labels]]
            np.testing.assert_allclose(ss.record.energy, [energy(A, x) for x in X], rtol=1e-10)
            for x in X[:3]:
                assert is_swap_local_min(A, x)


def test_same_seed_same_sampleset_different_seed_differs():
    K, k = 120, 15
    A = make_instance(K, k, seed=1, T=20)  # few returns: several competing local minima
    bqm = objective_bqm(A)
    sampler = SwapAnnealingSampler()
    a = sampler.sample(bqm, k=k, num_reads=20, seed=5)
    b = sampler.sample(bqm, k=k, num_reads=20, seed=5)
    c = sampler.sample(bqm, k=k, num_reads=20, seed=6)
    np.testing.assert_array_equal(a.record.sample, b.record.sample)
    np.testing.assert_array_equal(a.record.energy, b.record.energy)
    assert a.info["beta_range"] == b.info["beta_range"]
    assert not np.array_equal(a.record.sample, c.record.sample)
    # read r does not depend on how many reads there are
    d = sampler.sample(bqm, k=k, num_reads=3, seed=5)
    np.testing.assert_array_equal(d.record.sample, a.record.sample[:3])


def test_info_contents():
    A = make_instance(20, 4, seed=2)
    ss = SwapAnnealingSampler().sample(objective_bqm(A), k=4, num_reads=3, seed=0)
    info = ss.info
    hot, cold = info["beta_range"]
    assert 0 < hot <= cold
    assert info["num_sweeps"] == 20
    assert info["proposals_per_sweep"] == 4
    assert info["proposal_type"] == "best"
    assert set(info["timing"]) >= {"compile", "beta_calibration", "sampling", "per_read", "total"}
    assert "num_descent_swaps" in ss.record.dtype.names
    ss = SwapAnnealingSampler().sample(
        objective_bqm(A), k=4, num_reads=3, proposal_type="random", beta_range=(1.0, 2.0)
    )
    assert ss.info["proposals_per_sweep"] == 16
    assert ss.info["beta_range"] == (1.0, 2.0)


def test_initial_states_are_honoured():
    K, k = 14, 5
    A = make_instance(K, k, seed=8)
    bqm = objective_bqm(A)
    rng = np.random.default_rng(0)
    starts = np.zeros((4, K), dtype=np.int8)
    for row in starts:
        row[rng.choice(K, k, replace=False)] = 1
    ss = SwapAnnealingSampler().sample(bqm, k=k, num_sweeps=0, initial_states=starts, seed=1)
    assert len(ss) == 4  # num_reads defaults to the number of initial states
    X = ss.record.sample[:, [ss.variables.index(v) for v in range(K)]]
    for start, x in zip(starts, X, strict=True):
        np.testing.assert_array_equal(x, reference_steepest_descent(A, start))
    # labelled states (dicts), fewer reads than states, more reads than states
    labels = list(bqm.variables)
    dicts = [dict(zip(labels, row.tolist(), strict=True)) for row in starts]
    ss = SwapAnnealingSampler().sample(
        bqm, k=k, num_sweeps=0, initial_states=dicts[::-1], num_reads=2
    )
    X = ss.record.sample[:, [ss.variables.index(v) for v in range(K)]]
    np.testing.assert_array_equal(X[0], reference_steepest_descent(A, starts[3]))
    ss = SwapAnnealingSampler().sample(bqm, k=k, initial_states=starts[:1], num_reads=5)
    assert len(ss) == 5 and (ss.record.sample.sum(axis=1) == k).all()
    # a start that is a local minimum stays put
    x_min = reference_steepest_descent(A, starts[0])
    ss = SwapAnnealingSampler().sample(bqm, k=k, num_sweeps=0, initial_states=[x_min])
    np.testing.assert_array_equal(
        ss.record.sample[0, [ss.variables.index(v) for v in range(K)]], x_min
    )


def test_bad_arguments_raise():
    K = 10
    A = make_instance(K, 3, seed=0)
    bqm = objective_bqm(A)
    sampler = SwapAnnealingSampler()
    for k in (0, K, -1, K + 3, 2.5, True):
        with pytest.raises(InputError, match="k must be"):  # InputError is a ValueError
            sampler.sample(bqm, k=k)
    with pytest.raises(ValueError, match="num_reads"):
        sampler.sample(bqm, k=3, num_reads=0)
    with pytest.raises(ValueError, match="num_sweeps"):
        sampler.sample(bqm, k=3, num_sweeps=-1)
    with pytest.raises(ValueError, match="beta_schedule_type"):
        sampler.sample(bqm, k=3, beta_schedule_type="cosine")
    with pytest.raises(ValueError, match="proposal_type"):
        sampler.sample(bqm, k=3, proposal_type="any")
    with pytest.raises(ValueError, match="exactly k=3 ones"):
        sampler.sample(bqm, k=3, initial_states=[[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="shape"):
        sampler.sample(bqm, k=3, initial_states=[[1, 1, 1]])
    with pytest.warns(dimod.exceptions.SamplerUnknownArgWarning):
        sampler.sample(bqm, k=3, num_reads=1, not_a_parameter=1)


def test_linear_schedule_first_descent_and_dense_matrix():
    K, k = 30, 6
    A = make_instance(K, k, seed=9)
    bqm = objective_bqm(A, [f"v{i}" for i in range(K)])
    np.testing.assert_allclose(dense_matrix(bqm, [f"v{i}" for i in range(K)]), A, rtol=1e-15)
    ss = SwapAnnealingSampler().sample(
        bqm, k=k, beta_schedule_type="linear", descent="first", num_reads=4, seed=2
    )
    assert (ss.record.sample.sum(axis=1) == k).all()


def test_penalty_bqm_gives_objective_energies_on_feasible_samples():
    K, k = 16, 4
    A = make_instance(K, k, seed=12)
    lam = np.max(np.abs(np.diag(A)) + 2 * (np.abs(A).sum(axis=1) - np.abs(np.diag(A))))
    penalty = objective_bqm(A)
    penalty.add_linear_from((i, lam * (1 - 2 * k)) for i in range(K))
    penalty.add_quadratic_from((i, j, 2 * lam) for i in range(K) for j in range(i + 1, K))
    penalty.offset += lam * k * k
    ss = SwapAnnealingSampler().sample(penalty, k=k, num_reads=10, seed=0)
    assert ss.first.energy == pytest.approx(brute_force_min(A, k), rel=1e-9)


def test_sample_matrix_equals_sample_on_the_bqm():
    from qubo_portfolio import build_qubo

    from helpers import make_returns

    qubo = build_qubo(
        make_returns(100, 15, seed=9), k=4, xi=0.5, windows={"length": 25, "step": 15}
    )
    sampler = SwapAnnealingSampler()
    a = sampler.sample(qubo.objective_bqm(), k=4, num_reads=6, seed=5)
    b = sampler.sample_matrix(qubo.A, k=4, variables=qubo.tickers, num_reads=6, seed=5)
    assert list(a.variables) == list(b.variables) == qubo.tickers
    np.testing.assert_array_equal(a.record.sample, b.record.sample)
    np.testing.assert_allclose(a.record.energy, b.record.energy, rtol=1e-9)
    with pytest.raises(InputError, match="symmetric"):
        sampler.sample_matrix(np.triu(qubo.A), k=4)


def test_compile_seconds_count_only_a_real_compilation():
    """Loading the kernels from numba's on-disk cache is not reported as a compilation."""
    from collections import Counter
    from types import SimpleNamespace

    from qubo_portfolio.solvers.swap.kernels import compile_seconds

    def kernel(misses: int) -> SimpleNamespace:
        stats = SimpleNamespace(cache_misses=Counter({"sig": misses} if misses else {}))
        return SimpleNamespace(stats=stats)

    assert compile_seconds(0.8, kernel(0), kernel(0)) == 0.0
    assert compile_seconds(7.5, kernel(0), kernel(1)) == 7.5
