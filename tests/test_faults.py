"""Faults end in one line (item 5): OS errors while reading or writing, numeric overflow,
and the temporary folder a killed run leaves behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_span import price_table, write_config
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.output.files import remove_stale_staging, staged_output

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def cli(*args, timeout=300):
    """The real command in a subprocess (real stderr: warnings would show there)."""
    return subprocess.run(
        [sys.executable, "-m", "qubo_portfolio.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and "Warning" not in stderr
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, price_table(rows=150))


@pytest.fixture
def mount_tmpfs(tmp_path):
    """Mount a small tmpfs (root only) and unmount it after the test."""
    mounted = []

    def mount(name: str, options: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root")
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


# --------------------------------------------------------------------------- numeric overflow


def test_a_price_that_overflows_the_covariance_is_named(tmp_path):
    prices = price_table(rows=150)
    prices.loc[prices.index[120], "T04"] = 1e300
    config = write_config(tmp_path, prices)
    for command in ("run", "data"):
        done = cli(command, config, *(["--out", tmp_path / "o"] if command == "run" else []))
        assert done.returncode == 2, done.stderr
        line = one_error_line(done.stderr)
        date = prices.index[120].strftime("%Y-%m-%d")
        assert f"the one-day return of T04 on {date}" in line and "overflow" in line
    assert not (tmp_path / "o").exists()


def test_an_unexpected_error_is_one_line_exit_1(tmp_path, config, monkeypatch):
    import qubo_portfolio.workflows.run as run

    def broken(cfg):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(run, "run_experiment", broken)
    result = invoke("run", config, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("internal error: ZeroDivisionError: division by zero")
    assert "--debug" in result.stderr
    result = invoke("run", config, "--out", tmp_path / "o", "--debug")
    assert isinstance(result.exception, ZeroDivisionError)


# --------------------------------------------------------------------------- OS errors


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, config, mount_tmpfs):
    disk = mount_tmpfs("disk", "size=8k")
    result = invoke("run", config, "--out", disk / "result")
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert result.stderr.count("\n") == 1 and line.startswith("error: cannot write ")
    assert str(disk / "result") in line and "No space left" in line
    assert list(disk.iterdir()) == []  # nothing half-written


def test_read_only_folder_is_one_line(tmp_path, config, mount_tmpfs):
    if os.geteuid() == 0:
        folder = mount_tmpfs("ro", "ro,size=64k")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    for out in (folder / "result", folder / "deeper" / "result"):
        result = invoke("run", config, "--out", out)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1, result.stderr
        assert str(out) in result.stderr and str(folder) in result.stderr
        assert "read-only" in result.stderr or "permission" in result.stderr
    assert list(folder.iterdir()) == []


def test_a_parent_that_cannot_be_created(tmp_path, config):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    too_long = tmp_path / ("x" * 300) / "result"
    for out, cause in [(blocker / "sub" / "result", "is a file"), (too_long, "too long")]:
        result = invoke("run", config, "--out", out)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert cause in result.stderr, result.stderr


def test_staged_output_turns_os_errors_into_one_line_naming_the_file(tmp_path):
    from qubo_portfolio.errors import InputError

    out = tmp_path / "result"
    with pytest.raises(InputError, match=r"cannot write .*result/x/summary.json: No such file"):
        with staged_output(out) as folder:
            (folder / "x" / "summary.json").write_text("{}")
    assert not out.exists() and leftovers(tmp_path) == []


def test_unreadable_price_file_is_one_line(tmp_path, config):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    prices = tmp_path / "prices.csv"
    prices.chmod(0)
    result = invoke("run", config, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "cannot read price file" in result.stderr and "Permission denied" in result.stderr


# --------------------------------------------------------------------------- a killed run


SLOW_WRITER = """
import sys, time
import qubo_portfolio.output.run as writer

original = writer.write_run

def slow(result, folder, plots=True):
    original(result, folder, plots=plots)
    print("written", flush=True)
    time.sleep(600)

writer.write_run = slow
from qubo_portfolio.cli import main
sys.argv = ["qubo-portfolio", *sys.argv[1:]]
main()
"""


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(tmp_path, config):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_WRITER)
    parent = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, str(script), "run", str(config), "--out", str(parent / "a")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout.readline().strip() == "written", proc.stderr.read()
        staged = leftovers(parent)
        assert len(staged) == 1 and staged[0].startswith(f".a.tmp-{proc.pid}-")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert leftovers(parent) == staged  # the kill left it behind
    assert not (parent / "a").exists()

    # a live process's folder is kept, a dead one's is removed
    alive = parent / f".b.tmp-{os.getpid()}-keep"
    alive.mkdir()
    result = invoke("run", config, "--out", parent / "c")
    assert result.exit_code == 0, result.output
    assert leftovers(parent) == [alive.name]
    assert sorted(p.name for p in parent.iterdir() if not p.name.startswith(".")) == ["c"]

    # an old folder is removed even when its pid is alive (the pid may have been reused)
    past = time.time() - 7 * 3600
    os.utime(alive, (past, past))
    other = parent / f".d.old-{os.getpid()}"
    other.mkdir()
    removed = remove_stale_staging(parent)
    assert removed == [alive] and not alive.exists() and other.exists()


def test_a_reader_that_goes_away_does_not_fail_the_run(tmp_path, config):
    """`qubo-portfolio run ... | head -1`: every print hits a closed pipe (we close our end
    before it prints anything); the run still writes its folder and exits 0, silently."""
    out = tmp_path / "piped"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qubo_portfolio.cli", "run", str(config), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "error" not in err and "Traceback" not in err
    assert (out / "summary.json").is_file() and (out / "report.html").is_file()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_where_nothing_can_be_created_is_one_line(config):
    """/proc exists but takes no new folders (even for root): the message says so."""
    result = invoke("run", config, "--out", "/proc/qubo-portfolio-test")
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith("error: cannot create a folder in /proc (the system says: ")
    assert line.endswith("; choose another --out)")
