"""solver.certify: a valid lower bound and a certified gap for any run's answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers import certify as certify_module
from qubo_portfolio.solvers.certify import certify, gap_of

from helpers import make_returns


def brute_force(qubo) -> tuple[float, np.ndarray]:
    """The optimum over every feasible 0/1 vector, in plain numpy."""
    n, best, best_x = qubo.num_variables, np.inf, None
    for subset in itertools.combinations(range(n), qubo.k):
        x = np.zeros(n)
        x[list(subset)] = 1
        if qubo.long_short and (x[: n // 2] * x[n // 2 :]).any():
            continue
        value = x @ qubo.A @ x
        if value < best:
            best, best_x = value, x
    return float(best), best_x


MODELS = [
    dict(n=9, k=3, xi=0.5, positions="long_only", return_term="linear"),
    dict(n=10, k=4, xi=40.0, positions="long_only", return_term="linear"),  # negative A
    dict(n=6, k=3, xi=2.0, positions="long_short", return_term="squared"),
    dict(n=7, k=2, xi=0.0, positions="long_short", return_term="linear"),
]


@pytest.mark.parametrize("spec", MODELS)
@pytest.mark.parametrize("enumerate_", [True, False])
def test_the_bound_never_exceeds_the_optimum_and_the_gap_is_the_truth(
    spec, enumerate_, monkeypatch
):
    if not enumerate_:  # force branch and bound
        monkeypatch.setattr(certify_module, "ENUMERATION_LIMIT", 0)
    qubo = build_qubo(
        make_returns(90, spec["n"], seed=spec["n"]),
        k=spec["k"],
        xi=spec["xi"],
        windows={"length": 30, "step": 15},
        positions=spec["positions"],
        return_term=spec["return_term"],
    )
    optimum, best_x = brute_force(qubo)
    reads = decode(solve(qubo, "swap", num_reads=10, seed=1), qubo).samples
    worst = reads.loc[reads["feasible"]].sort_values("objective").iloc[-1]
    for selection in (best_x, worst["tickers"].split(";")):
        cert = certify(qubo, selection, time_limit=20)
        objective = qubo.objective(selection)
        assert cert["lower_bound"] <= optimum + 1e-12 * abs(optimum)
        assert cert["bound_method"].startswith("enumeration" if enumerate_ else "branch")
        assert cert["bound_proven"]
        truth = gap_of(objective, optimum)
        assert cert["certified_gap"] == pytest.approx(truth, rel=1e-6, abs=1e-9)
        assert cert["proven_optimal"] == (truth <= 1e-9)


def test_a_run_with_certify_reports_the_block():
    from qubo_portfolio.workflows.config import validate_config
    from qubo_portfolio.workflows.run import run_experiment

    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 12, "days": 200}},
            "model": {"k": 4, "windows": {"length": 40, "step": 20}},
            "solver": {"name": "sa", "num_reads": 5, "certify": True},
        },
        "test",
    )
    result = run_experiment(cfg)
    cert = result.quality
    optimum, _ = brute_force(result.qubo)
    assert cert["exact_objective"] == pytest.approx(optimum, rel=1e-12)
    assert cert["bound_method"] == "enumeration" and cert["bound_seconds"] >= 0
    assert cert["lower_bound"] <= optimum + 1e-12 * abs(optimum)
    assert cert["certified_gap"] == pytest.approx(
        gap_of(result.decoded.best.objective, optimum), rel=1e-6, abs=1e-12
    )


def test_an_infeasible_selection_is_refused():
    qubo = build_qubo(make_returns(90, 6, seed=1), k=3, xi=0.0, windows={"length": 30, "step": 15})
    with pytest.raises(InputError, match="feasible selection"):
        certify(qubo, ["T00", "T01"])


def test_a_run_with_exact_beyond_enumeration_reports_its_certificate(monkeypatch):
    from qubo_portfolio.solvers import exact
    from qubo_portfolio.workflows import run
    from qubo_portfolio.workflows.config import validate_config
    from qubo_portfolio.workflows.run import run_experiment

    monkeypatch.setattr(exact, "MAX_SUBSETS", 10)  # branch and bound on a small model
    monkeypatch.setattr(run, "EXACT_WORK", 0)  # and no enumeration for quality
    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 12, "days": 200}},
            "model": {"k": 4, "windows": {"length": 40, "step": 20}},
            "solver": {"name": "exact", "num_reads": 1, "params": {"time_limit": 20}},
        },
        "test",
    )
    result = run_experiment(cfg)
    quality = result.quality
    optimum, _ = brute_force(result.qubo)
    assert quality["bound_method"].startswith("branch_and_bound")
    assert quality["proven_optimal"] and quality["certified_gap"] <= 1e-9
    assert quality["lower_bound"] <= optimum + 1e-15 * abs(optimum)
    assert quality["best_objective"] == pytest.approx(optimum, rel=1e-12)


def test_the_gap_is_scaled_by_the_larger_magnitude():
    assert gap_of(2.0, 1.0) == 0.5  # the usual relative gap
    assert gap_of(1e-20, -1e-6) == pytest.approx(1.0)  # near 0: not 1e14
    assert gap_of(1.0, 1.0) == 0.0 and gap_of(0.0, 0.0) == 0.0
    assert gap_of(1.0, 2.0) == 0.0  # clamped: never negative


def test_kernel_compilation_is_reported_apart_and_not_on_the_clock(monkeypatch):
    """The one-time numba compilation runs before branch and bound's clock starts: it is
    ``compile_seconds``, neither in ``bound_seconds`` nor eating the time limit."""
    import time

    slow = 0.3

    def compile_slowly() -> float:
        time.sleep(slow)
        return slow

    monkeypatch.setattr(certify_module, "ENUMERATION_LIMIT", 0)
    monkeypatch.setattr(certify_module, "ensure_compiled", compile_slowly)
    qubo = build_qubo(make_returns(90, 9, seed=9), k=3, xi=0.5, windows={"length": 30, "step": 15})
    _, best_x = brute_force(qubo)
    start = time.perf_counter()
    cert = certify(qubo, best_x, time_limit=20)
    elapsed = time.perf_counter() - start
    assert cert["compile_seconds"] == slow
    assert cert["bound_seconds"] <= elapsed - slow
    # enumeration compiles nothing
    monkeypatch.setattr(certify_module, "ENUMERATION_LIMIT", 10**9)
    assert certify(qubo, best_x)["compile_seconds"] == 0.0


def test_the_console_names_a_long_compilation_of_the_bound():
    from qubo_portfolio.output.run import quality_lines

    quality = {
        "reads_at_best": 1,
        "reads": 2,
        "distinct_solutions": 2,
        "lower_bound": -1.0,
        "certified_gap": 0.0,
        "proven_optimal": True,
        "bound_method": "branch_and_bound (shor)",
        "bound_seconds": 1.25,
    }
    assert quality_lines(quality, 6.5)[-1].endswith(
        "in 1.25 s, plus 6.5 s one-time kernel compilation)"
    )
    assert quality_lines(quality, 0.1)[-1].endswith("in 1.25 s)")
