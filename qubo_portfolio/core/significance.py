"""Is a strategy's Sharpe ratio real? Confidence intervals and tests on daily returns.

Plain functions of daily simple return series (arrays or pandas Series; NaN values are
dropped, pairs by date when both series are indexed), numpy and pandas only, every random
step seeded. Annualization uses 252 trading days (:data:`~qubo_portfolio.core.metrics.TRADING_DAYS`);
a risk-free rate is annual and enters per day as ``rf / 252``, as in
:mod:`qubo_portfolio.core.metrics`. Notation: ``r_t`` (t = 1..T) the daily returns,
``e_t = r_t - rf/252`` the excess returns, ``m`` and ``s`` their mean and standard deviation
(ddof=1), ``SR = m / s`` the daily Sharpe ratio and ``sqrt(252) SR`` the annualized one.

- :func:`sharpe_ci`, :func:`annualized_mean_ci`: percentile intervals from the stationary
  block bootstrap (Politis & Romano 1994), block length by Politis & White (2004)
  (:func:`optimal_block_length`) unless given; the output states it.
- :func:`psr`: probabilistic Sharpe ratio (Bailey & Lopez de Prado 2012).
- :func:`deflated_sharpe`: deflated Sharpe ratio (Bailey & Lopez de Prado 2014).
- :func:`sharpe_difference_test`: Ledoit & Wolf (2008) test of equal Sharpe ratios, HAC
  standard error of the delta method.
- :func:`certainty_equivalent`: the CEQ return of DeMiguel, Garlappi & Uppal (2009).
- :func:`turnover`: one-way turnover between two weight vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .metrics import TRADING_DAYS

EULER_GAMMA = 0.5772156649015329
BOOTSTRAP_METHOD = "stationary bootstrap (Politis & Romano 1994), percentile interval"

ArrayLike = np.ndarray | pd.Series | list


def normal_cdf(z: float) -> float:
    """``Phi(z) = (1 + erf(z / sqrt(2))) / 2``."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def normal_quantile(p: float) -> float:
    """``Phi^(-1)(p)`` (the standard library's ``NormalDist``)."""
    return NormalDist().inv_cdf(p)


