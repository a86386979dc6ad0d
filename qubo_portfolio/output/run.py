"""The run writer: summary.json, selection.csv, samples.csv, plots, and the console table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .._version import __version__
from ..classical.network import correlation_network
from ..core.metrics import MEASURES
from .files import write_json
from .plots.run import plot_cumulative_returns, plot_diversification, plot_network
from .report import finish_folder

if TYPE_CHECKING:
    from ..workflows.run import RunResult


def run_summary(result: RunResult) -> dict:
    """The summary.json payload of one run."""
    cfg, qubo, decoded = result.config, result.qubo, result.decoded
    best = decoded.best
    info = result.sampleset.info
    summary = {
        "tickers": best.tickers,
        "weights": best.weights.to_dict(),
        "positions": qubo.positions,
        "legs": best.legs,
        "k": qubo.k,
        "xi": qubo.xi,
        "return_term": qubo.return_term,
        "covariance": qubo.covariance,
        "expected_returns": qubo.expected_returns,
        "estimator_params": qubo.estimator_params,
        "num_assets": qubo.num_assets,
        "num_variables": qubo.num_variables,
        "penalty": info.get("penalty"),
        "penalty_bound": info.get("penalty_bound"),
        "exclusion_penalty": info.get("exclusion_penalty"),
        "exclusion_penalty_bound": info.get("exclusion_penalty_bound"),
        "solver": info.get("solver"),
        "solver_params": cfg.solver.params,
        "num_reads": len(decoded.samples),
        "seed": cfg.solver.seed,
        "energy": best.energy,
        "objective": best.objective,
        "feasible": best.feasible,
        "feasible_fraction": decoded.feasible_fraction,
        "quality": result.quality,
        "polished": bool(info.get("polished")),
        "timings": result.timings,
        "metrics": result.metrics,
        "benchmark": {"name": "equal_weight_all", "metrics": result.benchmark},
        "diversification": result.diversification,
        "in_sample": {
            "start": result.returns.index[0].date().isoformat(),
            "end": result.returns.index[-1].date().isoformat(),
            "rows": len(result.returns),
        },
        "windows": {
            **cfg.model.windows.model_dump(),
            "lookback": cfg.model.lookback,
            "num_windows": qubo.num_windows,
            "bounds": [w.to_dict() for w in qubo.windows],
        },
        "data": result.data.report,
        "config": cfg.model_dump(),
        "version": __version__,
    }
    if decoded.feasible_fraction_raw is not None:
        samples = decoded.samples
        raw_feasible = samples.loc[samples["feasible_raw"].astype(bool), "objective_raw"]
        summary["raw"] = {
            "feasible_fraction": decoded.feasible_fraction_raw,
            "best_feasible_objective": float(raw_feasible.min()) if len(raw_feasible) else None,
            "median_objective": float(samples["objective_raw"].median()),
        }
    for key in ("beta_range", "num_sweeps", "proposals_per_sweep"):
        if key in info:
            summary.setdefault("solver_info", {})[key] = info[key]
    return summary


def write_run(result: RunResult, folder: Path, plots: bool = True) -> list[Path]:
    """Write one run's files into ``folder`` (use inside :func:`staged_output`)."""
    written = []
    path = folder / "summary.json"
    write_json(path, run_summary(result))
    written.append(path)
    path = folder / "selection.csv"
    selection_table(result.decoded.best).to_csv(path, index=False)
    written.append(path)
    path = folder / "samples.csv"
    result.decoded.samples.to_csv(path)
    written.append(path)
    if plots:
        written.append(plot_cumulative_returns(result, folder / "cumulative_returns.png"))
        network = correlation_network(result.returns)
        written.append(plot_network(result, folder / "network.png", network))
        path = plot_diversification(result, folder / "diversification.png", network)
        if path is not None:
            written.append(path)
    written += finish_folder(folder, result.config, "run")  # config.yaml, environment, report
    return written


def selection_table(best) -> pd.DataFrame:
    """``ticker, side, weight`` of a selection (``side``: long or short)."""
    return pd.DataFrame(
        {
            "ticker": best.weights.index,
            "side": best.sides or ["long"] * len(best.weights),
            "weight": best.weights.to_numpy(),
        }
    )


def _compile_note(info: dict) -> str:
    """`` (incl. 6.1 s one-time kernel compilation)`` when numba compiled this run."""
    compiled = (info.get("sampler_timing") or {}).get("compile", 0.0)
    if isinstance(compiled, int | float) and compiled > 0.5:
        return f" (incl. {compiled:.1f} s one-time kernel compilation)"
    return ""


