"""Solver benchmark: quality and time to solution of several solvers on one instance.

Every case (a solver with its parameters) runs ``repeats`` times with ``reads`` reads each,
seeds ``seed, seed + 1, ...``, after one untimed warm-up call (numba compilation, imports).
Figures per case:

- ``time_per_read`` = wall time of all repeats / all reads (the solver call only; building
  the model is shared and not counted)
- ``best_objective``, ``median_objective`` of ``x^T A x`` over the feasible reads
- ``gap`` = ``(best_objective - best_known) / |best_known|``
- ``hit_rate`` = share of all reads with ``objective <= best_known + 1e-9 |best_known|``
  (an infeasible read is a miss)
- ``tts99 = time_per_read * ln(0.01) / ln(1 - hit_rate)``: the expected time to see the best
  known at least once with 99% confidence (``time_per_read`` when every read hits, infinite
  when none does).
- ``repeats_hit``: share of repeats (calls of ``reads`` reads) whose best read is a hit.

``best_known`` is the best objective over every read of the bench unless given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..core.decode import NoFeasibleSample, decode
from ..core.model import PortfolioQubo
from ..core.quality import PROVEN_RTOL, gap_of
from ..core.returns import simple_returns
from ..errors import InputError
from ..solvers import get_solver, solve
from ..solvers.certify import certify
from .config import Config, load_config, validate_config
from .settings import build_model, load_for_model

HIT_TOLERANCE = 1e-9
COLUMNS = [
    "solver",
    "params",
    "reads",
    "wall_seconds",
    "time_per_read",
    "best_objective",
    "median_objective",
    "gap",
    "median_gap",
    "feasible_fraction",
    "hit_rate",
    "tts99",
    "repeats_hit",
]


@dataclass(frozen=True)
class BenchCase:
    """One solver configuration: ``swap``, ``tabu:timeout=50``, ``sa+polish:num_sweeps=2000``."""

    solver: str
    params: dict[str, Any] = field(default_factory=dict)
    polish: bool = False

    @property
    def label(self) -> str:
        name = self.solver + ("+polish" if self.polish else "")
        if not self.params:
            return name
        return name + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())

    @classmethod
    def parse(cls, text: str) -> BenchCase:
        """``NAME[+polish][:key=value,key=value]``; values are read as YAML."""
        head, _, tail = text.partition(":")
        name, plus, extra = head.partition("+")
        if plus and extra != "polish":
            raise InputError(f"--solver {text!r}: only '+polish' may follow the name")
        params = {}
        for item in filter(None, _split_top_level(tail)):
            key, eq, value = item.partition("=")
            if not eq:
                raise InputError(
                    f"--solver {text!r}: parameters are key=value (e.g. tabu:timeout=50)"
                )
            try:
                params[key.strip()] = yaml.safe_load(value)
            except (yaml.YAMLError, ValueError):
                raise InputError(
                    f"--solver {text!r}: {key.strip()}={value} is not a valid value "
                    "(numbers, words or [hot, cold] lists)"
                ) from None
        try:
            get_solver(name.strip()).check_params(params)
        except InputError as exc:
            raise InputError(f"--solver {text!r}: {exc}") from None
        return cls(name.strip(), params, bool(plus))


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets: ``"a=1,b=[1, 2]"`` -> ``["a=1", "b=[1, 2]"]``."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char in "[{(") - (char in "]})")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


DEFAULT_CASES = (
    "swap",
    "tabu:timeout=20",
    "tabu:timeout=50",
    "tabu:timeout=100",
    "tabu:timeout=200",
    "sa",
    "sa+polish",
)


def tts99(time_per_read: float, hit_rate: float) -> float:
    """``time_per_read * ln(0.01) / ln(1 - hit_rate)`` (inf without hits)."""
    if hit_rate <= 0:
        return math.inf
    if hit_rate >= 1:
        return time_per_read
    return time_per_read * math.log(0.01) / math.log(1 - hit_rate)


def run_case(
    qubo: PortfolioQubo,
    case: BenchCase,
    *,
    reads: int,
    repeats: int,
    seed: int = 0,
    penalty_scale: float = 1.0,
    exclusion_scale: float = 1.0,
    penalty: float | None = None,
    exclusion: float | None = None,
) -> tuple[float, list[np.ndarray]]:
    """Wall seconds of all repeats and, per repeat, every read's objective (inf: infeasible).

    Long/short models: a read holding both legs of a stock is infeasible (a miss).
    """

    def once(num_reads: int, s: int) -> tuple[float, np.ndarray]:
        start = time.perf_counter()
        sampleset = solve(
            qubo,
            case.solver,
            num_reads=num_reads,
            seed=s,
            penalty=penalty,
            penalty_scale=penalty_scale,
            exclusion=exclusion,
            exclusion_scale=exclusion_scale,
            polish=case.polish,
            **case.params,
        )
        elapsed = time.perf_counter() - start
        try:
            samples = decode(sampleset, qubo).samples
        except NoFeasibleSample:  # all misses
            return elapsed, np.full(len(sampleset), np.inf)
        return elapsed, np.where(samples["feasible"], samples["objective"], np.inf)

    once(1, seed)  # warm-up: compilation and imports are not timed
    wall, objectives = 0.0, []
    for r in range(repeats):
        elapsed, values = once(reads, seed + r)
        wall += elapsed
        objectives.append(values)
    return wall, objectives


def summarize(
    case: BenchCase, wall: float, repeats: list[np.ndarray], best_known: float
) -> dict[str, Any]:
    """One row of the bench table from the per-repeat objectives."""
    objectives = np.concatenate(repeats)
    feasible = objectives[np.isfinite(objectives)]
    scale = abs(best_known) if best_known != 0 else 1.0
    threshold = best_known + HIT_TOLERANCE * scale
    hits = objectives <= threshold
    per_read = wall / len(objectives)
    best = float(feasible.min()) if len(feasible) else math.inf
    median = float(np.median(feasible)) if len(feasible) else math.inf
    return {
        "solver": case.solver + ("+polish" if case.polish else ""),
        "params": ",".join(f"{k}={v}" for k, v in case.params.items()),
        "reads": len(objectives),
        "wall_seconds": wall,
        "time_per_read": per_read,
        "best_objective": best,
        "median_objective": median,
        "gap": (best - best_known) / scale,
        "median_gap": (median - best_known) / scale,
        "feasible_fraction": len(feasible) / len(objectives),
        "hit_rate": float(hits.mean()),
        "tts99": tts99(per_read, float(hits.mean())),
        "repeats_hit": float(np.mean([r.min() <= threshold for r in repeats])),
    }


@dataclass
class BenchResult:
    """The table, every read's objective per case, and the best known used."""

    table: pd.DataFrame
    objectives: dict[str, np.ndarray]
    best_known: float
    best_known_source: str
    lower_bound: float | None = None
    """Certified lower bound on the optimum (``prove``), None when not computed."""
    proven: bool = False
    """Whether ``best_known`` is the proven optimum."""


