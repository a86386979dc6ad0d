"""Parameter sweeps: a grid of config values times solver seeds, resumable, on any executor.

A sweep is the ``sweep`` section of a config::

    sweep:
      grid: {model.xi: [0, 0.5, 1], model.penalty.scale: [0.01, 0.1, 1]}
      seeds: [0, 1, 2]

Every combination of the grid values (the Cartesian product, in the order given) is solved
once per seed (the solver seed). :func:`plan_sweep` checks every key and builds the config
of every grid point; :func:`run_sweep` runs the missing (point, seed) pairs through
:func:`qubo_portfolio.workflows.executors.run_tasks` and appends one row per pair to ``results.csv``
the moment it finishes.

The output folder:

- ``sweep.json``: the normalized config the folder belongs to, its hash and a fingerprint of
  the data, written atomically before the first run. Rerunning the same config resumes; a
  different config (or changed data) is refused.
- ``results.csv``: the columns of :func:`result_columns`. Rows are written whole (one
  ``write``, then ``flush`` and ``os.fsync``) and never rewritten; a line without its
  newline (a run killed while writing) is cut off on resume, so after a SIGKILL only the
  runs in flight are lost.
- ``.sweep.lock``: held while a sweep writes, so two sweeps cannot append to one folder.

Work is shared, not repeated: the prices of each distinct ``data`` section are loaded once,
and the xi-free window moments (:class:`~qubo_portfolio.core.model.WindowMoments`) once per data
set and window scheme (``data.*``, ``model.lookback``, ``model.windows.*``), in this process.
Tasks receive only those moments (K x K matrices, sent to each worker once) and rebuild
``PortfolioQubo(moments, k, xi, return_term, positions)``; the in-sample measures of each
selection are computed here, from the returns this process already holds, so workers never
see prices. Long/short points (``model.positions: long_short``) report the selected legs
(``long:<t>``, ``short:<t>``) in ``tickers`` and measure the signed weights ``+-1/K'``, as
``run`` does.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ..._version import __version__
from ...core.model import PortfolioQubo, WindowMoments
from ...errors import InputError
from ..config import Config, ModelConfig, SolverConfig, set_dotted, validate_config
from ..executors import check_options, default_workers, run_tasks

RESULTS_FILE = "results.csv"
STATE_FILE = "sweep.json"
LOCK_FILE = ".sweep.lock"
XI_KEY = "model.xi"
PENALTY_KEYS = ("model.penalty.value", "model.penalty.scale")  # the x axis, in preference
MEASURE_COLUMNS = ("annualized_mean", "annualized_volatility", "sharpe", "sortino")
RESULT_COLUMNS = (
    "seed",
    "penalty",
    "feasible_fraction",
    "objective",
    "energy",
    "tickers",
    *MEASURE_COLUMNS,
    "solve_seconds",
)
SWEEPABLE_SECTIONS = ("data", "model", "solver")


# --- the grid --------------------------------------------------------------------------
def check_grid_key(key: str) -> None:
    """Raise :class:`InputError` unless ``key`` is a config key a sweep may vary.

    Sweepable: every leaf key of the ``data``, ``model`` and ``solver`` sections (for
    example ``model.xi``, ``model.penalty.scale``, ``model.windows.length``,
    ``solver.num_reads``) and ``solver.params.<name>``; not ``solver.seed`` (the seeds are
    ``sweep.seeds``), not whole sections, not ``report``/``frontier``/``sweep``.
    """
    parts = key.split(".")
    if parts[0] not in Config.model_fields or "" in parts:
        raise InputError(f"sweep.grid: unknown key {key} (see the configuration table)")
    if parts[0] not in SWEEPABLE_SECTIONS:
        raise InputError(
            f"sweep.grid: {key} cannot be swept (only data.*, model.* and solver.* keys can)"
        )
    if key == "solver.seed":
        raise InputError("sweep.grid: solver.seed cannot be swept (list the seeds in sweep.seeds)")
    model: type[BaseModel] = Config
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[: depth + 1])
        fields = model.model_fields
        if part not in fields:
            raise InputError(f"sweep.grid: unknown key {key} ({prefix} is not a config key)")
        annotation = fields[part].annotation
        last = depth == len(parts) - 1
        if typing.get_origin(annotation) is dict:  # solver.params: free-form, one level
            if len(parts) != depth + 2:
                raise InputError(
                    f"sweep.grid: {key} is not sweepable (sweep single entries of "
                    f"{prefix}, e.g. {prefix}.num_sweeps)"
                )
            return
        sub = _section_model(annotation)
        if sub is None:
            if not last:
                raise InputError(f"sweep.grid: unknown key {key} ({prefix} has no sub-keys)")
            return
        if last:
            raise InputError(
                f"sweep.grid: {key} is a section, not a key (sweep its keys, e.g. "
                f"{key}.{next(iter(sub.model_fields))})"
            )
        model = sub


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model of a section field (``X`` or ``X | None``), else None."""
    candidates = [annotation, *typing.get_args(annotation)]
    for c in candidates:
        if isinstance(c, type) and issubclass(c, BaseModel):
            return c
    return None


