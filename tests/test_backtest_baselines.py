"""Backtest against 1/N: classical baselines, weights of the picks, tuning without look-ahead,
significance in metrics.json."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio.classical import frontier
from qubo_portfolio.classical.baselines import baseline_weights, weigh_picks
from qubo_portfolio.cli import app
from qubo_portfolio.core.returns import WindowSpec, simple_returns
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.backtest import (
    TuneSpec,
    decide_all,
    hold_returns,
    lookback_slice,
    prepare_schedule,
    run_backtest,
    score,
    simulate_curves,
    tune_spec,
)
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.selector import SelectorSpec

from helpers import make_returns

K = 3
SPEC = SelectorSpec(k=K, xi=0.5, windows=WindowSpec(length=20, step=10), solver="exact")
SCHEDULE = {"lookback": 60, "rebalance": 20}
BASELINES = ["min_volatility", "max_sharpe", "inverse_volatility", "hrp"]
GRID = (0.0, 0.5, 2.0)


def make_prices(n_rows: int = 200, n_assets: int = 8, seed: int = 5) -> pd.DataFrame:
    returns = make_returns(n_rows=n_rows, n_assets=n_assets, seed=seed)
    start = pd.DataFrame(0.0, index=[returns.index[0] - pd.offsets.BDay()], columns=returns.columns)
    prices = 40 * (1 + pd.concat([start, returns])).cumprod()
    prices.index.name = "date"
    return prices


def make_tune(validation: int = 20, metric: str = "sharpe") -> TuneSpec:
    return TuneSpec(
        keys=("model.xi",),
        points=tuple((xi,) for xi in GRID),
        specs=tuple(replace(SPEC, xi=xi) for xi in GRID),
        metric=metric,
        validation=validation,
    )


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return make_prices()


@pytest.fixture(scope="module")
def result(prices):
    return run_backtest(
        prices,
        SPEC,
        **SCHEDULE,
        costs_bps=20,
        baselines=BASELINES,
        random_subsets=0,
        workers=1,
        n_boot=200,
    )


@pytest.fixture(scope="module")
def tuned(prices):
    return run_backtest(
        prices, SPEC, **SCHEDULE, costs_bps=20, tune=make_tune(), workers=1, n_boot=200
    )


# --------------------------------------------------------------------------- baselines


def test_baseline_weights_match_frontier_and_skfolio(prices):
    from skfolio.optimization import HierarchicalRiskParity

    window = lookback_slice(simple_returns(prices), prices.index[100], 60)
    mu, cov = frontier.expected_returns(window), frontier.sample_covariance(window)
    expected = {
        "min_volatility": frontier.min_volatility(mu, cov).weights,
        "max_sharpe": frontier.max_sharpe(mu, cov).weights,
        "inverse_volatility": (1 / window.std()) / (1 / window.std()).sum(),
        "hrp": pd.Series(HierarchicalRiskParity().fit(window).weights_, index=window.columns),
    }
    for name, want in expected.items():
        got, note = baseline_weights(name, window)
        assert note is None
        assert got.sum() == pytest.approx(1.0) and (got >= 0).all(), name
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-9, err_msg=name)
    # no asset above the risk-free rate: max_sharpe holds the minimum-variance portfolio
    weights, note = baseline_weights("max_sharpe", window, risk_free_rate=100.0)
    assert note and "min_volatility" in note
    np.testing.assert_allclose(weights, expected["min_volatility"], atol=1e-9)
    with pytest.raises(InputError, match="unknown"):
        baseline_weights("momentum", window)


def test_baselines_are_bought_and_held_like_the_strategy(prices, result):
    """Each baseline column equals a hand simulation: refit on the date's slice, pay costs on
    the traded value, hold the shares until the next date."""
    returns = simple_returns(prices)
    dates = pd.to_datetime(result.rebalances["date"])
    rows = [prices.index.get_loc(d) for d in dates]
    rate = 20 / 1e4
    for name in BASELINES:
        wealth, shares, curve = 1.0, pd.Series(0.0, index=prices.columns), {}
        for j, row in enumerate(rows):
            p = prices.iloc[row]
            before = (shares * p).sum() if j else 1.0
            drifted = shares * p / before if j else shares
            target, _ = baseline_weights(name, lookback_slice(returns, dates[j], 60))
            target = target.reindex(prices.columns, fill_value=0.0)
            wealth = before - rate * before * (target - drifted).abs().sum()
            shares = wealth * target / p
            end = rows[j + 1] if j + 1 < len(rows) else len(prices) - 1
            for t in range(row, end + 1):
                curve[prices.index[t]] = (shares * prices.iloc[t]).sum()
            curve[prices.index[row]] = wealth
        hand = pd.Series(curve).sort_index()
        np.testing.assert_allclose(result.equity[name].to_numpy(), hand.to_numpy(), rtol=1e-10)
        assert name in result.metrics and name in result.significance
    assert result.settings["baselines"] == BASELINES


def test_equal_weights_are_the_strategy_as_before(prices, result):
    """``weights: equal`` goes through the same buy-and-hold as the equal-weight code path
    that existed before weights were configurable: equal to the last bit."""
    plan = prepare_schedule(prices, SPEC, **SCHEDULE, unit="trading_days", start=None,
                            end=None, benchmarks=[])  # fmt: skip
    decisions = decide_all(plan, SPEC, workers=1)
    before = simulate_curves(plan, decisions, 20)  # no weights given: 1/K' on the picks
    assert np.array_equal(before["strategy"].wealth[:, 0], result.equity["strategy"].to_numpy())
    assert np.array_equal(
        before["equal_weight_all"].wealth[:, 0], result.equity["equal_weight_all"].to_numpy()
    )
    assert (result.selections["weight"] == 1.0 / K).all()


def test_min_volatility_weights_of_the_picks(prices, result):
    mv = run_backtest(
        prices, SPEC, **SCHEDULE, costs_bps=20, weights="min_volatility", random_subsets=0,
        workers=1, n_boot=50,
    )  # fmt: skip
    # the same picks, other weights: the minimum-variance portfolio of the picks' slice
    pd.testing.assert_series_equal(mv.selections["ticker"], result.selections["ticker"])
    returns = simple_returns(prices)
    for date, rows in mv.selections.groupby("date"):
        window = lookback_slice(returns, pd.Timestamp(date), 60)
        want = weigh_picks("min_volatility", window, list(rows["ticker"]))
        np.testing.assert_allclose(rows["weight"].to_numpy(), want.to_numpy(), atol=1e-12)
        assert rows["weight"].sum() == pytest.approx(1.0)
    assert not np.allclose(mv.equity["strategy"], result.equity["strategy"])
    assert mv.settings["weights"] == "min_volatility"


# --------------------------------------------------------------------------- tuning


def test_tuned_choice_is_in_the_grid(tuned):
    chosen = tuned.rebalances["model.xi"]
    assert set(chosen) <= set(GRID)
    grid = tuned.tune["grid"]
    assert [g["values"]["model.xi"] for g in grid] == list(GRID)
    assert sum(g["times_chosen"] for g in grid) == len(chosen)
    assert list(tuned.tune_equity.columns) == [f"model.xi={xi}" for xi in GRID]
    # the tuned strategy holds, at each date, the chosen grid point's own selection
    fixed = {
        xi: run_backtest(
            make_prices(),
            replace(SPEC, xi=xi),
            **SCHEDULE,
            costs_bps=20,
            random_subsets=0,
            workers=1,
            n_boot=20,
        )  # fmt: skip
        for xi in GRID
    }
    for xi in GRID:
        np.testing.assert_array_equal(
            tuned.tune_equity[f"model.xi={xi}"], fixed[xi].equity["strategy"]
        )
    for (date, picks), xi in zip(tuned.selections.groupby("date"), chosen, strict=True):
        table = fixed[xi].selections
        assert list(picks["ticker"]) == list(table.loc[table["date"] == date, "ticker"])


def test_tuning_does_not_look_ahead(prices, tuned):
    """Shocking the prices after a date leaves every tuned choice up to it unchanged."""
    dates = sorted(tuned.selections["date"].unique())
    cut = pd.Timestamp(dates[3])
    later = prices.index > cut
    shocked = prices.copy()
    shocked.loc[later] *= np.random.default_rng(3).uniform(0.3, 3.0, (later.sum(), prices.shape[1]))
    again = run_backtest(
        shocked, SPEC, **SCHEDULE, costs_bps=20, tune=make_tune(), workers=1, n_boot=20
    )

    def upto(table: pd.DataFrame) -> pd.DataFrame:
        return table[pd.to_datetime(table["date"]) <= cut].reset_index(drop=True)

    pd.testing.assert_frame_equal(upto(again.selections), upto(tuned.selections))
    keep = ["date", "model.xi", "objective", "traded"]
    pd.testing.assert_frame_equal(upto(again.rebalances)[keep], upto(tuned.rebalances)[keep])
    assert not again.rebalances["model.xi"].equals(tuned.rebalances["model.xi"]) or not (
        again.selections.equals(tuned.selections)
    )


def test_score_and_hold_returns():
    rng = np.random.default_rng(0)
    returns = pd.DataFrame(rng.normal(0.001, 0.01, (30, 3)), columns=list("abc"))
    w = pd.Series([0.5, 0.3, 0.2], index=list("abc"))
    daily = hold_returns(returns, w)
    wealth = ((1 + returns).cumprod() * w).sum(axis=1)
    np.testing.assert_allclose(daily, wealth.pct_change().fillna(wealth.iloc[0] - 1), rtol=1e-12)
    assert score(daily, "volatility") == pytest.approx(-np.sqrt(252) * daily.std(ddof=1))
    assert score(daily, "sharpe") == pytest.approx(np.sqrt(252) * daily.mean() / daily.std(ddof=1))
    assert score(daily, "annualized_mean") == pytest.approx(252 * daily.mean())
    assert np.isnan(score(np.zeros(10), "sharpe"))


def test_tune_spec_from_config():
    raw = {
        "model": {"k": 3, "xi": 0.1, "windows": {"length": 20, "step": 10}},
        "backtest": {
            "lookback": 60,
            "tune": {
                "grid": {"model.xi": [0, 1], "model.covariance": ["empirical", "ledoit_wolf"]},
                "metric": "volatility",
                "validation": 20,
            },
        },
    }
    tune = tune_spec(validate_config(raw))
    assert tune.keys == ("model.xi", "model.covariance") and len(tune.specs) == 4
    assert [(s.xi, s.covariance) for s in tune.specs] == [
        (0.0, "empirical"), (0.0, "ledoit_wolf"), (1.0, "empirical"), (1.0, "ledoit_wolf"),
    ]  # fmt: skip
    assert tune.metric == "volatility" and tune.validation == 20
    raw["backtest"]["tune"]["grid"] = {"solver.num_reads": [1, 2]}
    with pytest.raises(InputError, match="cannot be tuned"):
        tune_spec(validate_config(raw))
    raw["backtest"]["tune"]["grid"] = {"model.covariance": ["nonsense"]}
    with pytest.raises(InputError, match="model.covariance"):
        tune_spec(validate_config(raw))
    raw["backtest"]["tune"] = {"grid": {"model.xi": [0, 1]}, "validation": 60}
    with pytest.raises(InputError, match="shorter than"):
        validate_config(raw)


# --------------------------------------------------------------------------- the files


def test_metrics_json_has_significance(tmp_path, prices):
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    config = tmp_path / "bt.yaml"
    config.write_text(
        f"data: {{source: csv, path: {path}}}\n"
        "model: {k: 3, xi: 0.5, windows: {length: 20, step: 10}}\n"
        "solver: {name: exact}\n"
        "backtest:\n  lookback: 60\n  rebalance: 20\n  random_subsets: 10\n"
        "  baselines: [inverse_volatility, hrp]\n"
        "  tune: {grid: {model.xi: [0, 2]}, metric: sortino, validation: 20}\n"
    )
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["backtest", str(config), "--out", str(out), "--workers", "1"])
    assert run.exit_code == 0, run.output
    assert "p (Sharpe = 1/N)" in run.output and "deflated Sharpe" in run.output
    metrics = json.loads((out / "metrics.json").read_text())
    curves = ["strategy", "equal_weight_all", "inverse_volatility", "hrp"]
    assert list(metrics["metrics"]) == curves
    for curve in curves:
        sig = metrics["significance"][curve]
        for key in ("sharpe_ci", "annualized_mean_ci"):
            assert sig[key]["lower"] <= sig[key]["estimate"] <= sig[key]["upper"]
            assert sig[key]["level"] == 0.95 and sig[key]["block_length"] >= 1
        assert 0 <= sig["psr"] <= 1 and np.isfinite(sig["ceq"])
        assert set(sig["vs_equal_weight_all"]) == {"sharpe_diff", "p_value", "method"}
    assert metrics["significance"]["equal_weight_all"]["vs_equal_weight_all"]["p_value"] == 1.0
    dsr = metrics["significance"]["strategy"]["deflated_sharpe"]
    assert dsr["n_trials"] == 2 and 0 <= dsr["deflated_sharpe"] <= 1
    assert metrics["tune"]["metric"] == "sortino" and len(metrics["tune"]["grid"]) == 2
    equity = pd.read_csv(out / "equity.csv", index_col="date")
    assert {"inverse_volatility", "hrp"} <= set(equity.columns)
    rebalances = pd.read_csv(out / "rebalances.csv")
    assert set(rebalances["model.xi"]) <= {0, 2}
    assert (out / "tune_equity.csv").is_file() and (out / "equity.png").is_file()
