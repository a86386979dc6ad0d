"""Global options (--version, --quiet, --verbose), help texts, "did you mean", and default
result folders that stay unique when two commands start in the same second."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qubo_portfolio import __version__
from qubo_portfolio.cli import app
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.config import validate_config

from helpers import REPO

runner = CliRunner()
FAST = ["--set", "solver.num_reads=5", "--set", "report.plots=false"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"qubo-portfolio {__version__}"


def test_top_level_help_shows_whole_first_lines_at_80_columns():
    proc = subprocess.run(
        [sys.executable, "-m", "qubo_portfolio.cli", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 0
    text = proc.stdout
    assert "..." not in text.split("Commands:")[1]
    assert max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    assert (
        "Run one experiment: build the QUBO, solve it, write summary.json, CSVs and plots." in flat
    )
    assert "Walk-forward backtest out of sample: select at each rebalance date, buy and hold." in (
        flat
    )
    for option in ("--version", "--quiet", "--verbose"):
        assert option in text


@pytest.mark.parametrize("command", ["run", "backtest", "frontier", "sweep", "export"])
def test_usage_shows_config_without_braces(command):
    result = invoke(command, "--help")
    usage = result.stdout.splitlines()[0]
    assert usage.endswith(" CONFIG") and "{" not in usage, usage


def test_unknown_command_suggests_the_closest():
    result = invoke("backtst", "x.yaml")
    assert result.exit_code == 2 and "Did you mean 'backtest'?" in result.output


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ({"model": {"windws": {}}}, "did you mean model.windows?"),
        ({"modle": {"k": 3}}, "did you mean model?"),
        ({"model": {"windows": {"lenght": 5}}}, "did you mean model.windows.length?"),
        ({"frontier": {"targets": {"retrun": 0.1}}}, "did you mean frontier.targets.return?"),
        ({"solver": {"num_read": 3}}, "did you mean solver.num_reads?"),
    ],
)
def test_unknown_config_key_suggests_the_closest(raw, hint):
    with pytest.raises(InputError) as info:
        validate_config(raw, "c.yaml")
    message = str(info.value)
    assert hint in message and "\n" not in message


def test_unknown_config_key_without_a_close_match_has_no_hint(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  k: 3\n  zzzzzz: 1\n")
    result = invoke("run", config)
    assert result.exit_code == 2
    assert "unknown key model.zzzzzz (remove it" in result.output
    assert "did you mean" not in result.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_only_the_final_line(where, tmp_path):
    out = tmp_path / "q"
    args = ["run", REPO / "configs" / "default.yaml", "--out", out, *FAST]
    result = invoke(*(["-q", *args] if where == "before" else [*args, "--quiet"]))
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"wrote {out}/ (summary.json, selection.csv, samples.csv, config.yaml, "
        "environment.json, report.html)"
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_prints_timings(where, tmp_path):
    out = tmp_path / "v"
    args = ["run", REPO / "configs" / "default.yaml", "--out", out, *FAST]
    result = invoke(*(["--verbose", *args] if where == "before" else [*args, "-v"]))
    assert result.exit_code == 0, result.output
    assert "timings: compute" in result.output and "solve" in result.output
    assert "in-sample measures" in result.output


def test_quiet_and_verbose_exclude_each_other():
    assert invoke("--quiet", "--verbose", "solvers").exit_code == 2
    assert invoke("--quiet", "solvers", "--verbose").exit_code == 2


def test_a_global_flag_after_a_double_dash_is_left_to_the_command():
    result = invoke("solvers", "--", "--quiet")
    assert result.exit_code == 2 and "--quiet" in result.output


def _reserve(args):
    from qubo_portfolio.output.files import default_out_dir

    root, barrier = args
    barrier.wait()
    return str(default_out_dir("configs/same.yaml", root=root, create=True))


def test_default_folders_differ_when_processes_start_together(tmp_path):
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with context.Pool(4) as pool:
            folders = pool.map(_reserve, [(str(tmp_path), barrier)] * 4)
    assert len(set(folders)) == 4
    assert all(os.path.isdir(f) and not os.listdir(f) for f in folders)


def test_two_runs_started_together_write_two_folders(tmp_path):
    command = [
        sys.executable,
        "-m",
        "qubo_portfolio.cli",
        "--quiet",
        "run",
        str(REPO / "configs" / "default.yaml"),
        *FAST,
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    procs = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    folders = sorted((tmp_path / "results").iterdir())
    assert len(folders) == 2, outputs
    assert all((f / "summary.json").is_file() for f in folders)


def test_a_failed_run_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  source: csv\n  path: missing.csv\n")
    result = invoke("run", config)
    assert result.exit_code == 2
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
