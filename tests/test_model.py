"""The averaged matrix A and the BQM, against independent computations."""

import itertools

import dimod
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qubo_portfolio import build_qubo
from qubo_portfolio.core.returns import window_bounds
from qubo_portfolio.errors import InputError

from helpers import make_returns


def reference_A(returns, k, xi, windows, return_term):
    """A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m)), one window at a time with np.cov."""
    values = returns.to_numpy()
    total = np.zeros((values.shape[1],) * 2)
    for w in windows:
        x = values[w.start : w.stop]
        q = np.cov(x, rowvar=False, ddof=1)
        mu = x.mean(axis=0)
        p = np.diag(mu) if return_term == "linear" else np.outer(mu, mu)
        total += q - xi * p
    return total / (len(windows) * k**2)


SCHEMES = [
    {"length": 21, "step": 10},
    {"length": 25, "count": 6},
    {"length": 30, "step": 15, "unit": "calendar_days"},
    {"length": 40, "count": 5, "unit": "calendar_days"},
]


@pytest.mark.parametrize("return_term", ["linear", "squared"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_A_matches_independent_numpy(return_term, scheme):
    r = make_returns(150, 9, seed=3)
    qubo = build_qubo(r, k=3, xi=0.8, windows=scheme, return_term=return_term)
    windows = window_bounds(r.index, scheme)
    expected = reference_A(r, 3, 0.8, windows, return_term)
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-12, atol=1e-18)
    assert qubo.num_windows == len(windows) > 1
    np.testing.assert_array_equal(qubo.A, qubo.A.T)
    assert list(qubo.matrix.index) == list(r.columns)


def test_lookback_uses_only_the_last_rows():
    r = make_returns(200, 6, seed=1)
    qubo = build_qubo(r, k=2, xi=0.3, windows={"length": 20, "step": 20}, lookback=100)
    tail = r.iloc[-100:]
    expected = reference_A(
        tail, 2, 0.3, window_bounds(tail.index, {"length": 20, "step": 20}), "linear"
    )
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-12)


@pytest.mark.parametrize("return_term", ["linear", "squared"])
def test_objective_is_mean_window_variance_minus_xi_return(return_term):
    """x^T A x = mean_m[VAR_m(R) - xi E_m(R)/K'] (linear) or mean_m[VAR_m(R) - xi E_m(R)^2]."""
    r = make_returns(126, 10, seed=5)
    k, xi = 4, 2.5
    scheme = {"length": 21, "step": 10}
    qubo = build_qubo(r, k=k, xi=xi, windows=scheme, return_term=return_term)
    chosen = ["T01", "T04", "T05", "T09"]
    port = r[chosen].mean(axis=1).to_numpy()  # equal-weight daily return
    terms = []
    for w in window_bounds(r.index, scheme):
        seg = port[w.start : w.stop]
        ret = seg.mean()
        terms.append(seg.var(ddof=1) - xi * (ret / k if return_term == "linear" else ret**2))
    assert qubo.objective(chosen) == pytest.approx(np.mean(terms), rel=1e-10)


def test_changing_xi_reuses_moments_and_changes_A():
    r = make_returns()
    qubo = build_qubo(r, k=3, xi=0.1, windows={"length": 21, "step": 10})
    other = qubo.with_params(xi=0.9)
    assert other.moments is qubo.moments
    np.testing.assert_allclose(other.A - qubo.A, -0.8 * np.diag(qubo.moments.mean_mean) / 9)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 6),
    scale=st.floats(0.0, 3.0),
    bits=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_bqm_energy_is_objective_plus_penalty(seed, k, scale, bits):
    r = make_returns(80, 7, seed=seed)
    qubo = build_qubo(r, k=k, xi=1.0, windows={"length": 20, "step": 10})
    bqm = qubo.to_bqm(scale=scale)
    lam = qubo.penalty_used
    assert lam == pytest.approx(scale * qubo.penalty_bound())
    x = np.array(bits, dtype=float)
    sample = dict(zip(qubo.tickers, map(int, bits), strict=True))
    objective = x @ qubo.A @ x
    expected = objective + lam * (x.sum() - k) ** 2
    assert bqm.energy(sample) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    if x.sum() == k:
        assert bqm.energy(sample) == pytest.approx(objective, rel=1e-9, abs=1e-15)


