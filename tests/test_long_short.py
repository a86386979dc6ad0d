"""Long/short selection (2K legs): the matrix, the exclusion penalty, every solver, decoding."""

from __future__ import annotations

import itertools
import json

import dimod
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.cli import app
from qubo_portfolio.core.decode import selection_from_vector
from qubo_portfolio.core.metrics import portfolio_measures
from qubo_portfolio.core.returns import window_bounds
from qubo_portfolio.errors import InputError

from helpers import REPO, make_returns

SCHEME = {"length": 25, "step": 15}


def ls_qubo(n=8, k=3, xi=0.5, seed=0, rows=100, return_term="linear"):
    return build_qubo(
        make_returns(rows, n, seed=seed),
        k=k,
        xi=xi,
        windows=SCHEME,
        return_term=return_term,
        positions="long_short",
    )


def holds_both(qubo, x) -> bool:
    n = qubo.num_assets
    x = np.asarray(x)
    return bool(((x[:n] != 0) & (x[n:] != 0)).any())


# --------------------------------------------------------------------------------------------
# the matrix
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("return_term", ["linear", "squared"])
@pytest.mark.parametrize(
    "scheme", [{"length": 21, "step": 10}, {"length": 30, "count": 4, "unit": "calendar_days"}]
)
def test_A_is_the_matrix_of_the_returns_with_minus_r_appended(return_term, scheme):
    """A over [long, short] = 1/(M K'^2) sum_m (Q^(m) - xi P^(m)) of the 2K columns [r, -r]."""
    r = make_returns(150, 7, seed=3)
    k, xi, n = 3, 0.8, 7
    qubo = build_qubo(
        r, k=k, xi=xi, windows=scheme, return_term=return_term, positions="long_short"
    )
    legs = np.hstack([r.to_numpy(), -r.to_numpy()])
    windows = window_bounds(r.index, scheme)
    total = np.zeros((2 * n, 2 * n))
    for w in windows:
        x = legs[w.start : w.stop]
        q = np.cov(x, rowvar=False, ddof=1)
        mu = x.mean(axis=0)
        total += q - xi * (np.diag(mu) if return_term == "linear" else np.outer(mu, mu))
    expected = total / (len(windows) * k**2)
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(qubo.A, qubo.A.T)

    # the blocks: [[Q, -Q], [-Q, Q]] and [mu, -mu]
    q_bar = qubo.q_bar / k**2
    long_only = build_qubo(r, k=k, xi=xi, windows=scheme, return_term=return_term)
    np.testing.assert_allclose(qubo.A[:n, :n], long_only.A, rtol=1e-12, atol=1e-18)
    if return_term == "linear":
        mu = qubo.moments.mean_mean / k**2
        np.testing.assert_allclose(qubo.A[:n, n:], -q_bar, rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(qubo.A[n:, n:], q_bar + xi * np.diag(mu), rtol=1e-12)
    else:
        np.testing.assert_allclose(qubo.A[:n, n:], -long_only.A, rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(qubo.A[n:, n:], long_only.A, rtol=1e-12, atol=1e-18)

    assert qubo.variables == [f"long:{t}" for t in r.columns] + [f"short:{t}" for t in r.columns]
    assert qubo.num_variables == 14 and qubo.num_assets == 7
    assert qubo.twin.tolist() == [*range(7, 14), *range(7)]
    assert list(qubo.matrix.index) == qubo.variables
    assert long_only.variables == long_only.tickers and (long_only.twin == -1).all()


@pytest.mark.parametrize("return_term", ["linear", "squared"])
def test_objective_is_mean_window_variance_minus_xi_return_of_the_signed_portfolio(return_term):
    r = make_returns(126, 10, seed=5)
    k, xi = 4, 2.5
    scheme = {"length": 21, "step": 10}
    qubo = build_qubo(
        r, k=k, xi=xi, windows=scheme, return_term=return_term, positions="long_short"
    )
    legs = ["long:T01", "short:T04", "long:T05", "short:T09"]
    port = ((r["T01"] - r["T04"] + r["T05"] - r["T09"]) / k).to_numpy()  # weights +-1/K'
    terms = []
    for w in window_bounds(r.index, scheme):
        seg = port[w.start : w.stop]
        ret = seg.mean()
        terms.append(seg.var(ddof=1) - xi * (ret / k if return_term == "linear" else ret**2))
    assert qubo.objective(legs) == pytest.approx(np.mean(terms), rel=1e-10)


def test_penalty_bqm_energy_is_objective_plus_both_penalties():
    qubo = ls_qubo(n=6, k=3, xi=1.0, seed=4)
    bqm = qubo.to_bqm(scale=0.3, exclusion_scale=0.7)
    lam, gamma = qubo.penalty_used, qubo.exclusion_used
    assert lam == pytest.approx(0.3 * qubo.penalty_bound())
    assert gamma == pytest.approx(0.7 * qubo.exclusion_bound())
    assert list(bqm.variables) == qubo.variables
    n = qubo.num_assets
    a = qubo.A
    for i in range(n):  # the twin pairs carry gamma on top of 2 A_ij + 2 lambda
        bias = bqm.get_quadratic(f"long:T{i:02d}", f"short:T{i:02d}")
        assert bias == pytest.approx(2 * a[i, i + n] + 2 * lam + gamma, rel=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(300):
        x = (rng.random(2 * n) < rng.random()).astype(float)
        both = float((x[:n] * x[n:]).sum())
        expected = x @ a @ x + lam * (x.sum() - 3) ** 2 + gamma * both
        sample = dict(zip(qubo.variables, x.astype(int).tolist(), strict=True))
        assert bqm.energy(sample) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert qubo.to_bqm(penalty=0.01, exclusion=0.02) is not None
    assert (qubo.penalty_used, qubo.exclusion_used) == (0.01, 0.02)
    long_only = build_qubo(make_returns(80, 6, seed=4), k=3, xi=1.0)
    long_only.to_bqm(exclusion=5.0)  # ignored: there is no exclusion penalty
    assert long_only.exclusion_used is None and long_only.exclusion_bound() is None


# --------------------------------------------------------------------------------------------
# the exclusion bound, by brute force
# --------------------------------------------------------------------------------------------


def reference_exclusion_bound(a, n):
    """gamma* from its definition, in plain Python: the two largest min-leg flip bounds."""
    flip = [
        abs(a[v][v]) + 2 * sum(abs(a[v][j]) for j in range(2 * n) if j != v) for v in range(2 * n)
    ]
    m = sorted(min(flip[i], flip[i + n]) for i in range(n))
    return m[-1] + m[-2]


def all_states(n_vars):
    return np.array(list(itertools.product([0, 1], repeat=n_vars)), dtype=float)


def energies(qubo, states, lam, gamma):
    n = qubo.num_assets
    objective = np.einsum("ri,ij,rj->r", states, qubo.A, states)
    both = (states[:, :n] * states[:, n:]).sum(axis=1)
    return objective + lam * (states.sum(axis=1) - qubo.k) ** 2 + gamma * both, both


def has_lower_neighbour(states, energy):
    """For every state: is one flip or one swap (a 1 out, a 0 in) strictly lower?"""
    n_vars = states.shape[1]
    index = (states.astype(np.int64) << np.arange(n_vars - 1, -1, -1)).sum(axis=1)
    assert (index == np.arange(len(states))).all()  # itertools.product order
    lower = np.zeros(len(states), dtype=bool)
    for i in range(n_vars):
        bit_i = 1 << (n_vars - 1 - i)
        lower |= energy[index ^ bit_i] < energy
        for j in range(n_vars):
            if i == j:
                continue
            bit_j = 1 << (n_vars - 1 - j)
            swap_ok = (states[:, i] == 1) & (states[:, j] == 0)
            lower |= swap_ok & (energy[index ^ bit_i ^ bit_j] < energy)
    return lower


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("xi", [0.0, 1.0])
def test_above_the_exclusion_bound_no_state_with_both_legs_is_optimal(seed, xi):
    """gamma = gamma*: for every lambda >= 0, every k, each state holding both legs of a stock
    has a strictly lower neighbour (one flip or one swap), so the BQM's minimizers never
    hold both legs, and among the K'-leg states those with both legs are never best."""
    n = 6
    states = all_states(2 * n)
    for k in (2, 5, 6):
        qubo = ls_qubo(n=n, k=k, xi=xi, seed=seed, rows=80)
        gamma = qubo.exclusion_bound()
        assert gamma == pytest.approx(reference_exclusion_bound(qubo.A.tolist(), n), rel=1e-12)
        for lam in (
            0.0,
            0.05 * qubo.penalty_bound(),
            qubo.penalty_bound(),
            3 * qubo.penalty_bound(),
        ):
            energy, both = energies(qubo, states, lam, gamma)
            doubled = both > 0
            assert has_lower_neighbour(states, energy)[doubled].all()
            assert not doubled[np.argmin(energy)]
            cardinal = states.sum(axis=1) == k
            assert energy[cardinal & doubled].min() > energy[cardinal & ~doubled].min()


def test_a_too_small_exclusion_penalty_can_fail():
    """At xi = 0 both legs of a stock cancel: holding them lowers the variance, so with a small
    gamma the BQM's ground state (even among K'-leg states) holds both legs of a stock."""
    n = 6
    states = all_states(2 * n)
    qubo = ls_qubo(n=n, k=3, xi=0.0, seed=0, rows=80)
    lam, bound = qubo.penalty_bound(), qubo.exclusion_bound()
    for gamma in (0.0, 0.01 * bound):
        energy, both = energies(qubo, states, lam, gamma)
        assert both[np.argmin(energy)] > 0
    energy, both = energies(qubo, states, lam, bound)
    assert both[np.argmin(energy)] == 0
    # the same seen through the exact-bqm solver
    ground = solve(qubo, "exact-bqm", num_reads=1, penalty_scale=1.0, exclusion=0.0)
    x = np.array([ground.first.sample[v] for v in qubo.variables])
    assert holds_both(qubo, x) and x.sum() == 3
    with pytest.raises(InputError, match="no stock on both sides"):
        decode(ground, qubo)
    ground = solve(qubo, "exact-bqm", num_reads=1, penalty_scale=1.0)
    assert ground.info["exclusion_penalty"] == pytest.approx(bound)
    assert decode(ground, qubo).best.feasible


# --------------------------------------------------------------------------------------------
# solvers
# --------------------------------------------------------------------------------------------


def brute_force_long_short(qubo):
    """(objective, legs) of every K'-subset of the 2K legs without both legs of a stock,
    sorted, by plain Python."""
    a = qubo.A.tolist()
    n = qubo.num_assets
    rows = []
    for subset in itertools.combinations(range(2 * n), qubo.k):
        stocks = [v % n for v in subset]
        if len(set(stocks)) < len(stocks):
            continue
        value = sum(a[i][j] for i in subset for j in subset)
        rows.append((value, [qubo.variables[v] for v in subset]))
    return sorted(rows, key=lambda row: row[0])


def optimal_leg_sets(ranked):
    """Every leg set within 1e-12 (relative) of the optimum. At xi = 0 flipping every side
    leaves the variance unchanged, so optima come at least in mirror pairs."""
    best = ranked[0][0]
    return [legs for value, legs in ranked if value <= best + 1e-12 * abs(best)]


@pytest.mark.parametrize(("k", "xi", "seed"), [(3, 0.5, 1), (4, 0.0, 2), (2, 3.0, 3)])
def test_optimum_equals_brute_force_over_2K_leg_subsets(k, xi, seed):
    qubo = ls_qubo(n=10, k=k, xi=xi, seed=seed)
    ranked = brute_force_long_short(qubo)
    assert len(ranked) == len(list(itertools.combinations(range(10), k))) * 2**k
    exact = decode(solve(qubo, "exact", num_reads=5), qubo)
    np.testing.assert_allclose(
        sorted(exact.samples["objective"]), [v for v, _ in ranked[:5]], rtol=1e-10
    )
    optima = optimal_leg_sets(ranked)
    assert len(optima) == (2 if xi == 0 else 1)
    assert exact.best.legs in optima
    swap = decode(solve(qubo, "swap", num_reads=10, seed=seed), qubo)
    assert swap.best.legs in optima
    assert swap.best.objective == pytest.approx(ranked[0][0], rel=1e-12)
    tabu = decode(solve(qubo, "tabu", num_reads=3, seed=seed, timeout=5), qubo)
    assert tabu.best.legs in optima


@pytest.mark.parametrize("name", ["swap", "sa", "tabu", "exact", "exact-bqm"])
def test_no_solver_holds_both_legs_of_a_stock(name):
    """xi = 0, where holding both legs of a stock would cut the variance: with the default
    gamma no decoded best sample (and no sample of the penalty-free solvers) does."""
    qubo = ls_qubo(n=8, k=3, xi=0.0, seed=5)
    params = {"timeout": 5} if name == "tabu" else {}
    sampleset = solve(qubo, name, num_reads=20, seed=2, penalty_scale=1.0, **params)
    decoded = decode(sampleset, qubo)
    best = decoded.best
    assert best.feasible and len(best.legs) == 3
    assert len(set(best.tickers)) == 3 and "both" not in best.sides
    x = qubo.indicator(best.legs)
    assert not holds_both(qubo, x)
    ranked = brute_force_long_short(qubo)
    optimum = ranked[0]
    if name != "sa":
        assert best.legs in optimal_leg_sets(ranked)
    assert best.objective >= optimum[0] - 1e-12 * abs(optimum[0])
    if name in ("swap", "exact"):
        assert (decoded.samples["both_legs"] == 0).all() and decoded.feasible_fraction == 1.0
    if sampleset.info["penalty"] is not None:
        assert sampleset.info["exclusion_penalty"] == pytest.approx(qubo.exclusion_bound())
    else:
        assert sampleset.info["exclusion_penalty"] is None


def test_polish_repairs_samples_holding_both_legs():
    qubo = ls_qubo(n=8, k=3, xi=0.0, seed=5)
    raw = solve(qubo, "sa", num_reads=30, seed=1, penalty_scale=0.0, exclusion=0.0)
    X = raw.record.sample[:, [raw.variables.index(v) for v in qubo.variables]]
    assert any(holds_both(qubo, x) for x in X)  # without penalties sa holds both legs
    polished = solve(
        qubo, "sa", num_reads=30, seed=1, penalty_scale=0.0, exclusion=0.0, polish=True
    )
    decoded = decode(polished, qubo)
    assert decoded.feasible_fraction == 1.0 and (decoded.samples["both_legs"] == 0).all()
    assert decoded.feasible_fraction_raw == 0.0
    assert not decoded.samples["feasible_raw"].any()
    n = qubo.num_assets
    a = qubo.A
    Y = polished.record.sample[:, [polished.variables.index(v) for v in qubo.variables]]
    for y in Y:  # every polished sample is a local minimum among the allowed swaps
        e = y @ a @ y
        for i in np.flatnonzero(y):
            for j in np.flatnonzero(y == 0):
                if y[(j + n) % (2 * n)] and (j + n) % (2 * n) != i:
                    continue
                z = y.copy()
                z[i], z[j] = 0, 1
                assert z @ a @ z >= e - 1e-9 * abs(e)


def test_k_may_equal_the_number_of_stocks():
    qubo = ls_qubo(n=6, k=6, xi=0.5, seed=2)
    ranked = brute_force_long_short(qubo)
    assert len(ranked) == 2**6
    for name in ("exact", "swap"):
        best = decode(solve(qubo, name, num_reads=8, seed=0), qubo).best
        assert best.legs in optimal_leg_sets(ranked) and len(best.tickers) == 6
    with pytest.raises(InputError, match=r"choose 1 <= k <= 6 \(legs"):
        ls_qubo(n=6, k=7)
    with pytest.raises(InputError, match="choose 1 <= k < 6"):
        build_qubo(make_returns(100, 6, seed=2), k=6, xi=0.5)
    with pytest.raises(InputError, match="long_short"):
        build_qubo(make_returns(100, 6, seed=2), k=2, xi=0.5, positions="both")


def test_limits_of_the_exact_solvers():
    # beyond enumeration (C(30, 8) 2^8 portfolios): branch and bound, one leg per stock
    qubo = ls_qubo(n=30, k=8)
    sampleset = solve(qubo, "exact", time_limit=2)
    best = decode(sampleset, qubo).best
    assert sampleset.info["method"] == "branch_and_bound" and best.feasible
    assert sampleset.info["lower_bound"] <= best.objective
    with pytest.raises(InputError, match="2K = 22 long/short variables exceeds 20"):
        solve(ls_qubo(n=11, k=2), "exact-bqm")


# --------------------------------------------------------------------------------------------
# CQM vs BQM
# --------------------------------------------------------------------------------------------


def cqm_feasible_minimum(cqm):
    """The feasible minimum of a CQM by brute force: objective energies of all 2^n states,
    the lowest state that ``check_feasible`` accepts."""
    variables = list(cqm.variables)
    states = all_states(len(variables)).astype(np.int8)
    values = cqm.objective.energies((states, variables))
    for r in np.argsort(values, kind="stable"):
        sample = dict(zip(variables, states[r].tolist(), strict=True))
        if cqm.check_feasible(sample):
            return sample, float(values[r])
    raise AssertionError("no feasible state")


@pytest.mark.parametrize("positions", ["long_only", "long_short"])
def test_cqm_and_bqm_minimizers_agree(positions):
    n = 6 if positions == "long_short" else 10
    qubo = build_qubo(
        make_returns(100, n, seed=7), k=3, xi=0.0, windows=SCHEME, positions=positions
    )
    cqm = qubo.to_cqm()
    expected = {"cardinality"} | (
        {f"one_side:{t}" for t in qubo.tickers} if positions == "long_short" else set()
    )
    assert set(cqm.constraints) == expected
    sample, value = cqm_feasible_minimum(cqm)
    ground = dimod.ExactSolver().sample(qubo.to_bqm(scale=1.0)).first
    assert ground.sample == sample
    assert ground.energy == pytest.approx(value, rel=1e-9)
    best = decode(solve(qubo, "exact"), qubo).best
    assert best.legs == [v for v in qubo.variables if sample[v]]
    assert best.objective == pytest.approx(value, rel=1e-9)


# --------------------------------------------------------------------------------------------
# decoding, measures, the run command
# --------------------------------------------------------------------------------------------


def test_decode_gives_signed_weights_and_sides():
    qubo = ls_qubo(n=5, k=3)
    rows = np.zeros((3, 10), dtype=np.int8)
    rows[0, [0, 3, 6]] = 1  # long T00, long T03, short T01
    rows[1, [0, 5]] = 1  # long T00 and short T00: both legs
    rows[1, 2] = 1
    rows[2, [7, 8, 9]] = 1  # three shorts
    sampleset = dimod.SampleSet.from_samples((rows, qubo.variables), "BINARY", energy=[0, 0, 0])
    decoded = decode(sampleset, qubo)
    samples = decoded.samples
    assert samples["both_legs"].tolist() == [0, 1, 0]
    assert samples["feasible"].tolist() == [True, False, True]
    assert samples["tickers"].iloc[0] == "long:T00;long:T03;short:T01"
    first = selection_from_vector(qubo, rows[0].astype(float), 0.0)
    assert first.tickers == ["T00", "T01", "T03"]
    assert first.sides == ["long", "short", "long"]
    assert first.weights.to_dict() == {"T00": 1 / 3, "T01": -1 / 3, "T03": 1 / 3}
    assert first.legs == ["long:T00", "long:T03", "short:T01"]
    double = selection_from_vector(qubo, rows[1].astype(float), 0.0)
    assert not double.feasible and double.sides[0] == "both" and double.weights["T00"] == 0
    assert decoded.best.weights.sum() == pytest.approx(
        1 / 3 if decoded.best.legs == first.legs else -1.0
    )


def test_measures_of_long_short_weights_match_numpy():
    """skfolio's Portfolio with weights that are negative and do not sum to 1."""
    r = make_returns(150, 6, seed=2)
    rf = 0.02
    for values in ([1 / 3, -1 / 3, 1 / 3, 0, 0, -1 / 3], [0.25, -0.25, 0, -0.25, -0.25, 0]):
        w = pd.Series(values, index=r.columns)
        m = portfolio_measures(r, w, rf)
        R = r.to_numpy() @ w.to_numpy()
        daily_rf = rf / 252
        mean = 252 * R.mean()
        vol = np.sqrt(252) * R.std(ddof=1)
        downside = np.sqrt((np.minimum(R - daily_rf, 0) ** 2).sum() / (len(R) - 1))
        wealth = np.cumprod(1 + R)
        peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
        assert m["annualized_mean"] == pytest.approx(mean, rel=1e-12)
        assert m["annualized_volatility"] == pytest.approx(vol, rel=1e-12)
        assert m["sharpe"] == pytest.approx((mean - rf) / vol, rel=1e-12)
        assert m["sortino"] == pytest.approx((mean - rf) / (np.sqrt(252) * downside), rel=1e-9)
        assert m["max_drawdown"] == pytest.approx(np.max(1 - wealth / peak), rel=1e-12)


def test_run_long_short_config(tmp_path):
    out = tmp_path / "ls"
    config = REPO / "configs" / "long_short.yaml"
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["positions"] == "long_short" and summary["num_variables"] == 40
    assert summary["penalty"] is None and summary["exclusion_penalty"] is None  # swap
    assert summary["exclusion_penalty_bound"] > 0
    assert len(summary["legs"]) == summary["k"] == len(summary["tickers"])
    weights = summary["weights"]
    np.testing.assert_allclose(np.abs(list(weights.values())), 1 / summary["k"], rtol=1e-12)
    shorts = [leg for leg in summary["legs"] if leg.startswith("short:")]
    assert shorts, "the config must hold at least one short leg"
    for leg in summary["legs"]:
        side, ticker = leg.split(":")
        assert np.sign(weights[ticker]) == (1 if side == "long" else -1)
    selection = pd.read_csv(out / "selection.csv")
    assert list(selection.columns) == ["ticker", "side", "weight"]
    assert set(selection.loc[selection["weight"] < 0, "side"]) == {"short"}
    assert set(selection.loc[selection["weight"] > 0, "side"]) == {"long"}
    samples = pd.read_csv(out / "samples.csv")
    assert (samples["both_legs"] == 0).all()
    spread = summary["diversification"]
    assert 0 <= spread["percentile"] <= 100 and spread["mean_tree_distance"] > 0
    for name in ("network.png", "diversification.png", "cumulative_returns.png"):
        assert (out / name).stat().st_size > 10_000
    assert "short" in result.output and "long/short (40 legs)" in result.output


def test_positions_config_key(tmp_path):
    config = REPO / "configs" / "default.yaml"
    args = ["run", str(config), "--out", str(tmp_path / "o"), "--set"]
    result = CliRunner().invoke(app, [*args, "model.positions=both"])
    assert result.exit_code == 2 and "model.positions" in result.stderr
    result = CliRunner().invoke(app, [*args, "model.penalty.exclusion_scale=-1"])
    assert result.exit_code == 2 and "exclusion_scale" in result.stderr


def test_frontier_refuses_long_short(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "frontier",
            str(REPO / "configs" / "frontier.yaml"),
            "--out",
            str(tmp_path / "f"),
            "--set",
            "model.positions=long_short",
        ],
    )
    assert result.exit_code == 2 and "long_only" in result.stderr
