"""The frontier writer: ``portfolios.json``, ``frontier.csv``, ``random_portfolios.csv``,
``frontier.png`` and the console report of a :class:`~qubo_portfolio.workflows.frontier.FrontierResult`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..classical import frontier
from ..workflows.frontier import FrontierResult
from .files import write_json
from .plots.frontier import plot_frontier
from .report import finish_folder


def frontier_summary(result: FrontierResult) -> dict[str, Any]:
    """The ``portfolios.json`` payload."""
    cfg = result.config
    returns = result.returns
    complete_rows = int(returns.notna().all(axis=1).sum())
    payload: dict[str, Any] = {name: p.to_dict() for name, p in result.portfolios.items()}
    payload["qubo"] = [point.to_dict() for point in result.qubo]
    payload["random_best"] = result.random_best
    payload.update(
        {
            "risk_free_rate": result.risk_free_rate,
            "expected_returns_method": cfg.frontier.expected_returns,
            "in_sample": {
                "start": returns.index[0].date().isoformat(),
                "end": returns.index[-1].date().isoformat(),
                "rows": len(returns),
                "complete_rows": complete_rows,
            },
            "estimates": {
                "expected_returns": result.expected_returns.to_dict(),
                "volatility": dict(
                    zip(
                        map(str, result.covariance.index),
                        np.sqrt(np.diag(result.covariance.to_numpy())).tolist(),
                        strict=True,
                    )
                ),
                "observations": returns.count().astype(int).to_dict(),
                "covariance_psd_repaired": bool(result.covariance.attrs.get("psd_repaired")),
                "covariance_min_eigenvalue": result.covariance.attrs.get("min_eigenvalue"),
            },
            "random_portfolios": len(result.cloud),
            "seed": cfg.frontier.seed,
            "frontier_points": len(result.frontier),
            "qubo_model": {
                "k": cfg.model.k,
                "return_term": cfg.model.return_term,
                "solver": cfg.solver.name,
                "num_reads": cfg.solver.num_reads,
                "assets_excluded": result.qubo_assets_excluded,
            },
            "timings": result.timings,
            "data": result.data.report,
            "config": cfg.model_dump(),
            "version": __version__,
        }
    )
    return payload


def write_frontier(result: FrontierResult, folder: Path, plots: bool = True) -> list[Path]:
    """Write one frontier run's files into ``folder`` (use inside ``staged_output``)."""
    written = []
    path = folder / "portfolios.json"
    write_json(path, frontier_summary(result))
    written.append(path)
    path = folder / "frontier.csv"
    result.frontier.to_csv(path, index_label="point")
    written.append(path)
    path = folder / "random_portfolios.csv"
    result.cloud.to_csv(path, index_label="portfolio")
    written.append(path)
    if plots:
        written.append(plot_frontier(result, folder / "frontier.png"))
    written += finish_folder(folder, result.config, "frontier")  # config.yaml, environment, report
    return written


def _holdings(weights: pd.Series, top: int = 3) -> str:
    held = weights[weights.abs() > frontier.WEIGHT_ZERO].sort_values(ascending=False)
    shown = ", ".join(f"{t} {w:.0%}" for t, w in held.iloc[:top].items())
    more = f", +{len(held) - top}" if len(held) > top else ""
    return f"{len(held):>2}  {shown}{more}"


def frontier_table(result: FrontierResult) -> str:
    """A plain-text report of one frontier run for the terminal."""
    cfg, returns = result.config, result.returns
    lines = [
        f"assets {returns.shape[1]}  in-sample {returns.index[0].date()}.."
        f"{returns.index[-1].date()} ({len(returns)} days)  expected returns "
        f"{cfg.frontier.expected_returns}  rf {result.risk_free_rate:g}",
        f"random portfolios {len(result.cloud)} (seed {cfg.frontier.seed})  frontier points "
        f"{len(result.frontier)}  QUBO k {cfg.model.k} solver {cfg.solver.name}",
        "",
        f"{'portfolio':<22}{'return':>9}{'volatility':>12}{'sharpe':>9}{'sortino':>9}  holdings",
    ]

    def row(name: str, p: frontier.FrontierPortfolio, holdings: str) -> str:
        return (
            f"{name:<22}{p.annualized_return:>9.4f}{p.annualized_volatility:>12.4f}"
            f"{p.sharpe:>9.4f}{p.sortino:>9.4f}  {holdings}"
        )

    targets = cfg.frontier.targets
    for name, p in result.portfolios.items():
        label = name
        if name == "efficient_risk":
            label = f"efficient_risk {targets.risk:g}"
        elif name == "efficient_return":
            label = f"efficient_return {targets.return_:g}"
        lines.append(row(label, p, _holdings(p.weights)))
    for point in result.qubo:
        tickers = ", ".join(point.selection.tickers)
        lines.append(row(f"qubo xi={point.xi:g}", point.portfolio, f"{cfg.model.k:>2}  {tickers}"))
    rb = result.random_best
    lines += [
        "",
        f"best of {len(result.cloud)} random portfolios: min volatility "
        f"{rb['min_volatility']['annualized_volatility']:.4f} "
        f"(+{rb['min_volatility']['gap']:.4f} above the exact minimum), max Sharpe "
        f"{rb['max_sharpe']['sharpe']:.4f} (-{rb['max_sharpe']['gap']:.4f}), max Sortino "
        f"{rb['max_sortino']['sortino']:.4f} (-{rb['max_sortino']['gap']:.4f})",
    ]
    notes = []
    if result.qubo_assets_excluded:
        notes.append(
            f"QUBO without {len(result.qubo_assets_excluded)} incomplete assets "
            f"({', '.join(result.qubo_assets_excluded[:5])}"
            f"{', ...' if len(result.qubo_assets_excluded) > 5 else ''})"
        )
    complete_rows = int(returns.notna().all(axis=1).sum())
    if complete_rows < len(returns):
        notes.append(
            f"Sortino (and max_sortino) on the {complete_rows} of {len(returns)} days "
            "where every asset has data"
        )
    if result.covariance.attrs.get("psd_repaired"):
        notes.append("pairwise covariance repaired to PSD")
    if notes:
        lines += ["", "note: " + "; ".join(notes)]
    return "\n".join(lines)
