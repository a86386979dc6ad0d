import dimod
import numpy as np
import pytest

from qubo_portfolio import build_qubo, decode
from qubo_portfolio.errors import InputError

from helpers import make_returns


def sampleset_of(qubo, rows, energies=None):
    rows = np.asarray(rows, dtype=np.int8)
    energies = energies if energies is not None else np.zeros(len(rows))
    return dimod.SampleSet.from_samples((rows, qubo.tickers), dimod.BINARY, energy=energies)


def test_decode_picks_the_best_feasible_and_counts_feasibility():
    qubo = build_qubo(make_returns(80, 5, seed=1), k=2, xi=0.5)
    rows = [[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]
    decoded = decode(sampleset_of(qubo, rows), qubo)
    objectives = [
        qubo.A[np.ix_(np.flatnonzero(r), np.flatnonzero(r))].sum() for r in np.array(rows)
    ]
    np.testing.assert_allclose(decoded.samples["objective"], objectives, rtol=1e-12)
    assert decoded.samples["feasible"].tolist() == [True, True, False, True]
    assert decoded.feasible_fraction == 0.75
    feasible_best = min((o, i) for i, o in enumerate(objectives) if i != 2)[1]
    assert decoded.best.tickers == [
        t for t, v in zip(qubo.tickers, rows[feasible_best], strict=True) if v
    ]
    assert decoded.best.weights.sum() == pytest.approx(1.0)
    assert (decoded.best.weights == 0.5).all()
    assert decoded.samples["tickers"].iloc[2] == "T00;T01;T02"


def test_num_occurrences_are_expanded_to_reads():
    qubo = build_qubo(make_returns(80, 4, seed=1), k=2, xi=0.5)
    ss = dimod.SampleSet.from_samples(
        ([[1, 1, 0, 0], [1, 0, 0, 0]], qubo.tickers),
        dimod.BINARY,
        energy=[0, 0],
        num_occurrences=[3, 1],
    )
    decoded = decode(ss, qubo)
    assert len(decoded.samples) == 4
    assert decoded.feasible_fraction == 0.75


def test_no_feasible_sample_suggests_the_fix():
    qubo = build_qubo(make_returns(80, 4, seed=1), k=2, xi=0.5)
    with pytest.raises(InputError, match=r"raise model.penalty.scale or model.penalty.value"):
        decode(sampleset_of(qubo, [[1, 1, 1, 0], [0, 0, 0, 0]]), qubo)


def test_a_spin_sampleset_is_read_as_binary():
    """A sampler given the SPIN form of the BQM answers in SPIN: s = 2x - 1."""
    from qubo_portfolio.solvers import get_sampler

    qubo = build_qubo(make_returns(80, 6, seed=2), k=3, xi=0.5)
    spin = qubo.to_bqm(scale=0.5).change_vartype("SPIN", inplace=False)
    spin_set = get_sampler("swap").sample(spin, k=3, num_reads=5, seed=0)
    assert spin_set.vartype is dimod.SPIN
    binary = get_sampler("swap").sample(qubo.to_bqm(scale=0.5), k=3, num_reads=5, seed=0)
    a, b = decode(spin_set, qubo), decode(binary, qubo)
    assert a.samples["feasible"].all() and a.best.tickers == b.best.tickers
    np.testing.assert_allclose(a.samples["objective"], b.samples["objective"], rtol=1e-12)


def test_reads_that_all_hold_another_k_say_so():
    qubo = build_qubo(make_returns(80, 4, seed=1), k=2, xi=0.5)
    with pytest.raises(InputError, match=r"every one of 2 reads holds 3 assets, the model asks"):
        decode(sampleset_of(qubo, [[1, 1, 1, 0], [0, 1, 1, 1]]), qubo)
