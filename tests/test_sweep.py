"""Sweeps: grid checks, results.csv rows, resume after SIGKILL, executors agree, reuse."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import qubo_portfolio.core.model
from qubo_portfolio.cli import app
from qubo_portfolio.core.model import WindowMoments
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows import sweep
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.sweep import run as sweep_run

from helpers import REPO

runner = CliRunner()

BASE = {
    "data": {"source": "synthetic", "synthetic": {"assets": 12, "days": 160, "seed": 3}},
    "model": {"k": 4, "lookback": 150, "windows": {"length": 50, "step": 25}},
    "solver": {"name": "sa", "num_reads": 10, "params": {"num_sweeps": 200}},
    "report": {"plots": False},
    "sweep": {
        "grid": {"model.xi": [0.0, 1.0], "model.penalty.scale": [0.02, 0.3]},
        "seeds": [0, 1],
    },
}
# long enough (72 runs of a few ms each) to be killed half-way
SLOW = {
    **BASE,
    "solver": {"name": "sa", "num_reads": 20, "params": {"num_sweeps": 5000}},
    "sweep": {
        "grid": {"model.xi": [0, 0.5, 1, 2, 4, 8], "model.penalty.scale": [0.03, 0.1, 0.3, 1.0]},
        "seeds": [0, 1, 2],
    },
}
KEYS = ["model.xi", "model.penalty.scale", "seed"]


def write_config(folder: Path, raw: dict, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def invoke(*args):
    return runner.invoke(app, ["sweep", *(str(a) for a in args)])


def rows(out: Path) -> pd.DataFrame:
    """results.csv as text cells, sorted by run (solve_seconds dropped)."""
    frame = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
    frame = frame.drop(columns="solve_seconds")
    return frame.sort_values(KEYS).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep of SLOW, in this process, one worker."""
    folder = tmp_path_factory.mktemp("reference")
    config = write_config(folder, SLOW)
    result = invoke(config, "--out", folder / "out", "--workers", 1)
    assert result.exit_code == 0, result.output
    return config, folder / "out"


def test_results_csv_has_one_row_per_run_and_the_contract_columns(reference):
    _, out = reference
    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns) == [
        "model.xi",
        "model.penalty.scale",
        "seed",
        "penalty",
        "feasible_fraction",
        "objective",
        "energy",
        "tickers",
        "annualized_mean",
        "annualized_volatility",
        "sharpe",
        "sortino",
        "solve_seconds",
    ]
    assert len(frame) == 72
    assert not frame.duplicated(KEYS).any()
    feasible = frame[frame["objective"].notna()]
    assert len(feasible) > 0
    assert (feasible["tickers"].str.split(";").str.len() == 4).all()
    # every feasible best read: energy == objective (the penalty vanishes), lambda recorded
    assert (feasible["energy"] - feasible["objective"]).abs().max() < 1e-12
    assert (frame["penalty"] > 0).all()
    state = json.loads((out / "sweep.json").read_text())
    assert state["runs"] == 72 and len(state["hash"]) == 64


def test_a_row_equals_run_on_that_grid_point(reference, tmp_path):
    """The sweep's row for (xi, scale, seed) is what `run` gives for that config and seed."""
    _, out = reference
    raw = json.loads(json.dumps(SLOW))
    raw.pop("sweep")
    raw["model"].update(xi=1, penalty={"scale": 0.3})
    raw["solver"]["seed"] = 1
    config = write_config(tmp_path, raw, "one.yaml")
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    frame = pd.read_csv(out / "results.csv")
    row = frame[(frame["model.xi"] == 1) & (frame["model.penalty.scale"] == 0.3)]
    row = row[row["seed"] == 1].iloc[0]
    assert row["objective"] == summary["objective"]
    assert row["penalty"] == summary["penalty"]
    assert row["feasible_fraction"] == summary["feasible_fraction"]
    assert row["tickers"].split(";") == summary["tickers"]
    for name in ("annualized_mean", "annualized_volatility", "sharpe", "sortino"):
        assert row[name] == summary["metrics"][name]


def test_a_long_short_row_equals_run_on_that_grid_point(tmp_path):
    """model.positions: long_short is swept as such: legs, signed weights, gamma, as `run`."""
    raw = {
        **BASE,
        "model": {
            **BASE["model"],
            "positions": "long_short",
            "penalty": {"scale": 0.3, "exclusion_scale": 0.5},
        },
        "sweep": {"grid": {"model.xi": [0.0, 2.0]}, "seeds": [0, 1]},
    }
    config = write_config(tmp_path, raw)
    result = invoke(config, "--out", tmp_path / "out", "--workers", 1)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "out" / "results.csv")
    legs = frame["tickers"].str.split(";")
    assert legs.map(lambda x: all(v.startswith(("long:", "short:")) for v in x)).all()
    for xi, seed in ((0.0, 1), (2.0, 0)):
        one = json.loads(json.dumps(raw))
        one.pop("sweep")
        one["model"]["xi"] = xi
        one["solver"]["seed"] = seed
        path = write_config(tmp_path, one, f"one-{xi}-{seed}.yaml")
        ran = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / f"run-{xi}-{seed}")])
        assert ran.exit_code == 0, ran.output
        summary = json.loads((tmp_path / f"run-{xi}-{seed}" / "summary.json").read_text())
        assert summary["positions"] == "long_short"
        row = frame[(frame["model.xi"] == xi) & (frame["seed"] == seed)].iloc[0]
        assert row["tickers"].split(";") == summary["legs"]
        for name in ("objective", "energy", "penalty", "feasible_fraction"):
            assert row[name] == summary[name], name
        for name in ("annualized_mean", "annualized_volatility", "sharpe", "sortino"):
            assert row[name] == summary["metrics"][name], name
    # some row holds a short leg, so the signed weights matter
    assert legs.map(lambda x: any(v.startswith("short:") for v in x)).any()


