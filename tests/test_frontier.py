"""Tests of qubo_portfolio.classical.frontier against hand computations and an independent SLSQP solver.

Real data: skfolio's bundled S&P 500 sample (20 stocks), last three years, as is and with
staggered listings (leading NaN in a few columns, so the covariance is pairwise).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from qubo_portfolio.classical import frontier
from qubo_portfolio.errors import InputError

TOL = 1e-6
STAGGER = {"AAPL": 120, "GE": 250, "MSFT": 400, "XOM": 60}  # leading rows blanked


@pytest.fixture(scope="module")
def complete_returns() -> pd.DataFrame:
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-757:]
    return prices.pct_change().iloc[1:]


@pytest.fixture(scope="module")
def staggered_returns(complete_returns: pd.DataFrame) -> pd.DataFrame:
    returns = complete_returns.copy()
    for ticker, rows in STAGGER.items():
        returns.iloc[:rows, returns.columns.get_loc(ticker)] = np.nan
    return returns


@pytest.fixture(scope="module", params=["complete", "staggered"])
def case(request, complete_returns, staggered_returns):
    returns = complete_returns if request.param == "complete" else staggered_returns
    mu = frontier.expected_returns(returns)
    cov = frontier.sample_covariance(returns)
    return returns, mu, cov


# --------------------------------------------------------------------------- SLSQP reference


def _slsqp(fun, jac, n, lower=0.0, upper=1.0, constraints=(), starts=8, seed=7):
    """Best of several SLSQP runs from the equal-weight and random Dirichlet starts."""
    rng = np.random.default_rng(seed)
    lo, hi = np.broadcast_to(lower, n), np.broadcast_to(upper, n)
    x0s = [np.full(n, 1.0 / n)] + [
        lo + (hi - lo) * rng.dirichlet(np.ones(n)) for _ in range(starts)
    ]
    cons = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}]
    cons += list(constraints)
    best = None
    for x0 in x0s:
        res = minimize(
            fun,
            x0,
            jac=jac,
            method="SLSQP",
            bounds=list(zip(lo, hi, strict=True)),
            constraints=cons,
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        feasible = abs(res.x.sum() - 1) < 1e-9 and all(
            c["fun"](res.x) >= -1e-9 for c in constraints if c["type"] == "ineq"
        )
        if feasible and (best is None or res.fun < best.fun):
            best = res
    assert best is not None, "SLSQP found no feasible point"
    return best.x


def _ref_min_vol(mu, cov, lower=0.0, upper=1.0, target=None):
    constraints = []
    if target is not None:
        constraints.append({"type": "ineq", "fun": lambda w: mu @ w - target, "jac": lambda w: mu})
    return _slsqp(lambda w: w @ cov @ w, lambda w: 2 * cov @ w, len(mu), lower, upper, constraints)


def _ref_max_sharpe(mu, cov, rf=0.0, lower=0.0, upper=1.0):
    def fun(w):
        return -(mu @ w - rf) / np.sqrt(w @ cov @ w)

    def jac(w):
        var = w @ cov @ w
        return -(mu / np.sqrt(var) - (mu @ w - rf) * (cov @ w) / var**1.5)

    return _slsqp(fun, jac, len(mu), lower, upper)


def _figures(w, mu, cov, rf=0.0):
    ret, vol = float(mu @ w), float(np.sqrt(w @ cov @ w))
    return np.array([ret, vol, (ret - rf) / vol])


def _assert_close(portfolio, w_ref, mu, cov, rf=0.0):
    got = np.array([portfolio.annualized_return, portfolio.annualized_volatility, portfolio.sharpe])
    ref = _figures(w_ref, mu, cov, rf)
    np.testing.assert_allclose(got, ref, rtol=0, atol=TOL)
    assert got[:1] == pytest.approx(_figures(portfolio.weights.to_numpy(), mu, cov, rf)[:1])


def _arrays(mu, cov):
    return mu.to_numpy(), cov.loc[mu.index, mu.index].to_numpy()


# --------------------------------------------------------------------------- estimates


def test_expected_returns_by_hand(staggered_returns):
    r = staggered_returns
    mean = frontier.expected_returns(r)
    comp = frontier.expected_returns(r, method="compounded")
    for ticker in ["AAPL", "MSFT", "KO"]:
        x = r[ticker].dropna().to_numpy()
        assert mean[ticker] == pytest.approx(x.mean() * 252, rel=1e-12)
        growth = np.exp(np.log1p(x).sum())
        assert comp[ticker] == pytest.approx(growth ** (252 / len(x)) - 1, rel=1e-10)
    assert len(r["MSFT"].dropna()) == len(r) - STAGGER["MSFT"]
    with pytest.raises(InputError, match="unknown expected-return method"):
        frontier.expected_returns(r, method="median")


def test_sample_covariance_pairwise_by_hand(staggered_returns):
    r = staggered_returns
    cov = frontier.sample_covariance(r)
    assert cov.attrs["psd_repaired"] is False
    for a, b in [("AAPL", "MSFT"), ("GE", "KO"), ("XOM", "GE"), ("MSFT", "AAPL")]:
        both = r[[a, b]].dropna()
        hand = np.cov(both[a], both[b], ddof=1)[0, 1] * 252
        assert cov.loc[a, b] == pytest.approx(hand, rel=1e-12)
    assert cov.loc["XOM", "XOM"] == pytest.approx(r["XOM"].dropna().var(ddof=1) * 252, rel=1e-12)
    # pairwise uses more data than complete rows for pairs that overlap longer
    complete = r.dropna().cov() * 252
    assert abs(cov.loc["KO", "PG"] - complete.loc["KO", "PG"]) > 1e-8
    np.testing.assert_allclose(cov, (r.cov() * 252).to_numpy(), rtol=1e-12, atol=0)


def test_sample_covariance_repairs_indefinite_pairwise_matrix():
    nan = np.nan
    # A~B on the first block, B~C on the second, A~-C on the third: pairwise correlations
    # near (+1, +1, -1), which no joint distribution has.
    a = [0.01, -0.02, 0.03, -0.01, nan, nan, nan, nan, 0.02, -0.01, 0.03, -0.02]
    b = [0.011, -0.019, 0.029, -0.012, 0.02, -0.01, 0.01, -0.03, nan, nan, nan, nan]
    c = [nan, nan, nan, nan, 0.021, -0.011, 0.012, -0.029, -0.019, 0.012, -0.031, 0.021]
    r = pd.DataFrame({"A": a, "B": b, "C": c})
    raw = (r.cov() * 252).to_numpy()
    assert np.linalg.eigvalsh(raw)[0] < -1e-3  # the made-up data is indefinite
    assert not frontier.is_psd(raw)

    cov = frontier.sample_covariance(r)
    assert cov.attrs["psd_repaired"] is True
    assert cov.attrs["min_eigenvalue"] == pytest.approx(np.linalg.eigvalsh(raw)[0])
    assert frontier.is_psd(cov)
    np.testing.assert_allclose(cov, cov.T, atol=0)
    eig, vec = np.linalg.eigh(raw)
    np.testing.assert_allclose(cov, (vec * np.clip(eig, 0, None)) @ vec.T, atol=1e-15)
    assert list(cov.index) == list(cov.columns) == ["A", "B", "C"]


def test_nearest_psd_clips_only_negative_eigenvalues():
    m = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    eig, vec = np.linalg.eigh(m)
    fixed = frontier.nearest_psd(pd.DataFrame(m, index=list("xyz"), columns=list("xyz")))
    assert isinstance(fixed, pd.DataFrame)
    for lam, v in zip(eig, vec.T, strict=True):
        np.testing.assert_allclose(fixed.to_numpy() @ v, max(lam, 0.0) * v, atol=1e-12)
    good = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(frontier.nearest_psd(good), good, atol=1e-14)


def test_covariance_without_overlap_names_the_pair():
    r = pd.DataFrame(
        {
            "FB": [0.01, 0.02, -0.01, np.nan, np.nan, np.nan],
            "SHLD": [np.nan, np.nan, np.nan, 0.01, -0.02, 0.03],
            "KO": [0.0, 0.01, -0.01, 0.02, 0.01, 0.0],
        }
    )
    with pytest.raises(InputError, match="FB and SHLD") as info:
        frontier.sample_covariance(r)
    assert "KO" not in str(info.value)
    assert "\n" not in str(info.value)
    r["NEW"] = [np.nan] * 5 + [0.01]
    with pytest.raises(InputError, match="NEW"):
        frontier.sample_covariance(r)


# --------------------------------------------------------------------------- optimizers vs SLSQP


def test_min_volatility_matches_slsqp(case):
    _, mu, cov = case
    m, s = _arrays(mu, cov)
    p = frontier.min_volatility(mu, cov)
    _assert_close(p, _ref_min_vol(m, s), m, s)
    assert p.weights.sum() == pytest.approx(1, abs=1e-12)
    assert (p.weights >= 0).all()
    assert list(p.weights.index) == list(mu.index)


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_max_sharpe_matches_slsqp(case, rf):
    _, mu, cov = case
    m, s = _arrays(mu, cov)
    p = frontier.max_sharpe(mu, cov, risk_free_rate=rf)
    _assert_close(p, _ref_max_sharpe(m, s, rf), m, s, rf)
    assert p.sharpe == pytest.approx((p.annualized_return - rf) / p.annualized_volatility)
    assert (p.weights >= 0).all()


def test_bounds_with_shorting_match_slsqp(complete_returns):
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    m, s = _arrays(mu, cov)
    lower, upper = -0.1, 0.25
    p = frontier.min_volatility(mu, cov, bounds=(lower, upper))
    _assert_close(p, _ref_min_vol(m, s, lower, upper), m, s)
    q = frontier.max_sharpe(mu, cov, bounds=(lower, upper))
    _assert_close(q, _ref_max_sharpe(m, s, 0.0, lower, upper), m, s)
    assert (q.weights < -1e-3).any()  # the shorting bound is used
    assert q.weights.between(lower - 1e-9, upper + 1e-9).all()
    # per-asset bounds as a Series: cap one asset
    caps = pd.Series(1.0, index=mu.index)
    heaviest = q.weights.idxmax()
    caps[heaviest] = 0.05
    capped = frontier.max_sharpe(mu, cov, bounds=(0.0, caps))
    assert capped.weights[heaviest] <= 0.05 + 1e-9
    assert capped.sharpe <= frontier.max_sharpe(mu, cov).sharpe + 1e-12


def test_efficient_frontier_monotone_and_matches_slsqp(case):
    _, mu, cov = case
    m, s = _arrays(mu, cov)
    table = frontier.efficient_frontier(mu, cov, points=12)
    assert len(table) == 12
    ret, vol = table["annualized_return"].to_numpy(), table["annualized_volatility"].to_numpy()
    assert (np.diff(ret) > 0).all()
    assert (np.diff(vol) > 0).all()
    np.testing.assert_allclose(np.diff(ret), np.diff(ret)[0], rtol=1e-6)
    p_min = frontier.min_volatility(mu, cov)
    assert ret[0] == pytest.approx(p_min.annualized_return, abs=TOL)
    assert vol[0] == pytest.approx(p_min.annualized_volatility, abs=TOL)
    assert ret[-1] == pytest.approx(mu.max(), abs=1e-12)
    weights = frontier.weights_of(table)
    assert list(weights.columns) == list(mu.index)
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-12)
    assert (weights.to_numpy() >= 0).all()
    for i in range(1, len(table) - 1):
        w_ref = _ref_min_vol(m, s, target=ret[i])
        assert vol[i] == pytest.approx(np.sqrt(w_ref @ s @ w_ref), abs=TOL)
        assert m @ w_ref >= ret[i] - 1e-9
    assert table["sharpe"].to_numpy() == pytest.approx(ret / vol)


def test_efficient_return_and_risk(complete_returns):
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    p_min = frontier.min_volatility(mu, cov)
    p_max = frontier.max_sharpe(mu, cov)
    # efficient_risk at the max-Sharpe volatility is the max-Sharpe portfolio
    q = frontier.efficient_risk(mu, cov, p_max.annualized_volatility)
    assert q.annualized_return == pytest.approx(p_max.annualized_return, abs=TOL)
    assert q.annualized_volatility == pytest.approx(p_max.annualized_volatility, abs=TOL)
    assert q.sharpe == pytest.approx(p_max.sharpe, abs=TOL)
    np.testing.assert_allclose(q.weights, p_max.weights, atol=1e-4)
    # and efficient_return at its return, too
    e = frontier.efficient_return(mu, cov, p_max.annualized_return)
    assert e.annualized_volatility == pytest.approx(p_max.annualized_volatility, abs=TOL)
    # below the min-vol return: the efficient branch gives the min-vol portfolio
    low = frontier.efficient_return(mu, cov, p_min.annualized_return - 0.05)
    assert low.annualized_volatility == pytest.approx(p_min.annualized_volatility, abs=TOL)
    # the endpoints of the feasible ranges are accepted
    top = frontier.efficient_return(mu, cov, float(mu.max()))
    assert top.weights[mu.idxmax()] == pytest.approx(1.0)
    at_min = frontier.efficient_risk(mu, cov, p_min.annualized_volatility)
    assert at_min.annualized_return == pytest.approx(p_min.annualized_return, abs=TOL)
    loose = frontier.efficient_risk(mu, cov, 5.0)
    assert loose.annualized_return == pytest.approx(mu.max())


def test_infeasible_targets_name_the_feasible_range(complete_returns):
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    vol_min = frontier.min_volatility(mu, cov).annualized_volatility
    with pytest.raises(InputError, match=r"feasible: >= ") as info:
        frontier.efficient_risk(mu, cov, 0.9 * vol_min)
    assert f"{vol_min:.6g}" in str(info.value)
    with pytest.raises(InputError, match=r"feasible: <= ") as info:
        frontier.efficient_return(mu, cov, float(mu.max()) + 0.01)
    assert f"{mu.max():.6g}" in str(info.value)
    with pytest.raises(InputError, match=mu.idxmax()) as info:
        frontier.max_sharpe(mu, cov, risk_free_rate=float(mu.max()) + 0.5)
    assert f"{mu.max():.6g}" in str(info.value)


def test_bad_inputs_raise_input_error(complete_returns):
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    with pytest.raises(InputError, match="no fully invested portfolio"):
        frontier.min_volatility(mu, cov, bounds=(0.0, 0.01))
    with pytest.raises(InputError, match="same tickers"):
        frontier.min_volatility(mu.drop("KO"), cov)
    bad = cov.copy()
    bad.loc["KO", "PEP"] = bad.loc["PEP", "KO"] = 10.0
    with pytest.raises(InputError, match="positive semidefinite"):
        frontier.max_sharpe(mu, bad)
    with pytest.raises(InputError, match="points"):
        frontier.efficient_frontier(mu, cov, points=1)


# --------------------------------------------------------------------------- Sortino and the cloud


def test_optimizers_beat_the_random_cloud(case):
    returns, mu, cov = case
    cloud = frontier.random_portfolios(mu, cov, n=5000, seed=3, returns=returns)
    p_min = frontier.min_volatility(mu, cov)
    p_max = frontier.max_sharpe(mu, cov)
    assert p_min.annualized_volatility <= cloud["annualized_volatility"].min()
    assert p_max.sharpe >= cloud["sharpe"].max()
    p_sortino = frontier.max_sortino(returns)
    assert p_sortino.sortino >= cloud["sortino"].max()
    sharpe_sortino = frontier.portfolio_performance(p_max.weights, mu, cov, returns=returns)
    assert p_sortino.sortino >= sharpe_sortino["sortino"]
    assert p_sortino.sortino > 0


def test_max_sortino_matches_slsqp(complete_returns):
    rf = 0.02
    daily = complete_returns.to_numpy()
    rf_d = rf / 252

    def neg_sortino(w):
        p = daily @ w
        short = np.minimum(p - rf_d, 0)
        return -(p.mean() * 252 - rf) / np.sqrt(np.mean(short**2) * 252)

    def jac(w):
        p = daily @ w
        short = np.minimum(p - rf_d, 0)
        num, dd2 = p.mean() * 252 - rf, np.mean(short**2) * 252
        d_num = daily.mean(axis=0) * 252
        d_dd2 = 2 * 252 * (daily.T @ short) / len(p)
        return -(d_num / np.sqrt(dd2) - 0.5 * num * d_dd2 / dd2**1.5)

    w_ref = _slsqp(neg_sortino, jac, daily.shape[1])
    p = frontier.max_sortino(complete_returns, risk_free_rate=rf)
    assert p.sortino == pytest.approx(-neg_sortino(w_ref), abs=TOL)
    assert p.sortino >= -neg_sortino(w_ref) - 1e-9
    assert p.sortino == pytest.approx(-neg_sortino(p.weights.to_numpy()), rel=1e-12)


def test_max_sortino_uses_complete_rows(staggered_returns):
    p = frontier.max_sortino(staggered_returns)
    complete = staggered_returns.dropna()
    assert len(complete) == len(staggered_returns) - max(STAGGER.values())
    assert p.sortino == pytest.approx(frontier.max_sortino(complete).sortino, rel=1e-12)
    assert p.annualized_return == pytest.approx(float(complete.mean() @ p.weights) * 252, rel=1e-12)


def test_random_portfolios_seeded_and_valid(complete_returns):
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    a = frontier.random_portfolios(mu, cov, n=2000, seed=11, returns=complete_returns)
    b = frontier.random_portfolios(mu, cov, n=2000, seed=11, returns=complete_returns)
    c = frontier.random_portfolios(mu, cov, n=2000, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(frontier.weights_of(a), frontier.weights_of(c))
    assert list(a.columns[:4]) == [
        "annualized_return",
        "annualized_volatility",
        "sharpe",
        "sortino",
    ]
    assert "sortino" not in c.columns
    w = frontier.weights_of(a)
    assert list(w.columns) == list(mu.index)
    np.testing.assert_allclose(w.sum(axis=1), 1, atol=1e-12)
    assert (w.to_numpy() >= 0).all()
    # the walk-through's draw: u ~ U(0, 1) per asset, normalized
    u = np.random.default_rng(11).random((2000, len(mu)))
    np.testing.assert_allclose(w.to_numpy(), u / u.sum(axis=1, keepdims=True), rtol=1e-15)
    row = frontier.portfolio_performance(w.iloc[17], mu, cov, returns=complete_returns)
    for key, value in row.items():
        assert a.loc[17, key] == pytest.approx(value, rel=1e-12)


def test_portfolio_performance_by_hand(staggered_returns):
    mu = frontier.expected_returns(staggered_returns)
    cov = frontier.sample_covariance(staggered_returns)
    w = pd.Series(0.0, index=mu.index)
    w[["KO", "MSFT", "JNJ"]] = [0.5, 0.3, 0.2]
    rf = 0.01
    perf = frontier.portfolio_performance(w, mu, cov, risk_free_rate=rf, returns=staggered_returns)
    ret = 0.5 * mu["KO"] + 0.3 * mu["MSFT"] + 0.2 * mu["JNJ"]
    vol = np.sqrt(w.to_numpy() @ cov.to_numpy() @ w.to_numpy())
    assert perf["annualized_return"] == pytest.approx(ret, rel=1e-12)
    assert perf["annualized_volatility"] == pytest.approx(vol, rel=1e-12)
    assert perf["sharpe"] == pytest.approx((ret - rf) / vol, rel=1e-12)
    daily = staggered_returns.dropna()
    p = [sum(w[t] * row[t] for t in ["KO", "MSFT", "JNJ"]) for _, row in daily.iterrows()]
    downside = np.sqrt(np.mean([min(x - rf / 252, 0) ** 2 for x in p]) * 252)
    assert perf["sortino"] == pytest.approx((np.mean(p) * 252 - rf) / downside, rel=1e-10)
    assert frontier.portfolio_performance(
        w[["KO", "MSFT", "JNJ"]], mu, cov, risk_free_rate=rf
    ) == pytest.approx({k: v for k, v in perf.items() if k != "sortino"})


def test_to_dict_is_json(complete_returns):
    p = frontier.max_sortino(complete_returns)
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert set(d) == {"weights", "annualized_return", "annualized_volatility", "sharpe", "sortino"}
    assert sum(d["weights"].values()) == pytest.approx(1)
    assert d["sortino"] == pytest.approx(p.sortino)
    mu = frontier.expected_returns(complete_returns)
    cov = frontier.sample_covariance(complete_returns)
    assert frontier.min_volatility(mu, cov).to_dict()["sortino"] is None


def test_import_does_not_load_cvxpy():
    code = "import sys, qubo_portfolio.classical.frontier; print('cvxpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
