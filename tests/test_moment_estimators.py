"""Per-window moment estimators: A from each estimator against an independent computation."""

import numpy as np
import pytest
import sklearn.covariance as skc

from qubo_portfolio import build_qubo
from qubo_portfolio.core.model import PortfolioQubo
from qubo_portfolio.core.returns import WindowSpec, window_bounds
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.settings import build_model

from helpers import make_returns

K, XI = 3, 0.7
SCHEME = {"length": 45, "step": 20}


def windows_of(returns, scheme=SCHEME):
    return window_bounds(returns.index, WindowSpec.from_any(scheme))


def reference_A(returns, windows, cov_fn, mu_fn, k=K, xi=XI, return_term="linear"):
    """Fit the estimators on each window by hand, average, apply A's formula in numpy."""
    values = returns.to_numpy()
    qs, mus = [], []
    for w in windows:
        x = values[w.start : w.stop]
        qs.append(cov_fn(x))
        mus.append(mu_fn(x))
    q_bar = np.mean(qs, axis=0)
    if return_term == "linear":
        p_bar = np.diag(np.mean(mus, axis=0))
    else:
        p_bar = np.mean([np.outer(m, m) for m in mus], axis=0)
    a = (q_bar - xi * p_bar) / k**2
    return (a + a.T) / 2


def sample_mean(x):
    return x.mean(axis=0)


def sample_cov(x):
    return np.cov(x, rowvar=False, ddof=1)


def ew_cov(half_life):
    """EWMA of r r^T (not demeaned) from zero, divided by 1 - lambda^n (bias correction)."""

    def fit(x):
        lam = 2 ** (-1 / half_life)
        s = np.zeros((x.shape[1],) * 2)
        for r in x:
            s = lam * s + (1 - lam) * np.outer(r, r)
        return s / (1 - lam ** len(x))

    return fit


def ew_mean(half_life):
    def fit(x):
        lam = 2 ** (-1 / half_life)
        m = np.zeros(x.shape[1])
        for r in x:
            m = lam * m + (1 - lam) * r
        return m / (1 - lam ** len(x))

    return fit


def skfolio_cov(name, **kwargs):
    import skfolio.moments as sm

    def fit(x):
        return getattr(sm, name)(nearest=False, **kwargs).fit(x).covariance_

    return fit


def skfolio_mu(name, **kwargs):
    import skfolio.moments as sm

    def fit(x):
        return getattr(sm, name)(**kwargs).fit(x).mu_

    return fit


def denoise(x):
    import skfolio.moments as sm

    inner = sm.EmpiricalCovariance(nearest=False)
    return sm.DenoiseCovariance(covariance_estimator=inner, nearest=False).fit(x).covariance_


COVARIANCES = {
    "ledoit_wolf": (lambda x: skc.LedoitWolf().fit(x).covariance_, {}),
    "oas": (lambda x: skc.OAS().fit(x).covariance_, {}),
    "shrunk": (lambda x: skc.ShrunkCovariance(shrinkage=0.1).fit(x).covariance_, {}),
    "exponential": (ew_cov(40), {}),
    "gerber": (skfolio_cov("GerberCovariance"), {}),
    "denoise": (denoise, {}),
}


def shrunk_mu(x):
    """James-Stein towards the grand mean (Meucci), the sample covariance (ddof=1)."""
    mu = x.mean(axis=0)
    target = np.full_like(mu, mu.mean())
    eig = np.linalg.eigvalsh(np.cov(x, rowvar=False, ddof=1))
    beta = (eig.sum() - 2 * eig.max()) / np.sum((mu - target) ** 2) / len(x)
    return (1 - beta) * mu + beta * target


@pytest.mark.parametrize("name", list(COVARIANCES))
@pytest.mark.parametrize("return_term", ["linear", "squared"])
def test_covariance_estimators_match_a_window_by_window_fit(name, return_term):
    returns = make_returns(n_rows=130, n_assets=7, seed=3)
    cov_fn, params = COVARIANCES[name]
    qubo = build_qubo(
        returns,
        k=K,
        xi=XI,
        windows=SCHEME,
        return_term=return_term,
        covariance=name,
        estimator_params={"covariance": params},
    )
    expected = reference_A(
        returns, windows_of(returns), cov_fn, sample_mean, return_term=return_term
    )
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-9, atol=1e-16)
    assert qubo.covariance == name and qubo.expected_returns == "empirical"
    assert qubo.describe()["covariance"] == name