def quality_lines(quality: dict | None, compile_seconds: float = 0.0) -> list[str]:
    """``best found by n of N reads (d distinct selections)``; when enumerated, the gap to the
    exact optimum; with ``solver.certify``, ``within x% of optimal (certified: ...)`` (and the
    one-time kernel compilation of the bound, ``compile_seconds``, when it took long)."""
    if not quality:
        return []
    distinct = quality["distinct_solutions"]
    line = (
        f"best found by {quality['reads_at_best']} of {quality['reads']} reads "
        f"({distinct} distinct selection{'s' * (distinct != 1)}"
    )
    if quality.get("median_objective") is not None:
        line += f", median objective {quality['median_objective']:.6e}"
    line += ")"
    lines = [line]
    if quality.get("exact_objective") is not None:
        gap = quality["gap"]
        verdict = "the optimum" if gap == 0 else f"gap {gap:.3%}"
        lines.append(
            f"exact optimum {quality['exact_objective']:.6e} (all portfolios enumerated): {verdict}"
        )
    if quality.get("lower_bound") is not None:
        gap = quality["certified_gap"]
        verdict = "proven optimal" if quality["proven_optimal"] else f"within {gap:.3%} of optimal"
        lines.append(
            f"{verdict} (certified: lower bound {quality['lower_bound']:.6e} by "
            f"{quality['bound_method']} in {quality['bound_seconds']:.2f} s"
            + (
                f", plus {compile_seconds:.1f} s one-time kernel compilation"
                * (compile_seconds > 0.5)
            )
            + ")"
        )
    return lines


def console_table(result: RunResult) -> str:
    """A plain-text report of one run for the terminal."""
    best, decoded = result.decoded.best, result.decoded
    info = result.sampleset.info
    lam = info.get("penalty")
    gamma = info.get("exclusion_penalty")
    qubo = result.qubo
    if qubo.long_short:
        positions = f"  long/short ({qubo.num_variables} legs)"
        exclusion = f"  exclusion {'-' if gamma is None else f'{gamma:.4g}'}"
        longs = [t for t, s in zip(best.tickers, best.sides, strict=True) if s == "long"]
        shorts = [t for t, s in zip(best.tickers, best.sides, strict=True) if s == "short"]
        selected = f"long  {', '.join(longs) or '-'}  short  {', '.join(shorts) or '-'}"
    else:
        positions = exclusion = ""
        selected = ", ".join(best.tickers)
    lines = [
        f"assets {result.qubo.num_assets}  k {result.qubo.k}  xi {result.qubo.xi:g}  "
        f"windows {result.qubo.num_windows}  in-sample {result.returns.index[0].date()}.."
        f"{result.returns.index[-1].date()} ({len(result.returns)} days){positions}",
        f"solver {info.get('solver')}  reads {len(decoded.samples)}  "
        f"penalty {'-' if lam is None else f'{lam:.4g}'}{exclusion}  "
        f"feasible {decoded.feasible_fraction:.0%}"
        + (
            f" (raw {decoded.feasible_fraction_raw:.0%})"
            if decoded.feasible_fraction_raw is not None
            else ""
        )
        + f"  solve {result.timings.get('solve_seconds', float('nan')):.2f} s"
        + _compile_note(info),
        f"objective {best.objective:.6e}  energy {best.energy:.6e}",
        *quality_lines(result.quality, result.timings.get("certify_compile_seconds", 0.0)),
        f"selected  {selected}",
        "",
        "in-sample measures (the lookback the model saw; not a forecast, see `backtest`)",
        f"{'measure':<24}{'selection':>12}{'1/N all':>12}",
    ]
    for name in MEASURES:
        lines.append(f"{name:<24}{result.metrics[name]:>12.4f}{result.benchmark[name]:>12.4f}")
    spread = result.diversification or {}
    if spread.get("mean_tree_distance") is not None:
        lines += [
            "",
            f"diversification: mean tree distance {spread['mean_tree_distance']:.4f} on the "
            f"correlation MST (median of {spread['random_subsets']} random "
            f"{spread['num_selected']}-subsets {spread['random_median']:.4f})",
            f"  percentile {spread['percentile']:.0f} of random subsets: higher = more spread "
            "out (more diversified)",
        ]
    report = result.data.report
    notes = []
    dropped = list(report.get("dropped_assets") or {})
    if dropped:
        names = ", ".join(dropped[:5]) + (
            f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        )
        notes.append(f"{len(dropped)} incomplete asset{'s' * (len(dropped) > 1)} dropped ({names})")
    moves = report.get("large_moves") or []
    first = result.returns.index[0].date().isoformat()
    inside = [m for m in moves if m["date"] >= first and m["ticker"] in result.returns.columns]
    if inside:
        names = ", ".join(f"{m['ticker']} {m['date']}" for m in inside[:3])
        plural = "s" * (len(inside) > 1)
        notes.append(f"{len(inside)} one-day move{plural} beyond +-50% in sample ({names})")
    elif moves:
        notes.append(f"{len(moves)} one-day moves beyond +-50% in the data, none in sample")
    if notes:
        lines += ["", "data: " + "; ".join(notes) + " (see summary.json: data)"]
    return "\n".join(lines)
