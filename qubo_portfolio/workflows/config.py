"""Experiment configs: YAML files validated by pydantic, unknown keys rejected.

``load_config(path, overrides=["model.xi=0.2"])`` reads a YAML file, applies ``--set`` style
overrides (dotted key = YAML value) and returns a validated :class:`Config`. Every problem
becomes one :class:`InputError` line naming the file, the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InputError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_text(value: Any) -> Any:
    """A config date as ISO text; YAML reads an unquoted 2020-01-31 as a ``date`` already.

    Only ``YYYY-MM-DD`` is accepted: ``01.06.2017`` or ``01/06/2017`` could be the 1st of June
    or the 6th of January, so other spellings raise instead of being guessed (pydantic turns
    the error into one config error line).
    """
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            if not _ISO_DATE.fullmatch(value.strip()):
                raise ValueError
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date written YYYY-MM-DD (config dates are ISO, e.g. "
                "2017-06-01 for the 1st of June; other orders are not guessed)"
            ) from None
    if value is not None:
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD (e.g. 2017-06-01)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SyntheticConfig(_Strict):
    """Seeded factor-model market with fat tails."""

    assets: int = Field(50, ge=2)
    days: int = Field(756, ge=3)
    seed: int = 0


class ColumnsConfig(_Strict):
    """Column names of a user's file: ``date`` (wide or long), ``ticker`` and ``price`` (long)."""

    date: str | None = None
    ticker: str | None = None
    price: str | None = None


class DataConfig(_Strict):
    """The ``data`` section: where the prices come from and how a file is read.

    ``date_format``, ``columns``, ``sep``, ``decimal`` and ``thousands`` override what is
    detected in a ``csv``/``parquet`` file (None: detect); ``thousands: ""`` means none.
    """

    source: Literal["sample", "csv", "parquet", "synthetic"] = "sample"
    path: str | None = None
    tickers: list[str] | None = None
    start: str | None = None
    end: str | None = None
    max_gap: int = Field(5, ge=0)
    missing: Literal["drop_assets", "keep"] = "drop_assets"
    synthetic: SyntheticConfig | None = None
    date_format: str | None = None
    columns: ColumnsConfig | None = None
    sep: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_to_text(cls, value: Any) -> Any:
        return date_text(value)

    @field_validator("date_format")
    @classmethod
    def _strptime_pattern(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"%[dmYyjbBU]", value):
            raise ValueError(
                f'{value!r} is not a strptime date pattern (e.g. "%d/%m/%Y" or "%m/%d/%Y")'
            )
        return value

    @field_validator("sep", mode="before")
    @classmethod
    def _one_separator(cls, value: Any) -> Any:
        value = {"tab": "\t", "\\t": "\t"}.get(value, value)
        if value is not None and (not isinstance(value, str) or len(value) != 1):
            raise ValueError(f'{value!r} is not one character (use ",", ";", tab or "|")')
        return value

    @field_validator("thousands")
    @classmethod
    def _thousands(cls, value: str | None) -> str | None:
        if value is not None and value not in ("", ",", ".", " ", "'", "\u00a0", "_"):
            raise ValueError(
                f'{value!r} is not a thousands separator (use ",", ".", " ", "\'" or "")'
            )
        return value

    @model_validator(mode="after")
    def _source_options(self) -> DataConfig:
        if self.source in ("csv", "parquet") and not self.path:
            raise ValueError(
                f"data.source is {self.source} but data.path is missing (set data.path)"
            )
        if self.source == "synthetic" and self.synthetic is None:
            self.synthetic = SyntheticConfig()
        if self.decimal is not None and self.decimal == self.thousands:
            raise ValueError(f"data.decimal and data.thousands are both {self.decimal!r}")
        return self

    def read_options(self) -> dict[str, Any]:
        """The file-reading keys, as :func:`~qubo_portfolio.core.data.load_prices` takes them."""
        columns = self.columns.model_dump(exclude_none=True) if self.columns else None
        return {
            "date_format": self.date_format,
            "columns": columns or None,
            "sep": self.sep,
            "decimal": self.decimal,
            "thousands": self.thousands,
        }


