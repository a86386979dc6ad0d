"""Without --workers, small jobs stay in this process and bigger ones go to all cores."""

from __future__ import annotations

import os
import time

import pytest

from qubo_portfolio.workflows import executors
from qubo_portfolio.workflows.executors import run_tasks


def pid_of(task, shared):
    if shared:
        time.sleep(shared)
    return task, os.getpid()


def test_small_jobs_run_serially_in_this_process():
    got = list(run_tasks(pid_of, list(range(20)), shared=0.0))
    assert [i for i, _ in got] == list(range(20))  # in order: serial
    assert {pid for _, (_, pid) in got} == {os.getpid()}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores")
def test_bigger_jobs_go_to_worker_processes(monkeypatch):
    monkeypatch.setattr(executors, "SERIAL_BELOW_SECONDS", 0.05)
    got = list(run_tasks(pid_of, list(range(8)), shared=0.02))
    assert sorted(i for i, _ in got) == list(range(8))
    assert all(task == i for i, (task, _) in got)
    pids = [pid for i, (_, pid) in got if i >= 2]
    assert os.getpid() not in pids  # the first two ran here, the rest on workers


def test_explicit_workers_are_obeyed():
    got = list(run_tasks(pid_of, list(range(4)), shared=0.0, workers=1))
    assert [i for i, _ in got] == list(range(4))