def run_bench(
    qubo: PortfolioQubo,
    cases: Sequence[BenchCase],
    *,
    reads: int = 20,
    repeats: int = 5,
    seed: int = 0,
    penalty_scale: float = 1.0,
    best_known: float | None = None,
    progress: Any = None,
    exclusion_scale: float = 1.0,
    penalty: float | None = None,
    exclusion: float | None = None,
    prove: float = 0.0,
) -> BenchResult:
    """Run every case; see the module docstring for the figures.

    ``penalty`` / ``exclusion`` are absolute lambda / gamma (they override the scales).
    ``prove`` > 0: seconds for :func:`~qubo_portfolio.solvers.certify.certify` to prove the
    optimum of the bench's best read (enumeration when the subsets are few, else branch and
    bound); a proven optimum becomes the reference ("proven optimum"), otherwise the best
    known stays the reference and its certified lower bound is reported.
    """
    if reads < 1 or repeats < 1:
        raise InputError("--reads and --repeats must be >= 1")
    runs = {}
    for case in cases:
        if progress is not None:
            progress(case.label)
        runs[case.label] = (
            case,
            *run_case(
                qubo,
                case,
                reads=reads,
                repeats=repeats,
                seed=seed,
                penalty_scale=penalty_scale,
                exclusion_scale=exclusion_scale,
                penalty=penalty,
                exclusion=exclusion,
            ),
        )
    observed = min(float(np.concatenate(obj).min()) for _, _, obj in runs.values())
    if best_known is None:
        if not math.isfinite(observed):
            raise InputError("no solver found a feasible portfolio (raise --penalty-scale)")
        best, source = observed, "best over this bench"
    else:
        best, source = float(best_known), "given (--best-known)"
        if observed < best - HIT_TOLERANCE * abs(best):
            source += f"; this bench found a better one: {observed:.9e}"
    lower, proven = None, False
    if prove > 0 and best_known is None:
        best, source, lower, proven = _proven_reference(qubo, best, prove, seed)
    rows = [summarize(case, wall, obj, best) for case, wall, obj in runs.values()]
    table = pd.DataFrame(rows, columns=COLUMNS)
    objectives = {label: np.concatenate(obj) for label, (_, _, obj) in runs.items()}
    return BenchResult(table, objectives, best, source, lower, proven)


