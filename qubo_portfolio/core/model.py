"""The portfolio QUBO: the averaged matrix A, its penalty BQM and its CQM.

For K assets, K' of them to hold in equal weights, M windows of returns with covariance
``Q^(m)`` and mean daily returns ``mu^(m)``::

    A = 1/(M K'^2) * sum_m (Q^(m) - xi P^(m))

with ``P^(m) = diag(mu^(m))`` (``return_term="linear"``) or ``mu^(m) mu^(m)^T``
(``"squared"``). For a selection x with ``sum x = K'`` and R the equal-weight portfolio's
daily return, ``x^T A x = mean_m [VAR_m(R) - xi E_m(R) / K']`` (linear) or
``mean_m [VAR_m(R) - xi E_m(R)^2]`` (squared). The cardinality constraint becomes the
penalty ``lambda (sum x - K')^2`` in :meth:`PortfolioQubo.to_bqm`.

``Q^(m)`` is the sample covariance (ddof=1) and ``mu^(m)`` the mean unless ``covariance`` /
``expected_returns`` name another estimator (skfolio's, fitted on each window's returns; see
:mod:`qubo_portfolio.core.moments`); the formula of A is the same for all.

Long/short (``positions="long_short"``, the method text's 2K binaries): the variables are
``long:<ticker>`` then ``short:<ticker>``, a short leg earns ``-r``, so the moments are those
of the returns with ``-r`` appended (covariance blocks ``[[Q, -Q], [-Q, Q]]``, means
``[mu, -mu]``); K' counts legs, each held with weight ``+1/K'`` (long) or ``-1/K'`` (short),
and the penalty ``gamma sum_i long_i short_i`` forbids holding both legs of one stock.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import dimod
import numpy as np
import pandas as pd

from ..errors import InputError
from .moments import (
    CovarianceName,
    ExpectedReturnsName,
    check_estimators,
    covariance_estimator,
    expected_returns_estimator,
    fit_window,
    normalize_params,
)
from .returns import (
    Window,
    WindowSpec,
    apply_lookback,
    check_returns,
    lookback_start,
    row_dates,
    row_label,
    window_bounds,
)

ReturnTerm = Literal["linear", "squared"]
RETURN_TERMS = ("linear", "squared")
Positions = Literal["long_only", "long_short"]
POSITIONS = ("long_only", "long_short")

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
    covariance, expected_returns : str
        The estimators of ``Q^(m)`` and ``mu^(m)`` (:mod:`qubo_portfolio.core.moments`).
    estimator_params : dict
        ``{"covariance": {...}, "expected_returns": {...}}``, the parameters given to them.
    """

    tickers: tuple[str, ...]
    windows: tuple[Window, ...]
    cov_mean: np.ndarray
    mean_mean: np.ndarray
    outer_mean: np.ndarray
    covariance: str = "empirical"
    expected_returns: str = "empirical"
    estimator_params: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: {"covariance": {}, "expected_returns": {}}
    )

    @property
    def num_windows(self) -> int:
        return len(self.windows)


def _check_overflow(returns: pd.DataFrame, values: np.ndarray) -> None:
    """Refuse a return ``r`` with ``4 L r^2`` beyond float64 (``L`` rows): it can make a
    covariance infinite. Names the first such ticker and date."""
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(values * values * (4.0 * len(values)))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        ticker, date = returns.columns[j], row_label(returns.index[i])
        raise InputError(
            f"the return of {ticker} on {date} is {values[i, j]:.3g}: the covariance would "
            f"overflow (check the prices of {ticker} around {date}, or leave {ticker} out)"
        )


