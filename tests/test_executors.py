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
