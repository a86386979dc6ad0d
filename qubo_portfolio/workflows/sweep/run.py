"""Running a sweep: data sets and window schemes prepared once, (point, seed) tasks on an
executor, rows appended as they finish."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...core.data import PriceData, dropped_notes, restrict_to_span
from ...core.decode import NoFeasibleSample, decode
from ...core.metrics import equal_weights, portfolio_measures
from ...core.model import PortfolioQubo, WindowMoments
from ...core.returns import price_span_start, simple_returns
from ...errors import InputError
from ..config import ModelConfig, SolverConfig
from ..executors import ExecutorLost, check_options, default_workers, run_tasks
from ..settings import build_model, in_sample_returns, load_data, solve_configured
from .plan import (
    MEASURE_COLUMNS,
    RESULT_COLUMNS,
    RESULTS_FILE,
    SweepPlan,
    cell,
    plural,
)
from .store import SweepFolder, load_results


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

    loaded: dict[str, PriceData] = {}
    fingerprints: dict[str, str] = {}
    index_by_scheme: dict[str, int] = {}
    schemes: list[Scheme] = []
    point_scheme: list[int] = []
    for point in plan.points:
        cfg = point.config
        where = f"{plan.source}: sweep point {point.describe()}"
        data_key = _key(cfg.data.model_dump(mode="json"))
        if data_key not in loaded:  # incomplete assets judged per scheme, on its lookback
            loaded[data_key] = load_data(cfg.data, defer_missing=True)
            fingerprints[data_key] = data_fingerprint(simple_returns(loaded[data_key].prices))
        scheme_key = _key(  # what the moments depend on: data, windows and estimators
            [
                data_key,
                cfg.model.lookback,
                cfg.model.windows.model_dump(mode="json"),
                cfg.model.covariance,
                cfg.model.expected_returns,
                cfg.model.estimator_params.model_dump(mode="json"),
            ]
        )
        if scheme_key not in index_by_scheme:
            data = loaded[data_key]
            try:
                span = price_span_start(
                    data.prices.index, cfg.model.lookback, cfg.model.windows.unit
                )
                data = restrict_to_span(data, span)
                returns = simple_returns(data.prices)
                qubo = build_model(returns, cfg.model)
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            in_sample = in_sample_returns(returns, qubo)
            benchmark = portfolio_measures(in_sample, equal_weights(qubo.tickers), rf)
            index_by_scheme[scheme_key] = len(schemes)
            schemes.append(Scheme(qubo.moments, in_sample, benchmark, data.report))
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
                f"sweep {plural(len(plan.points), 'grid point')} x "
                f"{plural(len(plan.seeds), 'seed')} = "
                f"{len(plan.runs)} runs"
                + (f", {resumed} already in {folder.results}" if resuming else "")
                + f"; {len(todo)} to run on {where}"
                + (f" ({plural(workers, 'worker')})" if workers and todo else "")
            )
            for scheme in schemes:
                log(f"data: {scheme.describe()}")
            for note in dict.fromkeys(n for s in schemes for n in dropped_notes(s.data_report)):
                log(note)
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
            try:
                for i, outcome in results:
                    point, seed = todo[i]
                    scheme = schemes[point_scheme[point]]
                    folder.append(_row_cells(plan, point, seed, outcome, scheme, rf))
                    advance()
            except ExecutorLost as exc:
                raise ExecutorLost(
                    f"{exc} (rerun to resume: the rows already written to {folder.results} "
                    "are kept)"
                ) from None
        seconds = time.perf_counter() - start
    frame = load_results(out / RESULTS_FILE, plan, point_scheme)
    return SweepResult(
        plan, Path(out), frame, schemes, len(todo), resumed, seconds, executor, workers
    )


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