def test_bqm_coefficients_follow_the_formula():
    r = make_returns(60, 5, seed=2)
    qubo = build_qubo(r, k=2, xi=0.5, windows={"length": 20, "step": 20})
    bqm = qubo.to_bqm(penalty=0.01)
    a = qubo.A
    assert bqm.vartype is dimod.BINARY
    assert list(bqm.variables) == qubo.tickers
    assert bqm.offset == pytest.approx(0.01 * 4)
    for i, t in enumerate(qubo.tickers):
        assert bqm.get_linear(t) == pytest.approx(a[i, i] + 0.01 * (1 - 4))
    for i, j in itertools.combinations(range(5), 2):
        u, v = qubo.tickers[i], qubo.tickers[j]
        assert bqm.get_quadratic(u, v) == pytest.approx(2 * a[i, j] + 0.02)


def test_above_the_bound_every_single_flip_local_minimum_is_feasible():
    r = make_returns(90, 8, seed=11)
    qubo = build_qubo(r, k=3, xi=0.05, windows={"length": 30, "step": 15})
    lam = qubo.penalty_bound()
    a = qubo.A
    for scale in (1.0001, 0.0):
        states = np.array(list(itertools.product([0, 1], repeat=8)), dtype=float)
        energy = (
            np.einsum("ri,ij,rj->r", states, a, states) + scale * lam * (states.sum(1) - 3) ** 2
        )
        lookup = {tuple(s.astype(int)): e for s, e in zip(states, energy, strict=True)}
        local_minima = []
        for s, e in zip(states.astype(int), energy, strict=True):
            flips = [lookup[tuple(np.where(np.arange(8) == i, 1 - s, s))] for i in range(8)]
            if all(e <= f for f in flips):
                local_minima.append(s.sum())
        if scale > 1:
            assert set(local_minima) == {3}
        else:  # a small penalty lets infeasible states be local minima: the test can fail
            assert set(local_minima) != {3}


def test_cqm_has_objective_and_cardinality():
    qubo = build_qubo(make_returns(), k=3, xi=0.2, windows={"length": 21})
    cqm = qubo.to_cqm()
    assert set(cqm.variables) == set(qubo.tickers)
    constraint = cqm.constraints["cardinality"]
    sample = dict.fromkeys(qubo.tickers, 0) | {"T00": 1, "T03": 1, "T05": 1}
    assert constraint.lhs.energy(sample) == 3 and constraint.rhs == 3
    assert cqm.objective.energy(sample) == pytest.approx(qubo.objective(["T00", "T03", "T05"]))
    assert cqm.check_feasible(sample)


def test_indicator_accepts_tickers_vectors_and_samples():
    qubo = build_qubo(make_returns(), k=2, xi=0.2)
    x = qubo.indicator(["T01", "T02"])
    assert x.tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
    assert qubo.objective(x) == qubo.objective({"T01": 1, "T02": 1, "T03": 0})
    with pytest.raises(InputError, match="unknown tickers in selection: NOPE"):
        qubo.indicator(["NOPE"])


@pytest.mark.parametrize("k", [0, 8, 20, -1])
def test_k_out_of_range(k):
    with pytest.raises(InputError, match="choose 1 <= k < 8"):
        build_qubo(make_returns(), k=k, xi=0.1)


def test_missing_returns_are_named():
    r = make_returns()
    r.iloc[5, 2] = np.nan
    with pytest.raises(InputError, match="missing values for T02"):
        build_qubo(r, k=2, xi=0.1)


def test_calendar_lookback_gives_the_same_number_of_windows_on_every_date():
    """M = floor((lookback - L) / s) + 1 whether the lookback starts on a weekend or not."""
    r = make_returns(300, 5, seed=4)
    spec = {"length": 30, "step": 15, "unit": "calendar_days"}
    counts = set()
    for end in r.index[200:230]:
        qubo = build_qubo(r.loc[:end], k=2, xi=0.1, windows=spec, lookback=180)
        counts.add(qubo.num_windows)
        assert qubo.windows[-1].last_date == end
    assert counts == {(180 - 30) // 15 + 1}


@pytest.mark.parametrize("index", ["dates", "integers"])
def test_returns_that_would_overflow_are_refused_by_name_without_warnings(index):
    """The Python API checks what the CLI's data step checks: a return whose square overflows
    the covariance is an InputError naming the ticker and the row, and no numpy warning."""
    import warnings

    returns = make_returns(100, 6, seed=4)
    if index == "integers":
        returns = returns.reset_index(drop=True)
    returns.iloc[50, 2] = 1e200
    where = returns.index[50]
    where = where.date().isoformat() if index == "dates" else "50"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            InputError, match=f"return of {returns.columns[2]} on {where} is 1e\\+200"
        ):
            build_qubo(returns, k=3, xi=0.5, windows={"length": 30, "step": 10})
    returns.iloc[50, 2] = 1e100  # large but finite moments: built
    assert np.isfinite(build_qubo(returns, k=3, xi=0.5, windows={"length": 30, "step": 10}).A).all()
