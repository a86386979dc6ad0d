"""Sweeps and backtests on a real Dask cluster (a scheduler and two worker processes on
127.0.0.1): the rows of local runs, a lost worker costs nothing, a lost scheduler or every
worker ends in one line and a rerun resumes; a killed local sweep leaves no worker behind."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.core.returns import WindowSpec
from qubo_portfolio.workflows.backtest import run_backtest
from qubo_portfolio.workflows.selector import SelectorSpec

from helpers import REPO, make_returns

pytestmark = pytest.mark.slow
runner = CliRunner()

# 30 assets, 20 reads of 2000 sweeps: ~0.04 s a run, 36 runs: time to kill something mid-sweep
CONFIG = {
    "data": {"source": "synthetic", "synthetic": {"assets": 30, "days": 160, "seed": 3}},
    "model": {"k": 6, "lookback": 150, "windows": {"length": 50, "step": 25}},
    "solver": {"name": "sa", "num_reads": 20, "params": {"num_sweeps": 2000}},
    "report": {"plots": False},
    "sweep": {
        "grid": {"model.xi": [0, 0.5, 2], "model.penalty.scale": [0.1, 0.3, 1.0]},
        "seeds": [0, 1, 2, 3],
    },
}
RUNS = 36
KEYS = ["model.xi", "model.penalty.scale", "seed"]


# --- a cluster of real processes ---------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env() -> dict[str, str]:
    """This process's environment, with this worktree first on the path of every child."""
    paths = [str(REPO), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "MPLBACKEND": "Agg"}


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes (no nanny: a SIGKILL is a loss)."""

    def __init__(self, workers: int = 2) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start(
            "distributed.cli.dask_scheduler",
            ["--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        )
        self.workers = [
            self._start(
                "distributed.cli.dask_worker",
                [self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
                + ["--no-nanny", "--death-timeout", "20"],
            )
            for _ in range(workers)
        ]

    @staticmethod
    def _start(module: str, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait(self, workers: int, timeout: float = 60) -> None:
        from dask.distributed import Client

        with Client(self.address, timeout=f"{timeout}s") as client:
            client.wait_for_workers(workers, timeout=timeout)

    def stop(self) -> None:
        processes = [*self.workers, self.scheduler]
        for proc in processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def dask_cluster(workers: int = 2) -> Iterator[Cluster]:
    cluster = Cluster(workers)
    try:
        cluster.wait(workers)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with dask_cluster() as running:
        yield running


# --- helpers -------------------------------------------------------------------------------
def write_config(folder: Path, raw: dict) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def lines_without_timing(path: Path) -> list[str]:
    """results.csv's lines as written, solve_seconds cut out, sorted (rows come in
    completion order)."""
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    drop = rows[0].index("solve_seconds")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row[:drop] + row[drop + 1 :])
    header, *body = out.getvalue().splitlines()
    return [header, *sorted(body)]


def keys(path: Path) -> list[tuple[str, ...]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(frame[KEYS].itertuples(index=False, name=None))


def sweep_process(config: Path, out: Path, *options: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "qubo_portfolio.cli", "sweep", str(config)]
    return subprocess.Popen(
        [*command, "--out", str(out), *options],
        env=child_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_rows(proc: subprocess.Popen, results: Path, rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_bytes().count(b"\n") > rows:  # header + rows
            return
        time.sleep(0.01)
    raise AssertionError(f"the sweep ended or stalled before writing {rows} rows")


def finish(proc: subprocess.Popen, timeout: float = 90) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the sweep did not end within {timeout} s:\n{err}") from None
    return proc.returncode, err


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory) -> list[str]:
    """CONFIG swept locally, in this process."""
    folder = tmp_path_factory.mktemp("local")
    config = write_config(folder, CONFIG)
    result = runner.invoke(
        app, ["sweep", str(config), "--out", str(folder / "out"), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    return lines_without_timing(folder / "out" / "results.csv")


# --- same results as local -----------------------------------------------------------------
def test_sweep_on_a_cluster_writes_the_local_rows(cluster, local_rows, tmp_path):
    config = write_config(tmp_path, CONFIG)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["sweep", str(config), "--out", str(out), "--executor", "dask"]
        + ["--scheduler", cluster.address],
    )
    assert result.exit_code == 0, result.output
    assert f"on dask at {cluster.address}" in result.stderr
    assert lines_without_timing(out / "results.csv") == local_rows


def test_backtest_on_a_cluster_makes_the_local_decisions(cluster):
    returns = make_returns(n_rows=200, n_assets=9, seed=3)
    prices = 50 * (1 + returns).cumprod()
    spec = SelectorSpec(k=3, xi=0.5, windows=WindowSpec(length=20, step=10), solver="sa")
    options = {"lookback": 60, "rebalance": 20, "costs_bps": 10, "random_subsets": 20}
    local = run_backtest(prices, spec, **options, workers=1)
    remote = run_backtest(prices, spec, **options, executor="dask", scheduler=cluster.address)
    assert len(local.selections) >= 6
    pd.testing.assert_frame_equal(remote.selections, local.selections)
    pd.testing.assert_frame_equal(remote.equity, local.equity)
    timing = [c for c in local.rebalances.columns if "seconds" in c]
    pd.testing.assert_frame_equal(
        remote.rebalances.drop(columns=timing), local.rebalances.drop(columns=timing)
    )
    assert remote.metrics == local.metrics


# --- losing parts of the cluster -----------------------------------------------------------
def test_a_worker_killed_mid_sweep_costs_no_row(local_rows, tmp_path):
    config = write_config(tmp_path, CONFIG)
    out = tmp_path / "out"
    with dask_cluster() as cluster:
        proc = sweep_process(config, out, "--executor", "dask", "--scheduler", cluster.address)
        try:
            wait_for_rows(proc, out / "results.csv", 4)
            cluster.workers[0].send_signal(signal.SIGKILL)
            code, err = finish(proc)
        finally:
            proc.kill()
            proc.wait()
        assert cluster.workers[1].poll() is None
    assert code == 0, err
    assert len(keys(out / "results.csv")) == RUNS  # no row lost or written twice
    assert lines_without_timing(out / "results.csv") == local_rows


@pytest.mark.parametrize("lose", ["scheduler", "every worker"])
def test_a_lost_cluster_ends_in_one_line_and_a_rerun_resumes(lose, local_rows, tmp_path):
    config = write_config(tmp_path, CONFIG)
    out = tmp_path / "out"
    with dask_cluster() as cluster:
        proc = sweep_process(config, out, "--executor", "dask", "--scheduler", cluster.address)
        try:
            wait_for_rows(proc, out / "results.csv", 4)
            for victim in [cluster.scheduler] if lose == "scheduler" else cluster.workers:
                victim.send_signal(signal.SIGKILL)
            code, err = finish(proc, timeout=90)  # ends by itself: no hang (not a speed test)
        finally:
            proc.kill()
            proc.wait()
    lines = err.strip().splitlines()
    assert code == 2, err
    expected = "the Dask scheduler" if lose == "scheduler" else "every Dask worker"
    assert f"error: lost {expected}" in lines[-1]
    assert cluster.address in lines[-1]
    assert "rerun to resume" in lines[-1]
    assert "Traceback" not in err
    assert all(line.startswith(("sweep ", "data: ")) for line in lines[:-1]), err
    written = len(keys(out / "results.csv"))
    assert 4 <= written < RUNS
    assert not (out / ".sweep.lock").exists()

    result = runner.invoke(app, ["sweep", str(config), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"{written} already in" in result.stderr
    assert lines_without_timing(out / "results.csv") == local_rows


# --- local workers die with their parent ---------------------------------------------------
def test_local_workers_exit_soon_after_their_sweep_is_killed(tmp_path):
    config = write_config(tmp_path, CONFIG)
    out = tmp_path / "out"
    proc = sweep_process(config, out, "--workers", "2")
    try:
        wait_for_rows(proc, out / "results.csv", 2)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        proc.send_signal(signal.SIGKILL)  # the parent only, as `kill -9 PID` does
        proc.wait(10)
        gone, alive = psutil.wait_procs(children, timeout=5)
    finally:
        proc.kill()
        proc.wait()
    for child in alive:
        child.kill()
    assert not alive, alive
