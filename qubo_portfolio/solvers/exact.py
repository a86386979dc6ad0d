"""Exact solvers for small problems.

``exact``: the constrained optimum ``min x^T A x s.t. sum x = K'`` by enumerating all
C(K, K') subsets in vectorized chunks (up to 5e6 subsets). ``exact-bqm``: dimod's
``ExactSolver`` on the penalty BQM (all 2^K states, K <= 20), which shows what the penalty
does: its lowest states are infeasible when lambda is too small.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import dimod
import numpy as np

from ..errors import InputError
from ..model import PortfolioQubo

MAX_SUBSETS = 5_000_000
MAX_EXACT_BQM_VARIABLES = 20
CHUNK = 200_000


def subset_objectives(a: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """``x^T A x`` for each row of ``subsets`` (indices of the selected assets).

    ``x^T A x = sum_a A[s_a, s_a] + 2 sum_(a<b) A[s_a, s_b]``, gathered column pair by
    column pair over all rows at once.
    """
    k = subsets.shape[1]
    total = np.zeros(len(subsets))
    for p in range(k):
        sp = subsets[:, p]
        total += a[sp, sp]
        for q in range(p + 1, k):
            total += 2 * a[sp, subsets[:, q]]
    return total


def best_subsets(a: np.ndarray, k: int, top: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best K'-subsets of ``range(len(a))`` and their objectives, best first.

    Enumerates all ``C(K, K')`` subsets; raises :class:`InputError` beyond 5e6.
    """
    n = len(a)
    count = math.comb(n, k)
    if count > MAX_SUBSETS:
        raise InputError(
            f"exact solver: C({n}, {k}) = {count:.3g} subsets exceeds the limit of "
            f"{MAX_SUBSETS:.0e} (use solver.name: swap, tabu or sa)"
        )
    combos = itertools.combinations(range(n), k)
    best_idx = np.empty((0, k), dtype=np.intp)
    best_val = np.empty(0)
    while True:
        flat = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(combos, CHUNK)), dtype=np.intp
        )
        if flat.size == 0:
            break
        chunk = flat.reshape(-1, k)
        values = subset_objectives(a, chunk)
        keep = min(top, len(values))
        part = np.argpartition(values, keep - 1)[:keep]
        best_idx = np.vstack([best_idx, chunk[part]])
        best_val = np.concatenate([best_val, values[part]])
        order = np.lexsort((np.arange(len(best_val)), best_val))[:top]
        best_idx, best_val = best_idx[order], best_val[order]
    return best_idx, best_val


def run_exact(
    qubo: PortfolioQubo, *, penalty: float | None, num_reads: int, seed: int | None, **params: Any
) -> dimod.SampleSet:
    """The ``num_reads`` best feasible selections (at most C(K, K')), best first.

    Energies are ``x^T A x``; every sample is feasible.
    """
    if params:
        raise InputError(f"solver exact takes no solver.params (got {', '.join(params)})")
    idx, values = best_subsets(qubo.A, qubo.k, top=num_reads)
    samples = np.zeros((len(idx), qubo.num_assets), dtype=np.int8)
    np.put_along_axis(samples, idx, 1, axis=1)
    return dimod.SampleSet.from_samples(
        (samples, qubo.tickers), vartype=dimod.BINARY, energy=values
    )


def run_exact_bqm(
    qubo: PortfolioQubo, *, penalty: float, num_reads: int, seed: int | None, **params: Any
) -> dimod.SampleSet:
    """dimod ``ExactSolver`` on the penalty BQM; the ``num_reads`` lowest-energy states."""
    if params:
        raise InputError(f"solver exact-bqm takes no solver.params (got {', '.join(params)})")
    if qubo.num_assets > MAX_EXACT_BQM_VARIABLES:
        raise InputError(
            f"exact-bqm enumerates 2^K states: K = {qubo.num_assets} exceeds "
            f"{MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap or tabu)"
        )
    bqm = qubo.to_bqm(penalty=penalty)
    return dimod.ExactSolver().sample(bqm).truncate(num_reads)
