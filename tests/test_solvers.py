"""Solvers: registry, exact enumeration vs brute force, the penalty BQM's exact ground state."""

import itertools

import numpy as np
import pytest

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.core.returns import simple_returns
from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers import SOLVERS, get_solver
from qubo_portfolio.workflows.config import load_config
from qubo_portfolio.workflows.settings import build_model, load_data

from helpers import REPO, make_returns


def brute_force(qubo):
    """(objective, tickers) of every K'-subset, sorted, by plain Python."""
    a = qubo.A
    rows = []
    for subset in itertools.combinations(range(qubo.num_assets), qubo.k):
        value = sum(a[i, j] for i in subset for j in subset)
        rows.append((value, [qubo.tickers[i] for i in subset]))
    return sorted(rows, key=lambda r: r[0])


@pytest.mark.parametrize(("n", "k", "xi"), [(8, 3, 0.5), (10, 4, 2.0), (11, 1, 0.1), (9, 8, 1.0)])
def test_exact_equals_brute_force(n, k, xi):
    qubo = build_qubo(
        make_returns(100, n, seed=n + k), k=k, xi=xi, windows={"length": 25, "step": 15}
    )
    ranked = brute_force(qubo)
    sampleset = solve(qubo, "exact", num_reads=5)
    decoded = decode(sampleset, qubo)
    expected = [v for v, _ in ranked[:5]]
    np.testing.assert_allclose(sorted(decoded.samples["objective"]), expected, rtol=1e-10)
    assert decoded.best.tickers == ranked[0][1]
    assert decoded.best.objective == pytest.approx(ranked[0][0], rel=1e-12)
    assert decoded.feasible_fraction == 1.0


def test_exact_beyond_enumeration_returns_a_certified_selection_on_its_time_limit():
    """C(40, 20) = 1.4e11 subsets: branch and bound, cut at 2 s, still answers with a valid
    bound (never above the objective of any selection it or swap finds)."""
    qubo = build_qubo(make_returns(60, 40, seed=1), k=20, xi=0.1)
    sampleset = solve(qubo, "exact", time_limit=2)
    info = sampleset.info
    assert info["method"] == "branch_and_bound" and len(sampleset) == 1
    best = decode(sampleset, qubo).best
    assert best.feasible and best.objective == pytest.approx(sampleset.first.energy, rel=1e-12)
    assert info["lower_bound"] <= best.objective
    assert info["certified_gap"] >= 0
    swap_best = decode(solve(qubo, "swap", num_reads=20, seed=3), qubo).best.objective
    assert info["lower_bound"] <= swap_best + 1e-12 * abs(swap_best)


def test_exact_branch_and_bound_agrees_with_enumeration(monkeypatch):
    from qubo_portfolio.solvers import exact

    for seed in range(3):
        qubo = build_qubo(make_returns(80, 12, seed=seed), k=4, xi=0.5)
        enumerated = solve(qubo, "exact")
        monkeypatch.setattr(exact, "MAX_SUBSETS", 10)
        proved = solve(qubo, "exact", time_limit=30)
        monkeypatch.undo()
        assert enumerated.info["method"] == "enumeration"
        assert proved.info["method"] == "branch_and_bound" and proved.info["proven_optimal"]
        assert proved.first.energy == pytest.approx(enumerated.first.energy, rel=1e-9)
        optimum = enumerated.first.energy
        assert proved.info["lower_bound"] <= optimum + 1e-12 * abs(optimum)


def test_exact_time_limit_is_checked():
    qubo = build_qubo(make_returns(60, 8, seed=1), k=3, xi=0.1)
    with pytest.raises(InputError, match="time_limit = -1 for exact"):
        solve(qubo, "exact", time_limit=-1)


def test_exact_bqm_ground_state_is_the_constrained_optimum_above_the_bound():
    qubo = build_qubo(
        make_returns(100, 10, seed=4), k=4, xi=1.0, windows={"length": 25, "step": 15}
    )
    best = brute_force(qubo)[0]
    decoded = decode(solve(qubo, "exact-bqm", num_reads=3, penalty_scale=1.0), qubo)
    assert decoded.best.tickers == best[1]
    assert decoded.samples["energy"].iloc[0] == pytest.approx(best[0], rel=1e-9)


