"""Exact solvers for small problems.

``exact``: the constrained optimum ``min x^T A x s.t. sum x = K'`` by enumerating all
C(K, K') subsets in vectorized chunks (up to 5e6 subsets); long/short, all C(K, K') stock
subsets times the 2^K' ways to give each stock a side (up to 5e6 portfolios). ``exact-bqm``:
dimod's ``ExactSolver`` on the penalty BQM (all 2^n states of its n <= 20 variables), which
shows what the penalties do: its lowest states are infeasible when lambda (or gamma) is too
small.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import dimod
import numpy as np

from ..core.model import PortfolioQubo
from ..errors import InputError

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


def _combination_chunks(n: int, k: int, size: int):
    """All k-subsets of ``range(n)`` in lexicographic order, ``size`` rows at a time."""
    combos = itertools.combinations(range(n), k)
    while True:
        flat = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(combos, size)), dtype=np.intp
        )
        if flat.size == 0:
            return
        yield flat.reshape(-1, k)


def _best_of(a: np.ndarray, chunks, k: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` lowest-objective rows over all ``chunks`` (ties: the earlier row)."""
    best_idx = np.empty((0, k), dtype=np.intp)
    best_val = np.empty(0)
    for chunk in chunks:
        values = subset_objectives(a, chunk)
        keep = min(top, len(values))
        part = np.argpartition(values, keep - 1)[:keep]
        best_idx = np.vstack([best_idx, chunk[part]])
        best_val = np.concatenate([best_val, values[part]])
        order = np.lexsort((np.arange(len(best_val)), best_val))[:top]
        best_idx, best_val = best_idx[order], best_val[order]
    return best_idx, best_val


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
    return _best_of(a, _combination_chunks(n, k, CHUNK), k, top)


def best_long_short(a: np.ndarray, k: int, top: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best long/short portfolios of K' legs over ``n = len(a) / 2`` stocks.

    ``a`` is the 2n x 2n matrix over ``[long legs, short legs]``. Every portfolio is a
    K'-subset of stocks with a side per stock: the legs ``stock + n * side`` for each of the
    ``2^K'`` side patterns (side 0 long, 1 short), ``C(n, K') 2^K'`` in all, enumerated in
    vectorized chunks; raises :class:`InputError` beyond 5e6. Returns leg indices.
    """
    n = len(a) // 2
    count = math.comb(n, k) * 2**k
    if count > MAX_SUBSETS:
        raise InputError(
            f"exact solver: C({n}, {k}) * 2^{k} = {count:.3g} long/short portfolios exceeds "
            f"the limit of {MAX_SUBSETS:.0e} (use solver.name: swap, tabu or sa)"
        )
    sides = np.array(list(itertools.product((0, 1), repeat=k)), dtype=np.intp)  # (2^k, k)
    offsets = n * sides

    def chunks():
        for combos in _combination_chunks(n, k, max(1, CHUNK // len(sides))):
            yield (combos[:, None, :] + offsets[None, :, :]).reshape(-1, k)

    return _best_of(a, chunks(), k, top)


def run_exact(
    qubo: PortfolioQubo,
    *,
    penalty: float | None,
    num_reads: int,
    seed: int | None,
    exclusion: float | None = None,
    **params: Any,
) -> dimod.SampleSet:
    """The ``num_reads`` best feasible selections (at most C(K, K'), or C(K, K') 2^K'
    long/short), best first.

    Energies are ``x^T A x``; every sample is feasible.
    """
    if qubo.long_short:
        idx, values = best_long_short(qubo.A, qubo.k, top=num_reads)
    else:
        idx, values = best_subsets(qubo.A, qubo.k, top=num_reads)
    samples = np.zeros((len(idx), qubo.num_variables), dtype=np.int8)
    np.put_along_axis(samples, idx, 1, axis=1)
    return dimod.SampleSet.from_samples(
        (samples, qubo.variables), vartype=dimod.BINARY, energy=values
    )


def run_exact_bqm(
    qubo: PortfolioQubo,
    *,
    penalty: float,
    num_reads: int,
    seed: int | None,
    exclusion: float | None = None,
    **params: Any,
) -> dimod.SampleSet:
    """dimod ``ExactSolver`` on the penalty BQM; the ``num_reads`` lowest-energy states."""
    if qubo.num_variables > MAX_EXACT_BQM_VARIABLES:
        if qubo.long_short:
            raise InputError(
                f"exact-bqm enumerates 2^(2K) states: 2K = {qubo.num_variables} long/short "
                f"variables exceeds {MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap "
                "or tabu)"
            )
        raise InputError(
            f"exact-bqm enumerates 2^K states: K = {qubo.num_assets} exceeds "
            f"{MAX_EXACT_BQM_VARIABLES} (use solver.name: exact, swap or tabu)"
        )
    bqm = qubo.to_bqm(penalty=penalty, exclusion=exclusion)
    return dimod.ExactSolver().sample(bqm).truncate(num_reads)
