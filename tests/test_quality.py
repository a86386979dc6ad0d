"""summary.json's quality block against brute force on small models."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.core.quality import solution_quality
from qubo_portfolio.output.run import console_table, run_summary
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.run import exact_objective, run_experiment

from helpers import make_returns

WINDOWS = {"length": 40, "step": 20}


def brute_force(qubo, samples: pd.DataFrame) -> dict:
    """Recount everything from the 0/1 vectors with plain Python loops."""
    a = qubo.A
    n = qubo.num_assets
    if qubo.long_short:
        optimum = min(
            sum(a[i, j] for i in legs for j in legs)
            for stocks in itertools.combinations(range(n), qubo.k)
            for sides in itertools.product((0, 1), repeat=qubo.k)
            for legs in [[s + n * side for s, side in zip(stocks, sides, strict=True)]]
        )
    else:
        optimum = min(
            sum(a[i, j] for i in subset for j in subset)
            for subset in itertools.combinations(range(n), qubo.k)
        )
    index = {v: i for i, v in enumerate(qubo.variables)}
    objectives, selections = [], []
    for tickers, feasible in zip(samples["tickers"], samples["feasible"], strict=True):
        if not feasible:
            continue
        legs = [index[v] for v in tickers.split(";")]
        objectives.append(sum(a[i, j] for i in legs for j in legs))
        selections.append(frozenset(legs))
    best = min(objectives)
    at_best = sum(abs(o - best) <= 1e-9 * max(abs(o), abs(best)) for o in objectives)
    return {
        "optimum": optimum,
        "best": best,
        "reads_at_best": at_best,
        "distinct": len(set(selections)),
        "median": float(np.median(objectives)),
    }


@pytest.mark.parametrize("positions", ["long_only", "long_short"])
def test_quality_matches_brute_force(positions):
    returns = make_returns(n_rows=130, n_assets=8, seed=2)
    qubo = build_qubo(returns, k=3, xi=0.5, windows=WINDOWS, positions=positions)
    # a short sa run at a low penalty: reads spread over several selections
    sampleset = solve(qubo, "sa", num_reads=40, seed=1, num_sweeps=20, penalty_scale=0.2)
    decoded = decode(sampleset, qubo)
    expected = brute_force(qubo, decoded.samples)
    exact = exact_objective(qubo)
    assert exact == pytest.approx(expected["optimum"], rel=1e-12)
    quality = solution_quality(decoded.samples, exact)
    assert quality["reads"] == 40
    assert quality["feasible_reads"] == int(decoded.samples["feasible"].sum())
    assert quality["reads_at_best"] == expected["reads_at_best"]
    assert quality["distinct_solutions"] == expected["distinct"]
    assert quality["distinct_solutions"] > 1  # the test exercises the count
    assert quality["best_objective"] == pytest.approx(expected["best"], rel=1e-12)
    assert quality["median_objective"] == pytest.approx(expected["median"], rel=1e-12)
    assert quality["gap"] == pytest.approx(
        (expected["best"] - expected["optimum"]) / abs(expected["optimum"]), abs=1e-12
    )
    assert quality["gap"] >= 0


def test_gap_is_zero_at_the_optimum_and_positive_above_it():
    samples = pd.DataFrame(
        {
            "objective": [-2.0, -2.0 * (1 - 1e-12), -1.0, -3.0, -1.5],
            "feasible": [True, True, True, False, True],
            "tickers": ["a;b", "b;a", "a;c", "a", "b;c"],
            "energy": [-2.0, -2.0, -1.0, -9.0, -1.5],
        }
    )
    quality = solution_quality(samples, exact_objective=-2.0)
    assert quality["reads_at_best"] == 2  # equal within 1e-9 relative; infeasible -3 ignored
    assert quality["distinct_solutions"] == 4  # "a;b" and "b;a" are different strings
    assert quality["best_objective"] == -2.0 and quality["gap"] == 0.0
    assert quality["median_objective"] == pytest.approx(-1.75)
    assert solution_quality(samples, exact_objective=-4.0)["gap"] == pytest.approx(0.5)
    none = solution_quality(samples)
    assert none["exact_objective"] is None and none["gap"] is None


def test_exact_is_skipped_when_enumeration_is_too_long():
    returns = make_returns(n_rows=130, n_assets=40, seed=1)
    assert (
        exact_objective(build_qubo(returns, k=12, xi=0.5, windows=WINDOWS)) is None
    )  # C(40,12) ~ 5e9


def test_run_summary_and_console_carry_quality():
    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 9, "days": 200, "seed": 2}},
            "model": {"k": 3, "xi": 0.5, "lookback": 150, "windows": WINDOWS},
            "solver": {"name": "sa", "num_reads": 25, "params": {"num_sweeps": 30}},
            "report": {"plots": False},
        }
    )
    result = run_experiment(cfg)
    summary = run_summary(result)
    quality = summary["quality"]
    expected = brute_force(result.qubo, result.decoded.samples)
    assert quality["exact_objective"] == pytest.approx(expected["optimum"], rel=1e-12)
    assert quality["reads_at_best"] == expected["reads_at_best"]
    assert quality["best_objective"] == summary["objective"]
    text = console_table(result)
    assert f"best found by {quality['reads_at_best']} of 25 reads" in text
    assert "exact optimum" in text