def _proven_reference(
    qubo: PortfolioQubo, observed: float, seconds: float, seed: int
) -> tuple[float, str, float, bool]:
    """The reference objective, its source, a certified lower bound and whether proven."""
    clock = time.perf_counter()
    found = solve(qubo, "swap", num_reads=20, seed=seed)
    best_x = decode(found, qubo).best.legs
    cert = certify(qubo, best_x, time_limit=seconds, seed=seed)
    # the incumbent's swap run and the bound, without numba's one-time compilation
    elapsed = time.perf_counter() - clock - cert["compile_seconds"]
    optimum = min(cert["optimum"], observed)
    gap = gap_of(optimum, cert["lower_bound"])
    if gap <= PROVEN_RTOL:
        return (
            optimum,
            f"proven by {cert['bound_method']} in {elapsed:.1f} s",
            cert["lower_bound"],
            True,
        )
    source = (
        f"best known, not proven: certified lower bound {cert['lower_bound']:.9e} "
        f"(gap <= {gap:.2%} after {elapsed:.1f} s of {cert['bound_method']})"
    )
    return optimum, source, cert["lower_bound"], False


def bench_config(
    config: Path | None,
    overrides: list[str] | None = None,
    *,
    prices: Path | None = None,
    synthetic: int | None = None,
    days: int | None = None,
    data_seed: int | None = None,
    max_gap: int | None = None,
    k: int | None = None,
    xi: float | None = None,
    lookback: int | None = None,
    window_length: int | None = None,
    window_step: int | None = None,
) -> tuple[Config, str]:
    """The config of a bench instance and a short name for it.

    Exactly one source: a CONFIG (its data and model; ``k`` and ``xi`` override), a price
    CSV (``prices``) or a synthetic market of ``synthetic`` assets; without a config the
    instance options default to the study's protocol (last 126 returns, 21-row windows
    stepping 10, K' = 30, xi = 0.05).
    """
    sources = sum(x is not None for x in (config, prices, synthetic))
    if sources != 1:
        raise InputError("bench needs exactly one of CONFIG, --prices CSV or --synthetic N")
    instance_options = {
        "--days": days,
        "--data-seed": data_seed,
        "--max-gap": max_gap,
        "--lookback": lookback,
        "--window-length": window_length,
        "--window-step": window_step,
    }
    if config is not None:
        given = [name for name, value in instance_options.items() if value is not None]
        if given:
            raise InputError(
                f"{', '.join(given)}: only without a CONFIG (with a config, use "
                "--set model.lookback=... or --set model.windows.length=...)"
            )
        cfg = load_config(config, overrides)
        if k is not None or xi is not None:
            update = {
                "k": cfg.model.k if k is None else k,
                "xi": cfg.model.xi if xi is None else xi,
            }
            cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update=update)})
        return cfg, Path(config).stem
    if overrides:
        raise InputError("--set needs a CONFIG (with --prices or --synthetic use options)")
    if prices is not None and not Path(prices).is_file():
        raise InputError(f"price file not found: {prices} (check --prices)")
    data = (
        {"source": "csv", "path": str(prices), "max_gap": 0 if max_gap is None else max_gap}
        if prices is not None
        else {
            "source": "synthetic",
            "synthetic": {
                "assets": synthetic,
                "days": 127 if days is None else days,
                "seed": 1 if data_seed is None else data_seed,
            },
        }
    )
    model = {
        "k": 30 if k is None else k,
        "xi": 0.05 if xi is None else xi,
        "lookback": 126 if lookback is None else lookback,
        "windows": {
            "length": 21 if window_length is None else window_length,
            "step": 10 if window_step is None else window_step,
        },
    }
    try:
        cfg = validate_config({"data": data, "model": model}, "bench options")
    except InputError as exc:
        raise InputError(in_option_terms(str(exc))) from exc
    stem = Path(prices).name.split(".")[0] if prices is not None else f"synthetic{synthetic}"
    return cfg, stem


