"""Prices to returns, and the averaging windows over the returns.

Returns are simple daily returns ``r_t,i = p_t,i / p_(t-1),i - 1`` (``pct_change`` without
filling). The model averages moments over M windows of returns; this module says which rows
each window holds (:func:`window_bounds`), in trading days (rows) or calendar days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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


def row_label(label: Any) -> str:
    """A row label as messages show it: a date at midnight as ``YYYY-MM-DD``, else ``str``."""
    if isinstance(label, pd.Timestamp) and label == label.normalize():
        return label.date().isoformat()
    return str(label)


def check_row_order(index: pd.Index, what: str = "returns") -> None:
    """Refuse row labels that do not strictly increase (oldest row first, one row per date).

    The model reads rows by position (the last ``lookback`` rows, windows laid out from the
    first row), so rows in another order would silently give other windows. Names the
    first offending row (0-based position and label) and the fix.
    """
    if index.is_monotonic_increasing and index.is_unique:
        return
    missing = np.flatnonzero(pd.isna(index)) if not isinstance(index, pd.MultiIndex) else []
    if len(missing):
        raise InputError(
            f"{what} row {missing[0]} has no date ({index[missing[0]]}): drop it "
            f"({what}[{what}.index.notna()])"
        )
    values = index.to_numpy()
    try:
        later = np.asarray(values[1:] > values[:-1], dtype=bool)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values})
        raise InputError(
            f"{what}.index mixes labels that cannot be ordered ({', '.join(kinds)}): "
            "label the rows by date (a DatetimeIndex)"
        ) from None
    if later.all():
        return
    i = int(np.flatnonzero(~later)[0]) + 1
    here, before = row_label(index[i]), row_label(index[i - 1])
    if here == before or index[i] == index[i - 1]:
        raise InputError(
            f"{what}.index holds {here} twice (rows {i - 1} and {i}): keep one row per date, "
            f"e.g. {what}[~{what}.index.duplicated(keep='last')]"
        )
    raise InputError(
        f"{what} rows are not oldest first: row {i} ({here}) comes after row {i - 1} "
        f"({before}); sort them with {what}.sort_index()"
    )


def check_returns(returns: Any, name: str = "returns") -> None:
    """Refuse a returns table the model would misread, in one line naming the fix.

    ``returns`` must be a DataFrame (rows = dates, oldest first, each date once; one numeric
    column per ticker, each ticker once). Missing values are checked where the moments are
    computed. ``name`` is what the messages call the table.
    """
    if not isinstance(returns, pd.DataFrame):
        raise InputError(
            f"{name} must be a pandas DataFrame (rows = dates, columns = tickers), got "
            f"{type(returns).__name__} (e.g. pd.DataFrame(values, index=dates, columns=tickers))"
        )
    if returns.shape[1] == 0:
        raise InputError(f"{name} has no columns: give one column of returns per ticker")
    counts = Counter(str(c) for c in returns.columns)
    repeated = [c for c, n in counts.items() if n > 1]
    if repeated:
        raise InputError(
            f"{name} has more than one column named {', '.join(repeated[:5])}: give each "
            f"ticker one column (e.g. {name}.loc[:, ~{name}.columns.duplicated()])"
        )
    bad = [
        f"{c} ({t})"
        for c, t in returns.dtypes.items()
        if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
    ]
    if bad:
        raise InputError(
            f"{name} columns {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} do not hold "
            f"numbers: convert them (e.g. {name}.astype(float)) after checking the values"
        )
    check_row_order(returns.index, name)


def row_dates(index: pd.Index, unit: WindowUnit = "trading_days") -> pd.DatetimeIndex:
    """The dates of the return rows labelled ``index``, checked oldest first.

    A DatetimeIndex is used as it is. Calendar-day windows need one; trading-day windows
    only count rows, so other labels (integers, say) are converted with
    ``pd.DatetimeIndex`` and only label the windows.
    """
    check_row_order(index)
    if isinstance(index, pd.DatetimeIndex):
        return index
    if unit == "calendar_days":
        raise InputError(
            "calendar-day windows need returns with a DatetimeIndex, got "
            f"{type(index).__name__} (returns.index = pd.to_datetime(returns.index), or use "
            "trading_days)"
        )
    try:
        dates = pd.DatetimeIndex(index)
    except (TypeError, ValueError):
        raise InputError(
            f"returns.index labels such as {row_label(index[0])!r} are not dates: label the "
            "rows by date (returns.index = pd.to_datetime(...)) or by position (reset_index)"
        ) from None
    check_row_order(dates)
    return dates


def _check_whole(name: str, value: Any, unit: str) -> None:
    """Refuse a count that is not a whole number (``None`` passes)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        raise InputError(f"{name} = {value!r} must be a whole number of {unit}, or None")


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
    _check_whole("model.lookback", lookback, unit.replace("_", " "))
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
        raise InputError(
            f"windows = {spec!r} must be a mapping such as {{'length': 63, 'step': 21}}, a "
            f"WindowSpec or None, not a {type(spec).__name__}"
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
    days = spec.unit.replace("_", " ")
    for name, what in (("length", days), ("step", days), ("count", "windows")):
        _check_whole(f"windows.{name}", getattr(spec, name), what)
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
    naming both numbers, and when ``index`` is not strictly increasing
    (:func:`check_row_order`).
    """
    spec = WindowSpec.from_any(spec)
    _check_spec(spec)
    index = row_dates(index, spec.unit)
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