def _series(returns: ArrayLike, minimum: int = 3) -> np.ndarray:
    x = np.asarray(returns, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size < minimum:
        raise ValueError(f"need at least {minimum} finite daily returns, got {x.size}")
    return x


def _daily_rf(risk_free_rate: float) -> float:
    return float(risk_free_rate) / TRADING_DAYS


# --- point estimates ---------------------------------------------------------------------
def sharpe_ratio(returns: ArrayLike, risk_free_rate: float = 0.0) -> float:
    """Annualized Sharpe ratio ``sqrt(252) (m - rf/252) / s`` (s with ddof=1), the
    ``sharpe`` of :mod:`qubo_portfolio.core.metrics`."""
    x = _series(returns, 2)
    return float(math.sqrt(TRADING_DAYS) * (x.mean() - _daily_rf(risk_free_rate)) / x.std(ddof=1))


def certainty_equivalent(
    returns: ArrayLike, gamma: float = 1.0, risk_free_rate: float = 0.0
) -> float:
    """Certainty-equivalent return, annualized: ``252 (m - gamma/2 s^2)`` of the excess
    returns ``e_t`` (s^2 with ddof=1).

    The CEQ of DeMiguel, Garlappi & Uppal (2009), "Optimal versus naive diversification: how
    inefficient is the 1/N portfolio strategy?", Review of Financial Studies 22(5), eq. (12):
    the risk-free return a mean-variance investor with risk aversion ``gamma`` would accept
    instead of the strategy (they report ``gamma = 1``).
    """
    x = _series(returns, 2) - _daily_rf(risk_free_rate)
    return float(TRADING_DAYS * (x.mean() - gamma / 2 * x.var(ddof=1)))


def turnover(
    previous: Mapping[str, float] | pd.Series, target: Mapping[str, float] | pd.Series
) -> float:
    """One-way turnover ``1/2 sum_i |w_i - v_i|`` from weights ``previous`` (v, e.g. the
    drifted weights just before a rebalance) to ``target`` (w); a name missing from one side
    has weight 0 there. The backtest's ``turnover`` is the mean of this over rebalances."""
    v = pd.Series(previous, dtype=float)
    w = pd.Series(target, dtype=float)
    index = v.index.union(w.index)
    diff = w.reindex(index, fill_value=0.0) - v.reindex(index, fill_value=0.0)
    return float(diff.abs().sum() / 2)


# --- the stationary bootstrap ------------------------------------------------------------
def optimal_block_length(returns: ArrayLike) -> float:
    """Expected block length of the stationary bootstrap, Politis & White (2004) with the
    correction of Patton, Politis & White (2009).

    With ``R(k)`` the sample autocovariances (divided by T), ``rho(k)`` the
    autocorrelations, ``K_T = max(5, sqrt(log10 T))``, ``m_max = ceil(sqrt(T)) + K_T``:
    ``m-hat`` is the smallest m such that ``|rho(m + j)| < 2 sqrt(log10(T) / T)`` for
    ``j = 1..K_T`` (``m_max`` if none), ``M = min(2 m-hat, m_max)`` and, with the flat-top
    kernel ``lambda(t) = 1`` for ``|t| <= 1/2``, ``2 (1 - |t|)`` up to 1,

        ``G = 2 sum_(k=1..M) lambda(k/M) k R(k)``,
        ``g = R(0) + 2 sum_(k=1..M) lambda(k/M) R(k)``,
        ``b = (2 G^2 / (2 g^2))^(1/3) T^(1/3) = (G / g)^(2/3) T^(1/3)``,

    clipped to ``[1, min(3 sqrt(T), T/3)]`` (1: no serial dependence detected, the iid
    bootstrap).
    """
    x = _series(returns)
    n = x.size
    e = x - x.mean()
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    b_max = max(1.0, math.ceil(min(3 * math.sqrt(n), n / 3)))
    acov = np.array([e[k:] @ e[: n - k] / n for k in range(m_max + 1)])
    if acov[0] <= 0:
        return 1.0
    rho = np.abs(acov / acov[0])
    threshold = 2 * math.sqrt(math.log10(n) / n)
    m_hat = m_max
    for m in range(0, m_max - k_n + 1):
        if np.all(rho[m + 1 : m + k_n + 1] < threshold):
            m_hat = m
            break
    big_m = min(2 * m_hat, m_max)
    g_sum, lr = 0.0, acov[0]
    for k in range(1, big_m + 1):
        t = k / big_m
        lam = 1.0 if t <= 0.5 else 2 * (1 - t)
        g_sum += 2 * lam * k * acov[k]
        lr += 2 * lam * acov[k]
    if g_sum == 0 or lr <= 0:
        return 1.0
    b = (2 * g_sum**2 / (2 * lr**2)) ** (1 / 3) * n ** (1 / 3)
    return float(min(max(b, 1.0), b_max))


def stationary_bootstrap_indices(
    n: int, block_length: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` resamples (rows) of the indices ``0..n-1`` by the stationary bootstrap.

    Politis & Romano (1994), "The stationary bootstrap", JASA 89(428): each resample starts
    at a uniform index; at every later step, with probability ``p = 1 / block_length`` a new
    block starts at a uniform index, otherwise the next index follows (wrapping around), so
    block lengths are geometric with mean ``block_length``.
    """
    p = 1.0 / block_length
    starts = rng.integers(0, n, size=(size, n))
    new = rng.random((size, n)) < p
    new[:, 0] = True
    t = np.arange(n)
    last = np.maximum.accumulate(np.where(new, t, 0), axis=1)
    return (np.take_along_axis(starts, last, axis=1) + (t - last)) % n


def _bootstrap(
    x: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    level: float,
    n_boot: int,
    block_length: float | None,
    seed: int | None,
) -> dict[str, Any]:
    if not 0 < level < 1:
        raise ValueError(f"level = {level} must be in (0, 1)")
    if n_boot < 1:
        raise ValueError(f"n_boot = {n_boot} must be >= 1")
    rule = "politis_white" if block_length is None else "given"
    b = optimal_block_length(x) if block_length is None else float(block_length)
    if not b >= 1:
        raise ValueError(f"block_length = {block_length} must be >= 1")
    rng = np.random.default_rng(seed)
    n = x.size
    chunk = max(1, 1_000_000 // n)
    values = []
    for start in range(0, n_boot, chunk):
        idx = stationary_bootstrap_indices(n, b, min(chunk, n_boot - start), rng)
        values.append(statistic(x[idx]))
    boot = np.concatenate(values)
    alpha = (1 - level) / 2
    lower, upper = np.nanquantile(boot, [alpha, 1 - alpha])
    return {
        "estimate": float(statistic(x[None, :])[0]),
        "lower": float(lower),
        "upper": float(upper),
        "level": level,
        "method": BOOTSTRAP_METHOD,
        "block_length": b,
        "block_length_rule": rule,
        "n_boot": n_boot,
        "seed": seed,
        "n_obs": n,
    }


def sharpe_ci(
    returns: ArrayLike,
    risk_free_rate: float = 0.0,
    level: float = 0.95,
    n_boot: int = 2000,
    block_length: float | None = None,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Confidence interval of the annualized Sharpe ratio ``sqrt(252) (m - rf/252) / s``.

    Stationary block bootstrap (Politis & Romano 1994) with mean block length
    ``block_length`` (default: :func:`optimal_block_length` of the returns, Politis & White
    2004), ``n_boot`` resamples drawn with ``numpy.random.default_rng(seed)``; the interval is
    the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles of the resampled Sharpe ratios.

    Returns
    -------
    dict
        ``estimate`` (the Sharpe ratio of the data), ``lower``, ``upper``, ``level``,
        ``method``, ``block_length``, ``block_length_rule`` (``politis_white`` or
        ``given``), ``n_boot``, ``seed``, ``n_obs``.
    """
    x = _series(returns)
    rf = _daily_rf(risk_free_rate)

    def statistic(r: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return math.sqrt(TRADING_DAYS) * (r.mean(axis=1) - rf) / r.std(axis=1, ddof=1)

    return _bootstrap(x, statistic, level, n_boot, block_length, seed)


def annualized_mean_ci(
    returns: ArrayLike,
    level: float = 0.95,
    n_boot: int = 2000,
    block_length: float | None = None,
    seed: int | None = 0,
) -> dict[str, Any]:
    """Confidence interval of the annualized mean return ``252 m``; the bootstrap and the
    output as in :func:`sharpe_ci`."""
    x = _series(returns)
    return _bootstrap(x, lambda r: TRADING_DAYS * r.mean(axis=1), level, n_boot, block_length, seed)


# --- the probabilistic and the deflated Sharpe ratio -------------------------------------
def _psr(x: np.ndarray, benchmark_daily: float, rf: float) -> float:
    e = x - rf
    sr = e.mean() / e.std(ddof=1)
    c = e - e.mean()
    m2 = np.mean(c**2)
    skew = np.mean(c**3) / m2**1.5
    kurt = np.mean(c**4) / m2**2
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if denom <= 0:
        return float("nan")
    return normal_cdf((sr - benchmark_daily) * math.sqrt(x.size - 1) / math.sqrt(denom))


def psr(returns: ArrayLike, benchmark_sharpe: float = 0.0, risk_free_rate: float = 0.0) -> float:
    """Probabilistic Sharpe ratio: the probability that the true Sharpe ratio exceeds
    ``benchmark_sharpe`` (annualized; 0 by default).

    Bailey & Lopez de Prado (2012), "The Sharpe ratio efficient frontier", Journal of Risk
    15(2), eq. (11), on daily values:

        ``PSR = Phi( (SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2) )``

    with ``SR = m / s`` the daily Sharpe ratio of the excess returns, ``SR* =
    benchmark_sharpe / sqrt(252)``, ``g3`` the skewness and ``g4`` the kurtosis (not excess;
    3 for normal returns) of the returns, both from central sample moments (``g3 = m3 /
    m2^1.5``, ``g4 = m4 / m2^2``). NaN when the square root's argument is not positive.
    """
    x = _series(returns)
    return _psr(x, benchmark_sharpe / math.sqrt(TRADING_DAYS), _daily_rf(risk_free_rate))


def expected_max_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """``SR0 = sqrt(V) ((1 - gamma) Phi^(-1)(1 - 1/N) + gamma Phi^(-1)(1 - 1/(N e)))``, the
    expected maximum of N Sharpe ratios of variance V whose true values are 0 (gamma the
    Euler-Mascheroni constant; Bailey & Lopez de Prado 2014, eq. (2)); in V's units
    (annualized in, annualized out). 0 for a single trial."""
    if n_trials < 1 or int(n_trials) != n_trials:
        raise ValueError(f"n_trials = {n_trials} must be a whole number >= 1")
    if not trials_sharpe_variance >= 0:
        raise ValueError(f"trials_sharpe_variance = {trials_sharpe_variance} must be >= 0")
    if n_trials == 1:
        return 0.0
    z = (1 - EULER_GAMMA) * normal_quantile(1 - 1 / n_trials) + EULER_GAMMA * normal_quantile(
        1 - 1 / (n_trials * math.e)
    )
    return float(math.sqrt(trials_sharpe_variance) * z)


def deflated_sharpe(
    returns: ArrayLike,
    n_trials: int | None = None,
    trials_sharpe_variance: float | None = None,
    *,
    trials_sharpes: ArrayLike | None = None,
    risk_free_rate: float = 0.0,
) -> dict[str, Any]:
    """Deflated Sharpe ratio: the PSR against the Sharpe ratio the best of ``n_trials``
    unskilled strategies would reach.

    Bailey & Lopez de Prado (2014), "The deflated Sharpe ratio: correcting for selection
    bias, backtest overfitting and non-normality", Journal of Portfolio Management 40(5):
    ``DSR = PSR(SR0)`` (:func:`psr`) with ``SR0`` = :func:`expected_max_sharpe` of the
    number of trials N and the variance V of their Sharpe ratios. Give either
    ``trials_sharpes`` (the annualized Sharpe ratios of all trials, this one included: V is
    their variance with ddof=1 and N their number unless ``n_trials`` says otherwise) or
    ``n_trials`` and ``trials_sharpe_variance`` (V of annualized Sharpe ratios). Since
    ``SR0 >= 0``, ``DSR <= PSR`` against 0.

    Returns
    -------
    dict
        ``deflated_sharpe`` (a probability), ``psr`` (against 0), ``sharpe`` (annualized),
        ``expected_max_sharpe`` (SR0, annualized), ``n_trials``, ``trials_sharpe_variance``.
    """
    if trials_sharpes is not None:
        trials = _series(trials_sharpes, 2)
        variance = float(trials.var(ddof=1))
        n = len(trials) if n_trials is None else n_trials
        if trials_sharpe_variance is not None:
            raise ValueError("give trials_sharpes or trials_sharpe_variance, not both")
    else:
        if n_trials is None or trials_sharpe_variance is None:
            raise ValueError("give trials_sharpes, or n_trials and trials_sharpe_variance")
        n, variance = n_trials, float(trials_sharpe_variance)
    x = _series(returns)
    rf = _daily_rf(risk_free_rate)
    sr0 = expected_max_sharpe(n, variance)
    return {
        "deflated_sharpe": _psr(x, sr0 / math.sqrt(TRADING_DAYS), rf),
        "psr": _psr(x, 0.0, rf),
        "sharpe": sharpe_ratio(x, risk_free_rate),
        "expected_max_sharpe": sr0,
        "n_trials": int(n),
        "trials_sharpe_variance": variance,
    }


# --- Ledoit & Wolf (2008) ----------------------------------------------------------------
def _paired(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        both = pd.concat([a, b], axis=1, join="inner").to_numpy(dtype=np.float64)
    else:
        x = np.asarray(a, dtype=np.float64).ravel()
        y = np.asarray(b, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"the series have {x.size} and {y.size} values (pair them by date)")
        both = np.column_stack([x, y])
    both = both[np.isfinite(both).all(axis=1)]
    if len(both) < 6:
        raise ValueError(f"need at least 6 paired finite returns, got {len(both)}")
    return both[:, 0], both[:, 1]


def newey_west_lags(n_obs: int) -> int:
    """``floor(4 (T / 100)^(2/9))``, the Newey & West (1994) rule of thumb."""
    return int(math.floor(4 * (n_obs / 100) ** (2 / 9)))


def hac_covariance(y: np.ndarray, lags: int) -> np.ndarray:
    """``Psi = T/(T - p) [Gamma(0) + sum_(j=1..L) (1 - j/(L+1)) (Gamma(j) + Gamma(j)^T)]``.

    ``y`` is T x p and centred column by column, ``Gamma(j) = 1/T sum_(t>j) y_t y_(t-j)^T``:
    the Bartlett-kernel (Newey & West 1987) long-run covariance with the small-sample factor
    ``T / (T - p)`` of Ledoit & Wolf (2008).
    """
    t, p = y.shape
    psi = y.T @ y / t
    for j in range(1, lags + 1):
        gamma = y[j:].T @ y[:-j] / t
        psi += (1 - j / (lags + 1)) * (gamma + gamma.T)
    return psi * t / (t - p)


def sharpe_difference_test(
    a: ArrayLike, b: ArrayLike, risk_free_rate: float = 0.0, lags: int | None = None
) -> dict[str, Any]:
    """Test ``H0: SR_a = SR_b`` for two return series on the same days (a strategy ``a``
    against a benchmark ``b``), robust to fat tails and serial dependence.

    Ledoit & Wolf (2008), "Robust performance hypothesis testing with the Sharpe ratio",
    Journal of Empirical Finance 15(5), section 3.1 (the HAC inference; not their
    studentized bootstrap). On the excess returns, with ``v = (m_a, m_b, g_a, g_b)`` the means
    and uncentred second moments ``g = mean(e^2)``, the difference of daily Sharpe ratios is
    ``Delta = f(v) = m_a / sqrt(g_a - m_a^2) - m_b / sqrt(g_b - m_b^2)`` (standard deviations
    with ddof=0, as in the paper), its gradient

        ``grad f = (g_a / c_a^1.5, -g_b / c_b^1.5, -m_a / (2 c_a^1.5), m_b / (2 c_b^1.5))``,
        ``c = g - m^2``,

    and ``se(Delta) = sqrt(grad f^T Psi grad f / T)`` with ``Psi`` the HAC covariance of
    ``y_t = (e_a,t - m_a, e_b,t - m_b, e_a,t^2 - g_a, e_b,t^2 - g_b)``
    (:func:`hac_covariance`: Bartlett kernel with ``lags`` lags, default
    :func:`newey_west_lags` of T; the paper used a prewhitened quadratic-spectral kernel).
    ``z = Delta / se`` and the two-sided ``p = 2 (1 - Phi(|z|))``. A series against itself
    has ``Delta = 0`` and ``p = 1``. Series with an index are paired by date (inner join);
    days where either is missing are dropped.

    Returns
    -------
    dict
        ``sharpe_diff`` (annualized, ``sqrt(252) Delta``), ``p_value``, ``method``,
        ``sharpe_a``, ``sharpe_b`` (annualized, ddof=0), ``standard_error`` (of
        ``sharpe_diff``), ``z``, ``lags``, ``n_obs``.
    """
    x, y = _paired(a, b)
    rf = _daily_rf(risk_free_rate)
    x, y = x - rf, y - rf
    n = x.size
    lags = newey_west_lags(n) if lags is None else int(lags)
    if lags < 0:
        raise ValueError(f"lags = {lags} must be >= 0")
    m_a, m_b = x.mean(), y.mean()
    g_a, g_b = np.mean(x**2), np.mean(y**2)
    c_a, c_b = g_a - m_a**2, g_b - m_b**2
    sr_a, sr_b = m_a / math.sqrt(c_a), m_b / math.sqrt(c_b)
    delta = sr_a - sr_b
    grad = np.array([g_a / c_a**1.5, -g_b / c_b**1.5, -m_a / (2 * c_a**1.5), m_b / (2 * c_b**1.5)])
    moments = np.column_stack([x - m_a, y - m_b, x**2 - g_a, y**2 - g_b])
    psi = hac_covariance(moments, lags)
    se = math.sqrt(max(float(grad @ psi @ grad) / n, 0.0))
    if delta == 0:
        z, p = 0.0, 1.0
    elif se == 0:
        z, p = math.copysign(math.inf, delta), 0.0
    else:
        z = delta / se
        p = math.erfc(abs(z) / math.sqrt(2))  # 2 (1 - Phi(|z|)) without cancellation
    root = math.sqrt(TRADING_DAYS)
    return {
        "sharpe_diff": root * delta,
        "p_value": p,
        "method": f"Ledoit & Wolf (2008) HAC delta method, Bartlett kernel, {lags} lags",
        "sharpe_a": root * sr_a,
        "sharpe_b": root * sr_b,
        "standard_error": root * se,
        "z": z,
        "lags": lags,
        "n_obs": n,
    }
