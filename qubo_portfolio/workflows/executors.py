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

import asyncio
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._version import __version__
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


class ExecutorLost(InputError):
    """The cluster went away under a run (scheduler, or every worker): one line, exit 2.

    Results already yielded stay valid; callers that write as they go (sweeps) can say that
    a rerun resumes.
    """


# --- local: loky processes -------------------------------------------------------------------
_SHARED: dict[str, Any] = {}  # in a loky worker: the shared object of the current run
PARENT_POLL_SECONDS = 0.5


def _indexed_shared_file(fn: Callable, i: int, task: Any, path: str) -> tuple[int, Any]:
    if path not in _SHARED:
        from joblib import load

        _SHARED.clear()
        _SHARED[path] = load(path)
    return i, fn(task, _SHARED[path])


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: end this process soon after ``parent`` dies.

    loky keeps idle workers for minutes and a killed parent (``kill -9``) never shuts them
    down: a daemon thread polls the parent pid (a reparented process has a new one) and
    exits. A worker inside a long call that holds the GIL exits when the call returns.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="qubo-portfolio-parent-watch", daemon=True).start()


def _run_local(fn, tasks, shared, workers) -> Iterator[tuple[int, Any]]:
    if workers == 1:
        for i, task in enumerate(tasks):
            yield i, fn(task, shared)
        return
    import tempfile

    from joblib import Parallel, delayed, dump
    from joblib._parallel_backends import LokyBackend

    # shared goes to a file each worker reads once (not pickled with every task), and
    # batch_size=1 hands back every result the moment its task ends
    with tempfile.TemporaryDirectory(prefix="qubo-portfolio-shared-") as folder:
        path = os.path.join(folder, "shared.pkl")
        dump(shared, path)
        backend = LokyBackend(initializer=_exit_with_parent, initargs=(os.getpid(),))
        parallel = Parallel(
            n_jobs=workers, backend=backend, return_as="generator_unordered", batch_size=1
        )
        yield from parallel(
            delayed(_indexed_shared_file)(fn, i, task, path) for i, task in enumerate(tasks)
        )


# --- dask ------------------------------------------------------------------------------------
RETRIES = 2
"""Retries of a task that raised (a transient error on a worker); a task whose worker died is
recomputed elsewhere by the scheduler anyway (up to ``distributed.scheduler.allowed-failures``)."""
NO_WORKER_SECONDS = 60.0
SCHEDULER_SILENT_SECONDS = 15.0
"""A scheduler that answers no question for this long is lost (one slow answer is not)."""
"""How long a run waits with no worker at all (at the start or after losing them) before
giving up."""
POLL_SECONDS = 0.02


def _indexed(fn: Callable, i: int, task: Any, shared: Any) -> tuple[int, Any]:
    return i, fn(task, shared)


def _worker_version() -> str:

    return __version__