def window_moments(
    returns: pd.DataFrame,
    windows: Sequence[Window],
    *,
    covariance: CovarianceName = "empirical",
    expected_returns: ExpectedReturnsName = "empirical",
    estimator_params: Mapping[str, Any] | None = None,
) -> WindowMoments:
    """Average the per-window covariance and mean return over ``windows``.

    ``Q^(m)`` and ``mu^(m)`` are the outputs of the estimators ``covariance`` and
    ``expected_returns`` fitted on window m's returns (see :mod:`qubo_portfolio.core.moments`
    for the names and ``estimator_params``).

    ``empirical`` without parameters (the default) is computed here, without skfolio: with
    ``X_m`` the ``L_m x K`` returns of window m, ``mu^(m)`` its column means and
    ``Z_m = (X_m - mu^(m)) / sqrt(L_m - 1)``, ``Q^(m) = Z_m^T Z_m`` (ddof=1); stacking all
    ``Z_m`` gives ``sum_m Q^(m) = Z^T Z`` in one matrix product.

    ``returns`` must pass :func:`~qubo_portfolio.core.returns.check_returns` (a DataFrame,
    rows oldest first, one numeric column per ticker) and have no missing values.
    """
    check_returns(returns)
    params = check_estimators(covariance, expected_returns, estimator_params)
    values = returns.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = returns.columns[~np.isfinite(values).all(axis=0)]
        raise InputError(
            f"returns have missing values for {', '.join(map(str, bad[:5]))}"
            f"{' ...' if len(bad) > 5 else ''} (use data.missing: drop_assets)"
        )
    _check_overflow(returns, values)
    m = len(windows)
    plain_cov = covariance == "empirical" and not params["covariance"]
    plain_mu = expected_returns == "empirical" and not params["expected_returns"]
    cov_est = None if plain_cov else covariance_estimator(covariance, params["covariance"])
    mu_est = (
        None
        if plain_mu
        else expected_returns_estimator(expected_returns, params["expected_returns"])
    )
    blocks, means = [], []
    cov_sum = None
    for i, w in enumerate(windows):
        x = values[w.start : w.stop]
        if plain_mu:
            mu = x.mean(axis=0)
        else:
            mu = fit_window("expected_returns", expected_returns, mu_est, x, i, m)
        means.append(mu)
        if plain_cov:
            center = mu if plain_mu else x.mean(axis=0)
            blocks.append((x - center) / np.sqrt(w.rows - 1))
        else:
            q = fit_window("covariance", covariance, cov_est, x, i, m)
            cov_sum = q if cov_sum is None else cov_sum + q
    mu_all = np.vstack(means)
    if plain_cov:
        z = np.vstack(blocks)
        cov_mean = z.T @ z / m
    else:
        cov_mean = cov_sum / m
    cov_mean = (cov_mean + cov_mean.T) / 2
    if not (np.isfinite(cov_mean).all() and np.isfinite(mu_all).all()):
        raise InputError(
            f"the {covariance} covariance / {expected_returns} expected returns of these "
            "returns are not finite (check the prices for extreme moves, or choose another "
            "model.covariance)"
        )
    return WindowMoments(
        tickers=tuple(str(c) for c in returns.columns),
        windows=tuple(windows),
        cov_mean=cov_mean,
        mean_mean=mu_all.mean(axis=0),
        outer_mean=mu_all.T @ mu_all / m,
        covariance=covariance,
        expected_returns=expected_returns,
        estimator_params=params,
    )


def _asset_labels(
    cov: Any, mean: Any, outer: Any, tickers: Sequence[str] | None
) -> tuple[list[str] | None, str]:
    """The asset labels of :meth:`PortfolioQubo.from_moments` and where they come from."""
    if isinstance(tickers, str):
        raise InputError(f"tickers = {tickers!r} must be a sequence of labels, not one string")
    found = [
        (tickers, "tickers"),
        (cov.index if isinstance(cov, pd.DataFrame) else None, "cov's index"),
        (mean.index if isinstance(mean, pd.Series) else None, "mean's index"),
        (outer.index if isinstance(outer, pd.DataFrame) else None, "outer's index"),
    ]
    for labels, source in found:
        if labels is not None:
            labels = [str(t) for t in labels]
            _check_distinct(labels, source)
            return labels, source
    return None, "positions"


def _check_distinct(labels: list[str], source: str) -> None:
    repeated = [t for t, n in Counter(labels).items() if n > 1]
    if repeated:
        raise InputError(
            f"{source} must be distinct labels, one per asset: {', '.join(repeated[:5])} "
            "appears more than once"
        )


