"""The correlation network (MST of sqrt(2 (1 - rho))) and the diversification figure."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree

from qubo_portfolio.classical.network import (
    correlation_distance,
    correlation_network,
    diversification,
    mean_pair_distance,
)

from helpers import make_returns


def test_distance_is_sqrt_two_one_minus_rho():
    r = make_returns(120, 7, seed=4)
    rho, dist = correlation_distance(r)
    expected = r.corr().to_numpy()
    np.testing.assert_allclose(rho, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dist, np.sqrt(np.maximum(2 * (1 - expected), 0)), atol=1e-7)
    assert np.all(np.diag(dist) == 0)
    flat = r.copy()
    flat["T03"] = 0.001  # constant returns: no correlation, distance sqrt(2)
    rho, dist = correlation_distance(flat)
    assert (rho[3, np.arange(7) != 3] == 0).all() and dist[3, 0] == np.sqrt(2)


def test_tree_is_a_minimum_spanning_tree_with_path_distances():
    r = make_returns(150, 12, seed=6)
    net = correlation_network(r)
    assert net.tree.number_of_nodes() == 12 and net.tree.number_of_edges() == 11
    # the same total length as scipy's MST of the distance matrix
    scipy_length = minimum_spanning_tree(np.triu(net.distance, 1)).sum()
    assert net.total_length == pytest.approx(scipy_length, rel=1e-12)
    # tree distances: sums of edge distances along the unique path (plain traversal)
    adjacency = {t: {} for t in net.tickers}
    for u, v, w in net.tree.edges(data="weight"):
        adjacency[u][v] = adjacency[v][u] = w
    for a, start in enumerate(net.tickers):
        seen, stack = {start: 0.0}, [start]
        while stack:
            node = stack.pop()
            for nxt, w in adjacency[node].items():
                if nxt not in seen:
                    seen[nxt] = seen[node] + w
                    stack.append(nxt)
        for b, end in enumerate(net.tickers):
            assert net.tree_distance[a, b] == pytest.approx(seen[end], rel=1e-12, abs=1e-15)
    for u, v, w in net.tree.edges(data="weight"):
        i, j = net.tickers.index(u), net.tickers.index(v)
        assert w == net.distance[i, j] and net.tree[u][v]["correlation"] == net.correlation[i, j]


def test_diversification_against_every_subset():
    r = make_returns(150, 10, seed=1)
    net = correlation_network(r)
    selected = ["T01", "T04", "T07", "T08"]
    out = diversification(r, selected, network=net)
    idx = [net.tickers.index(t) for t in selected]
    pairs = list(itertools.combinations(idx, 2))
    value = sum(net.tree_distance[i, j] for i, j in pairs) / len(pairs)
    assert out["mean_tree_distance"] == pytest.approx(value, rel=1e-12)
    everything = [
        sum(net.tree_distance[i, j] for i, j in itertools.combinations(s, 2)) / 6
        for s in itertools.combinations(range(10), 4)
    ]
    assert out["method"] == "all" and out["random_subsets"] == math.comb(10, 4)
    below = sum(v < value - 1e-12 for v in everything)
    ties = sum(abs(v - value) <= 1e-12 for v in everything)
    assert out["percentile"] == pytest.approx(100 * (below + ties / 2) / len(everything))
    assert out["random_median"] == pytest.approx(np.median(everything))
    np.testing.assert_allclose(
        mean_pair_distance(net.tree_distance, np.array([idx, idx[::-1]])), [value, value]
    )


def test_sampled_subsets_are_seeded_and_small_selections_have_no_figure():
    r = make_returns(150, 30, seed=2)
    a = diversification(r, ["T00", "T05", "T10", "T20", "T29"], samples=2000, seed=3)
    b = diversification(r, ["T00", "T05", "T10", "T20", "T29"], samples=2000, seed=3)
    assert a == b and a["method"] == "sampled" and a["random_subsets"] == 2000
    assert 0 <= a["percentile"] <= 100
    one = diversification(r, ["T03"])
    assert one["mean_tree_distance"] is None and one["percentile"] is None


def test_import_qubo_portfolio_does_not_load_the_network_or_plots():
    code = (
        "import sys, qubo_portfolio; "
        "print(sorted(m for m in ('qubo_portfolio.classical.network', 'qubo_portfolio.output.plots', "
        "'matplotlib', 'qubo_portfolio.output.export') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"