class WindowsConfig(_Strict):
    length: int | None = None
    step: int | None = None
    count: int | None = None
    unit: Literal["trading_days", "calendar_days"] = "trading_days"

    @model_validator(mode="after")
    def _one_of_step_count(self) -> WindowsConfig:
        if self.step is not None and self.count is not None:
            raise ValueError("give windows.step or windows.count, not both")
        for name in ("length", "step", "count"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"windows.{name} = {value} must be a positive number")
        return self


class PenaltyConfig(_Strict):
    """lambda = ``value`` when given, else ``scale`` * the single-flip bound lambda*.

    Long/short: gamma (no stock on both sides) = ``exclusion_value`` when given, else
    ``exclusion_scale`` * the bound gamma* (see ``PortfolioQubo.exclusion_bound``).
    """

    scale: float = Field(1.0, ge=0)
    value: float | None = Field(None, ge=0)
    exclusion_scale: float = Field(1.0, ge=0)
    exclusion_value: float | None = Field(None, ge=0)


class EstimatorParamsConfig(_Strict):
    """Keyword arguments of the skfolio moment estimators (``model.covariance`` and
    ``model.expected_returns``); checked against the chosen class when the model is built."""

    covariance: dict[str, Any] = Field(default_factory=dict)
    expected_returns: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Strict):
    k: StrictInt
    xi: FiniteFloat = 0.0
    return_term: Literal["linear", "squared"] = "linear"
    positions: Literal["long_only", "long_short"] = "long_only"
    covariance: Literal[
        "empirical", "ledoit_wolf", "oas", "shrunk", "exponential", "gerber", "denoise"
    ] = "empirical"
    expected_returns: Literal["empirical", "exponential", "shrinkage"] = "empirical"
    estimator_params: EstimatorParamsConfig = Field(default_factory=EstimatorParamsConfig)
    lookback: int | None = None
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    penalty: PenaltyConfig = Field(default_factory=PenaltyConfig)


class SolverConfig(_Strict):
    name: str = "swap"
    num_reads: int = Field(20, ge=1)
    seed: int | None = Field(0, ge=0, lt=2**32)
    params: dict[str, Any] = Field(default_factory=dict)
    polish: bool = False
    certify: bool = False
    certify_time_limit: float = Field(60.0, ge=0)


class ReportConfig(_Strict):
    risk_free_rate: FiniteFloat = 0.0
    plots: bool = True


class TargetsConfig(_Strict):
    """Optional frontier targets: ``risk`` (annual volatility), ``return`` (annual return)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, serialize_by_alias=True)

    risk: FiniteFloat | None = Field(None, gt=0)
    return_: FiniteFloat | None = Field(None, alias="return")


class FrontierConfig(_Strict):
    """The ``frontier`` command: classical Markowitz portfolios beside the QUBO selections.

    ``risk_free_rate`` None means ``report.risk_free_rate``; empty ``xi_values`` means
    ``[model.xi]``.
    """

    expected_returns: Literal["mean", "compounded"] = "mean"
    risk_free_rate: FiniteFloat | None = None
    random_portfolios: int = Field(5000, ge=1)
    points: int = Field(50, ge=2)
    seed: int | None = Field(0, ge=0, lt=2**32)
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    xi_values: list[FiniteFloat] = Field(default_factory=list)


def _grid_values(grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Every key of a grid lists at least one value, none twice."""
    for key, values in grid.items():
        if not values:
            raise ValueError(f"{key} has no values (give a non-empty list)")
        for i, value in enumerate(values):
            if value in values[:i]:
                raise ValueError(f"{key} lists {value!r} more than once")
    return grid


class TuneConfig(_Strict):
    """``backtest.tune``: choose model settings at every rebalance date without look-ahead.

    ``grid`` maps dotted ``model.*`` keys to candidate values (every combination is tried);
    ``validation`` is the number of return rows at the end of each date's lookback on which
    the candidates are scored by ``metric`` (``volatility``: lowest wins, the others:
    highest). See :mod:`qubo_portfolio.workflows.backtest` for the protocol.
    """

    grid: dict[str, list[Any]]
    metric: Literal["sharpe", "sortino", "annualized_mean", "volatility"] = "sharpe"
    validation: int = Field(63, ge=2)

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not grid:
            raise ValueError("tune.grid is empty (give e.g. model.xi: [0, 0.5, 1])")
        return _grid_values(grid)