def test_exact_bqm_with_no_penalty_prefers_infeasible_states():
    qubo = build_qubo(make_returns(100, 10, seed=4), k=4, xi=0.0)
    sampleset = solve(qubo, "exact-bqm", num_reads=1, penalty_scale=0.0)
    assert sampleset.first.sample != {} and sum(sampleset.first.sample.values()) != 4
    with pytest.raises(InputError, match="no feasible sample"):
        decode(sampleset, qubo)


def test_exact_bqm_refuses_large_k():
    qubo = build_qubo(make_returns(60, 21, seed=1), k=3, xi=0.1)
    with pytest.raises(InputError, match="K = 21 exceeds 20"):
        solve(qubo, "exact-bqm")


def test_sa_finds_the_exact_optimum_on_the_default_config():
    cfg = load_config(REPO / "configs" / "default.yaml", ["solver.name=sa"])
    qubo = build_model(simple_returns(load_data(cfg.data).prices), cfg.model)
    exact = decode(solve(qubo, "exact"), qubo).best
    sampleset = solve(
        qubo,
        "sa",
        num_reads=cfg.solver.num_reads,
        seed=cfg.solver.seed,
        penalty_scale=cfg.model.penalty.scale,
        **cfg.solver.params,
    )
    found = decode(sampleset, qubo).best
    assert found.tickers == exact.tickers
    assert found.objective == pytest.approx(exact.objective, rel=1e-9)


@pytest.mark.parametrize("name", ["sa", "neal", "tabu"])
def test_penalty_solvers_record_lambda_and_return_labelled_samples(name):
    qubo = build_qubo(
        make_returns(100, 12, seed=2), k=3, xi=0.5, windows={"length": 25, "step": 15}
    )
    sampleset = solve(
        qubo,
        name,
        num_reads=4,
        seed=7,
        penalty_scale=0.5,
        **({"timeout": 5} if name == "tabu" else {}),
    )
    assert set(sampleset.variables) == set(qubo.tickers)
    assert sampleset.info["penalty"] == pytest.approx(0.5 * qubo.penalty_bound())
    assert sampleset.info["solver"] == get_solver(name).name
    bqm = qubo.to_bqm(scale=0.5)
    np.testing.assert_allclose(sampleset.record.energy, bqm.energies(sampleset), rtol=1e-9)


def test_same_seed_same_samples():
    qubo = build_qubo(make_returns(100, 12, seed=2), k=3, xi=0.5)
    a = solve(qubo, "sa", num_reads=5, seed=3)
    b = solve(qubo, "sa", num_reads=5, seed=3)
    np.testing.assert_array_equal(a.record.sample, b.record.sample)


def test_unknown_solver_and_params():
    qubo = build_qubo(make_returns(), k=2, xi=0.1)
    with pytest.raises(InputError, match="unknown solver 'gurobi'"):
        solve(qubo, "gurobi")
    with pytest.raises(InputError, match="unknown solver.params for sa: sweeps"):
        solve(qubo, "sa", sweeps=10)
    with pytest.raises(InputError, match="num_reads"):
        solve(qubo, "sa", num_reads=0)


def test_registry_lists_the_issue_solvers():
    assert {"sa", "tabu", "exact", "exact-bqm"} <= set(SOLVERS)
    assert get_solver("neal") is SOLVERS["sa"]


def test_objective_flip_deltas_match_recomputation():
    from qubo_portfolio.solvers.dwave import objective_beta_range, objective_flip_deltas

    qubo = build_qubo(make_returns(100, 7, seed=8), k=3, xi=0.5, windows={"length": 25, "step": 15})
    a = qubo.A
    deltas = np.sort(objective_flip_deltas(a, 3, states=50, seed=1))
    rng = np.random.default_rng(1)
    expected = []
    x = np.zeros((50, 7))
    picks = np.argsort(rng.random((50, 7)), axis=1)[:, :3]
    np.put_along_axis(x, picks, 1.0, axis=1)
    for state in x:
        for i in range(7):
            flipped = state.copy()
            flipped[i] = 1 - flipped[i]
            expected.append(abs(flipped @ a @ flipped - state @ a @ state))
    expected = np.sort([e for e in expected if e > 0])
    np.testing.assert_allclose(deltas, expected, rtol=1e-9)
    hot, cold = objective_beta_range(a, 3)
    assert 0 < hot < cold


