"""Prices to returns, and the averaging windows over the returns.

Returns are simple daily returns ``r_t,i = p_t,i / p_(t-1),i - 1`` (``pct_change`` without
filling). The model averages moments over M windows of returns; this module says which rows
each window holds (:func:`window_bounds`), in trading days (rows) or calendar days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InputError

WindowUnit = Literal["trading_days", "calendar_days"]
UNITS = ("trading_days", "calendar_days")


def simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns ``r_t = p_t / p_(t-1) - 1``, one row fewer than ``prices``.

    Missing prices stay missing (no forward fill): a return next to a gap is NaN.
    """
    returns = prices.pct_change(fill_method=None).iloc[1:]
    returns.index.name = prices.index.name
    return returns


def apply_lookback(
    returns: pd.DataFrame, lookback: int | None, unit: WindowUnit = "trading_days"
) -> pd.DataFrame:
    """The most recent part of ``returns`` the model may use.

    ``unit="trading_days"``: the last ``lookback`` rows. ``unit="calendar_days"``: the rows
    dated within the last ``lookback`` calendar days, ending at (and including) the last
    date. ``None`` keeps everything.
    """
    if lookback is None:
        return returns
    if lookback < 2:
        raise InputError(
            f"model.lookback = {lookback} is too short (use at least 2, or null for all)"
        )
    if unit == "trading_days":
        if lookback > len(returns):
            raise InputError(
                f"model.lookback = {lookback} return rows requested but only {len(returns)} "
                "are available (lower model.lookback or widen data.start/end)"
            )
        return returns.iloc[-lookback:]
    first = returns.index[-1] - pd.Timedelta(days=lookback - 1)
    return returns.loc[returns.index >= first]


def lookback_start(
    index: pd.DatetimeIndex, lookback: int | None, unit: WindowUnit = "trading_days"
) -> pd.Timestamp | None:
    """The first calendar day a calendar-day lookback covers, ``last - (lookback - 1)`` days.

    ``None`` for trading days or no lookback. Calendar windows are laid out from this day,
    not from the first return row after it, so that M does not depend on whether the
    lookback happens to start on a weekend.
    """
    if lookback is None or unit != "calendar_days":
        return None
    return index[-1] - pd.Timedelta(days=lookback - 1)


def price_span_start(
    index: pd.DatetimeIndex, lookback: int | None, unit: WindowUnit = "trading_days"
) -> pd.Timestamp | None:
    """The first price date the returns of a lookback need (the close before its first return).

    ``index`` holds the price dates; the returns are ``simple_returns`` of those prices and the
    lookback is cut by :func:`apply_lookback`. None when every row is used (no lookback, or a
    lookback as long as the data or longer: :func:`apply_lookback` then decides).

    Examples
    --------
    >>> index = pd.date_range("2021-01-01", periods=10)
    >>> price_span_start(index, 3).date()
    datetime.date(2021, 1, 7)
    >>> price_span_start(index, 4, "calendar_days").date()
    datetime.date(2021, 1, 6)
    """
    if lookback is None or len(index) < 2:
        return None
    if unit == "trading_days":
        row = len(index) - 1 - int(lookback)
    else:
        first = index[-1] - pd.Timedelta(days=int(lookback) - 1)
        row = int(index[1:].searchsorted(first, side="left"))  # the first return's price row - 1
    return index[row] if row > 0 else None


@dataclass(frozen=True)
class WindowSpec:
    """How to cut the returns into M averaging windows.

    Parameters
    ----------
    length : int or None
        L, the window length (rows for trading days, days for calendar days). ``None``: one
        window holding all rows.
    step : int or None
        s, the distance between consecutive window starts. Windows are end-anchored: the
        last one ends at the last row, starts go ``T-L, T-L-s, ...`` while ``>= 0``.
    count : int or None
        M, the number of windows, starts ``round(linspace(0, T-L, M))`` (the first window
        starts at the first row, the last ends at the last row). Give step or count, not both.
    unit : {"trading_days", "calendar_days"}
    """

    length: int | None = None
    step: int | None = None
    count: int | None = None
    unit: WindowUnit = "trading_days"

    @classmethod
    def from_any(cls, spec: WindowSpec | Mapping | None) -> WindowSpec:
        if spec is None:
            return cls()
        if isinstance(spec, WindowSpec):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"length", "step", "count", "unit"}
            if unknown:
                raise InputError(
                    f"unknown window keys: {', '.join(sorted(unknown))} "
                    "(use length, step, count, unit)"
                )
            return cls(**spec)
        raise TypeError(
            f"windows must be a WindowSpec, a mapping or None, not {type(spec).__name__}"
        )


