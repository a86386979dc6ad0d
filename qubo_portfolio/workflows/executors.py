"""Run independent tasks on local processes (joblib/loky) or a Dask cluster.

:func:`run_tasks` yields ``(index, result)`` as each task finishes, in completion order, so
callers can write every result the moment it exists (sweeps append rows, backtests collect
rebalance dates). ``fn(task, shared)`` must be a module-level function; ``shared`` (matrices,
not price tables) is sent to each worker once.

Executors:

- ``local``: ``workers`` processes through joblib's loky backend (``workers=1`` runs in
  this process, in order: handy for debugging). Without ``workers`` the first two tasks run
  in this process; when the second one's time times the tasks left is under
  ``SERIAL_BELOW_SECONDS`` the rest follow them here too, else they go to all cores. Starting
  worker processes costs about 1.5 s (imports in each), so small jobs ran slower on all
  cores: the sample backtest (36 dates) took 3.6 s with 2 workers against 2.7 s serially;
- ``dask``: ``dask.distributed`` on the cluster at ``scheduler``, or on a ``LocalCluster``
  of ``workers`` single-threaded worker processes when no scheduler is given.

Results never depend on the executor: every task carries its own seed.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import InputError

EXECUTORS = ("local", "dask")
# without --workers, estimated serial work below this many seconds stays in this process:
# worker start-up is ~1.5 s, so 2 cores only win beyond ~2 x 1.5 s of work
SERIAL_BELOW_SECONDS = 3.0


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def check_options(executor: str, workers: int | None, scheduler: str | None) -> None:
    """Raise :class:`InputError` on bad executor options (callers may check before any work).

    Bad: an executor other than ``local``/``dask``, ``workers < 1``, a ``scheduler`` without
    the dask executor.
    """
    if executor not in EXECUTORS:
        raise InputError(f"--executor {executor!r} is unknown (use local or dask)")
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers} must be >= 1")
    if scheduler is not None and executor != "dask":
        raise InputError("--scheduler needs --executor dask")
    if scheduler is not None and not re.fullmatch(r"(\w+://)?\S+:\d+", scheduler):
        raise InputError(
            f"--scheduler {scheduler!r} is not an address (use HOST:PORT or tcp://HOST:PORT)"
        )


def run_tasks(
    fn: Callable[[Any, Any], Any],
    tasks: Sequence[Any],
    *,
    shared: Any = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(tasks[i], shared))`` for every task as it completes."""
    check_options(executor, workers, scheduler)
    if not tasks:
        return iter(())
    if executor == "dask":
        return _run_dask(fn, tasks, shared, workers, scheduler)
    if workers is None:
        return _run_auto(fn, tasks, shared)
    return _run_local(fn, tasks, shared, workers)


def _run_auto(fn, tasks, shared) -> Iterator[tuple[int, Any]]:
    """Serial while the work left looks small (see ``SERIAL_BELOW_SECONDS``), else all cores."""
    for i in range(min(2, len(tasks))):
        start = time.perf_counter()
        yield i, fn(tasks[i], shared)
        seconds = time.perf_counter() - start  # the second task: warm (imports, compilation)
    rest = tasks[2:]
    if not rest:
        return
    if default_workers() == 1 or seconds * len(rest) < SERIAL_BELOW_SECONDS:
        for i, task in enumerate(rest, start=2):
            yield i, fn(task, shared)
        return
    for i, result in _run_local(fn, rest, shared, default_workers()):
        yield i + 2, result


def _indexed(fn: Callable, i: int, task: Any, shared: Any) -> tuple[int, Any]:
    return i, fn(task, shared)


_SHARED: dict[str, Any] = {}  # in a loky worker: the shared object of the current run


def _indexed_shared_file(fn: Callable, i: int, task: Any, path: str) -> tuple[int, Any]:
    if path not in _SHARED:
        from joblib import load

        _SHARED.clear()
        _SHARED[path] = load(path)
    return i, fn(task, _SHARED[path])


def _run_local(fn, tasks, shared, workers) -> Iterator[tuple[int, Any]]:
    if workers == 1:
        for i, task in enumerate(tasks):
            yield i, fn(task, shared)
        return
    import tempfile

    from joblib import Parallel, delayed, dump

    # shared goes to a file each worker reads once (not pickled with every task), and
    # batch_size=1 hands back every result the moment its task ends
    with tempfile.TemporaryDirectory(prefix="qubo-portfolio-shared-") as folder:
        path = os.path.join(folder, "shared.pkl")
        dump(shared, path)
        parallel = Parallel(
            n_jobs=workers, backend="loky", return_as="generator_unordered", batch_size=1
        )
        yield from parallel(
            delayed(_indexed_shared_file)(fn, i, task, path) for i, task in enumerate(tasks)
        )


def _run_dask(fn, tasks, shared, workers, scheduler) -> Iterator[tuple[int, Any]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a declared dependency extra
        raise InputError(
            "the dask executor needs dask[distributed] (pip install 'qubo-portfolio[dask]')"
        ) from exc
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} (check --scheduler)"
            ) from exc
    try:
        # a list keeps a dict whole (dask scatters the values of a bare dict one by one)
        shared_future = client.scatter([shared], broadcast=True)[0] if shared is not None else None
        futures = [
            client.submit(_indexed, fn, i, task, shared_future, pure=False)
            for i, task in enumerate(tasks)
        ]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
