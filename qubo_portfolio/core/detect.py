"""Detect how a user's price table is written: separator, numbers, layout, columns, dates.

Each function looks at the whole column or the whole file head, never at one value, and
either returns its decision with a short reason (recorded in the data report) or raises
:class:`~qubo_portfolio.errors.InputError` with one line naming the ``data.*`` key that
settles the question:

- :func:`sniff_separator`: ``,`` ``;`` tab ``|`` (``data.sep``);
- :func:`sniff_numbers`: decimal comma or point, thousands separators (``data.decimal``,
  ``data.thousands``);
- :func:`choose_columns`: wide or long layout and which columns hold the date, the ticker and
  the price (``data.columns``);
- :func:`parse_dates`: ISO, day-first or month-first dates, timestamps with a time of day and
  UTC offsets (``data.date_format``).

Examples
--------
>>> import pandas as pd
>>> dates, how = parse_dates(pd.Series(["01/06/2021", "13/06/2021"]), "f.csv", "date")
>>> how["format"], str(dates[1].date())
('%d/%m/%Y', '2021-06-13')
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qubo_portfolio.errors import InputError

__all__ = [
    "COLUMN_NAMES",
    "SEPARATORS",
    "Columns",
    "choose_columns",
    "name_key",
    "parse_dates",
    "sniff_numbers",
    "sniff_separator",
    "split_lines",
    "to_numbers",
]

SEPARATORS = (",", ";", "\t", "|")
"""Field separators tried by :func:`sniff_separator`, in order of preference."""

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "datetime",
        "timestamp",
        "tradedate",
        "tradingdate",
        "pricedate",
        "asofdate",
        "caldt",
    ),
    "ticker": (
        "ticker",
        "symbol",
        "tic",
        "permno",
        "isin",
        "cusip",
        "sedol",
        "ric",
        "secid",
        "asset",
        "instrument",
        "security",
    ),
    "adjusted": ("adjclose", "adjustedclose", "adjprc", "adjprice", "adjustedprice"),
    "price": ("close", "closeprice", "closingprice", "price", "prc", "last", "lastprice", "pxlast"),
}
"""Recognised column names, compared by :func:`name_key` (case, spaces, ``_`` ignored)."""

_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_CLOCK = re.compile(
    r"(?:T|\s+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?)"
    r"\s*(?P<tz>Z|(?:UTC|GMT)?\s*[+-]\d{1,2}(?::?\d{2})?|UTC|GMT|[A-Z]{3,4})?$"
)
_NUMERIC_DATE = re.compile(r"^(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})$")
_TIME_DIRECTIVES = re.compile(r"%[HIMSfzZpTXcr]")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_GROUPED = re.compile(
    r"^[+-]?\d{1,3}(?:(?P<t>[.,' \u00a0])\d{3})(?:(?P=t)\d{3})*(?:(?P<d>[.,])\d+)?$"
)
_FRACTION = re.compile(r"^[+-]?(?P<int>\d+)(?P<d>[.,])(?P<frac>\d+)$")


def name_key(name: Any) -> str:
    """A column name reduced to lower-case letters and digits: ``"Adj Close"`` -> ``"adjclose"``."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


# --------------------------------------------------------------------------------------------
# separator and numbers


def split_lines(lines: list[str], sep: str) -> list[list[str]]:
    """The lines split into fields by ``sep`` (CSV quoting rules)."""
    return list(csv.reader(lines, delimiter=sep))


