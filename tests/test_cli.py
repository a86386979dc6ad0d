"""The command line, end to end: outputs, exit codes, nothing overwritten."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio.cli import app

from helpers import REPO

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """`qubo-portfolio run configs/default.yaml` in a real subprocess."""
    out = tmp_path_factory.mktemp("run") / "default"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qubo_portfolio.cli",
            "run",
            str(REPO / "configs" / "default.yaml"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_writes_the_contract(default_run):
    out, proc = default_run
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "tickers",
        "k",
        "xi",
        "penalty",
        "solver",
        "num_reads",
        "energy",
        "objective",
        "feasible",
        "feasible_fraction",
        "timings",
        "metrics",
        "benchmark",
        "weights",
        "data",
        "windows",
    ):
        assert key in summary, key
    measures = {"annualized_mean", "annualized_volatility", "sharpe", "sortino", "max_drawdown"}
    assert set(summary["metrics"]) >= measures
    assert set(summary["benchmark"]["metrics"]) >= measures
    assert len(summary["tickers"]) == summary["k"] == 5
    assert summary["feasible"] is True
    assert summary["windows"]["num_windows"] == 10
    selection = pd.read_csv(out / "selection.csv")
    assert selection["ticker"].tolist() == summary["tickers"]
    assert selection["weight"].sum() == pytest.approx(1.0)
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == summary["num_reads"] == 100
    assert set(samples.columns) >= {"energy", "objective", "feasible", "num_selected", "tickers"}
    assert samples.loc[samples["feasible"], "objective"].min() == pytest.approx(
        summary["objective"]
    )
    assert (out / "cumulative_returns.png").stat().st_size > 10_000
    assert "annualized_volatility" in proc.stdout and summary["tickers"][0] in proc.stdout


def test_existing_results_are_refused_then_kept(default_run):
    out, _ = default_run
    before = (out / "summary.json").read_bytes()
    result = invoke("run", REPO / "configs" / "default.yaml", "--out", out)
    assert result.exit_code == 2
    assert "already holds results" in result.stderr and "--force" in result.stderr
    # a failing forced run leaves the old results intact
    result = invoke(
        "run", REPO / "configs" / "default.yaml", "--out", out, "--force", "--set", "model.k=99"
    )
    assert result.exit_code == 2
    assert (out / "summary.json").read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["default"]


def test_force_replaces(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "old.txt").write_text("old")
    result = invoke(
        "run",
        REPO / "configs" / "default.yaml",
        "--out",
        out,
        "--force",
        "--set",
        "solver.name=exact",
        "--set",
        "solver.num_reads=3",
        "--set",
        "report.plots=false",
    )
    assert result.exit_code == 0, result.stderr
    assert not (out / "old.txt").exists()
    assert json.loads((out / "summary.json").read_text())["solver"] == "exact"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.k=0"], "model.k = 0 is out of range"),
        (["model.k=20"], "choose 1 <= k < 20"),
        (["model.windows.length=-5"], "windows.length"),
        (["model.windows.length=400"], "windows.length = 400 exceeds the 252 return rows"),
        (["model.foo=1"], "unknown key model.foo"),
        (["solver.name=gurobi"], "unknown solver 'gurobi'"),
        (["data.source=csv", "data.path=missing.csv"], "not found"),
        (["data.tickers=[AAPL, NOPE]"], "NOPE"),
        (["data.start=2030-01-01"], "2030"),
        (
            ["solver.name=exact-bqm", "model.penalty.scale=0", "solver.num_reads=1"],
            "no feasible sample",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, overrides, message):
    args = ["run", REPO / "configs" / "default.yaml", "--out", tmp_path / "o"]
    for o in overrides:
        args += ["--set", o]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_bad_csv_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,AAA,BBB\n2020-01-02,1.0,2.0\n2020-01-03,-1.0,2.0\n2020-01-06,1.0,2.0\n")
    result = invoke(
        "run",
        REPO / "configs" / "default.yaml",
        "--out",
        tmp_path / "o",
        "--set",
        "data.source=csv",
        "--set",
        f"data.path={bad}",
        "--set",
        "model.k=1",
    )
    assert result.exit_code == 2
    assert "non-positive" in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = invoke(
        "run",
        REPO / "configs" / "default.yaml",
        "--out",
        tmp_path / "o",
        "--set",
        "model.k=0",
        "--debug",
    )
    assert result.exit_code != 0 and result.exit_code != 2
    assert result.exception is not None


def test_missing_config_file(tmp_path):
    result = invoke("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "config file not found" in result.stderr


def test_solvers_lists_parameters():
    result = invoke("solvers")
    assert result.exit_code == 0
    for name in ("sa", "tabu", "exact", "exact-bqm", "num_sweeps", "timeout"):
        assert name in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "qubo-portfolio"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "run" in proc.stdout


def test_default_out_dirs_do_not_collide(tmp_path):
    from qubo_portfolio.output.files import default_out_dir

    first = default_out_dir("configs/x.yaml", root=tmp_path)
    first.mkdir()
    (first / "summary.json").write_text("{}")
    second = default_out_dir("configs/x.yaml", root=tmp_path)
    assert second != first and not second.exists()
    assert second.name.startswith("x-")
