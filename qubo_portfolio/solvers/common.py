"""What the k-subset samplers (swap, exact, polish) share: the problem they read.

They minimize ``x^T A x`` over BINARY ``x`` with exactly ``k`` ones (``A`` symmetric), and
take either a :class:`~qubo_portfolio.core.model.PortfolioQubo` (``A``, ``k``, the labels and
the long/short pairs come from the model; energies are ``x^T A x``) or a
:class:`dimod.BinaryQuadraticModel` (``A`` from :func:`dense_matrix`, ``k`` and the pairs
given; energies are the model's). A SPIN model is solved through its BINARY equivalent
(``x = (s + 1) / 2``, so ``k`` counts the variables at +1) and answered in SPIN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dimod
import numpy as np

from ..core.model import PortfolioQubo
from ..errors import InputError

__all__ = [
    "SubsetProblem",
    "check_int",
    "check_k",
    "dense_matrix",
    "finish",
    "subset_problem",
    "twin_from_pairs",
]


def dense_matrix(bqm: dimod.BinaryQuadraticModel, variables: Sequence | None = None) -> np.ndarray:
    """Dense symmetric ``A`` with ``bqm.energy(x) = x^T A x + offset`` (BINARY ``x``).

    Parameters
    ----------
    bqm : dimod.BinaryQuadraticModel
        A SPIN model is read through its BINARY equivalent (``offset`` is then that model's).
    variables : sequence, optional
        Variable order of the rows/columns; defaults to ``bqm.variables``.

    Returns
    -------
    ndarray of float64, shape (K, K), C-contiguous: ``A_ii`` = linear bias of ``i``,
    ``A_ij = A_ji`` = half the quadratic bias of ``(i, j)``.
    """
    if bqm.vartype is not dimod.BINARY:
        bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
    variables = list(bqm.variables) if variables is None else list(variables)
    lin, (row, col, quad), _ = bqm.to_numpy_vectors(variables)
    K = len(variables)
    # each interaction appears once with row != col: scatter half of it into one triangle,
    # then add the transpose (exact: the other entry of each pair is 0)
    half = np.zeros((K, K))
    half.ravel()[np.asarray(row, dtype=np.int64) * K + col] = np.asarray(quad) / 2.0
    A = half + half.T
    A[np.diag_indices(K)] = lin
    return np.ascontiguousarray(A)


def twin_from_pairs(pairs: Iterable | None, variables: Sequence) -> np.ndarray | None:
    """``twin[v]`` (index of v's exclusive partner, -1 for none) from ``(u, v)`` label pairs.

    ``None`` when ``pairs`` is ``None``. Raises :class:`InputError` for a label that is not
    a variable, a pair of one variable, or a variable in two pairs.
    """
    if pairs is None:
        return None
    index = {v: c for c, v in enumerate(variables)}
    twin = np.full(len(index), -1, dtype=np.int64)
    for pair in pairs:
        u, v = pair
        if u not in index or v not in index or u == v:
            raise InputError(f"exclusive pair {pair!r}: two distinct bqm variables")
        if twin[index[u]] >= 0 or twin[index[v]] >= 0:
            raise InputError(f"exclusive pair {pair!r}: a variable is in two pairs")
        twin[index[u]], twin[index[v]] = index[v], index[u]
    return twin


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` as an int, or :class:`InputError` unless it is a whole number >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_k(k: Any, num_variables: int, twin: np.ndarray | None = None) -> int:
    """``k`` as an int, or :class:`InputError` unless ``1 <= k <= K - 1`` (K variables).

    The rule of a long-only :class:`PortfolioQubo` (hold some assets, not all). With
    ``twin`` (exclusive pairs, long/short legs) k is at most the number of variables that
    can be on together, ``K - pairs`` (long/short: the number of stocks).
    """
    K = num_variables
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= K - 1:
        raise InputError(f"k must be an integer with 1 <= k <= K - 1 = {K - 1}, got {k!r}")
    groups = K if twin is None else K - int((np.asarray(twin) >= 0).sum()) // 2
    if k > groups:
        raise InputError(
            f"k = {k} exceeds the {groups} variables that can be held together "
            "(a variable and its twin exclude each other)"
        )
    return int(k)


@dataclass(frozen=True)
class SubsetProblem:
    """``min x^T A x`` over k-subsets of ``variables`` that hold no pair of ``twin``.

    ``bqm`` is the model the energies come from (``None``: energies are ``x^T A x``).
    """

    A: np.ndarray
    variables: list
    k: Any
    twin: np.ndarray | None
    bqm: dimod.BinaryQuadraticModel | None = None


def subset_problem(
    problem: dimod.BinaryQuadraticModel | PortfolioQubo,
    k: Any = None,
    exclusive_pairs: Iterable | None = None,
    objective: np.ndarray | None = None,
) -> SubsetProblem:
    """The k-subset problem of a model or a BQM (see the module notes).

    A :class:`PortfolioQubo` gives ``A``, ``k`` (a given ``k`` must agree), its variables and
    (long/short) the pairs of legs; ``exclusive_pairs`` must then be left out. A BQM gives
    ``A = dense_matrix(bqm)``, or ``objective`` when given (a matrix in ``bqm.variables``
    order with ``bqm.energy(x) = x^T A x`` on the feasible ``x``, e.g. the model's ``A`` for
    its penalty BQM); ``k`` is required.
    """
    if isinstance(problem, PortfolioQubo):
        if k is not None and k != problem.k:
            raise InputError(f"k = {k!r} differs from the model's k = {problem.k}")
        if exclusive_pairs is not None:
            raise InputError("exclusive_pairs come from the model; leave them out")
        twin = problem.twin if problem.long_short else None
        return SubsetProblem(problem.A, list(problem.variables), problem.k, twin)
    if not isinstance(problem, dimod.BinaryQuadraticModel):
        raise InputError(f"expected a BinaryQuadraticModel or PortfolioQubo, got {problem!r}")
    if k is None:
        raise InputError("k (the number of selected variables) is required with a bqm")
    variables = list(problem.variables)
    A = dense_matrix(problem, variables) if objective is None else np.asarray(objective)
    if A.shape != (len(variables), len(variables)):
        raise InputError(f"objective must have shape ({len(variables)}, {len(variables)})")
    return SubsetProblem(A, variables, k, twin_from_pairs(exclusive_pairs, variables), problem)


def binary_states(states: Any, vartype: dimod.Vartype) -> Any:
    """Initial states given in ``vartype`` as BINARY ones (SPIN ``s`` becomes ``(s + 1) / 2``).

    Arrays (and lists of lists) come back as an (n, K) int8 array, labelled states (a
    SampleSet, mappings, ``(array, labels)``) as a BINARY SampleSet; BINARY states and ``None`` are returned as given.
    """
    if states is None or vartype is dimod.BINARY:
        return states
    unlabelled = isinstance(states, np.ndarray) or (
        isinstance(states, list) and not (len(states) > 0 and isinstance(states[0], Mapping))
    )
    arr, labels = dimod.as_samples(states)
    if not np.isin(arr, (-1, 1)).all():
        raise InputError("initial_states of a SPIN model must be -1/+1 assignments")
    binary = (arr > 0).astype(np.int8)
    if unlabelled:
        return binary
    return dimod.SampleSet.from_samples((binary, labels), dimod.BINARY, energy=np.zeros(len(arr)))


def finish(sampleset: dimod.SampleSet, problem: SubsetProblem) -> dimod.SampleSet:
    """A BINARY result in the vartype of ``problem.bqm`` with that model's energies.

    Without a BQM (a model was sampled) the result is returned as it is (energies
    ``x^T A x``).
    """
    bqm = problem.bqm
    if bqm is None:
        return sampleset
    if bqm.vartype is not dimod.BINARY:
        sampleset = sampleset.change_vartype(bqm.vartype, inplace=False)
    sampleset.record.energy[:] = bqm.energies(sampleset)
    return sampleset