def _same_labels(axis: pd.Index, labels: list[str], what: str, source: str) -> list[str]:
    """``axis`` as strings, or :class:`InputError` unless it holds exactly ``labels``.

    ``what`` names the axis (``"mean's index"``), ``source`` where ``labels`` come from.
    """
    found = [str(t) for t in axis]
    _check_distinct(found, what)
    known, wanted = set(found), set(labels)
    missing = [t for t in labels if t not in known]
    extra = [t for t in found if t not in wanted]
    if missing or extra:
        parts = [f"missing {', '.join(missing[:5])}"] if missing else []
        parts += [f"extra {', '.join(extra[:5])}"] if extra else []
        raise InputError(
            f"{what} and {source} hold different labels: {'; '.join(parts)} (use the same "
            "tickers, or pass a plain array to pair by position)"
        )
    return found


def _by_label(name: str, value: Any, labels: list[str] | None, source: str) -> np.ndarray:
    """``value`` as float64; a Series or DataFrame first reordered by label to ``labels``."""
    if labels is not None and isinstance(value, pd.DataFrame):
        value = value.set_axis(_same_labels(value.index, labels, f"{name}'s index", source))
        columns = _same_labels(value.columns, labels, f"{name}'s columns", source)
        value = value.set_axis(columns, axis=1).loc[labels, labels]
    elif labels is not None and isinstance(value, pd.Series):
        value = value.set_axis(_same_labels(value.index, labels, f"{name}'s index", source))
        value = value.loc[labels]
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise InputError(f"{name} must hold numbers, got {array.dtype} values")
    return array.astype(np.float64)


def _zero_one(values: np.ndarray) -> np.ndarray:
    """``values`` as float64, or :class:`InputError` unless every one is 0 or 1."""
    if values.size and (values.dtype.kind not in "biuf" or not np.isin(values, (0, 1)).all()):
        shown = [v for v in values.tolist() if v not in (0, 1)][:3]
        raise InputError(f"selection values must be 0 or 1, got {shown}")
    return values.astype(np.float64)


def check_xi(xi: Any) -> float:
    """``xi`` as a float, or :class:`InputError` unless it is a finite real number."""
    if isinstance(xi, bool) or not isinstance(xi, numbers.Real):
        raise InputError(f"model.xi = {xi!r} must be a number, not a {type(xi).__name__}")
    if not np.isfinite(xi):
        raise InputError(f"model.xi = {xi} must be a finite number")
    return float(xi)


def variable_labels(tickers: Sequence[str], positions: Positions = "long_only") -> list[str]:
    """The binary variables' labels: the tickers (long only), or ``long:<t>`` then ``short:<t>``."""
    if positions == "long_short":
        return [f"long:{t}" for t in tickers] + [f"short:{t}" for t in tickers]
    return list(tickers)


