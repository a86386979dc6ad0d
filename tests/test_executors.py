import numpy as np
import pytest

from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.executors import run_tasks


def scaled_sum(task, shared):
    return task * float(shared["a"].sum())


SHARED = {"a": np.arange(12.0).reshape(3, 4)}
EXPECTED = {i: t * 66.0 for i, t in enumerate([3, 1, 4, 1, 5])}


@pytest.mark.parametrize(("executor", "workers"), [("local", 1), ("local", 2), ("dask", 2)])
def test_every_executor_returns_every_result_once(executor, workers):
    got = list(
        run_tasks(scaled_sum, [3, 1, 4, 1, 5], shared=SHARED, executor=executor, workers=workers)
    )
    assert sorted(i for i, _ in got) == list(range(5))
    assert dict(got) == EXPECTED


def test_bad_executor_options():
    with pytest.raises(InputError, match="unknown"):
        list(run_tasks(scaled_sum, [1], executor="spark"))
    with pytest.raises(InputError, match="needs --executor dask"):
        list(run_tasks(scaled_sum, [1], scheduler="tcp://x:1"))
    with pytest.raises(InputError, match="must be >= 1"):
        list(run_tasks(scaled_sum, [1], workers=0))


class FakeClient:
    """What _check_workers asks of a dask Client, answering with ``versions`` or raising."""

    def __init__(self, versions=None, error=None):
        self.versions, self.error = versions, error

    def wait_for_workers(self, n, timeout):
        pass

    def run(self, fn):
        if self.error is not None:
            raise self.error
        return self.versions


def test_workers_without_the_package_or_with_another_version_are_refused():
    from qubo_portfolio._version import __version__
    from qubo_portfolio.workflows.executors import _check_workers

    _check_workers(FakeClient({"tcp://a:1": __version__}), "tcp://s:1")
    with pytest.raises(InputError, match="cannot import qubo_portfolio"):
        _check_workers(FakeClient(error=ModuleNotFoundError("qubo_portfolio")), "tcp://s:1")
    with pytest.raises(InputError, match="run qubo_portfolio 0.0.1, this is"):
        _check_workers(FakeClient({"tcp://a:1": "0.0.1"}), "tcp://s:1")


class StaleClient:
    """A client whose connection looks open and whose cached scheduler info still lists
    workers, while the scheduler itself no longer answers (``reachable=False``)."""

    status = "running"

    def __init__(self, reachable: bool, workers: dict):
        self.reachable, self.workers = reachable, workers
        self.scheduler = self

    def scheduler_info(self):  # the cache a dead scheduler leaves behind
        return {"workers": {"tcp://127.0.0.1:1": {}}}

    def identity(self, n_workers):
        raise AssertionError("only called through sync")

    def sync(self, fn, *args, callback_timeout=None, **kwargs):
        assert fn == self.identity
        if not self.reachable:
            raise OSError("connection refused")
        return {"workers": self.workers}


@pytest.mark.parametrize(
    ("reachable", "workers", "expected"),
    [
        (False, {}, "lost the Dask scheduler"),
        (True, {}, "lost every Dask worker"),
        (True, {"tcp://127.0.0.1:1": {}}, "dropped a task"),
    ],
)
def test_a_closed_connection_is_explained_from_the_scheduler_asked_now(
    reachable, workers, expected
):
    from distributed.comm.core import CommClosedError

    from qubo_portfolio.workflows.executors import ExecutorLost, _explain

    with pytest.raises(ExecutorLost, match=expected):
        _explain(CommClosedError("in <TCP ...>"), StaleClient(reachable, workers), "tcp://x:1")
