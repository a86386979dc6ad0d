"""Tests of repair + swap-descent polishing (qubo_portfolio.solvers.polish)."""

from __future__ import annotations

import dimod
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qubo_portfolio.solvers.polish import polish, repair, swap_descent


def make_instance(K, k, seed, xi=0.05, T=40):
    """A = (cov - xi diag(mean)) / k^2 from random fat-tailed daily returns (real-data scale)."""
    rng = np.random.default_rng(seed)
    market = rng.standard_t(4, size=(T, 1)) * 0.01
    beta = rng.uniform(0.5, 1.5, size=K)
    returns = 0.0004 + market * beta + rng.standard_t(4, size=(T, K)) * 0.015
    Q = np.cov(returns, rowvar=False, ddof=1)
    mu = returns.mean(axis=0)
    return (Q - xi * np.diag(mu)) / max(k, 1) ** 2


def energy(A, x):
    x = np.asarray(x, dtype=float)
    return float(x @ A @ x)


def best_swap_delta(A, x):
    """Most negative ``E(x - e_i + e_j) - E(x)`` over all swaps, by full recomputation."""
    x = np.asarray(x, dtype=np.int64)
    e = energy(A, x)
    best = np.inf
    for i in np.flatnonzero(x == 1):
        for j in np.flatnonzero(x == 0):
            y = x.copy()
            y[i], y[j] = 0, 1
            best = min(best, energy(A, y) - e)
    return best


def reference_repair(A, x, k):
    x = np.array(x, dtype=np.int64)
    while x.sum() > k:
        on = np.flatnonzero(x == 1)
        x[on[np.argmin([energy(A, x - np.eye(len(x), dtype=int)[i]) for i in on])]] = 0
    while x.sum() < k:
        off = np.flatnonzero(x == 0)
        x[off[np.argmin([energy(A, x + np.eye(len(x), dtype=int)[j]) for j in off])]] = 1
    return x


def local_min_tolerance(A, x):
    return 1e-9 * max(abs(energy(A, x)), np.abs(A).max())


@st.composite
def instance_and_samples(draw):
    K = draw(st.integers(min_value=4, max_value=18))
    k = draw(st.integers(min_value=1, max_value=K - 1))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    n = draw(st.integers(min_value=1, max_value=5))
    rng = np.random.default_rng(seed)
    A = make_instance(K, k, seed)
    X = np.zeros((n, K), dtype=np.int8)
    for row in X:
        size = draw(st.integers(min_value=0, max_value=K))
        row[rng.choice(K, size, replace=False)] = 1
    return A, k, X


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance_and_samples())
def test_polish_is_feasible_never_worse_and_a_swap_local_minimum(case):
    A, k, X = case
    K = A.shape[0]
    variables = [f"a{i}" for i in range(K)]
    sampleset = dimod.SampleSet.from_samples((X, variables), "BINARY", energy=np.zeros(len(X)))
    out = polish(sampleset, A, variables, k)
    assert out.vartype is dimod.BINARY
    assert len(out) == len(X)
    Y = out.record.sample[:, [out.variables.index(v) for v in variables]]
    assert (Y.sum(axis=1) == k).all()
    for x_in, y, e, e_raw, feasible in zip(
        X,
        Y,
        out.record.energy,
        out.record.objective_raw,
        out.record.feasible_raw,
        strict=True,
    ):
        assert e == pytest.approx(energy(A, y), rel=1e-9, abs=1e-18)
        assert e_raw == pytest.approx(energy(A, x_in), rel=1e-9, abs=1e-18)
        assert feasible == (x_in.sum() == k)
        if feasible:
            assert energy(A, y) <= energy(A, x_in) + 1e-12 * abs(energy(A, x_in))
        assert best_swap_delta(A, y) >= -local_min_tolerance(A, y)


def test_repair_matches_reference_greedy():
    rng = np.random.default_rng(1)
    for trial in range(20):
        K = int(rng.integers(5, 25))
        k = int(rng.integers(0, K + 1))
        A = make_instance(K, max(k, 1), seed=trial)
        x = (rng.random(K) < rng.random()).astype(np.int8)
        y = repair(A, x, k)
        assert y.sum() == k
        np.testing.assert_array_equal(y, reference_repair(A, x, k))
        if x.sum() == k:
            np.testing.assert_array_equal(y, x)