class BacktestConfig(_Strict):
    """The ``backtest`` command: walk-forward rebalancing, out of sample.

    ``lookback`` (the returns each decision sees, ending at the rebalance date) and an integer
    ``rebalance`` (the distance between rebalance dates) count return rows
    (``unit: trading_days``) or calendar days (``unit: calendar_days``); ``rebalance`` may
    also be ``weekly``, ``monthly`` or ``quarterly`` (the last trading day of each period).
    ``benchmarks`` are price columns (indices) held for comparison and never selected.
    ``baselines`` are classical allocations refitted on the same lookback at every date
    (:mod:`qubo_portfolio.classical.baselines`); ``weights`` weighs the QUBO's K' picks;
    ``tune`` chooses model settings at every date (:class:`TuneConfig`).
    """

    lookback: int = Field(252, ge=2)
    rebalance: int | Literal["weekly", "monthly", "quarterly"] = 21
    unit: Literal["trading_days", "calendar_days"] = "trading_days"
    start: str | None = None
    end: str | None = None
    costs_bps: FiniteFloat = Field(0.0, ge=0)
    benchmarks: list[str] = Field(default_factory=list)
    random_subsets: int = Field(200, ge=0)
    seed: int | None = Field(0, ge=0, lt=2**32)
    baselines: list[Literal["min_volatility", "max_sharpe", "inverse_volatility", "hrp"]] = Field(
        default_factory=list
    )
    weights: Literal["equal", "min_volatility", "inverse_volatility"] = "equal"
    tune: TuneConfig | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_to_text(cls, value: Any) -> Any:
        return date_text(value)

    @field_validator("baselines")
    @classmethod
    def _distinct_baselines(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} repeats a baseline (list each once)")
        return value

    @model_validator(mode="after")
    def _validation_inside_lookback(self) -> BacktestConfig:
        if self.tune is not None and self.tune.validation >= self.lookback:
            raise ValueError(
                f"backtest.tune.validation = {self.tune.validation} must be shorter than "
                f"backtest.lookback = {self.lookback} (the tuning decision needs rows before it)"
            )
        return self

    @field_validator("rebalance")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"{value} must be >= 1 (days between rebalance dates)")
        return value

    @field_validator("rebalance", mode="wrap")
    @classmethod
    def _one_line(cls, value: Any, handler: Any) -> Any:
        # int | Literal fails twice (".int", ".literal[...]"): say once what is accepted
        try:
            return handler(value)
        except ValidationError as exc:
            if any(e["type"] == "value_error" for e in exc.errors()):
                raise  # _positive's own message
            raise ValueError(
                f"{value!r} is not a rebalance schedule (use a whole number of rows/days, "
                "or weekly, monthly or quarterly)"
            ) from None


