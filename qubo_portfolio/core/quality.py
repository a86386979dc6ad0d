"""How good one solve's answer is: the ``quality`` block of ``summary.json``.

:func:`solution_quality` builds the whole block from the decoded reads (one row per read, see
:class:`~qubo_portfolio.core.decode.Decoded`) and, when the caller could enumerate the
problem, its exact optimum. Later figures (certified bounds) join the same dict here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["PROVEN_RTOL", "REL_TOL", "at_best", "enumeration_size", "gap_of", "solution_quality"]

REL_TOL = 1e-9
"""Two objectives are equal when they differ by at most this, relative to the larger."""


def at_best(values: np.ndarray, best: float, rel_tol: float = REL_TOL) -> np.ndarray:
    """Which ``values`` equal ``best`` within ``rel_tol`` relative (absolute 1e-300 at 0)."""
    values = np.asarray(values, dtype=float)
    scale = np.maximum(np.abs(values), abs(best))
    return np.abs(values - best) <= rel_tol * np.maximum(scale, 1e-300)


PROVEN_RTOL = 1e-9
"""A certified gap at most this (relative) counts as proven optimal."""


def gap_of(objective: float, lower_bound: float) -> float:
    """``(objective - lower_bound) / max(|objective|, |lower_bound|)``, clamped at 0.

    The larger magnitude in the denominator keeps the gap meaningful when the objective is
    near 0 (it crosses 0 at moderate xi): a gap of 1 (100%) then says the bound is as far
    below as the values are large. Where the objective is the larger, as usual, it is the
    plain relative gap ``(objective - lower_bound) / |objective|``.
    """
    diff = max(objective - lower_bound, 0.0)
    scale = max(abs(objective), abs(lower_bound))
    if scale == 0:
        return 0.0
    return diff / scale


def enumeration_size(num_assets: int, k: int, long_short: bool = False) -> int:
    """The number of feasible portfolios: ``C(K, K')``, long/short ``C(K, K') 2^K'``."""
    return math.comb(num_assets, k) * (2**k if long_short else 1)


def solution_quality(samples: pd.DataFrame, exact_objective: float | None = None) -> dict:
    """The ``quality`` block of one solve.

    Parameters
    ----------
    samples : DataFrame
        One row per read with ``objective`` (``x^T A x``), ``feasible`` and ``tickers`` (the
        selected variables joined with ``;``), as :func:`~qubo_portfolio.core.decode.decode`
        returns them.
    exact_objective : float, optional
        The exact optimum of ``min x^T A x`` over the feasible portfolios, when enumerated.

    Returns
    -------
    dict
        ``reads`` (all reads), ``feasible_reads``, ``reads_at_best`` (feasible reads whose
        objective, which is their energy up to the penalty BQM's zero on feasible states,
        equals the best within 1e-9 relative), ``distinct_solutions`` (distinct feasible
        selections among the reads), ``best_objective`` and ``median_objective`` (over the
        feasible reads), ``exact_objective`` and ``gap`` = ``(best - exact) / |exact|``
        (``None`` when not enumerated).
    """
    feasible = samples[samples["feasible"].astype(bool)]
    objective = feasible["objective"].to_numpy(dtype=float)
    best = float(objective.min()) if len(objective) else None
    quality = {
        "reads": len(samples),
        "feasible_reads": len(feasible),
        "reads_at_best": int(at_best(objective, best).sum()) if best is not None else 0,
        "distinct_solutions": int(feasible["tickers"].nunique()),
        "best_objective": best,
        "median_objective": float(np.median(objective)) if len(objective) else None,
        "exact_objective": None if exact_objective is None else float(exact_objective),
        "gap": None,
    }
    if exact_objective is not None and best is not None:
        if exact_objective:
            gap = (best - exact_objective) / abs(exact_objective)
        else:
            gap = 0.0 if best == 0 else math.inf
        if at_best(np.array([best]), exact_objective)[0]:
            gap = 0.0  # the same optimum up to rounding: no negative dust
        quality["gap"] = float(gap)
    return quality