# Without a CONFIG the instance comes from options: messages name those, not config keys.
OPTION_OF_KEY = {
    "data.max_gap": "--max-gap",
    "model.windows.length": "--window-length",
    "model.windows.step": "--window-step",
    "windows.length": "--window-length",
    "windows.step": "--window-step",
    "model.lookback": "--lookback",
    "model.k": "--k",
    "model.xi": "--xi",
}


def in_option_terms(message: str) -> str:
    """``message`` with the config keys a bench without a CONFIG sets by options named as those
    options (``model.k = 30 is out of range`` -> ``--k = 30 is out of range``)."""
    for key, option in OPTION_OF_KEY.items():
        message = message.replace(key, option)
    if "data." in message:  # a key no option sets (data.date_format, data.sep, ...)
        message += (
            " (bench takes data.* keys from a CONFIG: bench a config whose data.path is the file)"
        )
    return message


def dropped_option_notes(report: dict) -> list[str]:
    """:func:`~qubo_portfolio.core.data.dropped_notes` for ``bench --prices``: the fix is
    ``--max-gap`` (or a CONFIG for ``data.start`` and ``data.missing``)."""
    return [
        f"note: asset {ticker} dropped: {why} (--max-gap N fills gaps of up to N rows; for "
        "data.start or data.missing: keep, bench a CONFIG)"
        for ticker, why in (report.get("dropped_assets") or {}).items()
    ]


@dataclass(frozen=True)
class BenchInstance:
    """The model a bench solves, its penalties, and a one-line description."""

    qubo: PortfolioQubo
    description: str
    penalty: float | None
    penalty_scale: float
    exclusion: float | None
    exclusion_scale: float
    data_report: dict = field(default_factory=dict, compare=False)


def bench_instance(cfg: Config, name: str, penalty_scale: float | None = None) -> BenchInstance:
    """Load the data, build the model and describe it (``penalty_scale`` overrides the
    config's penalty, absolute or relative)."""
    penalty = cfg.model.penalty
    value = penalty.value if penalty_scale is None else None
    scale = penalty.scale if penalty_scale is None else penalty_scale
    data = load_for_model(cfg.data, cfg.model)
    qubo = build_model(simple_returns(data.prices), cfg.model)
    description = (
        f"{name}: K={qubo.num_assets}, K'={qubo.k}, xi={qubo.xi:g}, M={qubo.num_windows} "
        f"windows of {cfg.model.windows.length} rows, "
        + (f"lambda = {value:g}" if value is not None else f"lambda = {scale:g} lambda*")
    )
    if qubo.long_short:
        description += f", long/short ({qubo.num_variables} legs), " + (
            f"gamma = {penalty.exclusion_value:g}"
            if penalty.exclusion_value is not None
            else f"gamma = {penalty.exclusion_scale:g} gamma*"
        )
    return BenchInstance(
        qubo,
        description,
        value,
        scale,
        penalty.exclusion_value,
        penalty.exclusion_scale,
        data.report,
    )
