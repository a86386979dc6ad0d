"""The portfolio QUBO: the averaged matrix A, its penalty BQM and its CQM.

For K assets, K' of them to hold in equal weights, M windows of returns with covariance
``Q^(m)`` and mean daily returns ``mu^(m)``::

    A = 1/(M K'^2) * sum_m (Q^(m) - xi P^(m))

with ``P^(m) = diag(mu^(m))`` (``return_term="linear"``) or ``mu^(m) mu^(m)^T``
(``"squared"``). For a selection x with ``sum x = K'`` and R the equal-weight portfolio's
daily return, ``x^T A x = mean_m [VAR_m(R) - xi E_m(R) / K']`` (linear) or
``mean_m [VAR_m(R) - xi E_m(R)^2]`` (squared). The cardinality constraint becomes the
penalty ``lambda (sum x - K')^2`` in :meth:`PortfolioQubo.to_bqm`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import dimod
import numpy as np
import pandas as pd

from .errors import InputError
from .returns import Window, WindowSpec, apply_lookback, window_bounds

ReturnTerm = Literal["linear", "squared"]
RETURN_TERMS = ("linear", "squared")

Selection = Iterable[str] | Mapping[str, float] | np.ndarray | pd.Series


@dataclass(frozen=True)
class WindowMoments:
    """The xi-free moments averaged over M windows (computed once, shared by every xi, K').

    Attributes
    ----------
    tickers : tuple of str
    windows : tuple of Window
    cov_mean : ndarray (K, K)
        ``Q-bar = 1/M sum_m Q^(m)``, sample covariances with ddof=1.
    mean_mean : ndarray (K,)
        ``mu-bar = 1/M sum_m mu^(m)``; ``P-bar = diag(mu-bar)`` for the linear return term.
    outer_mean : ndarray (K, K)
        ``1/M sum_m mu^(m) mu^(m)^T``, ``P-bar`` for the squared return term.
    """

    tickers: tuple[str, ...]
    windows: tuple[Window, ...]
    cov_mean: np.ndarray
    mean_mean: np.ndarray
    outer_mean: np.ndarray

    @property
    def num_windows(self) -> int:
        return len(self.windows)


def window_moments(returns: pd.DataFrame, windows: Sequence[Window]) -> WindowMoments:
    """Average the per-window covariance and mean return over ``windows``.

    With ``X_m`` the ``L_m x K`` returns of window m, ``mu^(m)`` its column means and
    ``Z_m = (X_m - mu^(m)) / sqrt(L_m - 1)``, ``Q^(m) = Z_m^T Z_m``; stacking all ``Z_m``
    gives ``sum_m Q^(m) = Z^T Z`` in one matrix product.
    """
    values = returns.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = returns.columns[~np.isfinite(values).all(axis=0)]
        raise InputError(
            f"returns have missing values for {', '.join(map(str, bad[:5]))}"
            f"{' ...' if len(bad) > 5 else ''} (use data.missing: drop_assets)"
        )
    blocks, means = [], []
    for w in windows:
        x = values[w.start : w.stop]
        mu = x.mean(axis=0)
        means.append(mu)
        blocks.append((x - mu) / np.sqrt(w.rows - 1))
    z = np.vstack(blocks)
    mu_all = np.vstack(means)
    m = len(windows)
    cov_mean = z.T @ z / m
    cov_mean = (cov_mean + cov_mean.T) / 2
    return WindowMoments(
        tickers=tuple(str(c) for c in returns.columns),
        windows=tuple(windows),
        cov_mean=cov_mean,
        mean_mean=mu_all.mean(axis=0),
        outer_mean=mu_all.T @ mu_all / m,
    )


@dataclass(frozen=True)
class PortfolioQubo:
    """``min x^T A x  s.t.  sum x = K'`` over binary x, one variable per ticker.

    Build it with :func:`build_qubo`. ``A`` is recomputed from the shared moments, so
    :meth:`with_params` for another xi or K' costs one K x K combination, no new moments.

    Attributes
    ----------
    moments : WindowMoments
    k : int
        K', the number of assets to hold.
    xi : float
        Weight of the return term; large xi favours return.
    return_term : {"linear", "squared"}
    penalty_used : float or None
        The lambda of the last :meth:`to_bqm` call (the only field that changes; k, xi
        and the moments are fixed, so the cached ``A`` stays true).
    """

    moments: WindowMoments
    k: int
    xi: float
    return_term: ReturnTerm = "linear"
    penalty_used: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.moments.tickers)
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer):
            raise InputError(f"model.k = {self.k!r} must be a whole number")
        if not 1 <= self.k < n:
            raise InputError(
                f"model.k = {self.k} is out of range: choose 1 <= k < {n} (the number of assets)"
            )
        if self.return_term not in RETURN_TERMS:
            raise InputError(
                f"model.return_term = {self.return_term!r} is unknown (use linear or squared)"
            )
        if not np.isfinite(self.xi):
            raise InputError(f"model.xi = {self.xi} must be a finite number")

    # --- the matrix -------------------------------------------------------------------
    @property
    def tickers(self) -> list[str]:
        return list(self.moments.tickers)

    @property
    def num_assets(self) -> int:
        return len(self.moments.tickers)

    @property
    def num_windows(self) -> int:
        return self.moments.num_windows

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.moments.windows

    @property
    def q_bar(self) -> np.ndarray:
        """``Q-bar = 1/M sum_m Q^(m)``."""
        return self.moments.cov_mean

    @property
    def p_bar(self) -> np.ndarray:
        """``P-bar = 1/M sum_m P^(m)``: ``diag(mu-bar)`` or the mean of ``mu mu^T``."""
        if self.return_term == "linear":
            return np.diag(self.moments.mean_mean)
        return self.moments.outer_mean

    @cached_property
    def A(self) -> np.ndarray:
        """``A = (Q-bar - xi P-bar) / K'^2``, symmetric, in ticker order."""
        a = (self.q_bar - self.xi * self.p_bar) / self.k**2
        return (a + a.T) / 2

    @property
    def matrix(self) -> pd.DataFrame:
        """``A`` labelled by ticker."""
        return pd.DataFrame(self.A, index=self.tickers, columns=self.tickers)

    def with_params(self, *, k: int | None = None, xi: float | None = None) -> PortfolioQubo:
        """The same moments with another K' or xi."""
        return replace(
            self,
            k=self.k if k is None else k,
            xi=self.xi if xi is None else xi,
            penalty_used=None,
        )

    # --- evaluating selections --------------------------------------------------------
    def indicator(self, selection: Selection) -> np.ndarray:
        """The 0/1 vector x (ticker order) of a selection.

        ``selection`` is a 0/1 vector in ticker order, a mapping ``{ticker: 0/1}`` (a dimod
        sample), or an iterable of selected tickers.
        """
        n = self.num_assets
        if isinstance(selection, pd.Series):
            selection = selection.reindex(self.tickers).fillna(0).to_numpy()
        if isinstance(selection, np.ndarray):
            x = np.asarray(selection, dtype=np.float64).ravel()
            if x.shape != (n,):
                raise ValueError(f"selection vector has length {x.size}, expected {n}")
            return x
        position = {t: i for i, t in enumerate(self.moments.tickers)}
        x = np.zeros(n)
        if isinstance(selection, Mapping):
            for t, v in selection.items():
                x[position[str(t)]] = v
            return x
        unknown = [t for t in selection if str(t) not in position]
        if unknown:
            raise KeyError(f"unknown tickers in selection: {unknown}")
        x[[position[str(t)] for t in selection]] = 1.0
        return x

    def objective(self, selection: Selection) -> float:
        """``x^T A x`` (the penalty-free objective) of a selection."""
        x = self.indicator(selection)
        return float(x @ self.A @ x)

    # --- the penalty ------------------------------------------------------------------
    def penalty_bound(self) -> float:
        """``lambda* = max_i (|A_ii| + 2 sum_(j != i) |A_ij|)``, the single-flip bound.

        Flipping bit i changes ``x^T A x`` by at most ``|A_ii| + 2 sum_(j!=i) |A_ij|``, and
        the penalty of a state one bit away from feasible is lambda, so with lambda above
        this bound every single-flip local minimum of the BQM is feasible.
        """
        a = np.abs(self.A)
        return float(np.max(2 * a.sum(axis=1) - np.diag(a)))

    def penalty_weight(self, value: float | None = None, scale: float = 1.0) -> float:
        """The lambda to use: ``value`` when given, else ``scale * lambda*``."""
        lam = float(value) if value is not None else float(scale) * self.penalty_bound()
        if not np.isfinite(lam) or lam < 0:
            raise InputError(f"penalty lambda = {lam} must be a finite number >= 0")
        return lam

    # --- dimod models -----------------------------------------------------------------
    def objective_bqm(self) -> dimod.BinaryQuadraticModel:
        """BQM with energy ``x^T A x`` and no penalty (for fixed-cardinality samplers)."""
        return self._bqm(0.0)

    def to_bqm(
        self, penalty: float | None = None, scale: float = 1.0
    ) -> dimod.BinaryQuadraticModel:
        """The penalty BQM ``E(x) = x^T A x + lambda (sum x - K')^2``, labelled by ticker.

        Linear ``A_ii + lambda (1 - 2K')``, quadratic ``2 A_ij + 2 lambda`` (i < j), offset
        ``lambda K'^2``; every feasible x has ``E(x) = x^T A x``. ``penalty`` is an absolute
        lambda; otherwise ``lambda = scale * penalty_bound()``. The lambda used is stored
        in :attr:`penalty_used`.
        """
        lam = self.penalty_weight(penalty, scale)
        object.__setattr__(self, "penalty_used", lam)
        return self._bqm(lam)

    def _bqm(self, lam: float) -> dimod.BinaryQuadraticModel:
        a = self.A
        k = self.k
        rows, cols = np.triu_indices(self.num_assets, 1)
        linear = np.diag(a) + lam * (1 - 2 * k)
        quadratic = 2 * a[rows, cols] + 2 * lam
        return dimod.BinaryQuadraticModel.from_numpy_vectors(
            linear,
            (rows, cols, quadratic),
            lam * k * k,
            dimod.BINARY,
            variable_order=self.tickers,
        )

    def to_cqm(self) -> dimod.ConstrainedQuadraticModel:
        """``min x^T A x`` with the constraint ``sum x == K'`` (label ``cardinality``)."""
        cqm = dimod.ConstrainedQuadraticModel()
        cqm.set_objective(self.objective_bqm())
        cqm.add_constraint_from_iterable(
            [(t, 1.0) for t in self.tickers], "==", rhs=self.k, label="cardinality"
        )
        return cqm

    def describe(self) -> dict:
        """JSON-ready description of the model (for summaries)."""
        return {
            "k": self.k,
            "xi": self.xi,
            "return_term": self.return_term,
            "num_assets": self.num_assets,
            "num_windows": self.num_windows,
            "penalty_bound": self.penalty_bound(),
        }


def build_qubo(
    returns: pd.DataFrame,
    k: int,
    xi: float,
    windows: WindowSpec | Mapping | None = None,
    return_term: ReturnTerm = "linear",
    lookback: int | None = None,
) -> PortfolioQubo:
    """Build the portfolio QUBO from daily returns.

    Parameters
    ----------
    returns : DataFrame
        Simple daily returns, DatetimeIndex, one column per ticker, no missing values.
    k : int
        K', the number of assets to hold, ``1 <= k < K``.
    xi : float
        Return weight in ``A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m))``.
    windows : WindowSpec or mapping or None
        ``{length, step | count, unit}``; see :func:`qubo_portfolio.returns.window_bounds`.
        ``None``: one window holding every row.
    return_term : {"linear", "squared"}
        ``P^(m) = diag(mu^(m))`` or ``mu^(m) mu^(m)^T``.
    lookback : int or None
        Use only the most recent ``lookback`` rows (days for calendar windows).

    Examples
    --------
    >>> from qubo_portfolio import build_qubo, load_prices
    >>> from qubo_portfolio.returns import simple_returns
    >>> r = simple_returns(load_prices("sample").prices)
    >>> qubo = build_qubo(r, k=5, xi=0.5, windows={"length": 63, "step": 21}, lookback=252)
    >>> bqm = qubo.to_bqm()
    >>> len(bqm.variables), qubo.num_windows
    (20, 10)
    """
    spec = WindowSpec.from_any(windows)
    used = apply_lookback(returns, lookback, spec.unit)
    bounds = window_bounds(pd.DatetimeIndex(used.index), spec)
    return PortfolioQubo(window_moments(used, bounds), k=k, xi=float(xi), return_term=return_term)
