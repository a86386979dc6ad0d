"""Walk-forward backtest: schedule, no look-ahead, buy and hold, costs, benchmarks, estimator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.core.metrics import portfolio_measures
from qubo_portfolio.core.returns import WindowSpec, simple_returns
from qubo_portfolio.errors import InputError
from qubo_portfolio.output.backtest import write_backtest
from qubo_portfolio.workflows.backtest import (
    Simulation,
    lookback_slice,
    percentile_of,
    random_measures,
    rebalance_rows,
    run_backtest,
    simulate,
)
from qubo_portfolio.workflows.selector import SelectorSpec, select_assets

from helpers import REPO, make_returns

K = 3
SPEC = SelectorSpec(k=K, xi=0.5, windows=WindowSpec(length=20, step=10), solver="exact")
SCHEDULE = {"lookback": 60, "rebalance": 20}


def make_prices(n_rows: int = 260, n_assets: int = 9, seed: int = 3) -> pd.DataFrame:
    """Synthetic prices of ``n_assets`` stocks and an index column ``IDX``."""
    returns = make_returns(n_rows=n_rows, n_assets=n_assets, seed=seed)
    returns["IDX"] = returns.mean(axis=1) * 0.9
    start = pd.DataFrame(0.0, index=[returns.index[0] - pd.offsets.BDay()], columns=returns.columns)
    prices = 50 * (1 + pd.concat([start, returns])).cumprod()
    prices.index.name = "date"
    return prices


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return make_prices()


@pytest.fixture(scope="module")
def result(prices):
    return run_backtest(
        prices,
        SPEC,
        **SCHEDULE,
        costs_bps=25,
        benchmarks=["IDX"],
        random_subsets=50,
        seed=1,
        workers=1,
    )


# --------------------------------------------------------------------------- the schedule


def test_trading_day_schedule():
    index = pd.bdate_range("2021-01-04", periods=100)
    rows, stop = rebalance_rows(index, lookback=30, rebalance=20)
    assert rows == [30, 50, 70, 90] and stop == 99
    rows, stop = rebalance_rows(index, lookback=30, rebalance=20, start="2021-03-01", end=index[80])
    assert rows[0] == index.searchsorted(pd.Timestamp("2021-03-01")) and stop == 80
    assert rows[-1] < stop and np.all(np.diff(rows) == 20)


def test_calendar_and_monthly_schedules():
    index = pd.bdate_range("2021-01-04", periods=200)
    rows, _ = rebalance_rows(index, lookback=60, rebalance=30, unit="calendar_days")
    first = index[rows[0]]
    assert index[rows[0] - 1] < index[0] + pd.Timedelta(days=60) <= first
    for j, row in enumerate(rows):  # the first trading day on or after first + 30 j days
        target = first + pd.Timedelta(days=30 * j)
        assert index[row] >= target and index[row - 1] < target
    rows, _ = rebalance_rows(index, lookback=60, rebalance="monthly")
    dates = index[rows]
    assert all((index[r + 1].month != index[r].month) for r in rows)
    assert len(set(dates.month)) == len(dates)


def test_schedule_errors():
    index = pd.bdate_range("2021-01-04", periods=50)
    with pytest.raises(InputError, match="no rebalance date"):
        rebalance_rows(index, lookback=60, rebalance=20)
    with pytest.raises(InputError, match="is unknown"):
        rebalance_rows(index, lookback=10, rebalance="daily")


def test_lookback_slice_ends_at_the_date(prices):
    returns = simple_returns(prices)
    date = returns.index[100]
    window = lookback_slice(returns, date, 60)
    assert window.index[-1] == date and len(window) == 60
    days = lookback_slice(returns, date, 45, unit="calendar_days")
    assert days.index[-1] == date and days.index[0] >= date - pd.Timedelta(days=44)
    gappy = returns.copy()
    gappy.iloc[50, 2] = np.nan
    assert gappy.columns[2] not in lookback_slice(gappy, date, 60).columns


# --------------------------------------------------------------------------- no look-ahead


def test_no_look_ahead(prices, result):
    """Changing (or dropping) prices after a date leaves every selection up to it unchanged."""
    dates = sorted(result.selections["date"].unique())
    cut = pd.Timestamp(dates[3])
    rng = np.random.default_rng(7)
    later = prices.index > cut
    shocked = prices.copy()
    shocked.loc[later] *= rng.uniform(0.3, 3.0, (later.sum(), prices.shape[1]))
    kwargs = {"costs_bps": 25, "benchmarks": ["IDX"], "workers": 1}
    runs = [
        run_backtest(shocked, SPEC, **SCHEDULE, **kwargs),
        run_backtest(prices.loc[: cut + pd.Timedelta(days=10)], SPEC, **SCHEDULE, **kwargs),
    ]

    def upto(res):
        table = res.selections
        return table[pd.to_datetime(table["date"]) <= cut].reset_index(drop=True)

    for other in runs:
        pd.testing.assert_frame_equal(upto(other), upto(result))
        assert len(upto(other)) == 4 * K
    assert not runs[0].selections.equals(result.selections)  # later dates did see the shock
    # and the equity up to the cut is the same too
    pd.testing.assert_series_equal(
        runs[0].equity["strategy"].loc[:cut], result.equity["strategy"].loc[:cut]
    )


# --------------------------------------------------------------------------- buy and hold


def independent_equity(prices: pd.DataFrame, selections: pd.DataFrame, end, costs_bps: float):
    """Shares bought at each rebalance close from ``selections.csv``, held to the next."""
    rate = costs_bps / 1e4
    dates = [pd.Timestamp(d) for d in selections["date"].unique()]
    shares: dict[str, float] = {}
    cash = 1.0  # wealth before the first trade
    values = {}
    for j, date in enumerate(dates):
        before = cash if j == 0 else sum(n * prices.at[date, t] for t, n in shares.items())
        held = {t: n * prices.at[date, t] / before for t, n in shares.items()}
        rows = selections[selections["date"] == date.date().isoformat()]
        target = dict(zip(rows["ticker"], rows["weight"], strict=True))
        traded = sum(abs(target.get(t, 0.0) - held.get(t, 0.0)) for t in set(target) | set(held))
        after = before - rate * before * traded
        shares = {t: after * w / prices.at[date, t] for t, w in target.items()}
        nxt = dates[j + 1] if j + 1 < len(dates) else end
        for day in prices.loc[date:nxt].index:  # nxt is overwritten after its trade
            values[day] = sum(n * prices.at[day, t] for t, n in shares.items())
    return pd.Series(values).sort_index()


def test_equity_equals_buy_and_hold_of_selections_csv(prices, result, tmp_path):
    write_backtest(result, tmp_path, plots=False)
    selections = pd.read_csv(tmp_path / "selections.csv")
    equity = pd.read_csv(tmp_path / "equity.csv", index_col="date", parse_dates=True)
    assert list(selections.columns) == ["date", "ticker", "weight"]
    assert np.allclose(selections.groupby("date")["weight"].sum(), 1.0)
    assert (selections.groupby("date").size() == K).all()
    expected = independent_equity(prices, selections, equity.index[-1], costs_bps=25)
    np.testing.assert_allclose(equity["strategy"].to_numpy(), expected.to_numpy(), rtol=1e-10)
    assert equity.index.equals(pd.DatetimeIndex(expected.index))


def test_equal_weight_all_and_index_benchmark(prices, result):
    equity = result.equity
    assert "IDX" not in set(result.selections["ticker"])
    idx = prices["IDX"].loc[equity.index]
    np.testing.assert_allclose(equity["IDX"], (1 - 25e-4) * idx / idx.iloc[0], rtol=1e-12)
    stocks = prices.drop(columns="IDX")
    everything = pd.DataFrame(
        [
            {"date": d, "ticker": t, "weight": 1 / stocks.shape[1]}
            for d in result.selections["date"].unique()
            for t in stocks.columns
        ]
    )
    expected = independent_equity(stocks, everything, equity.index[-1], costs_bps=25)
    np.testing.assert_allclose(equity["equal_weight_all"], expected.to_numpy(), rtol=1e-10)


def test_costs_reduce_returns_by_exactly_the_charged_amount(prices, result):
    free = run_backtest(prices, SPEC, **SCHEDULE, costs_bps=0, benchmarks=["IDX"], workers=1)
    pd.testing.assert_frame_equal(free.selections, result.selections)
    rate = 25e-4
    growth_cost = result.equity["strategy"] / result.equity["strategy"].shift(1)
    growth_free = free.equity["strategy"] / free.equity["strategy"].shift(1)
    ratio = (growth_cost / growth_free).iloc[1:]
    reb = result.rebalances
    traded = pd.Series(reb["traded"].to_numpy(), index=pd.to_datetime(reb["date"]))
    expected = pd.Series(1.0, index=ratio.index)
    expected.loc[traded.index[1:]] = 1 - rate * traded.iloc[1:]
    np.testing.assert_allclose(ratio, expected, rtol=0, atol=1e-13)
    assert result.equity["strategy"].iloc[0] == pytest.approx(1 - rate)  # bought from cash
    assert traded.iloc[0] == pytest.approx(1.0)
    # costs paid = rate * wealth before trading * traded, and nothing else differs
    before = result.rebalances["wealth_after"] + result.rebalances["costs"]
    np.testing.assert_allclose(reb["costs"], rate * before * reb["traded"], rtol=1e-12)
    final_ratio = result.equity["strategy"].iloc[-1] / free.equity["strategy"].iloc[-1]
    assert final_ratio == pytest.approx(np.prod(1 - rate * traded.to_numpy()), rel=1e-12)
    assert free.metrics["strategy"]["total_costs"] == 0
    assert result.metrics["strategy"]["turnover"] == pytest.approx(traded.iloc[1:].mean() / 2)


def test_simulate_by_hand():
    prices = np.array([[10.0, 20.0], [11.0, 20.0], [12.0, 10.0], [12.0, 12.0]])
    sim = simulate(prices, [0, 2], 3, [np.array([0.5, 0.5]), np.array([0.0, 1.0])], 100.0)
    # row 0: pay 1% of 1 -> 0.99; row 2: 0.99 * (0.5 * 1.2 + 0.5 * 0.5) = 0.8415 before
    # trading from (12/17, 5/17) to (0, 1): traded 24/17, cost 1% of that
    before = 0.99 * 0.85
    after = before * (1 - 0.01 * 24 / 17)
    expected = [0.99, 0.99 * (0.5 * 1.1 + 0.5), after, after * 1.2]
    np.testing.assert_allclose(sim.wealth[:, 0], expected, rtol=1e-14)
    np.testing.assert_allclose(sim.traded[:, 0], [1.0, 24 / 17], rtol=1e-14)


# --------------------------------------------------------------------------- random subsets


def test_random_subsets_are_seeded_and_scored_like_skfolio(prices, result):
    again = run_backtest(
        prices,
        SPEC,
        **SCHEDULE,
        costs_bps=25,
        benchmarks=["IDX"],
        random_subsets=50,
        seed=1,
        workers=1,
    )
    pd.testing.assert_frame_equal(again.random, result.random)
    assert len(result.random) == 50
    band = result.equity[["random_p05", "random_p50", "random_p95"]]
    assert (band["random_p05"] <= band["random_p50"]).all()
    assert (band["random_p50"] <= band["random_p95"]).all()
    pct = result.random_summary["strategy_percentile"]
    expected = percentile_of(
        result.random["final_wealth"], result.metrics["strategy"]["final_wealth"]
    )
    assert pct["final_wealth"] == pytest.approx(expected) and 0 <= pct["sharpe"] <= 100
    # the vectorized measures of the random strategies equal skfolio's on the strategy's curve
    wealth = result.equity[["strategy"]].to_numpy()
    reb = result.rebalances
    sim = Simulation(wealth, reb[["traded"]].to_numpy(), reb[["costs"]].to_numpy())
    mine = random_measures(sim, result.equity.index).iloc[0]
    for name, value in result.metrics["strategy"].items():
        assert mine[name] == pytest.approx(value, rel=1e-9), name


def test_percentile_of():
    assert percentile_of(np.array([1.0, 2.0, 3.0, 4.0]), 3.0) == 62.5
    assert percentile_of(np.array([1.0, 2.0]), 0.0) == 0.0


def test_workers_do_not_change_results(prices, result):
    two = run_backtest(
        prices,
        SPEC,
        **SCHEDULE,
        costs_bps=25,
        benchmarks=["IDX"],
        random_subsets=50,
        seed=1,
        workers=2,
    )
    pd.testing.assert_frame_equal(two.selections, result.selections)
    pd.testing.assert_frame_equal(two.equity, result.equity)


def test_unknown_benchmark_and_small_universe(prices):
    with pytest.raises(InputError, match="SPX is not a price column"):
        run_backtest(prices, SPEC, **SCHEDULE, benchmarks=["SPX"], workers=1)
    spec = SelectorSpec(k=9, solver="exact")
    with pytest.raises(InputError, match="need more than k = 9"):
        run_backtest(prices, spec, **SCHEDULE, benchmarks=["IDX"], workers=1)


# --------------------------------------------------------------------------- the estimator


def test_estimator_clone_and_params_round_trip():
    from sklearn.base import clone

    from qubo_portfolio.estimator import QuboSelection

    model = QuboSelection(
        k=4, xi=0.2, windows={"length": 20, "step": 10}, solver="tabu", solver_params={"timeout": 5}
    )
    params = model.get_params()
    assert params["k"] == 4 and params["xi"] == 0.2 and params["solver_params"] == {"timeout": 5}
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    copy.set_params(xi=1.5, k=2)
    assert copy.xi == 1.5 and copy.k == 2 and model.xi == 0.2
    assert repr(QuboSelection(k=30, xi=0.2)) == "QuboSelection(k=30, xi=0.2)"


def test_estimator_selects_as_the_backtest_does(prices, result):
    from qubo_portfolio.estimator import QuboSelection

    returns = simple_returns(prices.drop(columns="IDX"))
    date = pd.Timestamp(result.selections["date"].iloc[-1])
    window = lookback_slice(returns, date, SCHEDULE["lookback"])
    model = QuboSelection(k=K, xi=0.5, windows={"length": 20, "step": 10}, solver="exact")
    model.fit(window)
    chosen = result.selections.loc[result.selections["date"] == date.date().isoformat(), "ticker"]
    assert model.selected_ == list(chosen)
    assert model.weights_.sum() == pytest.approx(1.0)
    assert np.count_nonzero(model.weights_) == K
    assert model.selected_ == select_assets(window, SPEC).tickers
    assert model.objective_ == pytest.approx(model.qubo_.objective(model.selected_))
    assert len(model.sampleset_) >= 1
    arrays = QuboSelection(k=K, xi=0.5, windows={"length": 20, "step": 10}, solver="exact")
    arrays.fit(window.to_numpy())
    assert arrays.selected_ == [f"x{list(window.columns).index(t)}" for t in model.selected_]


def test_cross_val_predict_and_grid_search():
    from skfolio.model_selection import WalkForward, cross_val_predict
    from sklearn.model_selection import GridSearchCV

    from qubo_portfolio.estimator import QuboSelection

    X = make_returns(n_rows=200, n_assets=8, seed=5)
    model = QuboSelection(k=3, xi=0.2, windows={"length": 20, "step": 10}, solver="exact")
    cv = WalkForward(train_size=60, test_size=20)
    predicted = cross_val_predict(model, X, cv=cv)
    assert len(predicted.portfolios) == 7
    for portfolio in predicted.portfolios:
        assert np.count_nonzero(portfolio.weights) == 3
    search = GridSearchCV(model, {"xi": [0.0, 1.0, 5.0]}, cv=cv).fit(X)
    assert search.best_params_["xi"] in (0.0, 1.0, 5.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_import_stays_light():
    code = (
        "import sys, qubo_portfolio, qubo_portfolio.workflows.backtest, qubo_portfolio.output.backtest; "
        "print(any(m.split('.')[0] in ('skfolio', 'sklearn', 'matplotlib') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr
    import qubo_portfolio
    from qubo_portfolio.estimator import QuboSelection

    assert qubo_portfolio.QuboSelection is QuboSelection  # loaded on first access


# --------------------------------------------------------------------------- the command


def write_case(tmp_path, prices, extra: str = "") -> object:
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    config = tmp_path / "bt.yaml"
    config.write_text(
        f"data:\n  source: csv\n  path: {path}\n"
        "model:\n  k: 3\n  xi: 0.5\n  windows: {length: 20, step: 10}\n"
        "solver:\n  name: exact\n  num_reads: 1\n"
        "backtest:\n  lookback: 60\n  rebalance: 20\n  costs_bps: 10\n  benchmarks: [IDX]\n"
        "  random_subsets: 20\n" + extra
    )
    return config


def test_cli_end_to_end(tmp_path, prices):
    config = write_case(tmp_path, prices)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(app, ["backtest", str(config), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    for name in ("equity.csv", "selections.csv", "rebalances.csv", "metrics.json", "equity.png"):
        assert (out / name).is_file(), name
    equity = pd.read_csv(out / "equity.csv", index_col="date")
    assert list(equity.columns[:3]) == ["strategy", "equal_weight_all", "IDX"]
    metrics = json.loads((out / "metrics.json").read_text())
    for curve in ("strategy", "equal_weight_all", "IDX"):
        assert set(metrics["metrics"][curve]) >= {
            "annualized_mean",
            "annualized_volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
            "turnover",
        }
    assert metrics["random_subsets"]["count"] == 20
    assert "percentile" in result.output and "strategy" in result.output
    again = runner.invoke(app, ["backtest", str(config), "--out", str(out), "--workers", "1"])
    assert again.exit_code == 2 and "already holds results" in again.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  benchmarks: [SPX]\n", "SPX is not a price column"),
        ("  lookback: 1000\n", "no rebalance date"),
        ("  rebalance: 0\n", "backtest.rebalance"),
        ("  rebalance_days: 5\n", "unknown key backtest.rebalance_days"),
        (
            "  rebalance: yearly\n",
            "backtest.rebalance: 'yearly' is not a rebalance schedule (use a whole number of "
            "rows/days, or weekly, monthly or quarterly)",
        ),
        (
            "  lookback: 10\n",
            "windows.length = 20 exceeds the 10 return rows available (lower windows.length, "
            "raise backtest.lookback, or widen data.start/end)",
        ),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, prices, extra, message):
    config = write_case(tmp_path, prices)
    text = config.read_text()
    key = extra.split(":")[0].strip()
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith(f"{key}:")]
    config.write_text("\n".join(lines) + "\n" + extra)
    result = CliRunner().invoke(app, ["backtest", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert not (tmp_path / "o").exists()


def test_long_short_is_refused_in_one_line(tmp_path, prices):
    from qubo_portfolio.workflows.backtest import selector_spec
    from qubo_portfolio.workflows.config import load_config

    config = write_case(tmp_path, prices)
    args = ["backtest", str(config), "--out", str(tmp_path / "o"), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--set", "model.positions=long_short"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "error: backtest supports model.positions: long_only only (long/short buy-and-hold is "
        "not implemented; set model.positions: long_only)\n"
    )
    assert not (tmp_path / "o").exists()
    cfg = load_config(config, ["model.positions=long_short"])
    with pytest.raises(InputError, match="backtest supports model.positions: long_only only"):
        selector_spec(cfg)


def test_penalty_free_solvers_print_no_penalty(result):
    from dataclasses import replace

    from qubo_portfolio.output.backtest import backtest_table

    assert result.settings["solver"] == "exact"
    assert "penalty -" in backtest_table(result) and "penalty scale" not in backtest_table(result)
    for name, shown in (("swap", "penalty -"), ("sa", "penalty scale 1"), ("tabu", "penalty 0.5")):
        settings = {**result.settings, "solver": name}
        if name == "tabu":
            settings["penalty"] = 0.5
        assert shown in backtest_table(replace(result, settings=settings)), name


def test_random_measures_count_a_fall_on_the_first_day():
    daily = np.array([-0.1, 0.05, 0.02, -0.01])
    wealth = np.concatenate([[1.0], np.cumprod(1 + daily)])[:, None]
    index = pd.bdate_range("2021-01-04", periods=len(wealth))
    sim = Simulation(wealth, np.zeros((1, 1)), np.zeros((1, 1)))
    mine = random_measures(sim, index).iloc[0]
    returns = pd.DataFrame({"S": daily}, index=index[1:])
    expected = portfolio_measures(returns, pd.Series({"S": 1.0}))
    assert mine["max_drawdown"] == pytest.approx(expected["max_drawdown"], rel=1e-12)
    assert mine["max_drawdown"] == pytest.approx(0.1)


def test_calendar_backtest_has_the_same_number_of_windows_at_every_date():
    """The windows are laid out from the lookback's first calendar day at every date."""
    from qubo_portfolio.workflows.backtest import backtest_config, selector_spec
    from qubo_portfolio.workflows.config import load_config

    cfg = load_config(
        REPO / "configs" / "backtest.yaml",
        [
            "backtest.unit=calendar_days",
            "backtest.lookback=180",
            "backtest.rebalance=30",
            "backtest.random_subsets=0",
            "model.windows.unit=calendar_days",
            "model.windows.length=30",
            "model.windows.step=15",
            "report.plots=false",
        ],
    )
    assert selector_spec(cfg).lookback == 180
    result = backtest_config(cfg, workers=1)
    assert len(result.rebalances) > 20
    assert set(result.rebalances["num_windows"]) == {(180 - 30) // 15 + 1}