def config_value(cfg: Config, key: str) -> Any:
    """The validated value of a dotted key (``model.xi``, ``solver.params.num_sweeps``)."""
    node: Any = cfg
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def cell(value: Any) -> str:
    """``value`` as written in results.csv (and compared on resume).

    Strings as they are, dates in ISO form, ``None`` empty, finite floats in their shortest
    exact form (``repr``), everything else as JSON (``true``, ``[0.1, 10]``).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | np.floating):
        return repr(float(value)) if np.isfinite(value) else ""
    if isinstance(value, np.integer):
        return str(int(value))
    return json.dumps(value, default=str)


@dataclass(frozen=True)
class GridPoint:
    """One combination of grid values and the validated config it gives.

    Attributes
    ----------
    values : dict
        Grid key -> value, in grid order, as given in the config.
    cells : tuple of str
        The values as written in results.csv (:func:`cell`).
    config : Config
        The base config with these values set.
    """

    values: dict[str, Any]
    cells: tuple[str, ...]
    config: Config

    def describe(self) -> str:
        return ", ".join(f"{k}={c}" for k, c in zip(self.values, self.cells, strict=True)) or "-"


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs: the grid points, the seeds, the columns of results.csv.

    Attributes
    ----------
    config : Config
        The config as loaded (with its ``sweep`` section).
    source : str
        Where the config came from (for messages).
    keys : tuple of str
        The grid keys, in the config's order.
    points : tuple of GridPoint
        Every combination of the grid values (the first key varies slowest).
    seeds : tuple of int
        Solver seeds; every point runs once per seed.
    """

    config: Config
    source: str
    keys: tuple[str, ...]
    points: tuple[GridPoint, ...]
    seeds: tuple[int, ...]

    @property
    def columns(self) -> list[str]:
        return result_columns(self.keys)

    @property
    def runs(self) -> list[tuple[int, int]]:
        """Every (point index, seed), in plan order."""
        return [(i, s) for i in range(len(self.points)) for s in self.seeds]

    def row_key(self, point: int, seed: int) -> tuple[str, ...]:
        """The cells that identify a run's row in results.csv."""
        return (*self.points[point].cells, str(seed))

    def identity(self) -> dict:
        """The normalized config the output folder belongs to.

        Everything that changes a row: the validated config with defaults filled in, except
        ``solver.seed`` (replaced by ``sweep.seeds``), ``report.plots`` and ``frontier``.
        Grid keys keep their order (it is the column order).
        """
        raw = self.config.model_dump(
            mode="json",
            by_alias=True,
            exclude={"frontier": True, "report": {"plots"}, "solver": {"seed"}},
        )
        raw["sweep"]["grid"] = [[k, v] for k, v in raw["sweep"]["grid"].items()]
        return raw


def result_columns(keys: Sequence[str]) -> list[str]:
    """The columns of results.csv: the grid keys, then :data:`RESULT_COLUMNS`."""
    return [*keys, *RESULT_COLUMNS]


def plan_sweep(cfg: Config, source: str = "config") -> SweepPlan:
    """Check the ``sweep`` section and build the config of every grid point.

    Raises :class:`InputError` (one line naming the key) when the section is missing, a key
    is unknown or not sweepable, a value is invalid for its key, a solver is unknown or a
    ``solver.params`` entry is not a parameter of its solver.
    """
    if cfg.sweep is None:
        raise InputError(
            f"{source}: no sweep section (add sweep: {{grid: {{model.xi: [0, 0.5]}}, "
            "seeds: [0, 1, 2]}; see README)"
        )
    grid = cfg.sweep.grid
    for key in grid:
        check_grid_key(key)
    keys = tuple(grid)
    base = cfg.model_dump(by_alias=True, exclude={"sweep"})
    points = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(keys, combo, strict=True))
        cells = tuple(cell(v) for v in combo)
        raw = copy.deepcopy(base)
        for key, value in values.items():
            set_dotted(raw, key, value)
        where = ", ".join(f"{k}={c}" for k, c in zip(keys, cells, strict=True))
        point_cfg = validate_config(raw, f"{source}: sweep point {where}" if where else source)
        _check_solver(point_cfg.solver, f"{source}: sweep point {where}" if where else source)
        points.append(GridPoint(values, cells, point_cfg))
    return SweepPlan(cfg, source, keys, tuple(points), tuple(cfg.sweep.seeds))