def sniff_separator(lines: list[str], label: str, sep: str | None = None) -> tuple[str, str]:
    """The field separator of a text table, decided from every line of its head.

    A candidate fits when it splits every data line into the same number (>= 2) of fields and
    the header into as many; failing that, into one fewer (a header without a field above the
    dates, as ``DataFrame.to_csv(index_label=False)`` writes; at least 2 tickers).

    Parameters
    ----------
    lines : list of str
        The non-empty lines of the file head, header first.
    label : str
        The file name for messages.
    sep : str, optional
        ``data.sep``: used as given.

    Returns
    -------
    (str, str)
        The separator and how it was decided (``"data.sep"``, ``"sniffed"`` or
        ``"default"`` when no candidate splits the lines).

    Raises
    ------
    InputError
        Two candidates both fit (names ``data.sep``).
    """
    if sep is not None:
        return sep, "data.sep"
    exact, loose = [], []
    for candidate in SEPARATORS:
        counts = [len(row) for row in split_lines(lines, candidate)]
        body = set(counts[1:]) if len(counts) > 1 else set(counts)
        if len(body) != 1 or (width := body.pop()) < 2:
            continue
        if counts[0] == width:
            exact.append(candidate)
        elif counts[0] == width - 1 and width >= 3:
            loose.append(candidate)
    fits = exact or loose
    if len(fits) > 1:
        names = " and ".join(_SEP_NAMES[c] for c in fits)
        raise InputError(
            f"cannot tell the separator of {label}: {names} both split every line evenly "
            f'(set data.sep, e.g. data.sep: "{fits[0]}")'.replace("\t", "\\t")
        )
    if fits:
        return fits[0], "sniffed"
    return ",", "default"


def sniff_numbers(
    values: list[str],
    label: str,
    sep: str,
    decimal: str | None = None,
    thousands: str | None = None,
) -> tuple[str, str | None, str]:
    """The decimal mark and thousands separator of the price cells of a text table.

    ``1,5`` or ``1.234,56`` mean a decimal comma, ``1.5`` or ``1,234.56`` a decimal point; a
    lone ``1.234`` (or ``1,234``) could be either and is read as a decimal point only in a
    comma-separated file (where a thousands point would be unusual).

    Parameters
    ----------
    values : list of str
        Price cells from the file head.
    label : str
        The file name for messages.
    sep : str
        The field separator.
    decimal, thousands : str, optional
        ``data.decimal`` / ``data.thousands``: used as given (``thousands=""`` means none).

    Returns
    -------
    (str, str or None, str)
        Decimal mark, thousands separator (None: none) and how they were decided.

    Raises
    ------
    InputError
        Both marks are used as decimals, or every fractional number could be either (names
        ``data.decimal``).
    """
    if decimal is not None:
        return decimal, thousands or None, "data.decimal"
    marks: dict[str, str] = {}  # decimal mark -> example
    groups: dict[str, str] = {}  # thousands separator -> example
    unsure: str | None = None
    for text in values:
        text = text.strip()
        if not text or text.lstrip("+-").isdigit():
            continue
        fraction = _FRACTION.match(text)
        grouped = _GROUPED.match(text)
        if fraction and (
            len(fraction["frac"]) != 3 or len(fraction["int"]) > 3 or text.lstrip("+-")[0] == "0"
        ):
            marks.setdefault(fraction["d"], text)
        elif grouped and grouped["d"]:
            marks.setdefault(grouped["d"], text)
            groups.setdefault(grouped["t"], text)
        elif grouped and (
            fraction is None or text.count(grouped["t"]) > 1 or grouped["t"] not in ".,"
        ):
            groups.setdefault(grouped["t"], text)
        elif fraction:
            unsure = unsure or text
    if len(marks) > 1:
        raise InputError(
            f"{label} uses both decimal marks: {marks['.']!r} and {marks[',']!r} "
            '(set data.decimal: "." or ",", and data.thousands)'
        )
    for mark, example in groups.items():
        if mark in marks:
            raise InputError(
                f"{label} uses {mark!r} as decimal mark ({marks[mark]!r}) and thousands "
                f"separator ({example!r}) (set data.decimal and data.thousands)"
            )
    if thousands is not None:
        groups = {thousands: "data.thousands"} if thousands else {}
    if not marks and unsure is not None:
        if sep != "," and not groups:
            raise InputError(
                f"cannot tell whether {unsure!r} in {label} has a decimal mark or a thousands "
                'separator (set data.decimal: "." or ",")'
            )
        other = next(iter(groups), None)  # a thousands separator seen elsewhere, or None
        marks["," if other == "." else "."] = unsure
    mark = next(iter(marks), ".")
    if len(groups) > 1 and thousands is None:
        raise InputError(
            f"{label} uses several thousands separators ({', '.join(map(repr, groups.values()))}) "
            "(set data.thousands)"
        )
    sep_thousands = next(iter(groups), None)
    how = f"sniffed ({marks[mark]!r})" if marks else "default (no fractional prices in the head)"
    return mark, sep_thousands, how