def _run_dask(fn, tasks, shared, workers, scheduler) -> Iterator[tuple[int, Any]]:
    """Submit every task (``retries``), the shared object scattered to every worker once, and
    yield results as they complete, each index once.

    A worker lost mid-run: the scheduler reruns its tasks elsewhere (the scattered object
    lives on every worker). The scheduler lost, or every worker: :class:`ExecutorLost`.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a declared dependency extra
        raise InputError(
            "the dask executor needs dask[distributed] (pip install 'qubo-portfolio[dask]')"
        ) from exc
    cluster = None
    where = scheduler
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
        where = f"a LocalCluster ({cluster.scheduler_address})"
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} (check --scheduler)"
            ) from exc
    import logging

    # the client's "couldn't gather, rescheduling" warnings of a lost worker are handled here
    client_log = logging.getLogger("distributed.client")
    level = client_log.level
    client_log.setLevel(logging.ERROR)
    lost = False
    try:
        _check_workers(client, where)
        # a list keeps a dict whole (dask scatters the values of a bare dict one by one)
        shared_future = (
            client.scatter([shared], broadcast=True, hash=False)[0] if shared is not None else None
        )
        yield from _collect(client, fn, tasks, shared_future, where)
    except ExecutorLost:
        lost = True
        raise
    finally:
        _close(client, cluster, quiet=lost)
        client_log.setLevel(level)


def _check_workers(client, where: str) -> None:
    """Wait for a first worker, and check that the workers run this version of the package."""
    try:
        client.wait_for_workers(1, timeout=NO_WORKER_SECONDS)
    except (TimeoutError, OSError) as exc:
        raise ExecutorLost(
            f"the Dask scheduler at {where} has no workers after {NO_WORKER_SECONDS:g} s "
            f"(start some: dask worker {where})"
        ) from exc

    try:
        versions = client.run(_worker_version)
    except ImportError as exc:
        raise InputError(
            f"the Dask workers of {where} cannot import qubo_portfolio ({exc}): install this "
            "package and its dependencies on every worker"
        ) from None
    other = {v for v in versions.values() if v != __version__}
    if other:
        raise InputError(
            f"the Dask workers of {where} run qubo_portfolio {', '.join(sorted(other))}, this "
            f"is {__version__}: install the same version everywhere"
        )


def _collect(client, fn, tasks, shared_future, where) -> Iterator[tuple[int, Any]]:
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:12]
    name = getattr(fn, "__name__", "task")
    futures = [
        client.submit(
            _indexed,
            fn,
            i,
            task,
            shared_future,
            key=f"{name}-{token}-{i}",
            retries=RETRIES,
        )
        for i, task in enumerate(tasks)
    ]
    pending = as_completed(futures)
    del futures  # as_completed holds each future until it is yielded
    seen: set[int] = set()
    no_worker_since: float | None = None
    silent_since: float | None = None
    checked = time.monotonic()
    while not pending.is_empty():
        if not pending.has_ready():
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            if now - checked >= 1.0:  # the cluster is alive and has workers
                checked = now
                _check_alive(client, where)
                identity = _ask_scheduler(client)
                if identity is None:
                    silent_since = now if silent_since is None else silent_since
                    if now - silent_since > SCHEDULER_SILENT_SECONDS:
                        raise ExecutorLost(
                            f"lost the Dask scheduler at {where}: no answer for "
                            f"{SCHEDULER_SILENT_SECONDS:g} s"
                        )
                    continue
                silent_since = None
                if identity.get("workers"):
                    no_worker_since = None
                elif no_worker_since is None:
                    no_worker_since = now
                elif now - no_worker_since > NO_WORKER_SECONDS:
                    raise ExecutorLost(
                        f"lost every Dask worker of {where}: none for {NO_WORKER_SECONDS:g} s"
                    )
            continue
        for future in pending.next_batch(block=False):
            try:
                i, result = future.result()
            except Exception as exc:
                _explain(exc, client, where)
                raise
            finally:
                future.release()
            if i not in seen:  # as_completed yields each future once; never a row twice
                seen.add(i)
                yield i, result


def _check_alive(client, where: str, cause: BaseException | None = None) -> None:
    if client.status not in ("running", "connecting"):
        detail = f": {cause}" if cause else ""
        raise ExecutorLost(f"lost the Dask scheduler at {where}{detail}") from cause


def _ask_scheduler(client) -> dict | None:
    """The scheduler's identity (with its workers) asked now, or None when it does not answer.

    ``client.scheduler_info()`` is not enough: when the scheduler is gone it swallows the
    connection error and returns its last cached answer, workers included.
    """
    try:
        return client.sync(client.scheduler.identity, n_workers=-1, callback_timeout=5)
    except (OSError, TimeoutError, asyncio.TimeoutError):  # distinct types before Python 3.11
        return None


def _explain(exc: BaseException, client, where: str) -> None:
    """Raise :class:`ExecutorLost` when ``exc`` comes from the cluster, not from a task."""
    from concurrent.futures import CancelledError

    from dask.distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        raise ExecutorLost(
            f"a task kept killing the Dask workers of {where} ({exc}); out of memory?"
        ) from exc
    if isinstance(exc, CancelledError | OSError) or "Comm" in type(exc).__name__:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        identity = None
        if client.status == "running" and "scheduler" not in str(reason):
            identity = _ask_scheduler(client)
        if identity is None:
            raise ExecutorLost(f"lost the Dask scheduler at {where} ({reason})") from exc
        if not identity.get("workers"):
            raise ExecutorLost(f"lost every Dask worker of {where} ({reason})") from exc
        raise ExecutorLost(f"the Dask cluster at {where} dropped a task ({reason})") from exc


def _close(client, cluster, quiet: bool) -> None:
    """Close the client (and a LocalCluster); after a loss, briefly and without the client's
    reconnection tracebacks on stderr."""
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.client")]
    levels = [log.level for log in loggers]
    if quiet:
        for log in loggers:
            log.setLevel(logging.CRITICAL + 1)
    try:
        if quiet:
            client.close(timeout=2)
        else:
            client.close()
        if cluster is not None:
            cluster.close()
    except Exception:
        if not quiet:
            raise
    finally:
        if quiet:
            for log, level in zip(loggers, levels, strict=True):
                log.setLevel(level)
