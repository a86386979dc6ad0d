"""Significance of Sharpe ratios: bootstrap intervals, PSR, DSR, Ledoit-Wolf, CEQ."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qubo_portfolio.core.metrics import portfolio_measures
from qubo_portfolio.core.significance import (
    annualized_mean_ci,
    certainty_equivalent,
    deflated_sharpe,
    expected_max_sharpe,
    hac_covariance,
    optimal_block_length,
    psr,
    sharpe_ci,
    sharpe_difference_test,
    sharpe_ratio,
    stationary_bootstrap_indices,
    turnover,
)


def daily(n, seed=0, mean=0.0005, vol=0.01, ar=0.0):
    rng = np.random.default_rng(seed)
    eps = rng.standard_t(5, n) * vol / math.sqrt(5 / 3)
    x = np.empty(n)
    x[0] = eps[0]
    for t in range(1, n):
        x[t] = ar * x[t - 1] + eps[t]
    index = pd.bdate_range("2015-01-02", periods=n)
    return pd.Series(mean + x, index=index)


def test_sharpe_matches_the_portfolio_measures():
    r = daily(500, seed=1)
    table = pd.DataFrame({"A": r})
    expected = portfolio_measures(table, pd.Series({"A": 1.0}), 0.02)["sharpe"]
    assert sharpe_ratio(r, 0.02) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fn", [sharpe_ci, annualized_mean_ci])
def test_intervals_hold_the_estimate_and_shrink_with_more_data(fn):
    widths = []
    for n in (250, 1000, 4000):
        out = fn(daily(n, seed=2), n_boot=1000, seed=3)
        assert out["lower"] < out["estimate"] < out["upper"]
        assert out["level"] == 0.95 and out["n_obs"] == n and out["n_boot"] == 1000
        assert out["block_length"] >= 1 and out["block_length_rule"] == "politis_white"
        assert "stationary bootstrap" in out["method"]
        widths.append(out["upper"] - out["lower"])
    assert widths[0] > widths[1] > widths[2]
    # roughly 1/sqrt(T): four times the data, about half the width
    assert 0.35 < widths[2] / widths[1] < 0.7


def test_intervals_are_reproducible_with_the_seed():
    r = daily(600, seed=4, ar=0.3)
    one = sharpe_ci(r, n_boot=500, seed=11)
    assert one == sharpe_ci(r, n_boot=500, seed=11)
    assert one != sharpe_ci(r, n_boot=500, seed=12)
    given = annualized_mean_ci(r, n_boot=500, seed=11, block_length=7.5)
    assert given["block_length"] == 7.5 and given["block_length_rule"] == "given"
    assert given == annualized_mean_ci(r, n_boot=500, seed=11, block_length=7.5)


def test_sharpe_interval_covers_about_95_percent_of_iid_samples():
    # a coarse calibration check: 40 normal samples with true annual Sharpe 1.0
    true_sharpe, hits = 1.0, 0
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        r = rng.normal(true_sharpe * 0.01 / math.sqrt(252), 0.01, 750)
        out = sharpe_ci(r, n_boot=400, seed=seed)
        hits += out["lower"] <= true_sharpe <= out["upper"]
    assert hits >= 33


def test_block_length_grows_with_serial_dependence():
    iid = optimal_block_length(daily(2000, seed=5))
    dependent = optimal_block_length(daily(2000, seed=5, ar=0.6))
    assert iid < 3 < dependent
    assert dependent <= math.ceil(min(3 * math.sqrt(2000), 2000 / 3))


def test_stationary_bootstrap_blocks_are_geometric_and_circular():
    rng = np.random.default_rng(0)
    idx = stationary_bootstrap_indices(50, 5.0, 2000, rng)
    assert idx.shape == (2000, 50) and idx.min() >= 0 and idx.max() <= 49
    follows = np.diff(idx, axis=1) % 50 == 1
    # a new block starts with probability 1/5 (a uniform restart continues by chance 1/50)
    assert follows.mean() == pytest.approx(0.8 + 0.2 / 50, abs=0.01)


def test_psr_of_normal_returns_is_phi_of_sharpe_root_t_minus_1():
    rng = np.random.default_rng(6)
    n = 5000
    r = rng.normal(0.0004, 0.01, n)
    sr = r.mean() / r.std(ddof=1)
    # with zero skewness and kurtosis 3: Phi(SR sqrt(T-1) / sqrt(1 + SR^2 / 2))
    assert psr(r) == pytest.approx(stats.norm.cdf(sr * math.sqrt(n - 1)), abs=0.01)
    # exactly, with the sample skewness and kurtosis (scipy's biased moments)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    z = sr * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert psr(r) == pytest.approx(stats.norm.cdf(z), rel=1e-12)
    # against a benchmark Sharpe ratio (annualized in the call)
    bench = 0.5
    z = (sr - bench / math.sqrt(252)) * math.sqrt(n - 1)
    z /= math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert psr(r, benchmark_sharpe=bench) == pytest.approx(stats.norm.cdf(z), rel=1e-12)
    assert psr(-r) == pytest.approx(1 - psr(r), abs=0.02)


def test_deflated_sharpe_is_at_most_the_psr():
    r = daily(1000, seed=7)
    rng = np.random.default_rng(8)
    trials = rng.normal(0.3, 0.4, 30)
    out = deflated_sharpe(r, trials_sharpes=trials)
    assert out["n_trials"] == 30
    assert out["trials_sharpe_variance"] == pytest.approx(trials.var(ddof=1))
    assert out["deflated_sharpe"] <= out["psr"] == pytest.approx(psr(r))
    # SR0 from the formula, and the DSR is the PSR against it
    g = 0.5772156649015329
    sr0 = math.sqrt(trials.var(ddof=1)) * (
        (1 - g) * stats.norm.ppf(1 - 1 / 30) + g * stats.norm.ppf(1 - 1 / (30 * math.e))
    )
    assert out["expected_max_sharpe"] == pytest.approx(sr0, rel=1e-9)
    assert out["deflated_sharpe"] == pytest.approx(psr(r, benchmark_sharpe=sr0), rel=1e-12)
    # more trials, a higher bar
    more = deflated_sharpe(r, 1000, trials.var(ddof=1))
    assert more["deflated_sharpe"] < out["deflated_sharpe"]
    assert deflated_sharpe(r, 1, 0.5)["deflated_sharpe"] == pytest.approx(psr(r))
    assert expected_max_sharpe(1, 1.0) == 0.0
    with pytest.raises(ValueError):
        deflated_sharpe(r, 10)


def test_a_strategy_against_itself_has_p_value_one():
    r = daily(700, seed=9, ar=0.2)
    out = sharpe_difference_test(r, r)
    assert out["sharpe_diff"] == 0.0 and out["p_value"] == 1.0
    assert "Ledoit & Wolf (2008)" in out["method"] and "HAC" in out["method"]


def hand_ledoit_wolf(a, b, lags):
    """Ledoit & Wolf (2008) written out: loops, a numerical gradient."""
    n = len(a)

    def f(v):
        return v[0] / math.sqrt(v[2] - v[0] ** 2) - v[1] / math.sqrt(v[3] - v[1] ** 2)

    v = np.array([np.mean(a), np.mean(b), np.mean(a * a), np.mean(b * b)])
    grad = np.zeros(4)
    for i in range(4):
        h = 1e-6 * abs(v[i])
        up, down = v.copy(), v.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    y = [np.array([a[t] - v[0], b[t] - v[1], a[t] ** 2 - v[2], b[t] ** 2 - v[3]]) for t in range(n)]

    def gamma(j):
        return sum(np.outer(y[t], y[t - j]) for t in range(j, n)) / n

    psi = gamma(0)
    for j in range(1, lags + 1):
        psi = psi + (1 - j / (lags + 1)) * (gamma(j) + gamma(j).T)
    psi = psi * n / (n - 4)
    se = math.sqrt(grad @ psi @ grad / n)
    delta = f(v)
    return delta, se, 2 * (1 - stats.norm.cdf(abs(delta / se)))


def test_ledoit_wolf_against_a_hand_computation():
    rng = np.random.default_rng(10)
    n = 40
    common = rng.normal(0, 0.01, n)
    a = 0.002 + common + rng.normal(0, 0.004, n)
    b = 0.0005 + common + rng.normal(0, 0.006, n)
    for lags in (0, 1, 3):
        out = sharpe_difference_test(a, b, lags=lags)
        delta, se, p = hand_ledoit_wolf(a, b, lags)
        assert out["sharpe_diff"] == pytest.approx(math.sqrt(252) * delta, rel=1e-12)
        assert out["standard_error"] == pytest.approx(math.sqrt(252) * se, rel=1e-6)
        assert out["p_value"] == pytest.approx(p, rel=1e-5)
        assert out["lags"] == lags and out["n_obs"] == n
    assert sharpe_difference_test(a, b)["lags"] == 3  # floor(4 (40/100)^(2/9))
    # swapping the series flips the sign, not the p-value
    ab, ba = sharpe_difference_test(a, b, lags=2), sharpe_difference_test(b, a, lags=2)
    assert ab["sharpe_diff"] == pytest.approx(-ba["sharpe_diff"])
    assert ab["p_value"] == pytest.approx(ba["p_value"])


def test_ledoit_wolf_rejects_a_real_difference_and_pairs_by_date():
    rng = np.random.default_rng(11)
    n = 3000
    index = pd.bdate_range("2010-01-01", periods=n)
    common = rng.normal(0, 0.01, n)
    good = pd.Series(0.001 + common + rng.normal(0, 0.003, n), index=index)
    bench = pd.Series(common + rng.normal(0, 0.003, n), index=index)
    out = sharpe_difference_test(good, bench)
    assert out["sharpe_diff"] > 0 and out["p_value"] < 0.001
    # a benchmark with extra days and a gap: paired by date
    extra = pd.concat([bench, pd.Series([0.5], index=[pd.Timestamp("2030-01-01")])])
    extra.iloc[5] = np.nan
    paired = sharpe_difference_test(good, extra)
    assert paired["n_obs"] == n - 1


def test_hac_covariance_with_no_lags_is_the_scaled_sample_covariance():
    rng = np.random.default_rng(12)
    y = rng.normal(size=(30, 4))
    y -= y.mean(axis=0)
    np.testing.assert_allclose(hac_covariance(y, 0), np.cov(y.T, ddof=0) * 30 / 26)


def test_certainty_equivalent_and_turnover():
    r = daily(500, seed=13)
    expected = 252 * (r.mean() - 0.5 * r.var(ddof=1))
    assert certainty_equivalent(r) == pytest.approx(expected, rel=1e-12)
    expected = 252 * (r.mean() - 0.03 / 252 - 1.5 * r.var(ddof=1))
    assert certainty_equivalent(r, gamma=3, risk_free_rate=0.03) == pytest.approx(expected)
    assert turnover({"A": 0.5, "B": 0.5}, {"B": 0.5, "C": 0.5}) == pytest.approx(0.5)
    assert turnover(pd.Series({"A": 1.0}), pd.Series({"A": 1.0})) == 0.0


def test_short_series_are_refused():
    with pytest.raises(ValueError, match="at least 3"):
        psr([0.01, np.nan, 0.02])
    with pytest.raises(ValueError, match="pair them by date"):
        sharpe_difference_test(np.zeros(10), np.zeros(11))