def test_sa_beta_range_default_and_dwave():
    qubo = build_qubo(make_returns(100, 12, seed=2), k=3, xi=0.5)
    from qubo_portfolio.solvers.dwave import objective_beta_range

    ours = solve(qubo, "sa", num_reads=2, num_sweeps=10)
    assert ours.info["beta_range"] == pytest.approx(objective_beta_range(qubo.A, 3))
    theirs = solve(qubo, "sa", num_reads=2, num_sweeps=10, beta_range="dwave")
    assert theirs.info["beta_range"][1] < ours.info["beta_range"][1]
    with pytest.raises(InputError, match="beta_range"):
        solve(qubo, "sa", beta_range="hot")


def test_swap_and_polish_through_solve():
    qubo = build_qubo(
        make_returns(100, 12, seed=2), k=4, xi=0.5, windows={"length": 25, "step": 15}
    )
    best = brute_force(qubo)[0]
    sampleset = solve(qubo, "swap", num_reads=5, seed=1)
    decoded = decode(sampleset, qubo)
    assert decoded.feasible_fraction == 1.0
    assert decoded.best.tickers == best[1]
    np.testing.assert_allclose(decoded.samples["energy"], decoded.samples["objective"], rtol=1e-9)
    assert sampleset.info["penalty"] is None and len(sampleset.info["beta_range"]) == 2
    polished = decode(solve(qubo, "sa", num_reads=8, seed=1, penalty_scale=0.0, polish=True), qubo)
    samples = polished.samples
    assert polished.feasible_fraction == 1.0
    assert {"objective_raw", "feasible_raw", "num_selected_raw"} <= set(samples)
    assert polished.feasible_fraction_raw == samples["feasible_raw"].mean() < 1.0
    raw_ok = samples["feasible_raw"].astype(bool)
    assert (samples.loc[raw_ok, "objective"] <= samples.loc[raw_ok, "objective_raw"] + 1e-15).all()


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("sa", {"num_sweeps": "abc"}, "solver.params.num_sweeps = 'abc' for sa"),
        ("sa", {"num_sweeps": 10, "num_sweeps_per_beta": 3}, "divisible by 3"),
        ("sa", {"beta_range": [1]}, "beta_range"),
        ("sa", {"beta_range": [5, 1]}, "hot <= cold"),
        ("sa", {"beta_schedule_type": "cubic"}, "linear or geometric"),
        ("sa", {"proposal_acceptance_criteria": "foo"}, "Metropolis or Gibbs"),
        ("sa", {"randomize_order": "maybe"}, "true or false"),
        ("tabu", {"timeout": -1}, "milliseconds > 0"),  # dwave-samplers would hang
        ("tabu", {"timeout": "abc"}, "milliseconds > 0"),
        ("tabu", {"tenure": -2}, "whole number >= 0"),
        ("swap", {"num_sweeps": -5}, "solver.params.num_sweeps = -5 for swap"),
        ("swap", {"beta_range": "abc"}, "beta_range"),
        ("swap", {"proposal_type": "greedy"}, "best or random"),
    ],
)
def test_bad_solver_param_values_are_one_clear_error(name, params, message):
    qubo = build_qubo(make_returns(60, 6, seed=1), k=2, xi=0.1)
    with pytest.raises(InputError, match=message):
        solve(qubo, name, num_reads=1, **params)
    with pytest.raises(InputError, match=message):
        get_solver(name).check_params(params)


def test_exact_branch_and_bound_bound_is_in_the_bqms_energy_units(monkeypatch):
    """Sampling a BQM with an offset (and in SPIN): the bound shifts with the energies."""
    import dimod

    from qubo_portfolio.solvers import exact

    qubo = build_qubo(make_returns(80, 10, seed=4), k=3, xi=0.5)
    bqm = qubo.objective_bqm().copy()
    bqm.offset += 0.25
    for model in (bqm, bqm.change_vartype(dimod.SPIN, inplace=False)):
        optimum = exact.KSubsetExactSampler().sample(model, k=3).first.energy  # enumerated
        monkeypatch.setattr(exact, "MAX_SUBSETS", 1)
        result = exact.KSubsetExactSampler().sample(model, k=3, time_limit=20)
        monkeypatch.undo()
        assert result.info["method"] == "branch_and_bound" and result.info["proven_optimal"]
        assert result.first.energy == pytest.approx(optimum, abs=1e-12)
        assert result.info["lower_bound"] <= optimum + 1e-12
        assert result.info["lower_bound"] == pytest.approx(optimum, abs=1e-9)
