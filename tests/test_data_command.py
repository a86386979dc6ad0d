"""``qubo-portfolio data CONFIG``: what a command would use, without solving (item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from test_span import BACKTEST, price_table, write_config
from typer.testing import CliRunner

from qubo_portfolio.cli import app

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_data_on_the_sample_text_and_json():
    result = invoke("data", REPO_CONFIGS / "default.yaml")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "source    sample" in text
    assert "2021-12-28 to 2022-12-28: 253 price rows, 252 trading days" in text
    assert "20 kept" in text and "M = 10 windows of 63 trading days, step 21" in text
    assert "window  10  2022-09-29 to 2022-12-28  (63 rows)" in text
    assert "backtest" not in text

    result = invoke("data", REPO_CONFIGS / "default.yaml", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["run"]["num_windows"] == len(info["run"]["windows"]) == 10
    assert info["run"]["span"] == {"start": "2021-12-28", "end": "2022-12-28", "price_rows": 253}
    assert info["loaded"]["rows"] == 8313 and info["backtest"] is None
    assert len(info["run"]["assets"]) == 20 and info["run"]["dropped_assets"] == {}


def test_data_on_a_csv_with_gaps_moves_and_a_backtest(tmp_path):
    prices = price_table(gaps={"T01": [10, 11], "T05": [380], "T06": [390]})
    prices.loc[prices.index[395] :, "T03"] *= 3.0  # an unadjusted split
    config = write_config(tmp_path, prices, BACKTEST)
    result = invoke("data", config, "--set", "data.max_gap=0")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "layout    wide" in text and "separator ','" in text
    assert "numbers   decimal '.', thousands none" in text
    assert "dates     column 'date': %Y-%m-%d" in text
    assert "dropped   T05: 1 missing of 101 rows in the span used (" in text
    assert "dropped   T01" not in text  # its gap is years before the lookback
    assert "T03 " in text and "+200.0%" in text
    assert "backtest: lookback 60 trading days, rebalance every 40 trading days" in text
    assert "rebalance dates" in text

    result = invoke("data", config, "--json", "--set", "data.max_gap=1")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["run"]["dropped_assets"] == {}
    assert info["run"]["filled_cells"] == {"T05": 1, "T06": 1}
    assert info["run"]["large_moves"][0]["ticker"] == "T03"
    bt = info["backtest"]
    assert bt["rebalances"][0]["date"] >= "2021-10-01"
    assert all(r["lookback_rows"] == 60 for r in bt["rebalances"])
    # the backtest's span starts before its first lookback: T01's gap is still outside it
    assert "T01" in bt["assets"]
    assert bt["span"]["start"] < bt["rebalances"][0]["date"]
    assert info["input"]["layout"] == "wide"
    # nothing was written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "prices.csv"]


def test_data_refuses_like_a_run(tmp_path):
    prices = price_table()
    config = write_config(tmp_path, prices)
    for args, expected in [
        (["--set", "model.lookback=5000"], "model.lookback = 5000"),
        (["--set", "data.start=2031-01-01"], "no prices between"),
        (["--set", "model.windows.length=500"], "windows.length = 500"),
    ]:
        result = invoke("data", config, *args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
        run = invoke("run", config, "--out", tmp_path / "never", *args)
        assert run.exit_code == 2 and run.output.strip() == result.output.strip()
    result = invoke("data", tmp_path / "missing.yaml")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert np.isfinite(prices.to_numpy()).all()
