"""The network measure at scale: the same tree and values as the networkx construction it
replaced, from Prim's algorithm, scipy's shortest paths and per-edge subset counts."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree

from qubo_portfolio.classical.network import (
    correlation_distance,
    correlation_network,
    diversification,
    mean_pair_distance,
    random_subset_distances,
    spanning_tree,
)

from helpers import make_returns


def networkx_reference(returns, selected, samples=10_000, seed=0):
    """The former implementation: complete networkx graph, Kruskal, all-pairs Dijkstra,
    every subset (or one big seeded draw) gathered from the full matrix."""
    import math

    tickers = [str(c) for c in returns.columns]
    rho, dist = correlation_distance(returns)
    graph = nx.Graph()
    graph.add_nodes_from(tickers)
    for i, j in itertools.combinations(range(len(tickers)), 2):
        graph.add_edge(tickers[i], tickers[j], weight=float(dist[i, j]))
    tree = nx.minimum_spanning_tree(graph, weight="weight", algorithm="kruskal")
    lengths = dict(nx.all_pairs_dijkstra_path_length(tree, weight="weight"))
    full = np.array([[lengths[a][b] for b in tickers] for a in tickers])
    idx = np.array([tickers.index(t) for t in selected])
    k, n = len(idx), len(tickers)
    value = float(mean_pair_distance(full, idx[None, :])[0])
    if math.comb(n, k) <= samples:
        subsets = np.array(list(itertools.combinations(range(n), k)))
    else:
        rng = np.random.default_rng(seed)
        subsets = np.argpartition(rng.random((samples, n)), k - 1, axis=1)[:, :k]
    values = mean_pair_distance(full, subsets)
    total = sum(w for _, _, w in tree.edges(data="weight"))
    return tree, full, value, values, total


@pytest.mark.parametrize(
    ("assets", "selected", "samples"),
    [(10, [1, 4, 7, 8], 10_000), (40, [0, 3, 9, 17, 22, 31, 39], 3000)],
)
def test_same_values_as_the_networkx_construction(assets, selected, samples):
    r = make_returns(160, assets, seed=assets)
    names = [f"T{i:02d}" for i in selected]
    tree, full, value, values, total = networkx_reference(r, names, samples, seed=5)
    net = correlation_network(r)
    assert {frozenset(e) for e in tree.edges()} == {frozenset(e) for e in net.tree.edges()}
    np.testing.assert_array_equal(net.tree_distance, full)  # same sums, same order
    out = diversification(r, names, samples=samples, seed=5, network=net)
    assert out["mean_tree_distance"] == value  # identical, not just close
    np.testing.assert_allclose(
        np.sort(random_subset_distances(net, len(names), samples, 5)[0]),
        np.sort(values),
        rtol=1e-13,
    )
    below = np.sum(values < value - 1e-12 * max(value, 1))
    ties = np.sum(np.abs(values - value) <= 1e-12 * max(value, 1))
    assert out["percentile"] == 100 * (below + ties / 2) / len(values)
    assert out["random_median"] == pytest.approx(np.median(values), rel=1e-13)
    assert out["mst_length"] == pytest.approx(total, rel=1e-13)


def test_prim_finds_scipys_tree_also_with_zero_distances():
    r = make_returns(200, 80, seed=9)
    r["T05"] = r["T04"]  # a duplicate: distance 0, which scipy's sparse input cannot hold
    rho, dist = correlation_distance(r)
    edges, weights = spanning_tree(dist)
    assert len(edges) == 79 and len({*edges[:, 1]}) == 79 and 0 not in set(edges[:, 1])
    assert {4, 5} in [set(e) for e in edges.tolist()]
    shifted = minimum_spanning_tree(np.triu(dist + 1.0, 1)).tocoo()  # + 1: keeps the 0 link
    assert weights.sum() == pytest.approx((shifted.data - 1.0).sum(), rel=1e-12)
    scipy_edges = {
        frozenset(p) for p in zip(shifted.row.tolist(), shifted.col.tolist(), strict=True)
    }
    assert {frozenset(e) for e in edges.tolist()} == scipy_edges


def test_edge_counts_give_the_mean_pair_distance():
    r = make_returns(120, 50, seed=3)
    net = correlation_network(r)
    rng = np.random.default_rng(1)
    subsets = np.array([rng.choice(50, 12, replace=False) for _ in range(300)])
    np.testing.assert_allclose(
        net.subset_distances(subsets), mean_pair_distance(net.tree_distance, subsets), rtol=1e-13
    )
    rows = net.distances_from([3, 7])
    np.testing.assert_array_equal(rows, net.tree_distance[[3, 7]])
    hops = net.hops_from([3])
    assert hops[3] == 0 and (hops[[v for u, v in net.edges if u == 3]] == 1).all()


def test_the_network_is_computed_once_per_content():
    r = make_returns(120, 30, seed=2)
    first = correlation_network(r)
    assert correlation_network(r.copy()) is first
    changed = r.copy()
    changed.iloc[0, 0] += 1e-9
    assert correlation_network(changed) is not first


def test_three_thousand_assets_are_measured():
    # its speed is measured by experiments/bench_big_universe.py, not here
    rng = np.random.default_rng(0)
    import pandas as pd

    values = rng.normal(0, 0.01, (250, 1)) + rng.normal(0, 0.01, (250, 3000))
    r = pd.DataFrame(values, columns=[f"S{i:04d}" for i in range(3000)])
    out = diversification(r, [f"S{i:04d}" for i in range(0, 3000, 30)])
    assert out["method"] == "sampled" and out["random_subsets"] == 10_000
    assert 0 <= out["percentile"] <= 100 and out["num_selected"] == 100
