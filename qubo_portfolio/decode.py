"""SampleSet to equal-weight portfolios.

A sample x selects the tickers with ``x_i = 1``; it is *feasible* when it selects exactly K'.
Each selected ticker gets the weight ``1 / K'`` (``1 / sum x`` for an infeasible sample, so
that it still decodes to a fully invested portfolio).
"""

from __future__ import annotations

from dataclasses import dataclass

import dimod
import numpy as np
import pandas as pd

from .errors import InputError
from .model import PortfolioQubo


@dataclass(frozen=True)
class Selection:
    """One decoded sample: an equal-weight portfolio.

    Attributes
    ----------
    tickers : list of str
        Selected tickers, in the model's ticker order.
    weights : Series
        ``1 / len(tickers)`` per selected ticker.
    energy : float
        The sample's energy as the solver reported it (penalty BQM or ``x^T A x``).
    objective : float
        ``x^T A x``, recomputed from the model.
    feasible : bool
        ``len(tickers) == K'``.
    """

    tickers: list[str]
    weights: pd.Series
    energy: float
    objective: float
    feasible: bool


@dataclass(frozen=True)
class Decoded:
    """All samples of one solve, decoded.

    Attributes
    ----------
    samples : DataFrame
        One row per read: ``energy``, ``objective``, ``feasible``, ``num_selected``,
        ``tickers`` (joined with ``;``), plus the raw columns of polished samples
        (``objective_raw``, ``feasible_raw``, ``num_selected_raw``).
    best : Selection
        The feasible sample with the lowest objective (ties: the first read).
    feasible_fraction : float
        Share of reads that are feasible (as returned, after polish when polished).
    feasible_fraction_raw : float or None
        Share of raw reads that were feasible, when the samples were polished.
    """

    samples: pd.DataFrame
    best: Selection
    feasible_fraction: float
    feasible_fraction_raw: float | None = None


def selection_from_vector(qubo: PortfolioQubo, x: np.ndarray, energy: float) -> Selection:
    """The :class:`Selection` of a 0/1 vector in ticker order."""
    chosen = [t for t, v in zip(qubo.tickers, x, strict=True) if v]
    weights = pd.Series(1.0 / max(len(chosen), 1), index=chosen, name="weight", dtype=float)
    weights.index.name = "ticker"
    return Selection(
        tickers=chosen,
        weights=weights,
        energy=float(energy),
        objective=float(x @ qubo.A @ x),
        feasible=len(chosen) == qubo.k,
    )


def decode(sampleset: dimod.SampleSet, qubo: PortfolioQubo) -> Decoded:
    """Decode every read of ``sampleset`` (rows with ``num_occurrences`` expanded).

    Raises :class:`InputError` when no read is feasible, suggesting a larger
    ``model.penalty.scale`` or ``solver.num_reads``.
    """
    x = sampleset.record.sample[:, [sampleset.variables.index(t) for t in qubo.tickers]]
    x = x.astype(np.float64)
    repeat = sampleset.record.num_occurrences
    x = np.repeat(x, repeat, axis=0)
    energy = np.repeat(sampleset.record.energy, repeat)
    objective = ((x @ qubo.A) * x).sum(axis=1)
    counts = x.sum(axis=1).astype(int)
    feasible = counts == qubo.k
    tickers = np.asarray(qubo.tickers)
    table = pd.DataFrame(
        {
            "energy": energy,
            "objective": objective,
            "feasible": feasible,
            "num_selected": counts,
            "tickers": [";".join(tickers[row > 0]) for row in x],
        }
    )
    raw_fraction = None
    for name in ("objective_raw", "feasible_raw", "num_selected_raw"):
        if name in sampleset.record.dtype.names:
            table[name] = np.repeat(sampleset.record[name], repeat)
    if "feasible_raw" in table:
        raw_fraction = float(table["feasible_raw"].mean())
    table.index.name = "read"
    if not feasible.any():
        raise InputError(
            f"no feasible sample: none of {len(table)} reads selects exactly k = {qubo.k} assets "
            "(raise model.penalty.scale or solver.num_reads, or set solver.polish: true)"
        )
    masked = np.where(feasible, objective, np.inf)
    best = int(np.argmin(masked))
    return Decoded(
        samples=table,
        best=selection_from_vector(qubo, x[best], energy[best]),
        feasible_fraction=float(feasible.mean()),
        feasible_fraction_raw=raw_fraction,
    )