def test_plain_functions_keep_dtype_and_do_not_modify_input():
    K, k = 15, 4
    A = make_instance(K, k, seed=3)
    x = np.zeros(K, dtype=bool)
    x[:7] = True
    x_copy = x.copy()
    y = repair(A, x, k)
    assert y.dtype == bool and y.sum() == k
    z = swap_descent(A, y)
    assert z.dtype == bool and z.sum() == k
    np.testing.assert_array_equal(x, x_copy)
    assert energy(A, z) <= energy(A, y)
    assert best_swap_delta(A, z) >= -local_min_tolerance(A, z)
    x8 = z.astype(np.int8)
    np.testing.assert_array_equal(swap_descent(A, x8), x8)  # a local minimum stays put


def test_raw_columns_info_and_variable_order():
    K, k = 12, 3
    A = make_instance(K, k, seed=5)
    variables = [f"s{i}" for i in range(K)]
    # the input sampleset lists the variables in another order, with an extra slack variable
    order = variables[::-1] + ["slack"]
    rng = np.random.default_rng(0)
    X = (rng.random((6, K + 1)) < 0.3).astype(np.int8)
    X[0, :K] = 0
    X[0, [0, 5, 7]] = 1  # feasible (3 ones among the real variables)
    sampleset = dimod.SampleSet.from_samples(
        (X, order),
        "BINARY",
        energy=np.arange(6.0),
        num_occurrences=np.arange(1, 7),
        info={"solver": "test"},
        extra=np.arange(6) * 10,
    )
    out = polish(sampleset, A, variables, k)
    Xv = X[:, [order.index(v) for v in variables]]
    np.testing.assert_allclose(out.record.objective_raw, [energy(A, x) for x in Xv], rtol=1e-12)
    np.testing.assert_array_equal(out.record.num_selected_raw, Xv.sum(axis=1))
    np.testing.assert_array_equal(out.record.feasible_raw, Xv.sum(axis=1) == k)
    np.testing.assert_array_equal(out.record.energy_raw, np.arange(6.0))
    np.testing.assert_array_equal(out.record.num_occurrences, np.arange(1, 7))
    np.testing.assert_array_equal(out.record.extra, np.arange(6) * 10)
    assert list(out.variables) == variables
    assert out.info["solver"] == "test"
    assert out.info["polish"]["k"] == k
    assert out.info["polish"]["num_repaired"] == int((Xv.sum(axis=1) != k).sum())
    assert out.info["polish"]["timing"] >= 0
    assert "polish" not in sampleset.info  # the input is not modified
    # polishing twice is stable and keeps the newest raw columns
    again = polish(out, A, variables, k)
    np.testing.assert_array_equal(again.record.sample, out.record.sample)
    np.testing.assert_allclose(again.record.objective_raw, out.record.energy)
    assert again.record.feasible_raw.all()


def test_polish_spin_input_and_errors():
    K, k = 8, 3
    A = make_instance(K, k, seed=6)
    variables = list(range(K))
    spins = np.where(np.random.default_rng(2).random((3, K)) < 0.4, 1, -1)
    ss = dimod.SampleSet.from_samples((spins, variables), "SPIN", energy=np.zeros(3))
    out = polish(ss, A, variables, k)
    assert out.vartype is dimod.BINARY
    np.testing.assert_array_equal(out.record.num_selected_raw, (spins == 1).sum(axis=1))
    with pytest.raises(ValueError, match="lacks"):
        polish(ss, np.eye(K + 1), variables + ["missing"], k)
    with pytest.raises(ValueError, match="shape"):
        polish(ss, A[:4, :4], variables, k)
    with pytest.raises(ValueError, match="k must be"):
        polish(ss, A, variables, K + 1)
    with pytest.raises(ValueError, match="0/1"):
        repair(A, np.full(K, 2), k)
