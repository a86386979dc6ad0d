"""The page of a ``frontier`` folder: Markowitz portfolios, QUBO selections, random ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .folder import read_json
from .html import Section, kv_table, num, para, table
from .sections import closing_sections, data_notes, data_rows, in_sample_text

FRONTIER_NAMES = (
    "min_volatility",
    "max_sharpe",
    "max_sortino",
    "efficient_risk",
    "efficient_return",
    "equal_weight_all",
)


def frontier_report(folder: Path) -> tuple[str, list[Section]]:
    """The subtitle and sections of a frontier's page, from ``portfolios.json``."""
    p = read_json(folder / "portfolios.json")
    in_sample = p.get("in_sample") or {}
    points = p.get("qubo") or []
    sections = [
        ("overview", "What was run", _overview(p)),
        ("metrics", "Portfolios", _portfolios(p, points)),
        ("selection", "QUBO selections", _qubo_selections(points)),
        ("random", "Random portfolios", _random(p)),
        *closing_sections(folder, _notes(p), p.get("config")),
    ]
    subtitle = (
        f"Markowitz frontier and equal-weight QUBO selections, in sample "
        f"{in_sample.get('start')}..{in_sample.get('end')}"
    )
    return subtitle, sections


def _overview(p: Mapping[str, Any]) -> str:
    """Data, in-sample days, estimators, random portfolios, frontier points, the QUBO."""
    q = p.get("qubo_model") or {}
    rows = [
        *data_rows(p.get("data")),
        ("in sample", in_sample_text(p.get("in_sample") or {})),
        ("expected returns", p.get("expected_returns_method")),
        ("risk-free rate", p.get("risk_free_rate")),
        ("random portfolios", f"{p.get('random_portfolios')} (seed {p.get('seed')})"),
        ("frontier points", p.get("frontier_points")),
        (
            "QUBO",
            f"K' = {q.get('k')}, {q.get('return_term')}, {q.get('solver')}, "
            f"{q.get('num_reads')} reads",
        ),
    ]
    return kv_table(rows, table_id="overview")


def _portfolios(p: Mapping[str, Any], points: list[Mapping[str, Any]]) -> str:
    """The named Markowitz portfolios, 1/N of all assets, then one row per QUBO selection."""
    rows = [
        _portfolio_row(name, p[name]) for name in FRONTIER_NAMES if isinstance(p.get(name), dict)
    ]
    rows += [_qubo_row(point) for point in points]
    return table(
        ["portfolio", "return", "volatility", "sharpe", "sortino", "holdings"], rows, "metrics"
    )


def _portfolio_row(name: str, port: Mapping[str, Any]) -> list[Any]:
    return [
        name,
        num(port.get("annualized_return")),
        num(port.get("annualized_volatility")),
        num(port.get("sharpe")),
        num(port.get("sortino")),
        _holdings(port.get("weights")),
    ]


def _qubo_row(point: Mapping[str, Any]) -> list[Any]:
    return [
        f"qubo xi={point.get('xi')}",
        num(point.get("annualized_return")),
        num(point.get("annualized_volatility")),
        num(point.get("sharpe")),
        num(point.get("sortino")),
        f"{len(point.get('tickers') or [])}: {', '.join(point.get('tickers') or [])}",
    ]


def _holdings(weights: Mapping[str, float] | None, top: int = 4) -> str:
    """How many assets are held, the ``top`` largest with their weights."""
    held = sorted(
        ((t, w) for t, w in (weights or {}).items() if w is not None and abs(w) > 1e-6),
        key=lambda tw: -tw[1],
    )
    shown = ", ".join(f"{t} {w:.0%}" for t, w in held[:top])
    return f"{len(held)}: {shown}" + (f", +{len(held) - top}" if len(held) > top else "")


def _qubo_selections(points: list[Mapping[str, Any]]) -> str:
    """One row per xi: the equal-weight QUBO selection and its measures."""
    return table(
        ["xi", "selection", "objective", "return", "volatility", "sharpe", "feasible"],
        [
            [
                num(pt.get("xi"), "g"),
                ", ".join(pt.get("tickers") or []),
                num(pt.get("objective"), ".6e"),
                num(pt.get("annualized_return")),
                num(pt.get("annualized_volatility")),
                num(pt.get("sharpe")),
                num(pt.get("feasible_fraction"), ".0%"),
            ]
            for pt in points
        ],
        "selection",
    )


def _random(p: Mapping[str, Any]) -> str:
    """The best of the random portfolios against the exact optimum, per measure."""
    rows = [
        [
            name,
            r.get("measure"),
            num(r.get(r.get("measure"))),
            num(r.get("exact")),
            num(r.get("gap")),
        ]
        for name, r in (p.get("random_best") or {}).items()
        if isinstance(r, dict)
    ]
    return para(
        f"The best of the {p.get('random_portfolios')} random portfolios against the exact optimum:"
    ) + table(["portfolio", "measure", "best random", "exact", "gap"], rows, "random")


def _notes(p: Mapping[str, Any]) -> list[str]:
    """The data's notes, assets the QUBO left out, a repaired covariance, Sortino's days."""
    in_sample = p.get("in_sample") or {}
    notes = data_notes(p.get("data"), in_sample.get("start"))
    excluded = (p.get("qubo_model") or {}).get("assets_excluded") or []
    if excluded:
        notes.append(f"QUBO without {len(excluded)} incomplete asset(s): {', '.join(excluded)}")
    est = p.get("estimates") or {}
    if est.get("covariance_psd_repaired"):
        notes.append("the pairwise covariance was repaired to positive semidefinite")
    if in_sample.get("complete_rows") is not None and in_sample.get("complete_rows") < (
        in_sample.get("rows") or 0
    ):
        notes.append(
            f"Sortino on the {in_sample['complete_rows']} of {in_sample['rows']} days where every "
            "asset has data"
        )
    return notes