@dataclass(frozen=True)
class PortfolioQubo:
    """``min x^T A x  s.t.  sum x = K'`` over binary x.

    Long only: one variable per ticker. Long/short: 2K variables ``long:<t>``, ``short:<t>``
    (:attr:`variables`), ``sum x = K'`` counts legs, and no stock may be held on both sides
    (``long_i + short_i <= 1``; in the BQM the penalty ``gamma sum_i long_i short_i``).

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
    positions : {"long_only", "long_short"}
    penalty_used : float or None
        The lambda of the last :meth:`to_bqm` call (it and :attr:`exclusion_used` are the
        only fields that change; k, xi and the moments are fixed, so the cached ``A`` stays
        true).
    exclusion_used : float or None
        The gamma of the last :meth:`to_bqm` call (long/short only).
    """

    moments: WindowMoments
    k: int
    xi: float
    return_term: ReturnTerm = "linear"
    positions: Positions = "long_only"
    penalty_used: float | None = field(default=None, compare=False)
    exclusion_used: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        n = len(self.moments.tickers)
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer):
            raise InputError(f"model.k = {self.k!r} must be a whole number")
        if self.positions not in POSITIONS:
            raise InputError(
                f"model.positions = {self.positions!r} is unknown (use long_only or long_short)"
            )
        if self.positions == "long_short":
            if not 1 <= self.k <= n:
                raise InputError(
                    f"model.k = {self.k} is out of range: choose 1 <= k <= {n} (legs, at most "
                    "one per stock)"
                )
        elif not 1 <= self.k < n:
            raise InputError(
                f"model.k = {self.k} is out of range: choose 1 <= k < {n} (the number of assets)"
            )
        if self.return_term not in RETURN_TERMS:
            raise InputError(
                f"model.return_term = {self.return_term!r} is unknown (use linear or squared)"
            )
        object.__setattr__(self, "xi", check_xi(self.xi))

    @classmethod
    def from_moments(
        cls,
        cov: np.ndarray | pd.DataFrame,
        mean: np.ndarray | pd.Series | Sequence[float],
        *,
        k: int,
        xi: float = 0.0,
        tickers: Sequence[str] | None = None,
        return_term: ReturnTerm = "linear",
        outer: np.ndarray | pd.DataFrame | None = None,
        positions: Positions = "long_only",
    ) -> PortfolioQubo:
        """The QUBO of moments you already have (your own risk model), no windows.

        ``A = (cov - xi P) / K'^2`` with ``P = diag(mean)`` (``return_term="linear"``) or
        ``P = outer`` (``"squared"``; default ``outer(mean, mean)``): exactly what
        :func:`build_qubo` computes from the averaged window moments ``Q-bar``, ``mu-bar`` and
        ``1/M sum_m mu^(m) mu^(m)^T``. Long/short doubles the variables as there.

        Pandas inputs are read by label, arrays by position. The assets are, in this order,
        ``tickers`` when given, else the index of ``cov`` (a DataFrame), of ``mean`` (a
        Series) or of ``outer`` (a DataFrame), else ``x0, x1, ...``. Every DataFrame (both
        axes: ``cov``'s columns are reordered to its index) and Series is reordered to those
        labels, compared as strings; a missing or extra label raises :class:`InputError`
        naming it.

        Parameters
        ----------
        cov : array or DataFrame (K, K)
            The (averaged) covariance of daily returns; symmetrized.
        mean : array, sequence or Series (K,)
            The (averaged) mean daily returns.
        k, xi, return_term, positions
            As for :func:`build_qubo`.
        tickers : sequence of str, optional
            The asset labels, in the order of the variables (see above).
        outer : array or DataFrame (K, K), optional
            The averaged ``mu mu^T`` for the squared return term.

        Examples
        --------
        >>> import numpy as np
        >>> cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.16]]) / 252
        >>> qubo = PortfolioQubo.from_moments(cov, [0.0004, 0.0006, 0.001], k=2, xi=1.0)
        >>> qubo.tickers, qubo.num_windows
        (['x0', 'x1', 'x2'], 0)
        """
        labels, source = _asset_labels(cov, mean, outer, tickers)
        c = _by_label("cov", cov, labels, source)
        mu = _by_label("mean", mean, labels, source)
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise InputError(f"cov must be a square K x K matrix, not of shape {c.shape}")
        n = c.shape[0]
        if mu.shape != (n,):
            raise InputError(f"mean must have K = {n} entries (one per asset), not {mu.shape}")
        o = np.outer(mu, mu) if outer is None else _by_label("outer", outer, labels, source)
        if o.shape != (n, n):
            raise InputError(f"outer must be K x K = {n} x {n}, not of shape {o.shape}")
        for name, value in (("cov", c), ("mean", mu), ("outer", o)):
            if not np.isfinite(value).all():
                raise InputError(f"{name} has missing or infinite values")
        labels = [f"x{i}" for i in range(n)] if labels is None else labels
        if len(labels) != n:
            raise InputError(f"tickers must be {n} distinct labels, one per asset")
        moments = WindowMoments(
            tickers=tuple(labels),
            windows=(),
            cov_mean=(c + c.T) / 2,
            mean_mean=mu,
            outer_mean=o,
        )
        return cls(moments, k, xi, return_term, positions)

    # --- the matrix -------------------------------------------------------------------
    @property
    def tickers(self) -> list[str]:
        return list(self.moments.tickers)

    @property
    def num_assets(self) -> int:
        """K, the number of stocks."""
        return len(self.moments.tickers)

    @property
    def long_short(self) -> bool:
        return self.positions == "long_short"

    @property
    def variables(self) -> list[str]:
        """Labels of the binary variables, the order of ``A``'s rows: the tickers (long only),
        or ``long:<ticker>`` for every ticker then ``short:<ticker>`` (long/short)."""
        return variable_labels(self.moments.tickers, self.positions)

    @property
    def num_variables(self) -> int:
        """K (long only) or 2K (long/short)."""
        return 2 * self.num_assets if self.long_short else self.num_assets

    @property
    def twin(self) -> np.ndarray:
        """Per variable, the index of the other leg of its stock (-1 when long only)."""
        n = self.num_assets
        if not self.long_short:
            return np.full(n, -1, dtype=np.int64)
        return np.concatenate([np.arange(n, 2 * n), np.arange(n)]).astype(np.int64)

    @property
    def side(self) -> np.ndarray:
        """Per variable, +1 (long leg) or -1 (short leg)."""
        n = self.num_assets
        return np.concatenate([np.ones(n), -np.ones(n)]) if self.long_short else np.ones(n)

    @property
    def num_windows(self) -> int:
        return self.moments.num_windows

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.moments.windows

    @property
    def covariance(self) -> str:
        """The estimator of each window's ``Q^(m)`` (``empirical``: sample covariance)."""
        return self.moments.covariance

    @property
    def expected_returns(self) -> str:
        """The estimator of each window's ``mu^(m)`` (``empirical``: the mean)."""
        return self.moments.expected_returns

    @property
    def estimator_params(self) -> dict:
        """``{"covariance": {...}, "expected_returns": {...}}`` given to the estimators."""
        return {k: dict(v) for k, v in self.moments.estimator_params.items()}

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
        """``A = (Q-bar - xi P-bar) / K'^2``, symmetric, in :attr:`variables` order.

        Long/short: the moments of the 2K legs, whose returns are ``[r, -r]``: with
        ``s = [1, ..., 1, -1, ..., -1]`` and every index taken modulo K,
        ``Q-bar_ls = s s^T * Q-bar`` (blocks ``[[Q, -Q], [-Q, Q]]``), the means ``s * mu-bar``,
        so ``P-bar_ls = diag(s * mu-bar)`` (linear) or ``s s^T * mean(mu mu^T)`` (squared).
        """
        if not self.long_short:
            a = (self.q_bar - self.xi * self.p_bar) / self.k**2
            return (a + a.T) / 2
        n = self.num_assets
        legs = np.tile(np.arange(n), 2)
        sign = self.side
        signs = np.outer(sign, sign)
        q = signs * self.q_bar[np.ix_(legs, legs)]
        if self.return_term == "linear":
            p = np.diag(sign * self.moments.mean_mean[legs])
        else:
            p = signs * self.moments.outer_mean[np.ix_(legs, legs)]
        a = (q - self.xi * p) / self.k**2
        return (a + a.T) / 2

    @property
    def matrix(self) -> pd.DataFrame:
        """``A`` labelled by variable (ticker, or ``long:``/``short:`` leg)."""
        return pd.DataFrame(self.A, index=self.variables, columns=self.variables)

    def with_params(self, *, k: int | None = None, xi: float | None = None) -> PortfolioQubo:
        """The same moments with another K' or xi."""
        return replace(
            self,
            k=self.k if k is None else k,
            xi=self.xi if xi is None else xi,
            penalty_used=None,
            exclusion_used=None,
        )

    # --- evaluating selections --------------------------------------------------------
    def indicator(self, selection: Selection) -> np.ndarray:
        """The 0/1 vector x (:attr:`variables` order) of a selection.

        ``selection`` is a 0/1 vector in variable order, a mapping or Series
        ``{variable: 0/1}`` (a dimod sample; variables left out are 0), or an iterable of
        selected variables (tickers when long only, ``long:<t>``/``short:<t>`` when
        long/short). A single string is one variable (``"AAPL"``, not its letters). An
        unknown or repeated variable, a value other than 0 or 1 (a SPIN sample, weights),
        or a vector of another length, raises :class:`InputError`.
        """
        n = self.num_variables
        if isinstance(selection, np.ndarray):
            if selection.size != n:
                raise InputError(f"selection vector has length {selection.size}, expected {n}")
            return _zero_one(selection.ravel())
        if isinstance(selection, str):
            selection = [selection]
        if isinstance(selection, pd.Series):
            selection = selection.to_dict()
        chosen = (
            {str(t): v for t, v in selection.items()}
            if isinstance(selection, Mapping)
            else self._listed(selection)
        )
        position = {t: i for i, t in enumerate(self.variables)}
        unknown = [t for t in chosen if t not in position]
        if unknown:
            what = "variables" if self.long_short else "tickers"
            raise InputError(
                f"unknown {what} in selection: {', '.join(unknown[:5])} (choose among "
                f"{', '.join(self.variables[:5])}{', ...' if n > 5 else ''})"
            )
        x = np.zeros(n)
        x[[position[t] for t in chosen]] = _zero_one(np.asarray(list(chosen.values())))
        return x

    @staticmethod
    def _listed(selection: Iterable) -> dict[str, float]:
        """``{variable: 1}`` of a list of selected variables; a repeated one is refused."""
        names = [str(t) for t in selection]
        repeated = [t for t, c in Counter(names).items() if c > 1]
        if repeated:
            raise InputError(f"selection names {', '.join(repeated[:5])} more than once")
        return dict.fromkeys(names, 1.0)

    def objective(self, selection: Selection) -> float:
        """``x^T A x`` (the penalty-free objective) of a selection."""
        x = self.indicator(selection)
        return float(x @ self.A @ x)

    # --- the penalties ----------------------------------------------------------------
    def penalty_bound(self) -> float:
        """``lambda* = max_i (|A_ii| + 2 sum_(j != i) |A_ij|)``, the single-flip bound.

        Flipping bit i changes ``x^T A x`` by at most ``|A_ii| + 2 sum_(j!=i) |A_ij|``, and
        the penalty of a state one bit away from feasible is lambda, so with lambda above
        this bound every single-flip local minimum of the BQM is feasible.

        Long/short (over the 2K legs) the same holds with the exclusion penalty present: a
        state with too many legs loses at least lambda by dropping a leg, which never adds
        exclusion penalty; a state with too few legs (fewer than K' <= K) leaves some stock
        untouched, and adding one of its legs adds no exclusion penalty either.
        """
        a = np.abs(self.A)
        return float(np.max(2 * a.sum(axis=1) - np.diag(a)))

    def penalty_weight(self, value: float | None = None, scale: float = 1.0) -> float:
        """The lambda to use: ``value`` when given, else ``scale * lambda*``."""
        lam = float(value) if value is not None else float(scale) * self.penalty_bound()
        if not np.isfinite(lam) or lam < 0:
            raise InputError(f"penalty lambda = {lam} must be a finite number >= 0")
        return lam

    def exclusion_bound(self) -> float | None:
        """``gamma*``: above it no state holding both legs of a stock is ever optimal.

        ``None`` when long only. With ``F_v = |A_vv| + 2 sum_(j != v) |A_vj|`` (the most
        that flipping leg v alone can change ``x^T A x``, see :meth:`penalty_bound`) and
        ``m_i = min(F_long:i, F_short:i)``,

            ``gamma* = m_(1) + m_(2)``, the sum of the two largest ``m_i``.

        Derivation. Take any state x (any number n of legs) that holds both legs of stock i,
        and let a be the leg of i with ``F_a = m_i``.

        - n <= K: the n legs touch at most n - 1 <= K - 1 stocks, so some stock u != i is
          untouched; let b be its leg with ``F_b = m_u``. Swap a out and b in. The number
          of legs (and so the cardinality penalty) is unchanged, the exclusion count drops
          by one (a's twin is now alone, b's twin is not held), and ``x^T A x`` changes by
          ``[E(x - e_a) - E(x)] + [E(x - e_a + e_b) - E(x - e_a)] <= F_a + F_b
          = m_i + m_u <= gamma*`` (each bracket is one flip).
        - n > K >= K': drop a. ``x^T A x`` rises by at most ``F_a = m_i <= gamma*``, the
          cardinality penalty changes by ``lambda (1 - 2 (n - K')) <= 0``, the exclusion
          count drops by one.

        Either way the energy ``x^T A x + lambda (sum x - K')^2 + gamma sum_i long_i
        short_i`` falls by at least ``gamma - gamma* > 0`` when ``gamma > gamma*``, for every
        ``lambda >= 0``: a state holding both legs of a stock is never a minimizer of the
        penalty BQM (not even a local minimum under flips and swaps), and among the states
        with exactly K' legs it is never optimal. At ``gamma = gamma*`` such a state could
        at best tie, which needs every triangle inequality above to be tight. The bound is
        safe, not tight: a much smaller gamma often works, but not always (the tests show
        instances where it fails).
        """
        if not self.long_short:
            return None
        a = np.abs(self.A)
        flip = 2 * a.sum(axis=1) - np.diag(a)
        n = self.num_assets
        m = np.sort(np.minimum(flip[:n], flip[n:]))
        return float(m[-1] + m[-2]) if n >= 2 else float(m[-1])

    def exclusion_weight(self, value: float | None = None, scale: float = 1.0) -> float | None:
        """The gamma to use (long/short): ``value`` when given, else ``scale * gamma*``.

        ``None`` when long only (there is no exclusion penalty).
        """
        if not self.long_short:
            return None
        gamma = float(value) if value is not None else float(scale) * self.exclusion_bound()
        if not np.isfinite(gamma) or gamma < 0:
            raise InputError(f"exclusion penalty gamma = {gamma} must be a finite number >= 0")
        return gamma

    def is_feasible(self, x: np.ndarray) -> np.ndarray:
        """Per row of ``x`` (variable order): exactly K' selected, no stock on both sides."""
        x = np.asarray(x)
        return ((x != 0).sum(axis=-1) == self.k) & (self.count_both_legs(x) == 0)

    def count_both_legs(self, x: np.ndarray) -> np.ndarray:
        """Per row of ``x`` (samples in variable order), the stocks held on both sides."""
        x = np.asarray(x)
        if not self.long_short:
            return np.zeros(x.shape[:-1], dtype=np.int64)
        n = self.num_assets
        return ((x[..., :n] != 0) & (x[..., n:] != 0)).sum(axis=-1)

    # --- dimod models -----------------------------------------------------------------
    def objective_bqm(self) -> dimod.BinaryQuadraticModel:
        """BQM with energy ``x^T A x`` and no penalty (for fixed-cardinality samplers)."""
        return self._bqm(0.0)

    def to_bqm(
        self,
        penalty: float | None = None,
        scale: float = 1.0,
        *,
        exclusion: float | None = None,
        exclusion_scale: float = 1.0,
    ) -> dimod.BinaryQuadraticModel:
        """The penalty BQM ``E(x) = x^T A x + lambda (sum x - K')^2``, labelled by variable.

        Linear ``A_ii + lambda (1 - 2K')``, quadratic ``2 A_ij + 2 lambda`` (i < j), offset
        ``lambda K'^2``; every feasible x has ``E(x) = x^T A x``. ``penalty`` is an absolute
        lambda; otherwise ``lambda = scale * penalty_bound()``. The lambda used is stored
        in :attr:`penalty_used`.

        Long/short adds ``gamma sum_i long_i short_i`` (``gamma`` added to the quadratic
        bias of each stock's two legs): ``exclusion`` is an absolute gamma, otherwise
        ``gamma = exclusion_scale * exclusion_bound()``; stored in :attr:`exclusion_used`.
        """
        lam = self.penalty_weight(penalty, scale)
        gamma = self.exclusion_weight(exclusion, exclusion_scale)
        object.__setattr__(self, "penalty_used", lam)
        object.__setattr__(self, "exclusion_used", gamma)
        return self._bqm(lam, gamma or 0.0)

    def _bqm(self, lam: float, gamma: float = 0.0) -> dimod.BinaryQuadraticModel:
        a = self.A
        k = self.k
        rows, cols = np.triu_indices(self.num_variables, 1)
        linear = np.diag(a) + lam * (1 - 2 * k)
        quadratic = 2 * a[rows, cols] + 2 * lam
        if self.long_short:
            quadratic[cols == rows + self.num_assets] += gamma
        return dimod.BinaryQuadraticModel.from_numpy_vectors(
            linear,
            (rows, cols, quadratic),
            lam * k * k,
            dimod.BINARY,
            variable_order=self.variables,
        )

    def to_cqm(self) -> dimod.ConstrainedQuadraticModel:
        """``min x^T A x`` with the constraint ``sum x == K'`` (label ``cardinality``).

        Long/short adds ``long:<t> + short:<t> <= 1`` for every ticker (label
        ``one_side:<t>``).
        """
        cqm = dimod.ConstrainedQuadraticModel()
        cqm.set_objective(self.objective_bqm())
        cqm.add_constraint_from_iterable(
            [(v, 1.0) for v in self.variables], "==", rhs=self.k, label="cardinality"
        )
        if self.long_short:
            for t in self.tickers:
                cqm.add_constraint_from_iterable(
                    [(f"long:{t}", 1.0), (f"short:{t}", 1.0)], "<=", rhs=1, label=f"one_side:{t}"
                )
        return cqm

    def describe(self) -> dict:
        """JSON-ready description of the model (for summaries)."""
        out = {
            "k": self.k,
            "xi": self.xi,
            "return_term": self.return_term,
            "covariance": self.covariance,
            "expected_returns": self.expected_returns,
            "estimator_params": self.estimator_params,
            "num_assets": self.num_assets,
            "num_windows": self.num_windows,
            "penalty_bound": self.penalty_bound(),
        }
        if self.long_short:
            out.update(
                positions=self.positions,
                num_variables=self.num_variables,
                exclusion_bound=self.exclusion_bound(),
            )
        return out