def _check_solver(solver: SolverConfig, where: str) -> None:
    from ...solvers import get_solver

    try:
        spec = get_solver(solver.name)
    except InputError as exc:
        raise InputError(f"{where}: solver.name: {exc}") from None
    unknown = sorted(set(solver.params) - set(spec.parameters))
    if unknown:
        allowed = ", ".join(spec.parameters) or "none"
        raise InputError(
            f"{where}: solver.params.{unknown[0]} is not a parameter of solver {spec.name} "
            f"(its parameters: {allowed}; see `qubo-portfolio solvers`)"
        )
    try:
        spec.check_params(solver.params)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


# --- data sets and window schemes -----------------------------------------------------------
@dataclass
class Scheme:
    """One data set and window scheme: its moments (shipped) and in-sample returns (kept).

    Attributes
    ----------
    moments : WindowMoments
        The xi-free averaged moments every point of this scheme shares.
    in_sample : DataFrame
        The return rows the windows cover (first window start to the last row), for the
        in-sample measures; it stays in the parent process.
    benchmark : dict
        The in-sample measures of 1/N of all K assets.
    data_report : dict
        What loading and cleaning did.
    """

    moments: WindowMoments
    in_sample: pd.DataFrame
    benchmark: dict[str, float]
    data_report: dict[str, Any]
    _measures: dict[tuple, dict[str, float]] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        rows = self.in_sample.index
        return (
            f"{len(self.moments.tickers)} assets, in-sample {rows[0].date()}..{rows[-1].date()} "
            f"({len(rows)} days), {self.moments.num_windows} windows"
        )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def data_fingerprint(returns: pd.DataFrame) -> str:
    """sha256 of the returns (values, dates, tickers): changed data refuses a resume."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in returns.columns]).encode())
    digest.update(np.asarray(returns.index.asi8).tobytes())
    digest.update(np.ascontiguousarray(returns.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def prepare_schemes(
    plan: SweepPlan, rf: float = 0.0
) -> tuple[list[Scheme], list[int], dict[str, str]]:
    """Load each distinct data set once and compute moments once per window scheme.

    Returns the schemes, the scheme index of every grid point, and the data fingerprints
    (data section as JSON -> :func:`data_fingerprint`). Every point's model is checked
    against its data here (``k`` in range, ...), before anything runs.
    """
    from ...core.metrics import equal_weights, portfolio_measures
    from ...core.returns import simple_returns
    from ..run import build_model, in_sample_returns, load_data

    returns_by_data: dict[str, pd.DataFrame] = {}
    reports: dict[str, dict] = {}
    fingerprints: dict[str, str] = {}
    index_by_scheme: dict[str, int] = {}
    schemes: list[Scheme] = []
    point_scheme: list[int] = []
    for point in plan.points:
        cfg = point.config
        where = f"{plan.source}: sweep point {point.describe()}"
        data_key = _key(cfg.data.model_dump(mode="json"))
        if data_key not in returns_by_data:
            data = load_data(cfg.data)
            returns_by_data[data_key] = simple_returns(data.prices)
            reports[data_key] = data.report
            fingerprints[data_key] = data_fingerprint(returns_by_data[data_key])
        scheme_key = _key([data_key, cfg.model.lookback, cfg.model.windows.model_dump(mode="json")])
        if scheme_key not in index_by_scheme:
            returns = returns_by_data[data_key]
            try:
                qubo = build_model(returns, cfg.model)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            in_sample = in_sample_returns(returns, qubo)
            benchmark = portfolio_measures(in_sample, equal_weights(qubo.tickers), rf)
            index_by_scheme[scheme_key] = len(schemes)
            schemes.append(Scheme(qubo.moments, in_sample, benchmark, reports[data_key]))
        scheme = index_by_scheme[scheme_key]
        try:  # the model of this point on its data: k in range, a known return term
            PortfolioQubo(
                schemes[scheme].moments,
                cfg.model.k,
                cfg.model.xi,
                cfg.model.return_term,
                cfg.model.positions,
            )
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        point_scheme.append(scheme)
    return schemes, point_scheme, fingerprints


# --- one run (in a worker) ---------------------------------------------------------------
@dataclass(frozen=True)
class SweepTask:
    """What a worker needs for one (grid point, seed): the moments come as ``shared``."""

    scheme: int
    model: ModelConfig
    solver: SolverConfig
    seed: int


def solve_task(task: SweepTask, moments: Sequence[WindowMoments]) -> dict[str, Any]:
    """Build the point's QUBO from the shared moments, solve it, report the best read.

    Returns ``penalty`` (lambda used, None for penalty-free solvers), ``feasible_fraction``
    (of the raw reads, before any polish), ``objective``, ``energy`` and ``tickers`` of the
    best feasible read (None when no read is feasible; long/short: the selected legs
    ``long:<t>``/``short:<t>``) and ``solve_seconds`` (solver and polish wall time).
    """
    from ...core.decode import NoFeasibleSample, decode
    from ..run import solve_configured

    model = task.model
    qubo = PortfolioQubo(
        moments[task.scheme], model.k, model.xi, model.return_term, model.positions
    )
    sampleset = solve_configured(qubo, model, task.solver, seed=task.seed)
    info = sampleset.info
    seconds = float(sum(info["timing"].values()))
    row: dict[str, Any] = {"penalty": info.get("penalty"), "solve_seconds": seconds}
    try:
        decoded = decode(sampleset, qubo)
    except NoFeasibleSample:  # a penalty sweep's data, not an error
        row.update(feasible_fraction=0.0, objective=None, energy=None, tickers=None)
        return row
    raw = decoded.feasible_fraction_raw
    row.update(
        feasible_fraction=decoded.feasible_fraction if raw is None else raw,
        objective=decoded.best.objective,
        energy=decoded.best.energy,
        tickers=list(decoded.best.legs),
    )
    return row


# --- the output folder ---------------------------------------------------------------------
def read_rows(path: Path, columns: Sequence[str], repair: bool = False) -> list[list[str]]:
    """The complete rows of a results.csv (header checked, not returned).

    A last line without its newline was cut off while being written: it is ignored, and
    with ``repair`` truncated from the file (so appends start on a fresh line). A missing or
    empty file has no rows; with ``repair`` it gets its header.
    """
    data = path.read_bytes() if path.exists() else b""
    end = data.rfind(b"\n") + 1
    if repair and end < len(data):
        os.truncate(path, end)
    rows = list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))
    if not rows:
        if repair:
            _append_line(path, list(columns))
        return []
    if rows[0] != list(columns):
        raise InputError(
            f"{path} has the columns {','.join(rows[0])}, not those of this sweep "
            f"({','.join(columns)}): move it away and rerun"
        )
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns):
            raise InputError(
                f"{path} line {number} has {len(row)} fields, expected {len(columns)} "
                "(the file was edited: repair or remove that line)"
            )
    return rows[1:]


def csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _append_line(path: Path, cells: Sequence[str]) -> None:
    with open(path, "a", newline="", encoding="utf-8") as f:
        f.write(csv_line(cells))
        f.flush()
        os.fsync(f.fileno())


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree}


def _first_difference(old: dict, new: dict) -> str:
    a, b = _flatten(old), _flatten(new)
    for key in [*a, *(k for k in b if k not in a)]:
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            before = _short(json.dumps(a[key])) if key in a else "absent"
            after = _short(json.dumps(b[key])) if key in b else "absent"
            return f"{key} is {before} there, {after} now"
    return "same settings, different hash"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def config_hash(identity: dict) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class SweepFolder:
    """The ``--out`` folder of a sweep: lock, ``sweep.json`` and ``results.csv``.

    Use as a context manager: entering locks the folder and checks that it is new, empty,
    or holds a sweep of the same config; :meth:`start` writes ``sweep.json`` (new folder)
    or checks the data fingerprints (resume), repairs ``results.csv`` and returns the keys
    of the rows already there; :meth:`append` adds one row durably.
    """

    def __init__(self, out: Path, plan: SweepPlan) -> None:
        self.out = Path(out)
        self.plan = plan
        self.results = self.out / RESULTS_FILE
        self.state_path = self.out / STATE_FILE
        self.identity = plan.identity()
        self.hash = config_hash(self.identity)
        self.state: dict | None = None
        self._created = False
        self._lock = None
        self._file = None

    def __enter__(self) -> SweepFolder:
        from ...output.run import check_creatable

        out = self.out
        check_creatable(out)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out} is a file, not a folder (choose another --out)")
        self._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._check_existing()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _acquire_lock(self) -> None:
        self._lock = open(self.out / LOCK_FILE, "a")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX: no lock
            return
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise InputError(
                f"another sweep is writing to {self.out} (wait for it to finish, or choose "
                "another --out)"
            ) from None

    def _check_existing(self) -> None:
        if self.state_path.exists():
            try:
                self.state = json.loads(self.state_path.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"{self.state_path} is unreadable ({exc.__class__.__name__}): this folder "
                    "cannot be resumed (choose another --out)"
                ) from None
            if self.state.get("hash") != self.hash:
                why = _first_difference(self.state.get("config", {}), self.identity)
                raise InputError(
                    f"--out {self.out} holds a sweep of a different config ({why}); resume it "
                    f"with its own config (saved in {self.state_path}) or choose another --out"
                )
            return
        others = [
            p.name
            for p in self.out.iterdir()
            if p.name != LOCK_FILE and not p.name.startswith(f".{STATE_FILE}.tmp")
        ]
        if others:
            raise InputError(
                f"--out {self.out} already holds files that are not a sweep "
                f"({', '.join(sorted(others)[:3])}): choose another --out"
            )

    @property
    def resuming(self) -> bool:
        return self.state is not None

    def start(self, fingerprints: dict[str, str]) -> set[tuple[str, ...]]:
        """Record or check what the sweep runs; return the keys of the rows already done."""
        if self.state is None:
            self.state = {
                "hash": self.hash,
                "config": self.identity,
                "columns": self.plan.columns,
                "grid_points": len(self.plan.points),
                "seeds": list(self.plan.seeds),
                "runs": len(self.plan.runs),
                "data_fingerprints": fingerprints,
                "created": dt.datetime.now().isoformat(timespec="seconds"),
                "version": __version__,
            }
            _write_json_atomic(self.state_path, self.state)
        elif self.state.get("data_fingerprints") != fingerprints:
            raise InputError(
                f"the data behind the sweep in {self.out} changed since it started (same "
                "config, different prices): choose another --out to sweep the new data"
            )
        rows = read_rows(self.results, self.plan.columns, repair=True)
        width = len(self.plan.keys) + 1
        done = {tuple(r[:width]) for r in rows}
        self._file = open(self.results, "a", newline="", encoding="utf-8")
        return done

    def append(self, cells: Sequence[str]) -> None:
        """Append one row: one write, flushed and fsynced."""
        assert self._file is not None, "call start() first"
        self._file.write(csv_line(cells))
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, *exc_info: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self._created and self.state is None:  # nothing recorded: leave no folder behind
            (self.out / LOCK_FILE).unlink(missing_ok=True)
            try:
                self.out.rmdir()
            except OSError:
                pass


# --- running -------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A finished (or resumed) sweep.

    Attributes
    ----------
    plan : SweepPlan
    out : Path
    frame : DataFrame
        Every row of results.csv (earlier runs included), in plan order: the grid keys (with
        their values as given), ``point`` (the grid point's index), ``scheme``, then
        :data:`RESULT_COLUMNS` (numbers as floats, NaN when empty).
    schemes : list of Scheme
    new_runs, resumed_runs : int
        Runs done by this call, and found done in results.csv.
    seconds : float
        Wall time of this call's runs.
    executor : str
    workers : int or None
    """

    plan: SweepPlan
    out: Path
    frame: pd.DataFrame
    schemes: list[Scheme]
    new_runs: int
    resumed_runs: int
    seconds: float
    executor: str
    workers: int | None


