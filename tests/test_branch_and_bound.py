"""Branch and bound (solvers.branch_and_bound): the brute-force optimum, proven."""

from __future__ import annotations

import numpy as np
import pytest
from test_bounds import CASES, brute_force, random_model

from qubo_portfolio import build_qubo
from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers.branch_and_bound import branch_and_bound

from helpers import make_returns


def assert_feasible(x: np.ndarray, k: int, twin: np.ndarray | None) -> None:
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert x.sum() == k
    if twin is not None:
        paired = np.flatnonzero(np.asarray(twin) >= 0)
        assert not (x[paired] * x[np.asarray(twin)[paired]]).any()


@pytest.mark.parametrize(("kind", "long_short"), CASES)
def test_branch_and_bound_finds_and_proves_optimum(kind, long_short):
    rng = np.random.default_rng(200 + CASES.index((kind, long_short)))
    for trial in range(10):
        A, k, twin = random_model(rng, kind, long_short)
        opt = brute_force(A, k, twin)
        # mostly the cheap uniform shift without incumbent (the tree does all the work)
        shift = "sdp" if trial < 2 else "uniform"
        incumbent = "swap" if trial % 3 == 0 else None
        res = branch_and_bound(A, k, twin=twin, shift=shift, incumbent=incumbent)
        assert_feasible(res.x, k, twin)
        assert res.proven_optimal
        assert res.objective == pytest.approx(opt, rel=1e-9, abs=1e-14)
        assert res.objective == pytest.approx(float(res.x @ A @ res.x), rel=1e-12)
        assert res.lower_bound <= opt + 1e-12 * max(1.0, abs(opt))
        assert res.gap <= 1e-9
        assert list(res.selection) == list(np.flatnonzero(res.x))


@pytest.mark.parametrize(("kind", "long_short"), CASES)
def test_time_limit_still_valid(kind, long_short):
    rng = np.random.default_rng(300 + CASES.index((kind, long_short)))
    for _ in range(4):
        A, k, twin = random_model(rng, kind, long_short)
        opt = brute_force(A, k, twin)
        res = branch_and_bound(A, k, twin=twin, shift="uniform", incumbent=None, time_limit=0.0)
        assert_feasible(res.x, k, twin)
        assert res.lower_bound <= opt + 1e-12 * max(1.0, abs(opt))
        assert res.objective >= opt - 1e-12 * max(1.0, abs(opt))
        assert res.gap >= 0
        if not res.proven_optimal:
            assert res.info["time_limit_hit"]


def test_portfolio_models():
    returns = make_returns(n_rows=130, n_assets=10, seed=3)
    for positions in ("long_only", "long_short"):
        qubo = build_qubo(
            returns, k=4, xi=0.5, windows={"length": 21, "step": 10}, positions=positions
        )
        twin = qubo.twin if qubo.long_short else None
        res = branch_and_bound(qubo.A, qubo.k, twin=twin)
        assert res.proven_optimal
        assert res.objective == pytest.approx(brute_force(qubo.A, qubo.k, twin), rel=1e-9)
        assert qubo.objective(res.x) == pytest.approx(res.objective, rel=1e-12)
        assert res.history[-1][1] == res.lower_bound


def test_given_incumbent_and_bad_arguments():
    rng = np.random.default_rng(9)
    A, k, twin = random_model(rng, "normal", False)
    x0 = np.zeros(A.shape[0])
    x0[:k] = 1
    res = branch_and_bound(A, k, incumbent=x0, shift="uniform")
    assert res.objective == pytest.approx(brute_force(A, k), rel=1e-9)
    with pytest.raises(InputError):
        branch_and_bound(A, k, incumbent=np.ones(A.shape[0]))
    with pytest.raises(InputError):
        branch_and_bound(A, k, shift="nope")
