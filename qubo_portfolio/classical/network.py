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

networkx is imported inside the functions (matplotlib in :mod:`qubo_portfolio.output.plots`), and
this module only by the code that needs it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DIVERSIFICATION_SAMPLES = 10_000
DIVERSIFICATION_SEED = 0


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
    tree : networkx.Graph
        The minimum spanning tree over ``tickers``; edge attributes ``weight`` (the
        distance) and ``correlation``.
    tree_distance : ndarray (K, K)
        Path lengths in the tree (sums of edge distances).
    """

    tickers: list[str]
    correlation: np.ndarray
    distance: np.ndarray
    tree: Any
    tree_distance: np.ndarray

    @property
    def total_length(self) -> float:
        """Sum of the tree's edge distances."""
        return float(sum(w for _, _, w in self.tree.edges(data="weight")))


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


def correlation_network(returns: pd.DataFrame) -> CorrelationNetwork:
    """The correlation MST of the columns of ``returns`` (Kruskal; ties: first pair first)."""
    import networkx as nx

    tickers = [str(c) for c in returns.columns]
    rho, dist = correlation_distance(returns)
    graph = nx.Graph()
    graph.add_nodes_from(tickers)
    for i, j in itertools.combinations(range(len(tickers)), 2):
        graph.add_edge(tickers[i], tickers[j], weight=float(dist[i, j]), correlation=rho[i, j])
    tree = nx.minimum_spanning_tree(graph, weight="weight", algorithm="kruskal")
    lengths = dict(nx.all_pairs_dijkstra_path_length(tree, weight="weight"))
    tree_distance = np.array([[lengths[a][b] for b in tickers] for a in tickers])
    return CorrelationNetwork(tickers, rho, dist, tree, tree_distance)


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
    (``"all"``), else ``samples`` uniform draws seeded by ``seed`` (``"sampled"``)."""
    n = len(network.tickers)
    if math.comb(n, k) <= samples:
        subsets = np.array(list(itertools.combinations(range(n), k)), dtype=np.intp)
        method = "all"
    else:
        rng = np.random.default_rng(seed)
        subsets = np.argpartition(rng.random((samples, n)), k - 1, axis=1)[:, :k]
        method = "sampled"
    values = np.concatenate(
        [
            mean_pair_distance(network.tree_distance, chunk)
            for chunk in np.array_split(subsets, max(1, len(subsets) // 2000))
        ]
    )
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
    value = float(mean_pair_distance(network.tree_distance, idx[None, :])[0])
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