@dataclass(frozen=True)
class Window:
    """One averaging window: return rows ``start`` (inclusive) to ``stop`` (exclusive)."""

    start: int
    stop: int
    first_date: pd.Timestamp
    last_date: pd.Timestamp

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {
            "start_row": self.start,
            "stop_row": self.stop,
            "rows": self.rows,
            "first_date": self.first_date.date().isoformat(),
            "last_date": self.last_date.date().isoformat(),
        }


def _check_spec(spec: WindowSpec) -> None:
    if spec.unit not in UNITS:
        raise InputError(
            f"windows.unit = {spec.unit!r} is unknown (use trading_days or calendar_days)"
        )
    if spec.step is not None and spec.count is not None:
        raise InputError("windows.step and windows.count are both set (give one of them)")
    if spec.length is not None and spec.length < 2:
        raise InputError(
            f"windows.length = {spec.length} is too short: a window needs at least 2 return rows"
        )
    if spec.step is not None and spec.step < 1:
        raise InputError(f"windows.step = {spec.step} must be >= 1")
    if spec.count is not None and spec.count < 1:
        raise InputError(f"windows.count = {spec.count} must be >= 1")


def _offsets(span: int, length: int, step: int | None, count: int | None) -> np.ndarray:
    """Window start offsets in ``[0, span - length]``, ascending."""
    last = span - length
    if count is not None:
        if count == 1:
            return np.array([last])
        if count > last + 1:
            raise InputError(
                f"windows.count = {count} exceeds the {last + 1} distinct windows of length "
                f"{length} in {span} (lower windows.count or windows.length)"
            )
        return np.round(np.linspace(0, last, count)).astype(int)
    step = step if step is not None else max(length, 1)
    return np.arange(last, -1, -step)[::-1]


def window_bounds(
    index: pd.DatetimeIndex,
    spec: WindowSpec | Mapping | None = None,
    origin: pd.Timestamp | None = None,
) -> list[Window]:
    """The M windows over return rows dated ``index``, oldest first.

    Trading days: with T rows, window m holds rows ``[s_m, s_m + L)`` with starts
    ``T-L, T-L-s, ... >= 0`` (``step``) or ``round(linspace(0, T-L, M))`` (``count``).
    Without step or count, consecutive windows do not overlap (s = L), end-anchored.
    Calendar days: the same over the calendar span ``D`` = days from ``d_0`` to the last
    date inclusive; window m holds the rows dated in ``[d_0 + s_m, d_0 + s_m + L)`` days.
    ``d_0`` is ``origin`` (the first day of a calendar lookback, :func:`lookback_start`)
    when given, else the first date.

    Raises :class:`InputError` when L exceeds the data or a window has fewer than 2 rows,
    naming both numbers.
    """
    spec = WindowSpec.from_any(spec)
    _check_spec(spec)
    n_rows = len(index)
    if n_rows < 2:
        raise InputError(f"only {n_rows} return rows: need at least 2 (widen data.start/end)")
    if spec.unit == "trading_days":
        length = spec.length if spec.length is not None else n_rows
        if length > n_rows:
            raise InputError(
                f"windows.length = {length} exceeds the {n_rows} return rows available "
                "(lower windows.length, raise model.lookback, or widen data.start/end)"
            )
        starts = _offsets(n_rows, length, spec.step, spec.count)
        stops = starts + length
    else:
        first = index[0] if origin is None else min(pd.Timestamp(origin), index[0])
        days = (index - first).days.to_numpy()
        span = int(days[-1]) + 1
        length = spec.length if spec.length is not None else span
        if length > span:
            raise InputError(
                f"windows.length = {length} calendar days exceeds the {span} days of returns "
                "(lower windows.length, raise model.lookback, or widen data.start/end)"
            )
        offsets = _offsets(span, length, spec.step, spec.count)
        starts = np.searchsorted(days, offsets, side="left")
        stops = np.searchsorted(days, offsets + length, side="left")
    for a, b in zip(starts, stops, strict=True):
        if b - a < 2:
            raise InputError(
                f"a window of {length} {spec.unit.replace('_', ' ')} holds {b - a} return rows: "
                "need at least 2 (lengthen windows.length)"
            )
    return [
        Window(int(a), int(b), index[a], index[b - 1]) for a, b in zip(starts, stops, strict=True)
    ]
