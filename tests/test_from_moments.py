"""PortfolioQubo.from_moments: the QUBO of a user's own averaged moments."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from qubo_portfolio import PortfolioQubo, build_qubo
from qubo_portfolio.errors import InputError

from helpers import make_returns

WINDOWS = {"length": 30, "step": 15}


@pytest.mark.parametrize("return_term", ["linear", "squared"])
@pytest.mark.parametrize("positions", ["long_only", "long_short"])
def test_the_window_moments_give_build_qubos_matrix_to_the_last_bit(return_term, positions):
    returns = make_returns(n_rows=120, n_assets=7, seed=11)
    built = build_qubo(
        returns, k=3, xi=0.7, windows=WINDOWS, return_term=return_term, positions=positions
    )
    mine = PortfolioQubo.from_moments(
        built.q_bar,
        built.moments.mean_mean,
        k=3,
        xi=0.7,
        tickers=built.tickers,
        return_term=return_term,
        outer=built.moments.outer_mean,
        positions=positions,
    )
    np.testing.assert_array_equal(mine.A, built.A)
    assert mine.variables == built.variables
    assert mine.penalty_bound() == built.penalty_bound()


def test_the_matrix_is_the_formula_in_plain_numpy():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(6, 6))
    cov = factors @ factors.T / 1000
    mean = rng.normal(0, 1e-3, 6)
    k, xi = 2, 3.0
    linear = PortfolioQubo.from_moments(cov, mean, k=k, xi=xi)
    np.testing.assert_allclose(linear.A, (cov - xi * np.diag(mean)) / k**2, rtol=0, atol=1e-18)
    squared = PortfolioQubo.from_moments(cov, mean, k=k, xi=xi, return_term="squared")
    np.testing.assert_allclose(
        squared.A, (cov - xi * np.outer(mean, mean)) / k**2, rtol=0, atol=1e-18
    )
    # every feasible x: the BQM's energy is x^T A x, and the brute-force optimum is a subset
    bqm = linear.to_bqm()
    values = {}
    for subset in itertools.combinations(range(6), k):
        x = np.zeros(6)
        x[list(subset)] = 1
        sample = dict(zip(linear.variables, x, strict=True))
        assert bqm.energy(sample) == pytest.approx(x @ linear.A @ x, rel=1e-12, abs=1e-15)
        values[subset] = x @ linear.A @ x
    best = min(values, key=values.get)
    assert linear.objective([f"x{i}" for i in best]) == pytest.approx(values[best], rel=1e-12)


def test_labels_come_from_frames_and_bad_shapes_are_refused():
    cov = pd.DataFrame(np.eye(3) * 1e-4, index=list("ABC"), columns=list("ABC"))
    qubo = PortfolioQubo.from_moments(cov, pd.Series([1e-4, 2e-4, 3e-4], index=list("ABC")), k=1)
    assert qubo.tickers == ["A", "B", "C"] and qubo.num_windows == 0
    with pytest.raises(InputError, match="square"):
        PortfolioQubo.from_moments(np.ones((2, 3)), [0, 0], k=1)
    with pytest.raises(InputError, match="mean must have K = 3"):
        PortfolioQubo.from_moments(np.eye(3), [0, 0], k=1)
    with pytest.raises(InputError, match="missing or infinite"):
        PortfolioQubo.from_moments(np.eye(3) * np.nan, [0, 0, 0], k=1)
    with pytest.raises(InputError, match="distinct labels"):
        PortfolioQubo.from_moments(np.eye(3), [0, 0, 0], k=1, tickers=["A", "A", "B"])
    with pytest.raises(InputError, match="out of range"):
        PortfolioQubo.from_moments(np.eye(3), [0, 0, 0], k=3)