def run_sweep(
    plan: SweepPlan,
    out: Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run every (grid point, seed) of ``plan`` that ``out/results.csv`` does not hold yet.

    Rows are appended as runs finish, in completion order. ``progress`` shows a bar with an
    ETA on stderr when it is a terminal; ``log`` receives one-line notes (plan, resume).
    """
    check_options(executor, workers, scheduler)
    if scheduler is None:
        workers = workers or default_workers()
    rf = plan.config.report.risk_free_rate
    with SweepFolder(out, plan) as folder:
        schemes, point_scheme, fingerprints = prepare_schemes(plan, rf)
        resuming = folder.resuming
        done = folder.start(fingerprints)
        todo = [(p, s) for p, s in plan.runs if plan.row_key(p, s) not in done]
        resumed = len(plan.runs) - len(todo)
        if log is not None:
            where = executor if scheduler is None else f"dask at {scheduler}"
            log(
                f"sweep {_count(len(plan.points), 'grid point')} x "
                f"{_count(len(plan.seeds), 'seed')} = "
                f"{len(plan.runs)} runs"
                + (f", {resumed} already in {folder.results}" if resuming else "")
                + f"; {len(todo)} to run on {where}"
                + (f" ({_workers(workers)})" if workers and todo else "")
            )
            for scheme in schemes:
                log(f"data: {scheme.describe()}")
        tasks = [
            SweepTask(point_scheme[p], plan.points[p].config.model, plan.points[p].config.solver, s)
            for p, s in todo
        ]
        moments = tuple(s.moments for s in schemes)
        start = time.perf_counter()
        with _progress_bar(len(plan.runs), resumed, progress) as advance:
            results = run_tasks(
                solve_task,
                tasks,
                shared=moments,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
            )
            for i, outcome in results:
                point, seed = todo[i]
                scheme = schemes[point_scheme[point]]
                folder.append(_row_cells(plan, point, seed, outcome, scheme, rf))
                advance()
        seconds = time.perf_counter() - start
    frame = load_results(out / RESULTS_FILE, plan, point_scheme)
    return SweepResult(
        plan, Path(out), frame, schemes, len(todo), resumed, seconds, executor, workers
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _workers(n: int) -> str:
    return _count(n, "worker")


def _row_cells(
    plan: SweepPlan, point: int, seed: int, outcome: dict, scheme: Scheme, rf: float
) -> list[str]:
    tickers = outcome["tickers"]
    measures: dict[str, float | None] = dict.fromkeys(MEASURE_COLUMNS)
    if tickers:
        positions = plan.points[point].config.model.positions
        measures = _measures(scheme, tuple(tickers), rf, positions == "long_short")
    values = {
        "seed": seed,
        "penalty": outcome["penalty"],
        "feasible_fraction": outcome["feasible_fraction"],
        "objective": outcome["objective"],
        "energy": outcome["energy"],
        "tickers": ";".join(tickers) if tickers else None,
        **{name: measures[name] for name in MEASURE_COLUMNS},
        "solve_seconds": round(outcome["solve_seconds"], 6),
    }
    return [*plan.points[point].cells, *(cell(values[name]) for name in RESULT_COLUMNS)]


def _measures(
    scheme: Scheme, tickers: tuple[str, ...], rf: float, long_short: bool = False
) -> dict[str, float]:
    """In-sample measures of the equal-weight selection (cached per scheme and selection).

    Long only ``tickers`` are tickers, each held with ``1/K'``; long/short they are legs,
    ``long:<t>`` held with ``+1/K'`` and ``short:<t>`` with ``-1/K'`` (as ``run`` weighs them).
    """
    key = (long_short, tickers)
    if key not in scheme._measures:
        from ...core.metrics import equal_weights, portfolio_measures

        weights = leg_weights(tickers) if long_short else equal_weights(tickers)
        scheme._measures[key] = portfolio_measures(scheme.in_sample, weights, rf)
    return scheme._measures[key]


def leg_weights(legs: Sequence[str]) -> pd.Series:
    """Signed weights of long/short legs: ``+1/n`` per ``long:<t>``, ``-1/n`` per ``short:<t>``."""
    n = len(legs)
    values: dict[str, float] = {}
    for leg in legs:
        side, _, ticker = leg.partition(":")
        if side not in ("long", "short") or not ticker:
            raise ValueError(f"{leg!r} is not a long:<ticker> or short:<ticker> leg")
        values[ticker] = values.get(ticker, 0.0) + (1.0 if side == "long" else -1.0) / n
    weights = pd.Series(values, name="weight", dtype=float)
    weights.index.name = "ticker"
    return weights


@contextmanager
def _progress_bar(total: int, done: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar with an ETA on stderr; silent unless stderr is a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs  elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("sweep", total=total, completed=done)
        yield lambda: bar.advance(task)


def load_results(
    path: Path, plan: SweepPlan, point_scheme: Sequence[int] | None = None
) -> pd.DataFrame:
    """results.csv as a DataFrame in plan order (see :attr:`SweepResult.frame`).

    Grid key columns carry the values as given in the config; a cut-off last line is
    ignored; rows of points the plan does not have are dropped.
    """
    rows = read_rows(path, plan.columns)
    width = len(plan.keys)
    index = {p.cells: i for i, p in enumerate(plan.points)}
    records = []
    for row in rows:
        point = index.get(tuple(row[:width]))
        if point is None:
            continue
        # values as validated (a YAML "1e-3" is a float here); unhashable ones (lists,
        # mappings) as their cells, so that rows can be grouped
        config = plan.points[point].config
        record: dict[str, Any] = {}
        for key in plan.keys:
            value = config_value(config, key)
            record[key] = cell(value) if isinstance(value, list | dict) else value
        record["point"] = point
        if point_scheme is not None:
            record["scheme"] = point_scheme[point]
        for name, text in zip(RESULT_COLUMNS, row[width:], strict=True):
            if name == "tickers":
                record[name] = text
            elif name == "seed":
                record[name] = int(text)
            else:
                record[name] = float(text) if text else np.nan
        records.append(record)
    columns = [*plan.keys, "point", *(["scheme"] if point_scheme is not None else [])]
    frame = pd.DataFrame(records, columns=[*columns, *RESULT_COLUMNS])
    return frame.sort_values(["point", "seed"], kind="stable").reset_index(drop=True)


# --- summaries and plots -------------------------------------------------------------------
def penalty_key(keys: Sequence[str]) -> str | None:
    """The grid key on the penalty axis: ``model.penalty.value`` or ``.scale`` (or None)."""
    return next((k for k in PENALTY_KEYS if k in keys), None)


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def point_summary(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per grid point: runs, mean raw feasible fraction, min/mean objective over seeds, and
    the Sharpe ratio and tickers of the seed with the lowest objective."""
    rows = []
    for point, group in frame.groupby("point", sort=True):
        feasible = group[group["objective"].notna()]
        best = feasible.loc[feasible["objective"].idxmin()] if len(feasible) else None
        rows.append(
            {
                **{k: group[k].iloc[0] for k in keys},
                "point": point,
                "runs": len(group),
                "feasible_fraction": group["feasible_fraction"].mean(),
                "objective_min": feasible["objective"].min() if len(feasible) else np.nan,
                "objective_mean": feasible["objective"].mean() if len(feasible) else np.nan,
                "sharpe": np.nan if best is None else best["sharpe"],
            }
        )
    return pd.DataFrame(rows)


def best_rows(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The feasible row with the lowest objective per group of ``by`` (over all else)."""
    feasible = frame[frame["objective"].notna()]
    if feasible.empty:
        return feasible
    if not by:
        return feasible.loc[[feasible["objective"].idxmin()]]
    index = feasible.groupby(list(by), sort=True, dropna=False)["objective"].idxmin()
    return feasible.loc[index.to_numpy()].sort_values("point", kind="stable")


def sweep_table(result: SweepResult) -> str:
    """The console summary: per grid point, then the best selection per xi, then 1/N."""
    plan, frame = result.plan, result.frame
    keys = list(plan.keys)
    summary = point_summary(frame, keys)
    who = result.executor + (f", {_workers(result.workers)}" if result.workers else "")
    lines = [
        f"{len(frame)} of {len(plan.runs)} runs ({_count(len(plan.points), 'grid point')} x "
        f"{_count(len(plan.seeds), 'seed')}) in {result.out / RESULTS_FILE}: {result.new_runs} run now "
        f"({result.seconds:.1f} s on {who}), {result.resumed_runs} by an earlier call",
        "",
    ]
    key_width = [max(len(k), 6) for k in keys]
    head = "  ".join(f"{k:>{w}}" for k, w in zip(keys, key_width, strict=True))
    head += f"{'':2}{'seeds':>5}  {'feasible':>8}  {'objective min':>14}  {'objective mean':>14}  "
    head += f"{'sharpe':>7}"
    lines.append(head.strip() if not keys else head)
    for _, row in summary.iterrows():
        values = plan.points[int(row["point"])].cells
        cells = "  ".join(f"{c:>{w}}" for c, w in zip(values, key_width, strict=True))
        lines.append(
            f"{cells}{'':2}{int(row['runs']):>5}  {_fmt(row['feasible_fraction'], '.0%'):>8}  "
            f"{_fmt(row['objective_min'], '.6e'):>14}  {_fmt(row['objective_mean'], '.6e'):>14}  "
            f"{_fmt(row['sharpe'], '.3f'):>7}"
        )
    pen = penalty_key(keys)
    group = [k for k in keys if k != pen]
    best = best_rows(frame, group)
    if len(best):  # in grid order of the group's values
        ranks = [_grid_rank(plan, int(p), group) for p in best["point"]]
        best = best.iloc[sorted(range(len(best)), key=ranks.__getitem__)]
        title = "best selection" + (f" per {', '.join(group)}" if group else "")
        lines += ["", f"{title} (lowest objective over penalties and seeds), in sample:"]
        for _, row in best.iterrows():
            label = _series_label(plan, row, group, "  ") or "all"
            tickers = row["tickers"].split(";")
            shown = ", ".join(tickers[:8]) + (f" +{len(tickers) - 8}" if len(tickers) > 8 else "")
            lines.append(
                f"  {label}  objective {row['objective']:.6e}  return "
                f"{row['annualized_mean']:.4f}  volatility {row['annualized_volatility']:.4f}  "
                f"sharpe {row['sharpe']:.3f}  {shown}"
            )
    for i, scheme in enumerate(result.schemes):
        b = scheme.benchmark
        which = f" (data/window scheme {i + 1})" if len(result.schemes) > 1 else ""
        lines.append(
            f"  1/N of all {len(scheme.moments.tickers)}{which}  return "
            f"{b['annualized_mean']:.4f}  volatility {b['annualized_volatility']:.4f}  "
            f"sharpe {b['sharpe']:.3f}"
        )
    return "\n".join(lines)


def _grid_rank(plan: SweepPlan, point: int, keys: Sequence[str]) -> tuple[int, ...]:
    """Positions of the point's values of ``keys`` in their grid lists."""
    grid, values = plan.config.sweep.grid, plan.points[point].values
    return tuple(grid[k].index(values[k]) for k in keys)  # as given, not as validated


def _series_label(
    plan: SweepPlan, row: Mapping[str, Any], keys: Sequence[str], sep: str = ", "
) -> str:
    """``key=value`` of ``keys`` for the grid point of ``row``, values as in the config."""
    point = plan.points[int(row["point"])]
    return sep.join(f"{k}={point.cells[plan.keys.index(k)]}" for k in keys)


def with_gaps(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``frame`` plus ``gap``: ``(objective - best) / |best|``, best over the rows that
    share every grid value but the penalty's (so per xi in an xi x penalty grid)."""
    group = [k for k in keys if k != penalty_key(keys)]
    frame = frame.copy()
    if group:
        best = frame.groupby(group, sort=False, dropna=False)["objective"].transform("min")
    else:
        best = pd.Series(frame["objective"].min(), index=frame.index)
    frame["gap"] = (frame["objective"] - best) / best.abs()
    return frame


def write_sweep_plots(result: SweepResult) -> list[Path]:
    """The figures next to results.csv, each written atomically; those that need a grid key
    the sweep lacks are skipped.

    - ``sweep_penalty.png`` (needs a penalty key): raw feasible fraction and objective gap
      vs the penalty, one line per xi (and per value of any other grid key);
    - ``sweep_heatmap.png`` (needs xi and a penalty key): xi x penalty, median objective;
    - ``sweep_frontier.png``: the best selection per xi in volatility/return, 1/N marked.
    """
    from ...output import plots

    plan = result.plan
    keys = list(plan.keys)
    frame = with_gaps(result.frame, keys)
    pen = penalty_key(keys)
    others = [k for k in keys if k not in (XI_KEY, pen)]
    out = result.out
    written = []
    if pen is not None:
        lines = []  # (xi or None, label of the other grid values, per-penalty aggregates)
        line_keys = [*([XI_KEY] if XI_KEY in keys else []), *others]
        groups = frame.groupby(line_keys, sort=False) if line_keys else [((), frame)]
        for _, group in groups:
            first = group.iloc[0]
            agg = group.groupby(pen, sort=True).agg(
                feasible=("feasible_fraction", "mean"),
                gap=("gap", "median"),
                gap_min=("gap", "min"),
                gap_max=("gap", "max"),
            )
            xi = first[XI_KEY] if XI_KEY in keys else None
            lines.append((xi, _series_label(plan, first, others), agg))
        path = out / "sweep_penalty.png"
        _atomic(path, lambda p: plots.plot_sweep_penalty(lines, pen, len(plan.seeds), p))
        written.append(path)
    if pen is not None and XI_KEY in keys:
        panels = {}
        groups = frame.groupby(others, sort=False) if others else [((), frame)]
        for _, group in groups:
            label = _series_label(plan, group.iloc[0], others)
            median = group.groupby([XI_KEY, pen])["objective"].median().unstack(pen)
            gap = group.groupby([XI_KEY, pen])["gap"].median().unstack(pen)
            panels[label] = (median, gap)
        path = out / "sweep_heatmap.png"
        _atomic(path, lambda p: plots.plot_sweep_heatmap(panels, pen, p))
        written.append(path)
    series_keys = [k for k in keys if k not in (XI_KEY, pen)]
    best = best_rows(frame, [*series_keys, *([XI_KEY] if XI_KEY in keys else [])])
    if len(best):
        series = {}
        groups = best.groupby(series_keys, sort=False) if series_keys else [((), best)]
        for _, group in groups:
            label = _series_label(plan, group.iloc[0], series_keys)
            xi = group[XI_KEY] if XI_KEY in keys else result.plan.points[0].config.model.xi
            series[label] = pd.DataFrame(
                {
                    "xi": xi,
                    "volatility": group["annualized_volatility"],
                    "return": group["annualized_mean"],
                    "scheme": group["scheme"],
                }
            ).sort_values("xi")
        benchmarks = [
            (
                f"1/N of all {len(s.moments.tickers)}"
                + (f" (scheme {i + 1})" if len(result.schemes) > 1 else ""),
                s.benchmark,
            )
            for i, s in enumerate(result.schemes)
        ]
        k_values = sorted({p.config.model.k for p in result.plan.points})
        title = f"Best equal-weight QUBO selection per xi (k = {', '.join(map(str, k_values))})"
        if len(result.schemes) == 1:
            rows = result.schemes[0].in_sample.index
            title += f", in sample {rows[0].date()}..{rows[-1].date()} ({len(rows)} days)"
        title += "\nbest: the lowest objective over all penalties and seeds"
        path = out / "sweep_frontier.png"
        _atomic(path, lambda p: plots.plot_sweep_frontier(series, benchmarks, title, p))
        written.append(path)
    return written


def _atomic(path: Path, draw: Callable[[Path], Any]) -> None:
    """Draw into a temporary PNG beside ``path``, then move it into place."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        draw(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