@pytest.mark.parametrize(
    "name, mu_fn",
    [
        ("empirical", sample_mean),
        ("exponential", ew_mean(40)),
        ("shrinkage", shrunk_mu),
    ],
)
def test_expected_returns_estimators_match_a_window_by_window_fit(name, mu_fn):
    returns = make_returns(n_rows=130, n_assets=7, seed=4)
    for return_term in ("linear", "squared"):
        qubo = build_qubo(
            returns,
            k=K,
            xi=XI,
            windows=SCHEME,
            return_term=return_term,
            expected_returns=name,
        )
        expected = reference_A(
            returns, windows_of(returns), sample_cov, mu_fn, return_term=return_term
        )
        np.testing.assert_allclose(qubo.A, expected, rtol=1e-9, atol=1e-16)


def test_estimator_params_are_passed_on():
    returns = make_returns(n_rows=130, n_assets=7, seed=5)
    windows = windows_of(returns)
    qubo = build_qubo(
        returns,
        k=K,
        xi=XI,
        windows=SCHEME,
        covariance="exponential",
        expected_returns="exponential",
        estimator_params={"covariance": {"half_life": 8}, "expected_returns": {"half_life": 5}},
    )
    np.testing.assert_allclose(
        qubo.A, reference_A(returns, windows, ew_cov(8), ew_mean(5)), rtol=1e-9, atol=1e-16
    )
    assert qubo.estimator_params == {
        "covariance": {"half_life": 8},
        "expected_returns": {"half_life": 5},
    }
    shrunk = build_qubo(
        returns,
        k=K,
        xi=XI,
        windows=SCHEME,
        covariance="shrunk",
        expected_returns="shrinkage",
        estimator_params={
            "covariance": {"shrinkage": 0.4},
            "expected_returns": {"method": "bayes_stein", "covariance_estimator": "oas"},
        },
    )
    import skfolio.moments as sm

    bayes = skfolio_mu(
        "ShrunkMu",
        method=sm.ShrunkMuMethods.BAYES_STEIN,
        covariance_estimator=sm.OAS(nearest=False),
    )
    expected = reference_A(
        returns, windows, lambda x: skc.ShrunkCovariance(shrinkage=0.4).fit(x).covariance_, bayes
    )
    np.testing.assert_allclose(shrunk.A, expected, rtol=1e-9, atol=1e-16)


def stacked_reference(returns, windows):
    """The historical window_moments: one stacked matrix product (copied verbatim)."""
    values = returns.to_numpy(dtype=np.float64)
    blocks, means = [], []
    for w in windows:
        x = values[w.start : w.stop]
        mu = x.mean(axis=0)
        means.append(mu)
        blocks.append((x - mu) / np.sqrt(w.rows - 1))
    z = np.vstack(blocks)
    mu_all = np.vstack(means)
    m = len(windows)
    cov_mean = z.T @ z / m
    cov_mean = (cov_mean + cov_mean.T) / 2
    return cov_mean, mu_all.mean(axis=0), mu_all.T @ mu_all / m