def test_sigkill_then_resume_gives_the_uninterrupted_rows(reference, tmp_path):
    config, reference_out = reference
    out = tmp_path / "out"
    results = out / "results.csv"
    command = [sys.executable, "-m", "qubo_portfolio.cli", "sweep", str(config)]
    command += ["--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "MPLBACKEND": "Agg"},
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 4:  # header + 3
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    pd.read_csv(results)  # parses as it was left
    complete = results.read_bytes().count(b"\n") - 1
    assert 3 <= complete < 72
    result = invoke(config, "--out", out, "--workers", 2)
    assert result.exit_code == 0, result.output
    assert f"{complete} already in" in result.stderr
    resumed = rows(out)
    assert not resumed.duplicated(KEYS).any()
    pd.testing.assert_frame_equal(resumed, rows(reference_out))


def test_results_csv_survives_an_interruption_at_any_byte(reference, tmp_path):
    """Cut results.csv at every byte: it parses, resume keeps exactly the complete rows."""
    config, reference_out = reference
    plan = sweep.plan_sweep(validate_config(yaml.safe_load(config.read_text())))
    data = (reference_out / "results.csv").read_bytes()
    complete = data.split(b"\n")[1:-1]
    path = tmp_path / "results.csv"
    head, tail = data.index(b"\n", 400), data.rindex(b"\n", 0, len(data) - 400)
    cuts = [*range(0, head), *range(head, tail, 7), *range(tail, len(data) + 1)]
    for cut in cuts:  # every byte of the first and last rows, every 7th in between
        path.write_bytes(data[:cut])
        kept = sweep.read_rows(path, plan.columns, repair=True)
        assert len(kept) == max(data[:cut].count(b"\n") - 1, 0)
        assert [",".join(r).encode() for r in kept] == complete[: len(kept)]
        assert path.read_bytes().endswith(b"\n")  # ready for the next append
        assert len(pd.read_csv(path)) == len(kept)


def test_resume_after_a_partial_last_line(reference, tmp_path):
    config, reference_out = reference
    out = tmp_path / "out"
    out.mkdir()
    data = (reference_out / "results.csv").read_bytes()
    lines = data.split(b"\n")
    partial = b"\n".join(lines[:11]) + b"\n" + lines[11][:17]  # 10 rows + half of one
    (out / "results.csv").write_bytes(partial)
    (out / "sweep.json").write_bytes((reference_out / "sweep.json").read_bytes())
    result = invoke(config, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "10 already in" in result.stderr
    pd.testing.assert_frame_equal(rows(out), rows(reference_out))
    again = invoke(config, "--out", out, "--workers", 1)  # complete: nothing to run
    assert again.exit_code == 0 and "0 to run" in again.stderr
    assert len(pd.read_csv(out / "results.csv")) == 72


def test_local_and_dask_give_identical_rows(tmp_path):
    config = write_config(tmp_path, BASE)
    outs = {}
    for executor in ("local", "dask"):
        outs[executor] = tmp_path / executor
        result = invoke(config, "--out", outs[executor], "--executor", executor, "--workers", 2)
        assert result.exit_code == 0, result.output
    local, dask = rows(outs["local"]), rows(outs["dask"])
    assert len(local) == 8
    pd.testing.assert_frame_equal(local, dask)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("model.xii", "unknown key model.xii"),
        ("solver.seed", "solver.seed cannot be swept"),
        ("report.plots", "report.plots cannot be swept"),
        ("model.windows", "model.windows is a section"),
        ("model.k.x", "unknown key model.k.x"),
        ("bogus", "unknown key bogus"),
    ],
)
def test_a_bad_grid_key_exits_2_naming_it(tmp_path, key, message):
    raw = {**BASE, "sweep": {"grid": {key: [1, 2]}, "seeds": [0]}}
    result = invoke(write_config(tmp_path, raw), "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"model.xi": ["high"]}, "sweep point model.xi=high: model.xi"),
        ({"model.k": [4, 12]}, "sweep point model.k=12: model.k = 12 is out of range"),
        ({"solver.params.nope": [1]}, "solver.params.nope is not a parameter of solver sa"),
        ({"solver.name": ["sa", "nope"]}, "sweep point solver.name=nope: solver.name: unknown"),
        ({"model.xi": []}, "model.xi has no values"),
    ],
)
def test_a_bad_grid_value_exits_2_naming_the_key(tmp_path, grid, message):
    raw = {**BASE, "sweep": {"grid": grid, "seeds": [0]}}
    result = invoke(write_config(tmp_path, raw), "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_different_config_in_a_used_folder_is_refused(tmp_path):
    config = write_config(tmp_path, BASE)
    out = tmp_path / "out"
    assert invoke(config, "--out", out, "--workers", 1).exit_code == 0
    before = (out / "results.csv").read_bytes()
    result = invoke(config, "--out", out, "--set", "model.k=3")
    assert result.exit_code == 2
    assert "holds a sweep of a different config (model.k is 4 there, 3 now)" in result.stderr
    assert (out / "results.csv").read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = invoke(config, "--out", other)
    assert result.exit_code == 2 and "not a sweep" in result.stderr
    # the same config with another executor and report.plots resumes (nothing to run)
    result = invoke(config, "--out", out, "--executor", "dask", "--set", "report.plots=true")
    assert result.exit_code == 0, result.output
    assert "0 to run" in result.stderr


def test_moments_once_per_data_set_and_window_scheme(tmp_path, monkeypatch):
    calls = []
    original = qubo_portfolio.core.model.window_moments

    def counting(returns, windows):
        calls.append((returns.shape, len(windows)))
        return original(returns, windows)

    monkeypatch.setattr(qubo_portfolio.core.model, "window_moments", counting)
    shipped = []
    real_run_tasks = sweep_run.run_tasks

    def spy(fn, tasks, *, shared, **options):
        shipped.append((tasks, shared))
        return real_run_tasks(fn, tasks, shared=shared, **options)

    monkeypatch.setattr(sweep_run, "run_tasks", spy)
    grid = {
        "model.xi": [0.0, 1.0],
        "model.k": [3, 4],
        "model.return_term": ["linear", "squared"],
        "model.windows.length": [40, 50],
        "data.synthetic.seed": [3, 4],
    }
    raw = {**BASE, "sweep": {"grid": grid, "seeds": [0, 1]}}
    plan = sweep.plan_sweep(validate_config(raw))
    result = sweep.run_sweep(plan, tmp_path / "out", workers=1, progress=False)
    assert len(result.frame) == 64
    assert len(calls) == 4  # 2 data sets x 2 window lengths
    assert len(result.schemes) == 4
    ((tasks, shared),) = shipped
    assert len(tasks) == 64
    assert isinstance(shared, tuple) and all(isinstance(m, WindowMoments) for m in shared)
    assert all(not isinstance(v, pd.DataFrame) for t in tasks for v in vars(t).values())


def test_an_infeasible_point_writes_a_row_with_empty_figures(tmp_path):
    raw = {
        **BASE,
        "solver": {"name": "sa", "num_reads": 3, "params": {"num_sweeps": 50}},
        "sweep": {"grid": {"model.penalty.value": [0.0]}, "seeds": [0]},
    }
    raw["model"] = {**BASE["model"], "xi": 10.0}  # no penalty, big xi: pick every winner
    plan = sweep.plan_sweep(validate_config(raw))
    result = sweep.run_sweep(plan, tmp_path / "out", workers=1, progress=False)
    row = result.frame.iloc[0]
    assert row["feasible_fraction"] == 0.0
    assert pd.isna(row["objective"]) and row["tickers"] == "" and pd.isna(row["sharpe"])
    assert row["penalty"] == 0.0


def test_plots_and_summary(tmp_path):
    raw = {**BASE, "report": {"plots": True}}
    config = write_config(tmp_path, raw)
    result = invoke(config, "--out", tmp_path / "out", "--workers", 1)
    assert result.exit_code == 0, result.output
    for name in ("sweep_penalty.png", "sweep_heatmap.png", "sweep_frontier.png"):
        assert (tmp_path / "out" / name).stat().st_size > 10_000
    assert "best selection per model.xi" in result.stdout
    assert "1/N of all 12" in result.stdout
    # no penalty key in the grid: only the frontier
    raw = {**raw, "sweep": {"grid": {"model.xi": [0.0, 2.0]}, "seeds": [0]}}
    result = invoke(write_config(tmp_path, raw, "xi.yaml"), "--out", tmp_path / "xi")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "xi").glob("*.png"))
    assert written == ["sweep_frontier.png"]


def test_plan_order_and_cells():
    raw = {**BASE, "sweep": {"grid": {"model.xi": [0, 0.5], "solver.name": ["sa", "tabu"]}}}
    raw["solver"] = {"num_reads": 5}
    plan = sweep.plan_sweep(validate_config(raw))
    assert [p.cells for p in plan.points] == [
        ("0", "sa"),
        ("0", "tabu"),
        ("0.5", "sa"),
        ("0.5", "tabu"),
    ]
    assert plan.seeds == (0,)
    assert plan.points[3].config.solver.name == "tabu"
    assert plan.points[3].config.model.xi == 0.5
    assert sweep.cell(1e-05) == "1e-05" and sweep.cell([0.1, 10]) == "[0.1, 10]"
    with pytest.raises(InputError, match="no sweep section"):
        sweep.plan_sweep(validate_config({"model": {"k": 2}}))