class SweepConfig(_Strict):
    """The ``sweep`` command: every combination of the ``grid`` values, once per seed.

    ``grid`` maps dotted config keys (``model.xi``, ``model.penalty.scale``,
    ``solver.params.num_sweeps``, ...) to lists of values; which keys may be swept is checked
    by :func:`qubo_portfolio.workflows.sweep.plan_sweep`. ``seeds`` are solver seeds.
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0])

    @field_validator("grid")
    @classmethod
    def _non_empty_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return _grid_values(grid)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if not seeds:
            raise ValueError("no seeds (give a non-empty list, e.g. [0, 1, 2])")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{seeds} repeats a seed (list each seed once)")
        if any(not 0 <= s < 2**32 for s in seeds):
            raise ValueError(f"{seeds}: every seed must be in [0, 2^32)")
        return seeds


class Config(_Strict):
    """A whole experiment config (the top-level YAML mapping)."""

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig
    solver: SolverConfig = Field(default_factory=SolverConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    frontier: FrontierConfig = Field(default_factory=FrontierConfig)
    backtest: BacktestConfig | None = None
    sweep: SweepConfig | None = None


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """``tree[a][b][c] = value`` for ``key = "a.b.c"``, creating mappings on the way."""
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise InputError(f"--set {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.xi=0.2"`` -> ``("model.xi", 0.2)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set {text!r} is not KEY=VALUE (for example --set model.xi=0.2)")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    except ValueError as exc:  # YAML's own date parsing: 2022-13-01
        raise InputError(f"--set {text}: {exc} (dates are YYYY-MM-DD)") from exc
    return key.strip(), value


def allowed_keys(path: tuple | list) -> list[str]:
    """The keys the config section at ``path`` (e.g. ``("model", "windows")``) accepts;
    empty when ``path`` does not lead to a section."""
    import types
    import typing

    model: Any = Config
    for part in path:
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        candidates = [field.annotation]
        if typing.get_origin(field.annotation) in (typing.Union, types.UnionType):
            candidates = list(typing.get_args(field.annotation))
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not sections:
            return []
        model = sections[0]
    return [field.alias or name for name, field in model.model_fields.items()]


def did_you_mean(location: tuple | list) -> str:
    """``" (did you mean model.windows?)"`` for a misspelt key, else ``""``."""
    import difflib

    *section, key = [str(p) for p in location] or [""]
    matches = difflib.get_close_matches(key, allowed_keys(section), n=1, cutoff=0.6)
    return f"did you mean {'.'.join([*section, matches[0]])}? " if matches else ""


# what a value of the wrong type should have been, by pydantic's error type prefix
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "list": "a list",
    "dict": "a mapping",
}


def _origin(location: str, source: str, overrides: dict[str, str]) -> str:
    """Who set ``location``: the ``--set`` that set it (or a section holding it); for an error
    about a section, the file together with the ``--set`` options inside that section."""
    for key, text in overrides.items():
        if location == key or location.startswith(key + "."):
            return f"--set {text}"
    inside = [text for key, text in overrides.items() if key.startswith(location + ".")]
    if inside:
        return f"{source} with --set {', --set '.join(inside)}"
    return source


def _describe(error: dict, source: str, overrides: dict[str, str] | None = None) -> str:
    location = ".".join(str(p) for p in error["loc"])
    source = _origin(location, source, overrides or {})
    kind = error["type"]
    expected = _EXPECTED.get(kind.split("_")[0])
    if expected is not None and kind.endswith(("_parsing", "_type", "_from_float")):
        return f"{source}: {location} is {error.get('input')!r}: give {expected}"
    if kind == "extra_forbidden":
        hint = did_you_mean(error["loc"])
        return (
            f"{source}: unknown key {location} ({hint}remove it or check its spelling; see README)"
        )
    if kind == "missing":
        return f"{source}: missing required key {location} (add it)"
    message = error["msg"].removeprefix("Value error, ")
    if location:
        return f"{source}: {location}: {message}"
    return f"{source}: {message}"


def validate_config(
    raw: Any, source: str = "config", overrides: dict[str, str] | None = None
) -> Config:
    """Validate a parsed mapping; raise one-line :class:`InputError` on the first problem.

    ``overrides``: ``{dotted key: "KEY=VALUE"}`` of the ``--set`` options applied to ``raw``,
    so that an error in one of them names it instead of the file.
    """
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a YAML mapping with data/model/solver/report keys")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise InputError(_describe(errors[0], source, overrides)) from exc


def read_yaml(path: str | Path) -> dict:
    """The parsed YAML mapping of ``path`` (an :class:`InputError` when unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path} (check the path)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML{where} (fix the syntax)") from exc
    except ValueError as exc:  # YAML's own date parsing: 2022-02-30
        raise InputError(f"{path}: {exc} (dates are YYYY-MM-DD)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the file ({exc.__class__.__name__})") from exc
    return raw if raw is not None else {}


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a config file."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a YAML mapping with data/model/solver/report keys")
    applied = {}
    for text in overrides or []:
        key, value = parse_override(text)
        set_dotted(raw, key, value)
        applied[key] = text
    return validate_config(raw, str(path), applied)