@pytest.mark.parametrize("scheme", [SCHEME, {"length": 30, "step": 15, "unit": "calendar_days"}])
def test_empirical_is_the_historical_result_to_the_last_bit(scheme):
    returns = make_returns(n_rows=160, n_assets=9, seed=6)
    windows = windows_of(returns, scheme)
    cov_mean, mean_mean, outer_mean = stacked_reference(returns, windows)
    for kwargs in ({}, {"covariance": "empirical", "expected_returns": "empirical"}):
        qubo = build_qubo(returns, k=K, xi=XI, windows=scheme, **kwargs)
        assert np.array_equal(qubo.moments.cov_mean, cov_mean)
        assert np.array_equal(qubo.moments.mean_mean, mean_mean)
        assert np.array_equal(qubo.moments.outer_mean, outer_mean)
        a = (cov_mean - XI * np.diag(mean_mean)) / K**2
        assert np.array_equal(qubo.A, (a + a.T) / 2)
    # and it is the plain per-window np.cov (ddof=1) up to rounding; so is skfolio's
    # EmpiricalCovariance (taken when a parameter is given)
    expected = reference_A(returns, windows, sample_cov, sample_mean)
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-12, atol=1e-18)
    via_skfolio = build_qubo(
        returns, k=K, xi=XI, windows=scheme, estimator_params={"covariance": {"ddof": 1}}
    )
    np.testing.assert_allclose(via_skfolio.A, expected, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("name", ["ledoit_wolf", "exponential", "gerber"])
def test_long_short_blocks_derive_from_the_estimated_moments(name):
    returns = make_returns(n_rows=130, n_assets=6, seed=7)
    params = {"covariance": {"half_life": 10}} if name == "exponential" else {}
    kwargs = dict(covariance=name, expected_returns="shrinkage", estimator_params=params)
    long_only = build_qubo(returns, k=K, xi=XI, windows=SCHEME, **kwargs)
    for return_term in ("linear", "squared"):
        qubo = build_qubo(
            returns,
            k=K,
            xi=XI,
            windows=SCHEME,
            return_term=return_term,
            positions="long_short",
            **kwargs,
        )
        q, mu = long_only.q_bar, long_only.moments.mean_mean
        big_q = np.block([[q, -q], [-q, q]])
        if return_term == "linear":
            p = np.diag(np.concatenate([mu, -mu]))
        else:
            o = long_only.moments.outer_mean
            p = np.block([[o, -o], [-o, o]])
        np.testing.assert_allclose(qubo.A, (big_q - XI * p) / K**2, rtol=1e-12, atol=1e-18)
        assert qubo.covariance == name
        # the objective of a feasible long/short selection: the legs' portfolio, each window
        legs = ["long:T00", "short:T03", "long:T05"]
        assert np.isfinite(qubo.objective(legs))


def test_unknown_names_and_parameters_are_one_line_errors():
    returns = make_returns(n_rows=80, n_assets=5)
    cases = [
        (dict(covariance="median"), "model.covariance = 'median' is unknown"),
        (dict(expected_returns="capm"), "model.expected_returns = 'capm' is unknown"),
        (
            dict(covariance="oas", estimator_params={"covariance": {"shrinkage": 0.2}}),
            "shrinkage is not a parameter of OAS",
        ),
        (dict(estimator_params={"half_life": 10}), "unknown section 'half_life'"),
        (
            dict(
                expected_returns="shrinkage", estimator_params={"expected_returns": {"method": "x"}}
            ),
            "use james_stein, bayes_stein, bodnar_okhrin",
        ),
        (
            dict(covariance="gerber", estimator_params={"covariance": {"threshold": 2}}),
            "model.covariance = gerber failed on window 1",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError, match=message.replace("(", r"\(")):
            build_qubo(returns, k=2, xi=0.0, windows={"length": 40, "step": 20}, **kwargs)


def test_exponential_on_short_windows_says_which_parameter_to_set():
    returns = make_returns(n_rows=80, n_assets=5)
    with pytest.raises(InputError, match="non-finite values on window 1 of .* set half_life"):
        build_qubo(
            returns, k=2, xi=0.0, windows={"length": 21, "step": 10}, covariance="exponential"
        )
    qubo = build_qubo(
        returns,
        k=2,
        xi=0.0,
        windows={"length": 21, "step": 10},
        covariance="exponential",
        estimator_params={"covariance": {"min_observations": 1}},
    )
    assert np.isfinite(qubo.A).all()


def test_config_keys_reach_the_model():
    cfg = validate_config(
        {
            "model": {
                "k": 2,
                "xi": 0.3,
                "covariance": "ledoit_wolf",
                "expected_returns": "shrinkage",
                "estimator_params": {"expected_returns": {"vol_weighted_target": True}},
                "windows": {"length": 40, "step": 20},
            }
        }
    )
    returns = make_returns(n_rows=100, n_assets=5)
    qubo = build_model(returns, cfg.model)
    assert (qubo.covariance, qubo.expected_returns) == ("ledoit_wolf", "shrinkage")
    assert qubo.estimator_params == {
        "covariance": {},
        "expected_returns": {"vol_weighted_target": True},
    }
    default = build_model(returns, validate_config({"model": {"k": 2}}).model)
    assert (default.covariance, default.expected_returns) == ("empirical", "empirical")
    for bad, key in (
        ({"covariance": "median"}, "model.covariance"),
        ({"estimator_params": {"flat": 1}}, "model.estimator_params.flat"),
    ):
        with pytest.raises(InputError, match=key):
            validate_config({"model": {"k": 2, **bad}})


def test_with_params_and_the_moments_keep_the_estimators():
    returns = make_returns(n_rows=100, n_assets=5)
    qubo = build_qubo(returns, k=2, xi=0.1, windows={"length": 40}, covariance="oas")
    other = qubo.with_params(k=3, xi=2.0)
    assert other.covariance == "oas"
    rebuilt = PortfolioQubo(qubo.moments, 3, 2.0)
    np.testing.assert_array_equal(rebuilt.A, other.A)


def test_summary_json_names_the_estimators():
    from qubo_portfolio.output.run import run_summary
    from qubo_portfolio.workflows.run import run_experiment

    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 6, "days": 120, "seed": 1}},
            "model": {
                "k": 2,
                "covariance": "denoise",
                "expected_returns": "exponential",
                "estimator_params": {"expected_returns": {"half_life": 10}},
                "windows": {"length": 40, "step": 20},
            },
            "solver": {"name": "exact", "num_reads": 1},
            "report": {"plots": False},
        }
    )
    summary = run_summary(run_experiment(cfg))
    assert summary["covariance"] == "denoise"
    assert summary["expected_returns"] == "exponential"
    assert summary["estimator_params"] == {"covariance": {}, "expected_returns": {"half_life": 10}}
