"""Certified lower bounds (solvers.bounds): every bound <= the brute-force optimum."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers.bounds import (
    certified_bound,
    check_problem,
    convex_relaxation,
    eigenvalue_bound,
    projected_eigvalsh,
    qcr_bound,
    shor_bound,
    solve_relaxation,
)


def brute_force(A: np.ndarray, k: int, twin: np.ndarray | None = None) -> float:
    """min x^T A x over k-subsets (at most one leg per stock), by enumeration."""
    n = A.shape[0]
    subsets = np.array(list(itertools.combinations(range(n), k)))
    if twin is not None:
        t = np.asarray(twin)
        member = np.zeros((len(subsets), n), dtype=bool)
        member[np.arange(len(subsets))[:, None], subsets] = True
        paired = np.flatnonzero(t >= 0)
        ok = ~(member[:, paired] & member[:, t[paired]]).any(axis=1)
        subsets = subsets[ok]
    sub = A[subsets[:, :, None], subsets[:, None, :]]
    return float(sub.sum(axis=(1, 2)).min())


def random_model(rng: np.random.Generator, kind: str, long_short: bool):
    """(A, k, twin): kind 'normal' (indefinite), 'negative' (all entries < 0), 'cov'
    (covariance - xi diag(mu), scaled like a portfolio model), 'pd' (lambda_min > 0)."""
    stocks = int(rng.integers(4, 9)) if long_short else int(rng.integers(4, 15))
    if kind == "cov":
        rows = int(rng.integers(15, 60))
        r = (
            rng.normal(0, 0.01, (rows, 1)) * rng.uniform(0.5, 1.5, stocks)
            + rng.standard_t(4, (rows, stocks)) * 0.008
        )
        cov = np.cov(r.T)
        mu = r.mean(axis=0)
        xi = float(rng.choice([0.0, 0.05, 1.0, 20.0]))
        if long_short:
            s = np.r_[np.ones(stocks), -np.ones(stocks)]
            legs = np.r_[np.arange(stocks), np.arange(stocks)]
            A = np.outer(s, s) * cov[np.ix_(legs, legs)] - xi * np.diag(s * mu[legs])
        else:
            A = cov - xi * np.diag(mu)
    else:
        n = 2 * stocks if long_short else stocks
        M = rng.normal(size=(n, n))
        A = (M + M.T) / 2
        if kind == "negative":
            A = -np.abs(A)
        elif kind == "pd":
            A = M @ M.T / n + 0.5 * np.eye(n)
    n = A.shape[0]
    twin = np.r_[np.arange(stocks, 2 * stocks), np.arange(stocks)] if long_short else None
    k = int(rng.integers(1, stocks + 1 if long_short else stocks))
    return A, k, twin


CASES = [(kind, ls) for kind in ("normal", "negative", "cov", "pd") for ls in (False, True)]


@pytest.mark.parametrize(("kind", "long_short"), CASES)
def test_bounds_below_brute_force(kind, long_short):
    rng = np.random.default_rng(CASES.index((kind, long_short)))
    for _ in range(12):
        A, k, twin = random_model(rng, kind, long_short)
        opt = brute_force(A, k, twin)
        tol = 1e-12 * max(1.0, abs(opt))
        e = eigenvalue_bound(A, k)
        q = qcr_bound(A, k, twin=twin)
        assert e.value <= opt + tol, (e, opt)
        assert q.value <= opt + tol, (q, opt)
        # the QP solved loosely still gives a valid (weaker) bound
        rel = convex_relaxation(A, k, twin=twin)
        loose = solve_relaxation(rel, max_iter=2)
        assert loose.bound <= opt + tol
        # from any point y with sum y = k
        y = rng.uniform(-1, 2, A.shape[0])
        y += (k - y.sum()) / y.size
        assert certified_bound(rel, y) <= opt + tol


@pytest.mark.parametrize(("kind", "long_short"), CASES)
def test_shor_bound_valid_and_tight(kind, long_short):
    rng = np.random.default_rng(100 + CASES.index((kind, long_short)))
    for _ in range(3):
        A, k, twin = random_model(rng, kind, long_short)
        opt = brute_force(A, k, twin)
        s = shor_bound(A, k, twin=twin)
        q = qcr_bound(A, k, twin=twin)
        scale = max(abs(opt), float(np.abs(A).max()))
        assert s.value <= opt + 1e-12 * scale
        # the SDP is at least as strong as the uniform shift (up to the solve's accuracy)
        assert s.value >= q.value - 1e-4 * scale
        assert s.solver_value is not None
        assert s.method == "shor"


def test_eigenvalue_bound_positive_definite():
    """lambda_min > 0: the bound lambda_min K' is positive and valid (not lambda_min K'^2)."""
    A = np.diag([1.0, 2.0, 3.0, 4.0, 5.0])
    b = eigenvalue_bound(A, 3)
    assert 0 < b.value <= 3.0
    assert b.value == pytest.approx(3.0, rel=1e-12)
    assert b.value <= brute_force(A, 3)


def test_bad_shift_is_certified_down():
    rng = np.random.default_rng(3)
    A, k, twin = random_model(rng, "normal", False)
    u = np.full(A.shape[0], 50.0)  # A - 50 I is far from PSD
    rel = convex_relaxation(A, k, u)
    assert rel.shift > 0
    assert rel.lambda_min >= rel.margin
    ev = projected_eigvalsh(rel.B)
    assert ev[0] >= 0
    assert qcr_bound(A, k, u).value <= brute_force(A, k)


def test_shift_given_uniform_makes_B_psd_on_subspace():
    rng = np.random.default_rng(4)
    A, k, twin = random_model(rng, "cov", True)
    rel = convex_relaxation(A, k, twin=twin)
    assert projected_eigvalsh(rel.B)[0] >= 0
    # the identity x^T A x = x^T B x + u^T x on feasible binaries
    x = np.zeros(A.shape[0])
    x[:k] = 1.0
    assert x @ A @ x == pytest.approx(x @ rel.B @ x + rel.c @ x, rel=1e-12, abs=1e-15)


def test_shor_bound_clarabel_small():
    pytest.importorskip("cvxpy")
    rng = np.random.default_rng(5)
    A, k, twin = random_model(rng, "normal", True)
    s = shor_bound(A, k, twin=twin, solver="clarabel")
    b = shor_bound(A, k, twin=twin)
    assert s.value <= brute_force(A, k, twin) + 1e-12
    assert s.value == pytest.approx(b.value, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize(
    ("A", "k", "twin"),
    [
        (np.ones((2, 3)), 1, None),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), 1, None),
        (np.eye(3), 0, None),
        (np.eye(3), 4, None),
        (np.eye(3), True, None),
        (np.eye(4), 1, [1, 2, 3, 0]),
        (np.eye(4), 3, [2, 3, 0, 1]),
        (np.eye(4), 1, [0, -1, -1, -1]),
    ],
)
def test_bad_input(A, k, twin):
    with pytest.raises(InputError):
        check_problem(A, k, twin)


def test_import_stays_light():
    code = (
        "import sys, qubo_portfolio.solvers.bounds, qubo_portfolio.solvers.branch_and_bound;"
        "print('cvxpy' in sys.modules, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"
