"""The page of a ``frontier`` folder: Markowitz portfolios, QUBO selections, random ones."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .folder import read_json
from .html import kv_table, num, para, table, warnings_box
from .sections import config_section, data_notes, data_rows, environment_section, figures

FRONTIER_NAMES = (
    "min_volatility",
    "max_sharpe",
    "max_sortino",
    "efficient_risk",
    "efficient_return",
    "equal_weight_all",
)


def _holdings(weights: Mapping[str, float] | None, top: int = 4) -> str:
    held = sorted(
        ((t, w) for t, w in (weights or {}).items() if w is not None and abs(w) > 1e-6),
        key=lambda tw: -tw[1],
    )
    shown = ", ".join(f"{t} {w:.0%}" for t, w in held[:top])
    return f"{len(held)}: {shown}" + (f", +{len(held) - top}" if len(held) > top else "")


def frontier_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    p = read_json(folder / "portfolios.json")
    in_sample = p.get("in_sample") or {}
    q = p.get("qubo_model") or {}
    overview = kv_table(
        [
            *data_rows(p.get("data")),
            (
                "in sample",
                f"{in_sample.get('start')}..{in_sample.get('end')} ({in_sample.get('rows')} days)",
            ),
            ("expected returns", p.get("expected_returns_method")),
            ("risk-free rate", p.get("risk_free_rate")),
            ("random portfolios", f"{p.get('random_portfolios')} (seed {p.get('seed')})"),
            ("frontier points", p.get("frontier_points")),
            (
                "QUBO",
                f"K' = {q.get('k')}, {q.get('return_term')}, {q.get('solver')}, "
                f"{q.get('num_reads')} reads",
            ),
        ],
        table_id="overview",
    )
    rows = []
    for name in FRONTIER_NAMES:
        port = p.get(name)
        if not isinstance(port, dict):
            continue
        rows.append(
            [
                name,
                num(port.get("annualized_return")),
                num(port.get("annualized_volatility")),
                num(port.get("sharpe")),
                num(port.get("sortino")),
                _holdings(port.get("weights")),
            ]
        )
    points = p.get("qubo") or []
    for point in points:
        rows.append(
            [
                f"qubo xi={point.get('xi')}",
                num(point.get("annualized_return")),
                num(point.get("annualized_volatility")),
                num(point.get("sharpe")),
                num(point.get("sortino")),
                f"{len(point.get('tickers') or [])}: {', '.join(point.get('tickers') or [])}",
            ]
        )
    metrics = table(
        ["portfolio", "return", "volatility", "sharpe", "sortino", "holdings"], rows, "metrics"
    )
    selection = table(
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
    rb = p.get("random_best") or {}
    random_rows = [
        [
            name,
            r.get("measure"),
            num(r.get(r.get("measure"))),
            num(r.get("exact")),
            num(r.get("gap")),
        ]
        for name, r in rb.items()
        if isinstance(r, dict)
    ]
    random_body = para(
        f"The best of the {p.get('random_portfolios')} random portfolios against the exact optimum:"
    ) + table(["portfolio", "measure", "best random", "exact", "gap"], random_rows, "random")
    notes = data_notes(p.get("data"), in_sample.get("start"))
    excluded = q.get("assets_excluded") or []
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
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("metrics", "Portfolios", metrics),
        ("selection", "QUBO selections", selection),
        ("random", "Random portfolios", random_body),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, p.get("config"))),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = (
        f"Markowitz frontier and equal-weight QUBO selections, in sample "
        f"{in_sample.get('start')}..{in_sample.get('end')}"
    )
    return subtitle, sections
