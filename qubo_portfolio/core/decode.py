"""SampleSet to equal-weight portfolios.

A sample x selects the variables with ``x_i = 1`` (:attr:`PortfolioQubo.variables`); it is
*feasible* when it selects exactly K' of them and, long/short, never both legs of a stock.
Each selected ticker gets the weight ``1 / K'`` (``1 / sum x`` for an infeasible sample, so
that it still decodes to a fully invested portfolio); a short leg gets ``-1 / K'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dimod
import numpy as np
import pandas as pd

from ..errors import InputError
from .model import PortfolioQubo


class NoFeasibleSample(InputError):
    """No read selects exactly K' (legs, no stock on both sides): nothing to decode."""


@dataclass(frozen=True)
class Selection:
    """One decoded sample: an equal-weight portfolio.

    Attributes
    ----------
    tickers : list of str
        Selected tickers, in the model's ticker order.
    weights : Series
        ``1 / len(tickers)`` per selected ticker; long/short ``+1/K'`` for a long and
        ``-1/K'`` for a short leg (0 for a stock held on both sides, infeasible).
    energy : float
        The sample's energy as the solver reported it (penalty BQM or ``x^T A x``).
    objective : float
        ``x^T A x``, recomputed from the model.
    feasible : bool
        ``len(tickers) == K'`` (long/short: K' legs, no stock on both sides).
    sides : list of str
        ``"long"`` or ``"short"`` per ticker (``"both"`` for a stock held on both sides).
    legs : list of str
        The selected variables (the tickers when long only, ``long:<t>``/``short:<t>``).
    """

    tickers: list[str]
    weights: pd.Series
    energy: float
    objective: float
    feasible: bool
    sides: list[str] = field(default_factory=list)
    legs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Decoded:
    """All samples of one solve, decoded.

    Attributes
    ----------
    samples : DataFrame
        One row per read: ``energy``, ``objective``, ``feasible``, ``num_selected``,
        ``tickers`` (the selected variables joined with ``;``: tickers, or ``long:<t>`` and
        ``short:<t>`` legs), long/short also ``both_legs`` (stocks held on both sides), plus
        the raw columns of polished samples (``objective_raw``, ``feasible_raw``,
        ``num_selected_raw``).
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
    """The :class:`Selection` of a 0/1 vector in :attr:`PortfolioQubo.variables` order."""
    legs = [v for v, b in zip(qubo.variables, x, strict=True) if b]
    n_legs = max(len(legs), 1)
    if qubo.long_short:
        n = qubo.num_assets
        long, short = np.asarray(x[:n]) != 0, np.asarray(x[n:]) != 0
        held = long | short
        chosen = [t for t, h in zip(qubo.tickers, held, strict=True) if h]
        sides = [
            "both" if lo and sh else "long" if lo else "short"
            for lo, sh in zip(long[held], short[held], strict=True)
        ]
        values = (long[held].astype(float) - short[held].astype(float)) / n_legs
    else:
        chosen = legs
        sides = ["long"] * len(chosen)
        values = 1.0 / n_legs
    weights = pd.Series(values, index=chosen, name="weight", dtype=float)
    weights.index.name = "ticker"
    return Selection(
        tickers=chosen,
        weights=weights,
        energy=float(energy),
        objective=float(x @ qubo.A @ x),
        feasible=bool(qubo.is_feasible(x)),
        sides=sides,
        legs=legs,
    )


def decode(sampleset: dimod.SampleSet, qubo: PortfolioQubo) -> Decoded:
    """Decode every read of ``sampleset`` (rows with ``num_occurrences`` expanded).

    A SPIN sampleset (a sampler given the SPIN form of the BQM answers in SPIN) is read as
    BINARY: ``x = (s + 1) / 2``, its energies unchanged (the same model in other variables).

    Raises :class:`InputError` when no read is feasible, suggesting a larger
    ``model.penalty.scale`` or ``solver.num_reads`` (or, when every read holds the same wrong
    number of assets, that the sampleset comes from a model with another K').
    """
    if sampleset.vartype is dimod.SPIN:
        sampleset = sampleset.change_vartype(dimod.BINARY, inplace=False)
    variables = qubo.variables
    have = sampleset.variables
    missing = [v for v in variables if v not in have]
    if missing:
        raise InputError(
            f"the sampleset lacks {len(missing)} of the model's variables, e.g. {missing[:3]!r}"
        )
    x = sampleset.record.sample[:, [have.index(v) for v in variables]]
    x = x.astype(np.float64)
    repeat = sampleset.record.num_occurrences
    x = np.repeat(x, repeat, axis=0)
    energy = np.repeat(sampleset.record.energy, repeat)
    objective = ((x @ qubo.A) * x).sum(axis=1)
    counts = x.sum(axis=1).astype(int)
    feasible = qubo.is_feasible(x)
    labels = np.asarray(variables)
    columns = {
        "energy": energy,
        "objective": objective,
        "feasible": feasible,
        "num_selected": counts,
        "tickers": [";".join(labels[row > 0]) for row in x],
    }
    if qubo.long_short:
        columns["both_legs"] = qubo.count_both_legs(x)
    table = pd.DataFrame(columns)
    raw_fraction = None
    for name in ("objective_raw", "feasible_raw", "num_selected_raw"):
        if name in sampleset.record.dtype.names:
            table[name] = np.repeat(sampleset.record[name], repeat)
    if "feasible_raw" in table:
        raw_fraction = float(table["feasible_raw"].mean())
    table.index.name = "read"
    if not feasible.any():
        held = np.unique(counts)
        if len(held) == 1 and len(table) > 1:
            raise NoFeasibleSample(
                f"no feasible sample: every one of {len(table)} reads holds {held[0]} "
                f"{'legs' if qubo.long_short else 'assets'}, the model asks for k = {qubo.k} "
                "(a sampleset from a model with another k? else raise model.penalty.scale or "
                "solver.num_reads, or set solver.polish: true)"
            )
        if qubo.long_short:
            raise NoFeasibleSample(
                f"no feasible sample: none of {len(table)} reads holds exactly k = {qubo.k} "
                "legs with no stock on both sides (raise model.penalty.scale, "
                "model.penalty.exclusion_scale or solver.num_reads, or set solver.polish: true)"
            )
        raise NoFeasibleSample(
            f"no feasible sample: none of {len(table)} reads selects exactly k = {qubo.k} assets "
            "(raise model.penalty.scale or model.penalty.value, or solver.num_reads, "
            "or set solver.polish: true)"
        )
    masked = np.where(feasible, objective, np.inf)
    best = int(np.argmin(masked))
    return Decoded(
        samples=table,
        best=selection_from_vector(qubo, x[best], energy[best]),
        feasible_fraction=float(feasible.mean()),
        feasible_fraction_raw=raw_fraction,
    )
