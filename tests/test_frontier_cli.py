"""`qubo-portfolio frontier`, end to end: files, consistent figures, bad targets, staggered data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio.classical import frontier
from qubo_portfolio.cli import app
from qubo_portfolio.core.returns import simple_returns

from helpers import REPO

CONFIG = REPO / "configs" / "frontier.yaml"
CLASSIC = ("min_volatility", "max_sharpe", "max_sortino", "efficient_return", "equal_weight_all")
FIGURES = ("annualized_return", "annualized_volatility", "sharpe", "sortino")
TOL = 1e-6

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["frontier", *[str(a) for a in args]])


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("frontier") / "sample"
    result = invoke(CONFIG, "--out", out, "--set", "frontier.random_portfolios=400")
    assert result.exit_code == 0, result.stderr
    return out, result, json.loads((out / "portfolios.json").read_text())


def test_writes_every_file_and_prints_the_table(sample_run):
    out, result, _ = sample_run
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml",
        "environment.json",
        "frontier.csv",
        "frontier.png",
        "portfolios.json",
        "random_portfolios.csv",
        "report.html",
    ]
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in (*CLASSIC, "efficient_risk 0.22", "qubo xi=0 ", "qubo xi=5 "):
        assert row in result.stdout
    assert "best of 400 random portfolios" in result.stdout


def test_portfolios_json_is_consistent(sample_run):
    out, _, doc = sample_run
    mu = pd.Series(doc["estimates"]["expected_returns"])
    cloud = pd.read_csv(out / "random_portfolios.csv")
    assert len(cloud) == doc["random_portfolios"] == 400
    for key in (*CLASSIC, "efficient_risk"):
        p = doc[key]
        assert set(p) >= {"weights", *FIGURES}, key
        w = pd.Series(p["weights"])
        assert w.sum() == pytest.approx(1.0) and (w >= 0).all(), key
        assert p["annualized_return"] == pytest.approx(float(w @ mu[w.index]), abs=1e-12)
        assert p["sharpe"] == pytest.approx(p["annualized_return"] / p["annualized_volatility"])
    minvol, sharpe = doc["min_volatility"], doc["max_sharpe"]
    # exact optima beat every random portfolio, every QUBO point and 1/N
    others = [*doc["qubo"], doc["equal_weight_all"], doc["efficient_risk"]]
    assert minvol["annualized_volatility"] <= cloud["annualized_volatility"].min()
    assert all(minvol["annualized_volatility"] <= q["annualized_volatility"] for q in others)
    assert sharpe["sharpe"] >= cloud["sharpe"].max()
    assert all(sharpe["sharpe"] >= q["sharpe"] - TOL for q in others)
    assert doc["max_sortino"]["sortino"] >= cloud["sortino"].max()
    # targets honoured
    targets = doc["config"]["frontier"]["targets"]
    assert doc["efficient_risk"]["annualized_volatility"] <= targets["risk"] + TOL
    assert doc["efficient_return"]["annualized_return"] >= targets["return"] - TOL
    # random best and its gap to the exact optimum
    best = doc["random_best"]
    assert best["min_volatility"]["annualized_volatility"] == cloud["annualized_volatility"].min()
    assert best["min_volatility"]["gap"] == pytest.approx(
        cloud["annualized_volatility"].min() - minvol["annualized_volatility"]
    )
    assert best["max_sharpe"]["gap"] == pytest.approx(sharpe["sharpe"] - cloud["sharpe"].max())
    assert all(best[name]["gap"] >= 0 for name in best)
    # the exact frontier: increasing return and volatility, every point on or left of the cloud
    table = pd.read_csv(out / "frontier.csv")
    assert len(table) == doc["frontier_points"] == 50
    assert np.all(np.diff(table["annualized_return"]) > 0)
    assert np.all(np.diff(table["annualized_volatility"]) > -TOL)
    assert table["annualized_volatility"].iloc[0] == pytest.approx(
        minvol["annualized_volatility"], abs=TOL
    )


def test_qubo_points_are_equal_weight_on_the_same_axes(sample_run):
    _, _, doc = sample_run
    k = doc["qubo_model"]["k"]
    mu = pd.Series(doc["estimates"]["expected_returns"])
    assert [q["xi"] for q in doc["qubo"]] == doc["config"]["frontier"]["xi_values"]
    for q in doc["qubo"]:
        w = pd.Series(q["weights"])
        held = w[w > 0]
        assert sorted(held.index) == sorted(q["tickers"]) and len(held) == k
        assert np.allclose(held, 1.0 / k)
        assert q["annualized_return"] == pytest.approx(float(w @ mu[w.index]), abs=1e-12)
        assert set(q) >= {*FIGURES, "objective", "feasible_fraction"}
    # a larger xi favours return
    returns = [q["annualized_return"] for q in doc["qubo"]]
    assert returns == sorted(returns)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("frontier.targets.risk=0.05", "feasible: >= 0.19"),
        ("frontier.targets.return=5", "feasible: <= 0.84"),
    ],
)
def test_infeasible_targets_exit_2_with_the_range(tmp_path, override, expected):
    out = tmp_path / "out"
    result = invoke(CONFIG, "--out", out, "--set", "frontier.points=5", "--set", override)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stderr.startswith("error: frontier.targets.")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unknown_frontier_key_is_a_config_error(tmp_path):
    result = invoke(CONFIG, "--out", tmp_path / "out", "--set", "frontier.target.risk=0.2")
    assert result.exit_code == 2
    assert "unknown key frontier.target" in result.stderr


def _staggered_csv(tmp_path, blanks):
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset().iloc[-400:].copy()
    for ticker, rows in blanks.items():
        prices.iloc[:rows, prices.columns.get_loc(ticker)] = np.nan
    prices.index.name = "date"
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    return path, prices


def _config(tmp_path, csv, extra=""):
    path = tmp_path / "staggered.yaml"
    path.write_text(
        f"data:\n  source: csv\n  path: {csv}\n  missing: keep\n  max_gap: 0\n"
        "model:\n  k: 4\n  windows: {length: 63, step: 21}\n"
        "solver: {name: exact}\n"
        "frontier:\n  random_portfolios: 200\n  points: 8\n  xi_values: [0.0, 1.0]\n" + extra
    )
    return path


def test_staggered_listings_use_pairwise_covariance(tmp_path):
    from test_frontier import _figures, _ref_max_sharpe, _ref_min_vol

    blanks = {"AAPL": 100, "MSFT": 250}
    csv, prices = _staggered_csv(tmp_path, blanks)
    out = tmp_path / "out"
    result = invoke(_config(tmp_path, csv), "--out", out)
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "portfolios.json").read_text())
    assert doc["qubo_model"]["assets_excluded"] == sorted(blanks)
    assert all(not set(q["tickers"]) & set(blanks) for q in doc["qubo"])
    assert doc["in_sample"]["complete_rows"] == len(prices) - 1 - max(blanks.values())
    assert doc["estimates"]["observations"]["AAPL"] == len(prices) - 1 - blanks["AAPL"]
    # the exact optimizers agree with SLSQP on the pairwise estimates
    returns = simple_returns(prices)
    mu = frontier.expected_returns(returns)
    cov = frontier.sample_covariance(returns)
    m, c = mu.to_numpy(), cov.loc[mu.index, mu.index].to_numpy()
    for key, ref in (("min_volatility", _ref_min_vol(m, c)), ("max_sharpe", _ref_max_sharpe(m, c))):
        got = [doc[key][f] for f in ("annualized_return", "annualized_volatility", "sharpe")]
        np.testing.assert_allclose(got, _figures(ref, m, c), rtol=0, atol=TOL)


def test_covariance_without_overlap_names_the_assets(tmp_path):
    csv = tmp_path / "prices.csv"
    rows = ["date,A,B,C,D,E,F"]
    for day in range(1, 13):
        a = f"{10 + day % 3}" if day <= 6 else ""
        b = f"{20 + day % 4}" if day > 6 else ""
        rows.append(
            f"2021-02-{day:02d},{a},{b},{30 + day % 5},{40 + day % 2},{50 + day},{60 - day}"
        )
    csv.write_text("\n".join(rows) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data:\n  source: csv\n  path: {csv}\n  missing: keep\n  max_gap: 0\nmodel:\n  k: 2\n"
    )
    out = tmp_path / "out"
    result = invoke(config, "--out", out)
    assert result.exit_code == 2
    assert "covariance of A and B" in result.stderr
    assert not out.exists()


def test_existing_results_are_not_overwritten(sample_run):
    out, _, _ = sample_run
    before = (out / "portfolios.json").read_bytes()
    result = invoke(CONFIG, "--out", out)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert (out / "portfolios.json").read_bytes() == before


def test_k_too_large_names_the_number_of_assets(tmp_path):
    """All assets have data: the fix is a smaller k, not other data."""
    out = tmp_path / "out"
    result = invoke(CONFIG, "--out", out, "--set", "model.k=25")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: model.k = 25 is out of range: choose 1 <= k < 20 (the number of assets)\n"
    )
    assert not out.exists()


def test_k_too_large_for_the_complete_assets_names_the_missing_data(tmp_path):
    csv, _ = _staggered_csv(tmp_path, {"AAPL": 100, "MSFT": 250})
    config = _config(tmp_path, csv)
    result = invoke(config, "--out", tmp_path / "out", "--set", "model.k=18")
    assert result.exit_code == 2
    assert "only 18 of 20 assets have data on every in-sample row" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
