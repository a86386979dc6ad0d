"""The sweep plan: the grid of config values times seeds, every key checked up front."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from ...errors import InputError
from ...solvers import get_solver
from ..config import Config, SolverConfig, set_dotted, validate_config

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


def plural(n: int, noun: str) -> str:
    """``"1 seed"``, ``"3 seeds"``."""
    return f"{n} {noun}{'s' if n != 1 else ''}"