def build_qubo(
    returns: pd.DataFrame,
    k: int,
    xi: float,
    windows: WindowSpec | Mapping | None = None,
    return_term: ReturnTerm = "linear",
    lookback: int | None = None,
    positions: Positions = "long_only",
    *,
    covariance: CovarianceName = "empirical",
    expected_returns: ExpectedReturnsName = "empirical",
    estimator_params: Mapping[str, Any] | None = None,
) -> PortfolioQubo:
    """Build the portfolio QUBO from daily returns.

    Parameters
    ----------
    returns : DataFrame
        Simple daily returns, one numeric column per ticker, no missing values; rows
        strictly oldest first (a DatetimeIndex; calendar-day windows need one, trading-day
        windows also take e.g. integers). Anything else raises :class:`InputError`.
    k : int
        K', the number of assets to hold, ``1 <= k < K``.
    xi : float
        Return weight in ``A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m))``.
    windows : WindowSpec or mapping or None
        ``{length, step | count, unit}``; see :func:`qubo_portfolio.core.returns.window_bounds`.
        ``None``: one window holding every row.
    return_term : {"linear", "squared"}
        ``P^(m) = diag(mu^(m))`` or ``mu^(m) mu^(m)^T``.
    lookback : int or None
        Use only the most recent ``lookback`` rows (days for calendar windows).
    positions : {"long_only", "long_short"}
        One binary per ticker, or two (``long:<t>``, ``short:<t>``), see the module notes.
    covariance : str
        Estimator of each window's ``Q^(m)``: ``empirical`` (sample covariance, ddof=1),
        ``ledoit_wolf``, ``oas``, ``shrunk``, ``exponential``, ``gerber``, ``denoise``
        (skfolio's estimators, see :mod:`qubo_portfolio.core.moments`).
    expected_returns : str
        Estimator of each window's ``mu^(m)``: ``empirical`` (the mean), ``exponential``,
        ``shrinkage``.
    estimator_params : mapping or None
        ``{"covariance": {...}, "expected_returns": {...}}``: keyword arguments of the two
        skfolio classes (e.g. ``{"covariance": {"shrinkage": 0.3}}``).

    Examples
    --------
    >>> from qubo_portfolio import build_qubo, load_prices
    >>> from qubo_portfolio.core.returns import simple_returns
    >>> r = simple_returns(load_prices("sample").prices)
    >>> qubo = build_qubo(r, k=5, xi=0.5, windows={"length": 63, "step": 21}, lookback=252)
    >>> bqm = qubo.to_bqm()
    >>> len(bqm.variables), qubo.num_windows
    (20, 10)
    """
    xi = check_xi(xi)
    spec = WindowSpec.from_any(windows)
    check_returns(returns)
    dates = row_dates(returns.index, spec.unit)
    used = apply_lookback(returns, lookback, spec.unit)
    origin = lookback_start(dates, lookback, spec.unit)
    bounds = window_bounds(dates[len(dates) - len(used) :], spec, origin=origin)
    params = normalize_params(estimator_params)
    estimators = {}  # the default stays the two-argument window_moments(used, bounds)
    if covariance != "empirical" or expected_returns != "empirical" or any(params.values()):
        estimators = dict(
            covariance=covariance, expected_returns=expected_returns, estimator_params=params
        )
    return PortfolioQubo(
        window_moments(used, bounds, **estimators),
        k=k,
        xi=xi,
        return_term=return_term,
        positions=positions,
    )
