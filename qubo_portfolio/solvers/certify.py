"""A certified gap for any answer: how far a selection can be from the optimum, proven.

:func:`certify` takes a model and a feasible selection (from any solver) and returns a lower
bound on ``min x^T A x  s.t.  sum x = K'`` (one leg per stock, long/short) that is valid by
construction, and the selection's gap to it:

- when the K'-subsets are few (at most :data:`ENUMERATION_LIMIT`), the exact optimum by
  enumeration (the bound is the optimum itself);
- otherwise branch and bound (:func:`~qubo_portfolio.solvers.branch_and_bound.branch_and_bound`)
  seeded with the selection, within ``time_limit`` seconds; its bound is certified by weak
  duality on a convex relaxation whose PSD shift is checked with a rounding margin, never a
  solver's reported value (see :mod:`~qubo_portfolio.solvers.bounds`).

``certified_gap = (objective - lower_bound) / max(|objective|, |lower_bound|)``: the selection
is within that fraction of the optimum, whatever the solver reported (:func:`gap_of`). A bound
taken from a computed objective (enumeration) is lowered by that sum's rounding error
(:func:`~qubo_portfolio.solvers.bounds.objective_margin`).
"""

from __future__ import annotations

import time
from typing import Any

from ..core.model import PortfolioQubo
from ..core.quality import PROVEN_RTOL, enumeration_size, gap_of
from ..errors import InputError
from .bounds import ensure_compiled, objective_margin
from .branch_and_bound import branch_and_bound
from .exact import best_long_short, best_subsets

ENUMERATION_LIMIT = 200_000
"""At most this many K'-subsets (or long/short portfolios) are enumerated (well under 1 s)."""


def subset_count(qubo: PortfolioQubo) -> int:
    """``C(K, K')``, or ``C(K, K') 2^K'`` long/short: the feasible selections."""
    return enumeration_size(qubo.num_assets, qubo.k, qubo.long_short)


def exact_optimum(qubo: PortfolioQubo) -> float:
    """The optimum by enumeration (only for :func:`subset_count` <= the enumeration limit)."""
    if qubo.long_short:
        _, values = best_long_short(qubo.A, qubo.k)
    else:
        _, values = best_subsets(qubo.A, qubo.k)
    return float(values[0])


def certify(
    qubo: PortfolioQubo,
    selection: Any,
    *,
    time_limit: float = 60.0,
    seed: int = 0,
    optimum: float | None = None,
) -> dict[str, Any]:
    """A valid lower bound on the model's optimum and the selection's certified gap.

    Parameters
    ----------
    qubo : PortfolioQubo
    selection : selection
        A feasible selection (anything :meth:`PortfolioQubo.indicator` reads).
    time_limit : float
        Seconds for branch and bound when enumeration is too large.
    seed : int
        Seed of branch and bound's own incumbent search.
    optimum : float, optional
        The optimum by enumeration when the caller has it already (``quality``'s
        ``exact_objective``): used instead of enumerating again.

    Returns
    -------
    dict
        ``lower_bound`` (no feasible selection is below it), ``certified_gap``
        (:func:`gap_of`, >= 0), ``proven_optimal`` (gap <= 1e-9),
        ``bound_method`` (``enumeration`` or ``branch_and_bound (<root>)``),
        ``bound_seconds`` (without ``compile_seconds``, numba's one-time compilation of the
        bound's kernels), ``optimum`` (the best objective the certifier knows: proven when
        ``bound_proven``), ``bound_proven`` (whether the lower bound meets that optimum).
    """
    x = qubo.indicator(selection)
    if not bool(qubo.is_feasible(x[None, :])[0]):
        raise InputError("certify needs a feasible selection (K' assets, one leg per stock)")
    objective = float(x @ qubo.A @ x)
    enumerate_ = optimum is not None or subset_count(qubo) <= ENUMERATION_LIMIT
    compile_seconds = 0.0 if enumerate_ else ensure_compiled()  # before the clock starts
    start = time.perf_counter()
    if enumerate_:
        optimum = exact_optimum(qubo) if optimum is None else float(optimum)
        # the enumerated optimum is a computed sum: lower it by its rounding error
        lower = optimum - objective_margin(qubo.A, qubo.k)
        method, proven_bound = "enumeration", True
    else:
        twin = qubo.twin if qubo.long_short else None
        result = branch_and_bound(
            qubo.A, qubo.k, twin=twin, time_limit=time_limit, incumbent=x, seed=seed
        )
        optimum, lower = result.objective, result.lower_bound
        method = f"branch_and_bound ({result.root.method})"
        proven_bound = result.proven_optimal
    lower = min(lower, objective)  # no bound above the answer's own objective
    gap = gap_of(objective, lower)
    return {
        "lower_bound": lower,
        "certified_gap": gap,
        "proven_optimal": gap <= PROVEN_RTOL,
        "bound_method": method,
        "bound_seconds": time.perf_counter() - start,
        "compile_seconds": compile_seconds,
        "optimum": min(optimum, objective),
        "bound_proven": proven_bound,
    }


__all__ = ["ENUMERATION_LIMIT", "certify", "exact_optimum", "gap_of", "subset_count"]
