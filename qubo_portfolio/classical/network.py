"""The correlation network of the universe, and how spread out a selection is on it.

From the in-sample daily returns, the correlation ``rho_ij`` of every pair of assets becomes
the distance ``d_ij = sqrt(2 (1 - rho_ij))`` (0 for perfectly correlated assets, ``sqrt(2)``
for uncorrelated ones, 2 for perfectly anti-correlated ones; a metric, Mantegna 1999). The
minimum spanning tree (MST) of the complete graph weighted by ``d`` keeps the K - 1 links
that tie the market together most tightly. The *tree distance* of two assets is the length
of the path between them in the MST (the sum of ``d`` along it).

The diversification of a selection of K' assets is the mean tree distance over its
``K' (K' - 1) / 2`` pairs, set against the same figure for random K'-subsets of the
universe (every subset when there are at most ``samples`` of them, else ``samples`` seeded
uniform draws): its ``percentile`` is the share of random subsets (in %) that are less
spread out (ties count half). A long/short selection is measured on the stocks it holds,
whatever their side.

Scale: the tree comes from Prim's algorithm on the dense matrix (:func:`spanning_tree`), tree
distances from :func:`scipy.sparse.csgraph.shortest_path` for the sources that are needed
(the full K x K matrix only when asked for), and the mean pair distance of many random
subsets from the tree itself: the pairs of a subset S that an edge e separates number
``n_e (K' - n_e)``, ``n_e`` the members of S below e, so the sum over pairs is
``sum_e d_e n_e (K' - n_e)`` (O(K) per subset instead of O(K'^2)). 3,000 assets take about a
second. networkx only draws (:mod:`qubo_portfolio.output.plots.run`); it and scipy are
imported inside the functions, and this module only by the code that needs it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DIVERSIFICATION_SAMPLES = 10_000
DIVERSIFICATION_SEED = 0
_CHUNK = 1000  # random subsets per vectorised block (memory: _CHUNK x K numbers)


@dataclass(frozen=True)
class CorrelationNetwork:
    """The correlation MST of a universe.

    Attributes
    ----------
    tickers : list of str
    correlation : ndarray (K, K)
        Pearson correlation of the daily returns (0 where an asset's returns are constant).
    distance : ndarray (K, K)
        ``sqrt(2 (1 - rho))``.
    edges : ndarray (K - 1, 2)
        The tree's links as asset indices ``(parent, child)`` in breadth-first order from
        asset 0 (every child appears once).
    weights : ndarray (K - 1,)
        The distance ``d`` of each link.
    """

    tickers: list[str]
    correlation: np.ndarray
    distance: np.ndarray
    edges: np.ndarray
    weights: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def total_length(self) -> float:
        """Sum of the tree's edge distances."""
        return float(self.weights.sum())

    @property
    def adjacency(self):
        """The tree as a symmetric ``scipy.sparse`` matrix of distances."""
        if "adjacency" not in self._cache:
            from scipy.sparse import coo_matrix

            n = len(self.tickers)
            rows = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
            cols = np.concatenate([self.edges[:, 1], self.edges[:, 0]])
            data = np.concatenate([self.weights, self.weights])
            self._cache["adjacency"] = coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
        return self._cache["adjacency"]

    @property
    def tree(self):
        """The tree as a ``networkx.Graph`` over ``tickers``; edge attributes ``weight`` (the
        distance) and ``correlation``."""
        if "tree" not in self._cache:
            import networkx as nx

            graph = nx.Graph()
            graph.add_nodes_from(self.tickers)
            for (i, j), w in zip(self.edges, self.weights, strict=True):
                a, b = self.tickers[i], self.tickers[j]
                graph.add_edge(a, b, weight=float(w), correlation=self.correlation[i, j])
            self._cache["tree"] = graph
        return self._cache["tree"]

    def distances_from(self, sources: Sequence[int]) -> np.ndarray:
        """Tree distances ``(len(sources), K)`` from the given asset indices."""
        from scipy.sparse.csgraph import shortest_path

        sources = np.asarray(sources, dtype=np.intp)
        if len(sources) == 0:
            return np.zeros((0, len(self.tickers)))
        return shortest_path(self.adjacency, method="D", directed=False, indices=sources)

    @property
    def tree_distance(self) -> np.ndarray:
        """Path lengths in the tree (sums of edge distances), the full K x K matrix."""
        if "tree_distance" not in self._cache:
            self._cache["tree_distance"] = self.distances_from(np.arange(len(self.tickers)))
        return self._cache["tree_distance"]

    def hops_from(self, sources: Sequence[int]) -> np.ndarray:
        """Number of links from the nearest of ``sources`` to every asset (inf: no source)."""
        from scipy.sparse.csgraph import shortest_path

        sources = np.asarray(sources, dtype=np.intp)
        if len(sources) == 0:
            return np.full(len(self.tickers), np.inf)
        return shortest_path(
            self.adjacency, method="D", directed=False, unweighted=True, indices=sources
        ).min(axis=0)

    def _preorder(self) -> tuple[np.ndarray, np.ndarray]:
        """``(position, end)``: each asset's place in a depth-first order from asset 0 and
        the place after its subtree (the subtree of ``c`` is ``position[c]:end[c]``)."""
        if "preorder" not in self._cache:
            from scipy.sparse.csgraph import depth_first_order

            n = len(self.tickers)
            order, parent = depth_first_order(self.adjacency, 0, directed=False)
            size = np.ones(n, dtype=np.intp)
            for node in order[:0:-1]:  # children before parents
                size[parent[node]] += size[node]
            position = np.empty(n, dtype=np.intp)
            position[order] = np.arange(n)
            self._cache["preorder"] = (position, position + size)
        return self._cache["preorder"]

    def subset_distances(self, subsets: np.ndarray) -> np.ndarray:
        """Mean tree distance over the pairs of each row of ``subsets`` (asset indices),
        counted through the edges (same values as :func:`mean_pair_distance` up to rounding)."""
        subsets = np.atleast_2d(np.asarray(subsets, dtype=np.intp))
        rows, k = subsets.shape
        n = len(self.tickers)
        position, end = self._preorder()
        child = self.edges[:, 1]
        out = np.empty(rows)
        for start in range(0, rows, _CHUNK):
            block = subsets[start : start + _CHUNK]
            marks = np.zeros((len(block), n + 1), dtype=np.int32)
            marks[np.arange(len(block))[:, None], position[block] + 1] = 1
            counts = np.cumsum(marks, axis=1)
            below = counts[:, end[child]] - counts[:, position[child]]
            out[start : start + len(block)] = (below * (k - below)) @ self.weights
        return out / (k * (k - 1) / 2)


def correlation_distance(returns: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, sqrt(2 (1 - rho)))`` of the columns of ``returns`` (complete rows only)."""
    values = returns.dropna(how="any").to_numpy(dtype=np.float64)
    n = values.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(values, rowvar=False).reshape(n, n)
    constant = np.ptp(values, axis=0) == 0 if len(values) else np.ones(n, dtype=bool)
    rho[constant, :] = 0.0
    rho[:, constant] = 0.0
    rho = np.where(np.isfinite(rho), rho, 0.0)
    rho = np.clip((rho + rho.T) / 2, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)
    return rho, np.sqrt(2.0 * (1.0 - rho))


def spanning_tree(distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, weights)`` of the minimum spanning tree of a complete distance matrix.

    Prim's algorithm on the dense matrix, O(K^2) in K vectorised steps (on a complete graph
    this beats Kruskal's O(K^2 log K) sort of every pair, which is what
    :func:`scipy.sparse.csgraph.minimum_spanning_tree` does: 3,000 assets take 0.2 s here
    against several seconds there; the tests check both give the same tree). Ties go to
    the lowest index. Edges are ``(parent, child)`` in breadth-first order from asset 0.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    n = len(distance)
    if n < 2:
        return np.zeros((0, 2), dtype=np.intp), np.zeros(0)
    outside = np.ones(n, dtype=bool)
    outside[0] = False
    best = distance[0].astype(np.float64, copy=True)  # cheapest link of each asset to the tree
    best[0] = np.inf
    nearest = np.zeros(n, dtype=np.intp)
    parent = np.empty(n - 1, dtype=np.intp)
    child = np.empty(n - 1, dtype=np.intp)
    for step in range(n - 1):
        j = int(np.argmin(best))
        parent[step], child[step] = nearest[j], j
        outside[j] = False
        best[j] = np.inf
        closer = outside & (distance[j] < best)
        best[closer] = distance[j][closer]
        nearest[closer] = j
    # the same links in breadth-first order from asset 0, each as (parent, child)
    links = coo_matrix((np.ones(n - 1), (parent, child)), shape=(n, n)).tocsr()
    order, predecessor = breadth_first_order(links, 0, directed=False)
    children = order[1:]
    edges = np.column_stack([predecessor[children], children]).astype(np.intp)
    return edges, distance[edges[:, 0], edges[:, 1]]


_LAST: dict[str, Any] = {}  # the last network built, keyed by the returns' content


def correlation_network(returns: pd.DataFrame) -> CorrelationNetwork:
    """The correlation MST of the columns of ``returns``.

    The last network is kept and handed out again for returns of the same content (the run
    measures the selection on it, then draws it: one computation at 3,000 assets).
    """
    import hashlib

    values = np.ascontiguousarray(returns.to_numpy(dtype=np.float64))
    key = (
        tuple(str(c) for c in returns.columns),
        values.shape,
        hashlib.blake2b(values.tobytes(), digest_size=16).digest(),
    )
    if _LAST.get("key") == key:
        return _LAST["network"]
    tickers = [str(c) for c in returns.columns]
    rho, dist = correlation_distance(returns)
    edges, weights = spanning_tree(dist)
    network = CorrelationNetwork(tickers, rho, dist, edges, weights)
    _LAST.update(key=key, network=network)
    return network


def mean_pair_distance(tree_distance: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Mean tree distance over the pairs of each row of ``subsets`` (asset indices)."""
    subsets = np.atleast_2d(subsets)
    k = subsets.shape[1]
    block = tree_distance[subsets[:, :, None], subsets[:, None, :]]
    return block.sum(axis=(1, 2)) / (k * (k - 1))


def random_subset_distances(
    network: CorrelationNetwork,
    k: int,
    samples: int = DIVERSIFICATION_SAMPLES,
    seed: int = DIVERSIFICATION_SEED,
) -> tuple[np.ndarray, str]:
    """Mean tree distances of random k-subsets: every subset when ``C(K, k) <= samples``
    (``"all"``), else ``samples`` uniform draws seeded by ``seed`` (``"sampled"``).

    The draws are made in blocks of rows from one generator (the same subsets as one big
    draw); computed once per network and arguments.
    """
    key = ("random", k, samples, seed)
    if key in network._cache:
        return network._cache[key]
    n = len(network.tickers)
    if math.comb(n, k) <= samples:
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.intp)
        values = np.concatenate(
            [
                mean_pair_distance(network.tree_distance, chunk)
                for chunk in np.array_split(subsets, max(1, len(subsets) // 2000))
            ]
        )
        method = "all"
    else:
        rng = np.random.default_rng(seed)
        parts = []
        for start in range(0, samples, _CHUNK):
            rows = min(_CHUNK, samples - start)
            subsets = np.argpartition(rng.random((rows, n)), k - 1, axis=1)[:, :k]
            parts.append(network.subset_distances(subsets))
        values = np.concatenate(parts)
        method = "sampled"
    network._cache[key] = (values, method)
    return values, method


def diversification(
    returns: pd.DataFrame,
    selected: Sequence[str],
    samples: int = DIVERSIFICATION_SAMPLES,
    seed: int = DIVERSIFICATION_SEED,
    network: CorrelationNetwork | None = None,
) -> dict[str, Any]:
    """How spread out ``selected`` is on the correlation MST of ``returns``' columns.

    Returns a JSON-ready dict: ``mean_tree_distance`` of the selection, its ``percentile``
    (0..100) among random subsets of the same size, their ``random_mean``,
    ``random_median``, ``random_q05``, ``random_q95``, ``random_subsets`` (how many),
    ``method`` (``all`` or ``sampled``), ``seed``, ``num_selected``, ``mst_length`` (sum of
    the tree's distances) and ``distance`` (the formula). With fewer than 2 selected assets
    the selection figures are ``None``.
    """
    network = network or correlation_network(returns)
    position = {t: i for i, t in enumerate(network.tickers)}
    idx = np.array([position[str(t)] for t in selected], dtype=np.intp)
    k = len(idx)
    out: dict[str, Any] = {
        "distance": "sqrt(2 (1 - rho)), tree distance = path length in the minimum spanning tree",
        "num_selected": k,
        "mst_length": network.total_length,
        "mean_tree_distance": None,
        "percentile": None,
        "random_mean": None,
        "random_median": None,
        "random_q05": None,
        "random_q95": None,
        "random_subsets": 0,
        "method": None,
        "seed": seed,
    }
    if k < 2:
        return out
    among = network.distances_from(idx)[:, idx]  # the k x k block of the tree distances
    value = float(mean_pair_distance(among, np.arange(k)[None, :])[0])
    values, method = random_subset_distances(network, k, samples, seed)
    scale = max(abs(value), 1.0)
    below = np.sum(values < value - 1e-12 * scale)
    ties = np.sum(np.abs(values - value) <= 1e-12 * scale)
    out.update(
        mean_tree_distance=value,
        percentile=float(100.0 * (below + 0.5 * ties) / len(values)),
        random_mean=float(values.mean()),
        random_median=float(np.median(values)),
        random_q05=float(np.quantile(values, 0.05)),
        random_q95=float(np.quantile(values, 0.95)),
        random_subsets=len(values),
        method=method,
    )
    return out
