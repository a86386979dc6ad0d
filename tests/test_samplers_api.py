"""Every registered solver is a dimod sampler: the sampler API, energies, BINARY and SPIN."""

from __future__ import annotations

import re

import dimod
import dimod.testing
import numpy as np
import pytest

from qubo_portfolio import build_qubo
from qubo_portfolio.errors import InputError
from qubo_portfolio.solvers import SOLVERS, get_sampler, get_solver
from qubo_portfolio.solvers.exact import KSubsetExactSampler
from qubo_portfolio.solvers.polish import PolishComposite

from helpers import make_returns

K, k = 8, 3
NEEDS_K = {"swap", "exact"}
FAST = {"tabu": {"timeout": 5}, "sa": {"num_sweeps": 100}}


def random_bqm(vartype: str, seed: int = 0) -> dimod.BinaryQuadraticModel:
    rng = np.random.default_rng(seed)
    labels = [f"v{i}" for i in range(K)]
    linear = dict(zip(labels, rng.normal(size=K), strict=True))
    quadratic = {(labels[i], labels[j]): rng.normal() for i in range(K) for j in range(i + 1, K)}
    return dimod.BinaryQuadraticModel(linear, quadratic, 0.25, vartype)


def sample(sampler: dimod.Sampler, name: str, bqm: dimod.BinaryQuadraticModel):
    kwargs = {"num_reads": 4, **FAST.get(name, {})}
    if name in NEEDS_K or isinstance(sampler, PolishComposite):
        kwargs["k"] = k
    if "seed" in sampler.parameters:
        kwargs["seed"] = 3
    return sampler.sample(bqm, **kwargs)


def on_count(sampleset: dimod.SampleSet) -> set[int]:
    return set((sampleset.record.sample == 1).sum(axis=1).tolist())


@pytest.mark.parametrize("name", [*SOLVERS, "neal"])
def test_get_sampler_is_a_dimod_sampler_declaring_its_parameters(name):
    sampler = get_sampler(name)
    dimod.testing.assert_sampler_api(sampler)
    spec = get_solver(name)
    # the config parameters the CLI lists are parameters of the sampler
    assert set(spec.parameters) <= set(sampler.parameters)
    assert spec.parameters is type(sampler).parameter_help


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
@pytest.mark.parametrize("name", list(SOLVERS))
def test_samplers_answer_in_the_models_vartype_with_its_energies(name, vartype):
    bqm = random_bqm(vartype)
    sampleset = sample(get_sampler(name), name, bqm)
    assert sampleset.vartype is bqm.vartype
    assert set(sampleset.variables) == set(bqm.variables)
    dimod.testing.assert_response_energies(sampleset, bqm)
    if name in NEEDS_K:
        assert on_count(sampleset) == {k}


@pytest.mark.parametrize("vartype", ["BINARY", "SPIN"])
@pytest.mark.parametrize("name", list(SOLVERS))
def test_polish_composite_over_every_sampler(name, vartype):
    bqm = random_bqm(vartype, seed=1)
    composite = PolishComposite(get_sampler(name))
    dimod.testing.assert_sampler_api(composite)
    dimod.testing.assert_composite_api(composite)
    sampleset = sample(composite, name, bqm)
    assert sampleset.vartype is bqm.vartype
    dimod.testing.assert_response_energies(sampleset, bqm)
    assert on_count(sampleset) == {k}
    assert {"objective_raw", "feasible_raw", "energy_raw"} <= set(sampleset.record.dtype.names)


def test_spin_and_binary_k_subsets_agree():
    binary = random_bqm("BINARY", seed=2)
    spin = binary.change_vartype("SPIN", inplace=False)
    exact_b = KSubsetExactSampler().sample(binary, k=k, num_reads=5)
    exact_s = KSubsetExactSampler().sample(spin, k=k, num_reads=5)
    np.testing.assert_array_equal(exact_s.record.sample, 2 * exact_b.record.sample - 1)
    np.testing.assert_allclose(exact_s.record.energy, exact_b.record.energy, rtol=1e-9)
    swap = get_sampler("swap")
    swap_b = swap.sample(binary, k=k, num_reads=6, seed=5)
    swap_s = swap.sample(spin, k=k, num_reads=6, seed=5)
    np.testing.assert_array_equal(swap_s.record.sample, 2 * swap_b.record.sample - 1)
    # SPIN initial states are read at +1
    start = swap_s.record.sample[:2]
    again = swap.sample(spin, k=k, num_sweeps=0, initial_states=(start, list(spin.variables)))
    assert on_count(again) == {k}


def test_samplers_take_the_model_directly():
    qubo = build_qubo(make_returns(80, 9, seed=3), k=3, xi=0.5)
    for name in ("swap", "exact"):
        sampleset = get_sampler(name).sample(qubo, num_reads=3)
        assert list(sampleset.variables) == qubo.variables
        xs = sampleset.record.sample.astype(float)
        np.testing.assert_allclose(
            sampleset.record.energy, np.einsum("ri,ij,rj->r", xs, qubo.A, xs), rtol=1e-12
        )
    with pytest.raises(InputError, match="differs from the model's k"):
        get_sampler("exact").sample(qubo, k=2)
    with pytest.raises(InputError, match="k .* is required"):
        get_sampler("exact").sample(qubo.to_bqm())


def test_exact_with_exclusive_pairs_matches_the_long_short_model():
    qubo = build_qubo(make_returns(80, 5, seed=4), k=2, xi=0.5, positions="long_short")
    from_model = get_sampler("exact").sample(qubo, num_reads=4)
    n = qubo.num_assets
    pairs = list(zip(qubo.variables[:n], qubo.variables[n:], strict=True))
    from_bqm = get_sampler("exact").sample(
        qubo.objective_bqm(), k=2, exclusive_pairs=pairs[::-1], num_reads=4
    )
    np.testing.assert_allclose(from_bqm.record.energy, from_model.record.energy, rtol=1e-9)
    assert qubo.is_feasible(from_bqm.record.sample).all()


@pytest.mark.parametrize("name", ["exact", "swap"])
@pytest.mark.parametrize("k", [0, 6, 7, 2.5])
def test_exact_and_swap_take_the_same_k(name, k):
    """1 <= k <= K - 1, PortfolioQubo's long-only rule: k = 0 no longer returns nothing."""
    bqm = build_qubo(make_returns(n_rows=160, n_assets=6, seed=3), k=2, xi=0.5).to_bqm()
    message = f"k must be an integer with 1 <= k <= K - 1 = 5, got {k!r}"
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        get_sampler(name).sample(bqm, k=k)


@pytest.mark.parametrize("name", ["exact", "swap"])
def test_with_pairs_k_stops_at_the_number_of_pairs(name):
    qubo = build_qubo(
        make_returns(n_rows=160, n_assets=3, seed=3), k=3, xi=0.5, positions="long_short"
    )
    pairs = [(f"long:{t}", f"short:{t}") for t in qubo.tickers]
    bqm = qubo.objective_bqm()
    sampler = get_sampler(name)
    best = sampler.sample(bqm, k=3, exclusive_pairs=pairs, num_reads=1, seed=0)
    assert len(best) == 1
    with pytest.raises(InputError, match="k = 4 exceeds the 3 variables that can be held"):
        sampler.sample(bqm, k=4, exclusive_pairs=pairs)