def to_numbers(column: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """A text column as numbers where a cell reads as one, the cell unchanged where not.

    Cells that are not numbers stay text, so that cleaning names the first bad one.
    """
    text = column.astype(object).where(column.notna(), None)
    normal = text.map(lambda v: v if v is None else str(v).strip())
    if thousands:
        normal = normal.map(lambda v: v if v is None else v.replace(thousands, ""))
    if decimal != ".":
        normal = normal.map(lambda v: v if v is None else v.replace(decimal, "."))
    numbers = pd.to_numeric(normal, errors="coerce")
    if numbers.notna().sum() == text.notna().sum():
        return numbers.astype(np.float64)
    return text.where(numbers.isna(), numbers).astype(object)


# --------------------------------------------------------------------------------------------
# layout and columns


@dataclass
class Columns:
    """Where the data are: the layout and column positions, and why.

    Attributes
    ----------
    layout : {"wide", "long"}
        Wide: one row per date and one column per ticker; long: one row per date and ticker.
    date : int
        Position of the date column.
    ticker, price : int or None
        Positions of the ticker and price columns (long layout only).
    how : str
        How they were chosen (``"data.columns"``, ``"by name"``, ...).
    """

    layout: str
    date: int
    ticker: int | None
    price: int | None
    how: str


def choose_columns(names: list[str], label: str, columns: dict | None = None) -> Columns:
    """Decide the layout and the date, ticker and price columns from the header.

    With ``columns`` (``data.columns``), a ``ticker`` or ``price`` entry means a long table and
    a ``date`` entry alone a wide one; missing entries are found by name. Without it, a date,
    a ticker and a price column recognised by name (:data:`COLUMN_NAMES`; an adjusted close
    is preferred) make a long table; otherwise the table is wide with its dates in the column
    named like a date, or else the first column.

    Raises
    ------
    InputError
        A given column is absent; several candidates for one role; a ticker column without a
        date or price column; price-like columns without a ticker column (could be one
        stock's table or a wide table). Each names the ``data.columns`` key that settles it.
    """
    columns = {k: v for k, v in (columns or {}).items() if v is not None}
    keys = [name_key(n) for n in names]
    found = {
        role: [i for i, k in enumerate(keys) if k in family]
        for role, family in COLUMN_NAMES.items()
    }
    given = {role: _given_column(names, label, role, str(name)) for role, name in columns.items()}
    notes = []

    date = given.get("date")
    if date is None and len(found["date"]) > 1:
        raise InputError(
            f"several date columns in {label}: {', '.join(names[i] for i in found['date'])} "
            "(set data.columns.date)"
        )
    date = date if date is not None else (found["date"][0] if found["date"] else None)
    long = "ticker" in given or "price" in given or (not columns and bool(found["ticker"]))
    if not long:
        prices = found["adjusted"] + found["price"]
        if prices and not columns:
            raise InputError(
                f"{label} has price columns ({', '.join(names[i] for i in prices)}) but no "
                "ticker column: for a long table name it (set data.columns.ticker); for a "
                "wide table with one column per ticker set data.columns.date"
            )
        how = "data.columns" if columns else ("by name" if date is not None else "first column")
        return Columns("wide", 0 if date is None else date, None, None, how)

    ticker = given.get("ticker")
    if ticker is None:
        if len(found["ticker"]) != 1:
            several = ", ".join(names[i] for i in found["ticker"])
            what = f"several ticker columns ({several})" if several else "no ticker column"
            raise InputError(f"long table {label} has {what} (set data.columns.ticker)")
        ticker = found["ticker"][0]
    if date is None:
        raise InputError(
            f"long table {label} has no date column I recognise (columns: "
            f"{', '.join(names)}; set data.columns.date)"
        )
    price = given.get("price")
    if price is None:
        price, note = _price_column(names, label, found)
        notes.append(note)
    how = "data.columns" if columns else "by name"
    return Columns("long", date, ticker, price, "; ".join([how, *filter(None, notes)]))


def _given_column(names: list[str], label: str, role: str, name: str) -> int:
    """Position of the column ``data.columns.<role>`` names (exact, else case-insensitive)."""
    if role not in ("date", "ticker", "price"):
        raise InputError(f"unknown data.columns key {role!r} (use date, ticker and price)")
    if name in names:
        return names.index(name)
    matches = [i for i, n in enumerate(names) if n.strip().lower() == name.strip().lower()]
    if len(matches) == 1:
        return matches[0]
    raise InputError(
        f"data.columns.{role} = {name!r} is not a column of {label} "
        f"(columns: {', '.join(repr(n) for n in names[:12])})"
    )


def _price_column(names: list[str], label: str, found: dict[str, list[int]]) -> tuple[int, str]:
    """The price column of a long table: the adjusted close if there is one, else the close."""
    for family in ("adjusted", "price"):
        hits = found[family]
        if len(hits) > 1:
            kind = "adjusted price" if family == "adjusted" else "price"
            raise InputError(
                f"several {kind} columns in {label}: {', '.join(names[i] for i in hits)} "
                "(set data.columns.price)"
            )
        if hits:
            others = [names[i] for i in found["price"]] if family == "adjusted" else []
            note = f"{names[hits[0]]} preferred over {', '.join(others)}" if others else ""
            return hits[0], note
    raise InputError(
        f"long-format price file {label} has no price column (add one named close, adj_close "
        f"or price, or set data.columns.price; found: {', '.join(names)})"
    )


# --------------------------------------------------------------------------------------------
# dates


def parse_dates(
    column: pd.Series,
    label: str,
    name: str,
    date_format: str | None = None,
    groups: pd.Series | None = None,
) -> tuple[pd.DatetimeIndex, dict[str, Any]]:
    """Calendar dates of a column, the format decided from every value.

    Text dates: ``YYYY-MM-DD`` (also ``/`` or ``.``) and ``YYYYMMDD`` are unambiguous;
    ``DD/MM/YYYY`` and ``MM/DD/YYYY`` (also ``-`` or ``.``, 2-digit years) are told apart by
    the values that fit only one order; month names are read as written. When every year is
    written with two digits, ``YY/MM/DD`` (year first) is a candidate too: taken when it is
    the only reading that fits every value, or when it and the year-last reading both fit but
    exactly one of them puts the rows in date order (see :func:`in_date_order`); otherwise
    refused. A time of day and a UTC offset (``2021-05-28 00:00:00-04:00``, mixed offsets
    across a DST change) are dropped: the date is the local date as written. ``date_format``
    (a strptime pattern) always wins. Typed datetimes (Parquet, DataFrames) keep their local
    date.

    Parameters
    ----------
    column : pandas.Series
        The values, in file order.
    label, name : str
        File and column names for messages.
    date_format : str, optional
        ``data.date_format``.
    groups : pandas.Series, optional
        The ticker of each row of a long table: the date order that can decide between
        year-last and year-first dates is then looked at within each ticker's rows.

    Returns
    -------
    (pandas.DatetimeIndex, dict)
        Midnight timestamps named ``"date"`` (one per row) and how they were read:
        ``column``, ``format``, ``decided``, ``time_of_day`` (bool: times were dropped) and
        ``utc_offsets`` (the distinct offsets dropped).

    Raises
    ------
    InputError
        A missing date; a column of numbers; a value that fits no format (named, with its
        row); day-first and month-first both fit but disagree; year-last and year-first both
        fit, disagree and the date order does not tell them apart; rows written in different
        styles (all name ``data.date_format``).
    """
    how: dict[str, Any] = {"column": name, "time_of_day": False, "utc_offsets": []}
    if pd.api.types.is_datetime64_any_dtype(column):
        dates = pd.DatetimeIndex(column)
        if dates.tz is not None:
            how["utc_offsets"] = [str(dates.tz)]
            dates = dates.tz_localize(None)
        return _calendar(dates, how, label, name, "typed datetimes")
    if pd.api.types.is_integer_dtype(column) and column.between(1800_01_01, 2200_12_31).all():
        column = column.astype(str)
    elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InputError(
            f"no date column in {label}: column {name!r} holds numbers, not dates {_HINT}"
        )
    if column.isna().any():
        i = int(np.argmax(column.isna().to_numpy()))
        raise InputError(
            f"missing date in {label}, row {i + 1} of column {name!r} (every row needs a date)"
        )
    if column.map(lambda v: isinstance(v, dt.date)).all():
        values = [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in column]
        return _calendar(pd.DatetimeIndex(pd.to_datetime(values)), how, label, name, "typed dates")

    codes, uniques = pd.factorize(column.astype(str).str.strip())
    first_row = np.full(len(uniques), len(codes))
    np.minimum.at(first_row, codes, np.arange(len(codes)))
    parts, clock = _split_clock(list(uniques))
    how["time_of_day"] = bool(clock["time"])
    how["utc_offsets"] = sorted(clock["tz"])
    if date_format is not None:
        parsed = _with_format(list(uniques), parts, date_format, label, name, first_row)
        how.update(format=date_format, decided="data.date_format")
    else:
        rows = _RowOrder(codes, None if groups is None else _group_codes(groups))
        parsed, fmt, decided = _detect(parts, label, name, first_row, rows)
        how.update(format=fmt, decided=decided)
    dates = pd.DatetimeIndex(parsed[codes]).normalize().rename("date")
    return dates, how


_HINT = "(put dates like 2020-01-31 in the first column or a column named date)"


def _calendar(
    dates: pd.DatetimeIndex, how: dict[str, Any], label: str, name: str, kind: str
) -> tuple[pd.DatetimeIndex, dict[str, Any]]:
    """Typed dates: missing ones are an error, times of day are dropped."""
    if dates.hasnans:
        i = int(np.argmax(dates.isna()))
        raise InputError(
            f"missing date in {label}, row {i + 1} of column {name!r} (every row needs a date)"
        )
    normal = dates.normalize().as_unit("ns")  # as text dates are read, whatever the file held
    how.update(format=None, decided=kind, time_of_day=bool((normal != dates).any()))
    return normal.rename("date"), how


def _split_clock(values: list[str]) -> tuple[list[str], dict[str, set]]:
    """Each value's date part (time of day and UTC offset cut off) and what was cut."""
    parts = []
    clock: dict[str, set] = {"time": set(), "tz": set()}
    for value in values:
        match = _CLOCK.search(value)
        if match is None or match.start() == 0:
            parts.append(value)
            continue
        parts.append(value[: match.start()].strip().rstrip(","))
        clock["time"].add(match["time"])
        if match["tz"]:
            clock["tz"].add(match["tz"].strip())
    return parts, clock


def _with_format(
    values: list[str],
    parts: list[str],
    fmt: str,
    label: str,
    name: str,
    first_row: np.ndarray,
) -> np.ndarray:
    """Parse with ``data.date_format`` (against the whole value when it has time directives)."""
    whole = bool(_TIME_DIRECTIVES.search(fmt))
    out = np.empty(len(values), dtype="datetime64[ns]")
    for i, text in enumerate(values if whole else parts):
        try:
            stamp = dt.datetime.strptime(text, fmt).replace(tzinfo=None)
        except ValueError:
            raise InputError(
                f"date {values[i]!r} in {label}, row {first_row[i] + 1} of column {name!r} "
                f"does not match data.date_format {fmt!r}"
            ) from None
        out[i] = np.datetime64(stamp, "ns")
    return out


def _detect(
    parts: list[str], label: str, name: str, first_row: np.ndarray, rows: _RowOrder
) -> tuple[np.ndarray, str, str]:
    """Parse date parts whose format is not given: one style for the column, or an error."""
    styles = np.array([_style(p) for p in parts], dtype=object)
    known = styles != "bad"
    if not known.any():
        if all(_NUMBER.match(p) for p in parts):
            raise InputError(
                f"no date column in {label}: column {name!r} holds numbers, not dates {_HINT}"
            )
        raise InputError(
            f"no parseable date column in {label}: column {name!r} starts with "
            f"{parts[int(np.argmin(first_row))]!r} {_HINT}"
        )
    if not known.all():
        _raise_bad(parts, ~known, label, name, first_row)
    kinds = list(dict.fromkeys(styles[np.argsort(first_row)]))
    if len(kinds) > 1:
        a, b = (
            int(np.argmin(np.where(styles == k, first_row, np.iinfo(np.int64).max)))
            for k in kinds[:2]
        )
        raise InputError(
            f"dates in {label}, column {name!r} are written in different styles: {parts[a]!r} "
            f"(row {first_row[a] + 1}) and {parts[b]!r} (row {first_row[b] + 1}) "
            '(set data.date_format, e.g. "%Y-%m-%d", and write every date that way)'
        )
    kind = kinds[0]
    text = pd.Series(parts)
    if kind == "ymd":
        seps = text.str.extract(_NUMERIC_DATE)[1]
        fmt = "%Y{0}%m{0}%d".format(seps.iloc[0])
        parsed = pd.to_datetime(
            text.str.replace(r"[/.]", "-", regex=True), format="%Y-%m-%d", errors="coerce"
        )
        decided = "year first (ISO order), unambiguous"
    elif kind == "compact":
        fmt, decided = "%Y%m%d", "YYYYMMDD, unambiguous"
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    elif kind == "named":
        fmt, decided = None, "month names"
        parsed = pd.to_datetime(text, format="mixed", errors="coerce")
    else:
        return _numeric_dates(text, label, name, first_row, rows)
    bad = parsed.isna().to_numpy()
    if bad.any():
        _raise_bad(parts, bad, label, name, first_row)
    return parsed.to_numpy(dtype="datetime64[ns]"), fmt, decided


def _style(part: str) -> str:
    """``ymd`` (year first), ``xxy`` (year last), ``compact`` (YYYYMMDD), ``named`` or ``bad``."""
    match = _NUMERIC_DATE.match(part)
    if match:
        first, last = match[1], match[4]
        if len(first) == 4 and len(last) <= 2:
            return "ymd"
        if len(first) <= 2 and len(last) in (2, 4):
            return "xxy"
        return "bad"
    if len(part) == 8 and part.isdigit():
        return "compact"
    if re.search(r"[A-Za-z]{3}", part) and re.search(r"\d", part):
        return "named"
    return "bad"


@dataclass
class _Reading:
    """One way to read a column of numeric dates: its name, strptime pattern and dates.

    ``dates`` holds one value per distinct date text, NaT where the text does not fit.
    """

    name: str
    fmt: str
    dates: pd.Series

    @property
    def fits(self) -> np.ndarray:
        """Which texts this reading can read."""
        return self.dates.notna().to_numpy()

    def values(self) -> np.ndarray:
        """The dates as ``datetime64[ns]``."""
        return self.dates.to_numpy(dtype="datetime64[ns]")


@dataclass
class _RowOrder:
    """The rows of a date column: which distinct text each row holds and, in a long table,
    which ticker (``groups``, None for a wide table)."""

    codes: np.ndarray
    groups: np.ndarray | None

    def in_order(self, reading: _Reading) -> bool:
        """Whether ``reading`` puts the rows in date order (see :func:`in_date_order`)."""
        return in_date_order(reading.values()[self.codes], self.groups)

    @property
    def where(self) -> str:
        return " (within each ticker)" if self.groups is not None else ""


def in_date_order(dates: np.ndarray, groups: np.ndarray | None = None) -> bool:
    """Whether dates in file order strictly rise, or strictly fall, from row to row.

    With ``groups`` (the ticker of each row of a long table) only consecutive rows of one
    ticker are compared, so a file sorted by ticker then date is in order; the direction must
    be the same for every ticker.

    >>> dates = np.array(["2015-01-02", "2015-01-05", "2015-01-02", "2015-01-05"], "M8[D]")
    >>> in_date_order(dates), in_date_order(dates, np.array([0, 0, 1, 1]))
    (False, True)
    """
    days = dates.astype("datetime64[D]").astype(np.int64)
    same = np.ones(max(len(days) - 1, 0), dtype=bool)
    if groups is not None:
        order = np.argsort(groups, kind="stable")
        days, groups = days[order], groups[order]
        same = groups[1:] == groups[:-1]
    steps = np.diff(days)[same]
    return bool((steps > 0).all() or (steps < 0).all())


def _group_codes(groups: pd.Series) -> np.ndarray:
    """An integer code per row for the ticker of that row."""
    return pd.factorize(groups.astype(str).str.strip().to_numpy())[0]


def _readings(text: pd.Series) -> list[_Reading]:
    """Day-first and month-first readings of ``a/b/y`` dates, and year-first (``y/m/d``)
    when every year is written with at most two digits."""
    fields = text.str.extract(_NUMERIC_DATE)
    a, sep, b, year = fields[0].astype(int), fields[1].iloc[0], fields[2].astype(int), fields[3]
    short = year.str.len() == 2
    y = year.astype(int)
    y = y.where(~short, _century(y))
    ystr = "%y" if short.all() else "%Y"
    readings = [
        _Reading("day-first", f"%d{sep}%m{sep}{ystr}", _calendar_dates(y, b, a)),
        _Reading("month-first", f"%m{sep}%d{sep}{ystr}", _calendar_dates(y, a, b)),
    ]
    if short.all():
        first_year = _century(a)
        readings.append(
            _Reading("year-first", f"%y{sep}%m{sep}%d", _calendar_dates(first_year, b, year))
        )
    return readings


def _century(yy: pd.Series) -> pd.Series:
    """Two-digit years as strptime's ``%y`` reads them: 69-99 -> 19xx, 00-68 -> 20xx."""
    return yy + np.where(yy >= 69, 1900, 2000)


def _calendar_dates(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """Dates from year, month and day fields (NaT where they make no date)."""
    frame = pd.DataFrame({"year": year.astype(int), "month": month.astype(int)})
    frame["day"] = day.astype(int)
    return pd.to_datetime(frame, errors="coerce")


def _numeric_dates(
    text: pd.Series, label: str, name: str, first_row: np.ndarray, rows: _RowOrder
) -> tuple[np.ndarray, str, str]:
    """``a/b/y`` (or ``y/m/d`` with two-digit years) dates, decided from every value.

    Day-first against month-first is decided as :func:`_day_or_month_first` says. Year-first
    comes in when it fits every value: alone it is taken when it puts the rows in date order
    (else the values no year-last reading fits are refused); next to a year-last reading that
    fits too and disagrees, :func:`_by_date_order` decides or refuses.
    """
    day, month, *rest = _readings(text)
    year = rest[0] if rest and rest[0].fits.all() else None
    if year is None:
        return _day_or_month_first(text, day, month, label, name, first_row)
    if not day.fits.all() and not month.fits.all():
        if rows.in_order(year):  # a DD/MM/YY file with one impossible date is not in order
            why = f"{_only_year_first(text, day, month, first_row)}; the rows{rows.where} are in date order"
            return year.values(), year.fmt, why
        return _day_or_month_first(text, day, month, label, name, first_row)  # refuses
    if day.fits.all() and month.fits.all() and (day.dates != month.dates).any():
        _refuse_readings(text, [day, month, year], label, name, first_row)
    dates, fmt, why = _day_or_month_first(text, day, month, label, name, first_row)
    last = day if fmt == day.fmt else month
    if (last.dates == year.dates).all():
        return dates, fmt, why
    return _by_date_order(text, last, why, year, label, name, first_row, rows)


def _only_year_first(text: pd.Series, day: _Reading, month: _Reading, first_row: np.ndarray) -> str:
    """Why year-first was taken when neither year-last reading fits every value."""
    order = np.argsort(first_row)
    neither = ~day.fits & ~month.fits
    if neither.any():
        i = next(i for i in order if neither[i])
        where = f"{text.iat[i]!r} (row {first_row[i] + 1})"
        return f"year-first: {where} is neither day-first nor month-first"
    i = next(i for i in order if not day.fits[i])
    j = next(j for j in order if not month.fits[j])
    return (
        f"year-first: {text.iat[i]!r} (row {first_row[i] + 1}) is not day-first and "
        f"{text.iat[j]!r} (row {first_row[j] + 1}) is not month-first"
    )


def _by_date_order(
    text: pd.Series,
    last: _Reading,
    last_why: str,
    year: _Reading,
    label: str,
    name: str,
    first_row: np.ndarray,
    rows: _RowOrder,
) -> tuple[np.ndarray, str, str]:
    """Year-last or year-first, both fitting every value: the one that alone puts the rows
    in date order, or a refusal naming ``data.date_format`` and both patterns."""
    last_in, year_in = rows.in_order(last), rows.in_order(year)
    if last_in == year_in:
        ways = "either way" if last_in else "neither way"
        _refuse_readings(
            text,
            [last, year],
            label,
            name,
            first_row,
            f"the rows{rows.where} are in date order {ways}",
        )
    pick, other = (last, year) if last_in else (year, last)
    note = (
        f"the rows{rows.where} are in date order as {pick.name} ({pick.fmt}), "
        f"not as {other.name} ({other.fmt})"
    )
    why = f"{last_why}; {note}" if pick is last else f"year-first: {note}"
    return pick.values(), pick.fmt, why


def _refuse_readings(
    text: pd.Series,
    readings: list[_Reading],
    label: str,
    name: str,
    first_row: np.ndarray,
    because: str = "",
) -> None:
    """Refuse dates that several readings fit, naming an example and every pattern."""
    order = np.argsort(first_row)
    first = readings[0].dates
    i = next(i for i in order if any(r.dates.iat[i] != first.iat[i] for r in readings[1:]))
    names = " and as ".join([", as ".join(r.name for r in readings[:-1]), readings[-1].name])
    dates = " or ".join(_iso(r.dates.iat[i]) for r in readings)
    patterns = " or ".join(f'"{r.fmt}"' for r in readings)
    raise InputError(
        f"ambiguous dates in {label}, column {name!r}: every date reads as {names} "
        f"({text.iat[i]!r} is {dates}){' and ' + because if because else ''} "
        f"(set data.date_format: {patterns})"
    )


def _day_or_month_first(
    text: pd.Series,
    day: _Reading,
    month: _Reading,
    label: str,
    name: str,
    first_row: np.ndarray,
) -> tuple[np.ndarray, str, str]:
    """DD/MM/YYYY or MM/DD/YYYY, decided from every value."""
    d_ok, m_ok = day.fits, month.fits
    order = np.argsort(first_row)
    if d_ok.all() and m_ok.all():
        if (day.dates == month.dates).all():
            return day.values(), day.fmt, "day equals month on every row"
        _refuse_readings(text, [day, month], label, name, first_row)
    if d_ok.all():
        i = next(i for i in order if not m_ok[i])
        why = f"day-first: {text.iat[i]!r} (row {first_row[i] + 1}) cannot be month-first"
        return day.values(), day.fmt, why
    if m_ok.all():
        i = next(i for i in order if not d_ok[i])
        why = f"month-first: {text.iat[i]!r} (row {first_row[i] + 1}) cannot be day-first"
        return month.values(), month.fmt, why
    neither = ~d_ok & ~m_ok
    if neither.any():
        _raise_bad(list(text), neither, label, name, first_row)
    i = next(i for i in order if not m_ok[i])
    j = next(j for j in order if not d_ok[j])
    raise InputError(
        f"dates in {label}, column {name!r} fit neither day-first nor month-first: "
        f"{text.iat[i]!r} (row {first_row[i] + 1}) is not month-first and {text.iat[j]!r} "
        f"(row {first_row[j] + 1}) is not day-first (set data.date_format)"
    )


def _raise_bad(
    parts: list[str], bad: np.ndarray, label: str, name: str, first_row: np.ndarray
) -> None:
    """Raise for the first bad value in file order (a text line after the data, such as a
    spreadsheet's "Source: ..." footer, is named as such)."""
    i = int(np.argmin(np.where(bad, first_row, np.iinfo(np.int64).max)))
    footer = first_row[i] == first_row.max() and re.search(r"[A-Za-z]{4}", parts[i])
    fix = (
        "a note after the data? delete that row"
        if footer
        else "use dates like 2020-01-31, or set data.date_format"
    )
    raise InputError(
        f"unparseable date {parts[i]!r} in {label}, row {first_row[i] + 1} of column {name!r} "
        f"({fix})"
    )


def _iso(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")
