"""Load daily prices, validate them, clean them and report what was done.

Five sources give a wide price table (one row per date, one column per ticker):

- ``sample``: the 20-stock S&P 500 daily price table (1990-2022) that ships inside skfolio's
  wheel (``skfolio.datasets.load_sp500_dataset()``); real data and the default.
- ``csv`` / ``parquet``: a user's file (see :func:`read_price_file`), wide (a date column, one
  column per ticker) or long (date, ticker and price columns). Separator, decimal mark,
  layout, columns and date format are detected from the whole file head or column and
  recorded in ``report["input"]`` (:func:`describe_input` prints it); what cannot be decided
  is refused naming the ``data.*`` key that settles it (see
  :mod:`qubo_portfolio.core.detect`). Prices that are not daily (weekly, monthly, ...: the
  median gap between dates above :data:`DAILY_MAX_GAP` days) are refused, since returns are
  annualized as daily (see :func:`require_daily`).
- ``dataframe``: a pandas DataFrame from Python (``load_prices("dataframe", frame=df)``),
  detected the same way.
- ``synthetic``: a seeded fat-tailed factor model (see :func:`synthetic_prices`).

:func:`clean_prices` then sorts, selects, validates and fills the table and records every step
in a JSON-serializable report. Every problem with the input raises
:class:`~qubo_portfolio.errors.InputError` with one line that names the problem and the fix.

Examples
--------
>>> from qubo_portfolio.core.data import load_prices
>>> data = load_prices("synthetic", synthetic={"assets": 5, "days": 30, "seed": 1})
>>> data.prices.shape
(30, 5)
>>> data.report["dropped_assets"]
{}
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qubo_portfolio.core.detect import (
    Columns,
    choose_columns,
    parse_dates,
    sniff_numbers,
    sniff_separator,
    split_lines,
    to_numbers,
)
from qubo_portfolio.errors import InputError
from qubo_portfolio.paths import os_error_text

__all__ = [
    "DAILY_MAX_GAP",
    "LARGE_MOVE",
    "MISSING_MODES",
    "SOURCES",
    "PriceData",
    "READ_OPTIONS",
    "check_finite_moments",
    "clean_prices",
    "describe_input",
    "dropped_notes",
    "load_prices",
    "read_price_csv",
    "read_price_file",
    "read_price_frame",
    "require_daily",
    "restrict_to_span",
    "sample_prices",
    "synthetic_prices",
]

SOURCES = ("sample", "csv", "parquet", "dataframe", "synthetic")
"""Price sources understood by :func:`load_prices`."""

MISSING_MODES = ("drop_assets", "keep")
"""What :func:`clean_prices` does with assets that still have gaps after filling."""

LARGE_MOVE = 0.5
"""One-day simple returns with ``|r| > LARGE_MOVE`` are reported as warnings."""

READ_OPTIONS = ("date_format", "columns", "sep", "decimal", "thousands")
"""Options of :func:`read_price_file` (``data.*`` keys) that override the detection."""

_SYNTHETIC_OPTIONS = ("assets", "days", "seed", "factors", "start")
_T_DF = 4.0  # degrees of freedom of the Student-t shocks of the synthetic market
_HEAD_LINES = 1000  # the head of a text file that the separator and number sniffing look at:
_HEAD_CHARS = 256_000  # at most this many lines and (after the 10th line) characters
_TEXT_ONLY = ("sep", "decimal", "thousands")


@dataclass
class PriceData:
    """Cleaned daily prices and a report of how they were obtained.

    Attributes
    ----------
    prices : pandas.DataFrame
        ``DatetimeIndex`` named ``"date"`` (sorted, unique), one float64 column per ticker
        (``str`` names). Complete (no NaN) unless cleaned with ``missing="keep"``.
    report : dict
        JSON-serializable record of what loading and cleaning did (plain Python types, ISO
        date strings); see :func:`clean_prices` for the keys.
    """

    prices: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)
    filled: pd.DataFrame | None = field(default=None, repr=False)
    """Which cells of :attr:`prices` were forward-filled (None: none), so that
    :func:`restrict_to_span` can count the fills on the rows kept."""

    @property
    def tickers(self) -> list[str]:
        """Column names of :attr:`prices`."""
        return [str(c) for c in self.prices.columns]


# --------------------------------------------------------------------------------------------
# loading


def load_prices(
    source: str = "sample",
    *,
    path: str | Path | None = None,
    frame: pd.DataFrame | None = None,
    tickers: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    max_gap: int = 5,
    missing: str = "drop_assets",
    synthetic: dict | None = None,
    defer_missing: bool = False,
    **read: Any,
) -> PriceData:
    """Load prices from a source and clean them.

    Parameters
    ----------
    source : {"sample", "csv", "parquet", "dataframe", "synthetic"}
        Where the prices come from (see the module docstring).
    path : str or Path, optional
        The price file; required for ``source="csv"``/``"parquet"`` and not allowed otherwise.
    frame : pandas.DataFrame, optional
        The table for ``source="dataframe"``: wide (dates as index or column, one column per
        ticker) or long (date, ticker and price columns); detected as for files.
    tickers, start, end, max_gap, missing, defer_missing
        Passed to :func:`clean_prices`.
    synthetic : dict, optional
        Options of :func:`synthetic_prices` (``assets``, ``days``, ``seed``, ``factors``,
        ``start``); only for ``source="synthetic"``.
    **read
        ``date_format``, ``columns``, ``sep``, ``decimal``, ``thousands``: see
        :func:`read_price_file` (None: detect). Only for files and frames.

    Returns
    -------
    PriceData
        The cleaned prices; ``report`` has the keys of :func:`clean_prices` with ``source`` and
        ``path`` filled in, plus ``csv_format`` (``"wide"``/``"long"``), ``value_column`` and
        ``input`` (what was detected, see :func:`read_price_file`) for files and frames, and
        ``synthetic`` (the options used) for the synthetic market.

    Raises
    ------
    InputError
        Unknown source, missing or misplaced ``path``/``frame``, misplaced ``synthetic`` or
        reading options, and everything :func:`read_price_file`, :func:`synthetic_prices`
        and :func:`clean_prices` raise.
    """
    name = _check_source(source, path, frame, synthetic, read)
    extra: dict[str, Any] = {}
    if name == "sample":
        raw = sample_prices()
    elif name in ("csv", "parquet", "dataframe"):
        if name == "dataframe":
            raw = read_price_frame(frame, **read)  # type: ignore[arg-type]
        else:
            raw = read_price_file(path, parquet=name == "parquet", **read)  # type: ignore[arg-type]
        extra["csv_format"] = raw.attrs.get("format")
        extra["value_column"] = raw.attrs.get("value_column")
        extra["input"] = raw.attrs.get("input")
    else:
        options = dict(synthetic or {})
        raw = synthetic_prices(**options)
        extra["synthetic"] = {
            "assets": int(options.get("assets", 50)),
            "days": int(options.get("days", 756)),
            "seed": None if options.get("seed", 0) is None else int(options.get("seed", 0)),
            "factors": int(options.get("factors", 3)),
            "start": _iso(raw.index[0]),
        }

    data = clean_prices(
        raw,
        tickers=tickers,
        start=start,
        end=end,
        max_gap=max_gap,
        missing=missing,
        defer_missing=defer_missing,
    )
    data.report["source"] = name
    data.report["path"] = None if path is None else str(path)
    data.report.update(extra)
    return data


def _check_source(
    source: str, path: Any, frame: Any, synthetic: dict | None, read: dict[str, Any]
) -> str:
    """The source name, after checking that the options given belong to it."""
    name = str(source).strip().lower()
    if name not in SOURCES:
        raise InputError(
            f"unknown price source {source!r} (use one of: sample, csv, synthetic) "
            "(also parquet for a Parquet file, dataframe with frame= in Python)"
        )
    files = ("csv", "parquet")
    if name in files and path is None:
        raise InputError(f"price source {name} needs a path (set data.path to the {name} file)")
    if name not in files and path is not None:
        raise InputError(
            f"a price file path was given but the source is {name} "
            "(set data.source: csv to read the file, or remove data.path)"
        )
    if name == "dataframe" and not isinstance(frame, pd.DataFrame):
        raise InputError(
            "price source dataframe needs a pandas DataFrame (load_prices('dataframe', frame=df))"
        )
    if name != "dataframe" and frame is not None:
        raise InputError(f"a frame was given but the source is {name} (use source='dataframe')")
    if name != "synthetic" and synthetic:
        raise InputError(
            f"synthetic options were given but the source is {name} "
            "(set data.source: synthetic, or remove data.synthetic)"
        )
    unknown = [k for k in read if k not in READ_OPTIONS]
    if unknown:
        raise TypeError(f"load_prices() got unexpected keyword argument(s): {', '.join(unknown)}")
    given = [k for k, v in read.items() if v is not None]
    if name in ("sample", "synthetic") and given:
        raise InputError(
            f"data.{given[0]} was given but the source is {name} "
            "(it applies to csv, parquet and dataframe sources; remove it)"
        )
    return name


def read_price_file(
    path: str | Path,
    *,
    parquet: bool | None = None,
    date_format: str | None = None,
    columns: dict[str, str] | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> pd.DataFrame:
    """Read a price file into a raw wide table (parsing and detection only, no cleaning).

    A Parquet file (recognised by its content) is read as a table and then treated like a
    DataFrame (:func:`read_price_frame`). A text file (``.csv``, ``.csv.gz``, ``.tsv``, ...;
    compression and a UTF-8 byte-order mark handled) is read after these decisions, each
    taken from the whole file head or column and recorded:

    - separator: ``,`` ``;`` tab or ``|`` (``sep`` overrides);
    - decimal mark and thousands separator of the prices (``decimal``, ``thousands``);
    - layout and columns (see :func:`qubo_portfolio.core.detect.choose_columns`): **wide**,
      dates in the column named like a date, or else the first column (whose header may be
      empty, e.g. a table written by ``DataFrame.to_csv``), and one column per ticker; or
      **long**, a date, a ticker and a price column recognised by name (``columns`` names
      them), pivoted to wide;
    - date format (see :func:`qubo_portfolio.core.detect.parse_dates`; ``date_format``
      overrides; in a long table the date order is looked at within each ticker's rows);
    - daily spacing of the dates over the whole file (see :func:`require_daily`).

    Parameters
    ----------
    path : str or Path
        The file.
    parquet : bool, optional
        True: the file must be Parquet (``source: parquet``); None: decide by content.
    date_format, columns, sep, decimal, thousands
        ``data.*`` keys that override the detection (None: detect). ``thousands=""`` means no
        thousands separator.

    Returns
    -------
    pandas.DataFrame
        ``DatetimeIndex`` named ``"date"`` in file order (not sorted, duplicates kept), one
        column per ticker (``str`` names) holding the values as parsed: float columns where
        every cell is a number, object columns where some cell is not. ``attrs`` holds
        ``path``, ``format`` (``"wide"``/``"long"``), ``value_column`` and ``input`` (the
        detection record, see :func:`describe_input`).

    Raises
    ------
    InputError
        Missing file, unreadable or empty file, no parseable date column, a repeated column, a
        long table with no price column or with repeated (date, ticker) rows, prices that
        are not daily, and every ambiguity the detection refuses (naming the key that
        settles it).
    """
    try:
        return _read_price_file(path, parquet, date_format, columns, sep, decimal, thousands)
    except OSError as exc:  # no permission, an I/O error, ...
        raise InputError(
            f"cannot read price file {os_error_text(exc, path)} (check data.path)"
        ) from None


def _read_price_file(
    path: str | Path,
    parquet: bool | None,
    date_format: str | None,
    columns: dict[str, str] | None,
    sep: str | None,
    decimal: str | None,
    thousands: str | None,
) -> pd.DataFrame:
    p = Path(path)
    if not p.exists():
        raise InputError(f"price file not found: {path} (check data.path)")
    if not p.is_file():
        raise InputError(f"price path is not a file: {path} (point data.path at a CSV file)")
    with open(p, "rb") as handle:
        is_parquet = handle.read(4) == b"PAR1"
    if parquet and not is_parquet:
        raise InputError(f"{p.name} is not a Parquet file (set data.source: csv for a text file)")
    if is_parquet:
        extra = {
            k: v for k, v in (("sep", sep), ("decimal", decimal), ("thousands", thousands)) if v
        }
        if extra:
            raise InputError(
                f"data.{next(iter(extra))} applies to text files, not to Parquet {p.name}"
            )
        raw = _table_to_wide(_read_parquet(p), p.name, columns, date_format, "parquet")
    else:
        raw = _read_text_table(p, date_format, columns, sep, decimal, thousands)
    raw.attrs["path"] = str(path)
    return raw


def read_price_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """:func:`read_price_file` (kept for the name it had when only CSV was read)."""
    return read_price_file(path, **options)


def read_price_frame(
    frame: pd.DataFrame,
    *,
    date_format: str | None = None,
    columns: dict[str, str] | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> pd.DataFrame:
    """A user's DataFrame as a raw wide table, detected like a file.

    A non-default index (a ``DatetimeIndex``, or a date/ticker ``MultiIndex``) becomes
    columns first; then the layout, columns and dates are decided as in
    :func:`read_price_file`. Text price cells are read with ``decimal``/``thousands``
    (default ``"."``, none); ``sep`` does not apply.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_price_file`, without ``attrs["path"]``.
    """
    if sep is not None:
        raise InputError("data.sep applies to text files, not to a DataFrame (remove it)")
    raw = _table_to_wide(
        frame, "prices", columns, date_format, "dataframe", decimal or ".", thousands or None
    )
    raw.attrs["path"] = None
    return raw


def describe_input(report: dict[str, Any]) -> dict[str, str]:
    """What was read and how it was detected, as printable lines (label -> text).

    Parameters
    ----------
    report : dict
        ``PriceData.report`` of a file or DataFrame source (others give only ``source``).

    Returns
    -------
    dict
        ``source``, and for files and frames ``file``, ``layout``, ``separator``, ``numbers``,
        ``dates``, ``columns``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"Date": ["2021-06-01", "2021-06-02"], "A": [1.0, 1.1],
    ...                       "B": [2.0, 2.1]})
    >>> describe_input(load_prices("dataframe", frame=frame).report)["dates"]
    "column 'Date': %Y-%m-%d (year first (ISO order), unambiguous)"
    """
    info = report.get("input")
    lines = {"source": str(report.get("source"))}
    if not info:
        return lines
    dates = info["dates"]
    when = [f"{dates.get('format') or 'as typed'} ({dates['decided']})"]
    if dates.get("time_of_day"):
        when.append("time of day dropped")
    if dates.get("utc_offsets"):
        when.append(f"UTC offsets dropped ({', '.join(dates['utc_offsets'])}; local dates kept)")
    used = ", ".join(f"{k}={v!r}" for k, v in info["columns"].items() if v is not None)
    lines.update(
        file=f"{report.get('path') or 'DataFrame'} ({info['file_type']})",
        layout=info["layout"],
        separator=_describe_choice(info.get("sep"), info.get("sep_decided")),
        numbers=(
            f"decimal {info.get('decimal')!r}, thousands "
            f"{'none' if info.get('thousands') is None else repr(info['thousands'])} "
            f"({info.get('numbers_decided')})"
        ),
        dates=f"column {dates['column']!r}: " + "; ".join(when),
        columns=f"{used} ({info['columns_decided']})",
    )
    return lines


def _describe_choice(value: Any, how: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value!r} ({how})"


def _read_text_table(
    p: Path,
    date_format: str | None,
    columns: dict[str, str] | None,
    sep: str | None,
    decimal: str | None,
    thousands: str | None,
) -> pd.DataFrame:
    """A text file as a raw wide table (see :func:`read_price_file`)."""
    text, encoding = _read_text(p)
    lines = _head(text)
    if not lines:
        raise InputError(f"price file is empty: {p} (expected a header and rows)")
    sep, sep_how = sniff_separator(lines, p.name, sep)
    rows = split_lines(lines, sep)
    names = [c.strip() for c in rows[0]]
    width = max((len(r) for r in rows[1:]), default=len(names))
    if len(names) == width - 1:  # no header field above the dates (an index written by pandas)
        names = ["", *names]
    seen: set[str] = set()
    repeated = sorted({c for c in names if c and (c in seen or seen.add(c))})
    if repeated:
        raise InputError(
            f"repeated columns in {p.name}: {_preview(repeated)} (keep one column per ticker)"
        )
    choice = choose_columns(names, p.name, columns)
    text_cols = [choice.date] + ([choice.ticker] if choice.ticker is not None else [])
    value_cols = (
        [choice.price]
        if choice.layout == "long"
        else [i for i in range(len(names)) if i not in text_cols]
    )
    if not value_cols:
        hint = "; no separator among , ; tab | splits its lines: set data.sep" * (
            sep_how == "default"
        )
        raise InputError(
            f"price file {p.name} has no price columns "
            f"(expected a date column and one column per ticker{hint})"
        )
    cells = [r[i] for r in rows[1:] for i in value_cols if i < len(r)]
    decimal, thousands, num_how = sniff_numbers(cells, p.name, sep, decimal, thousands)
    keys = [f"_{i}" for i in range(len(names))]
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0,
            names=keys,
            index_col=False,
            dtype={keys[i]: str for i in text_cols},
            decimal=decimal,
            thousands=thousands,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"price file is empty: {p} (expected a header and rows)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(
            f"cannot read price file {p}: {_first_line(exc)} (check data.sep)"
        ) from None
    if table.empty:
        raise InputError(f"price file has no rows: {p} (expected a header and rows)")
    for i in value_cols:
        if not pd.api.types.is_numeric_dtype(table[keys[i]]):
            table[keys[i]] = to_numbers(table[keys[i]], decimal, thousands)
    numbers = {"sep": sep, "sep_decided": sep_how, "decimal": decimal, "thousands": thousands}
    numbers.update(numbers_decided=num_how, encoding=encoding)
    return _interpret(table, names, choice, p.name, date_format, "csv", numbers)


def _read_text(p: Path) -> tuple[str, str]:
    """The decompressed, decoded text of a file (UTF-8, else Latin-1) and its encoding."""
    try:
        with open(p, "rb") as handle:
            head = handle.read(6)
        opener = _OPENERS.get(next((m for m in _OPENERS if head.startswith(m)), b""), open)
        if head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(p) as archive:
                data = archive.read(archive.namelist()[0])
        else:
            with opener(p, "rb") as handle:
                data = handle.read()
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, IndexError) as exc:
        raise InputError(
            f"cannot read price file {p}: {_first_line(exc)} (expected a CSV of dates and prices)"
        ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _head(text: str) -> list[str]:
    """The non-empty lines of the file head (see ``_HEAD_LINES``, ``_HEAD_CHARS``)."""
    lines: list[str] = []
    size = 0
    for line in io.StringIO(text):
        if size > _HEAD_CHARS and len(lines) > 10 or len(lines) > _HEAD_LINES:
            break
        if line.strip():
            lines.append(line.rstrip("\r\n"))
            size += len(line)
    return lines


_OPENERS: dict[bytes, Any] = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ": lzma.open}


def _read_parquet(p: Path) -> pd.DataFrame:
    """A Parquet file as a DataFrame."""
    try:
        return pd.read_parquet(p)
    except ImportError:
        raise InputError(
            f"reading {p.name} needs pyarrow (pip install pyarrow), or save the prices as CSV"
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise InputError(f"cannot read price file {p}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _table_to_wide(
    frame: pd.DataFrame,
    label: str,
    columns: dict[str, str] | None,
    date_format: str | None,
    kind: str,
    decimal: str = ".",
    thousands: str | None = None,
) -> pd.DataFrame:
    """A typed table (Parquet, DataFrame) as a raw wide table: index to columns, then detect."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"prices must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(frame.columns, pd.MultiIndex):
        raise InputError(
            f"{label} has multi-level column names (flatten them, e.g. one level of tickers)"
        )
    table, names = _flatten(frame)
    seen: set[str] = set()
    repeated = sorted({c for c in names if c in seen or seen.add(c)})
    if repeated:
        raise InputError(
            f"repeated columns in {label}: {_preview(repeated)} (keep one column per ticker)"
        )
    choice = choose_columns(names, label, columns)
    value_cols = (
        [choice.price]
        if choice.layout == "long"
        else [i for i in range(len(names)) if i != choice.date]
    )
    if not value_cols:
        raise InputError(
            f"price table {label} has no price columns (expected a date column and one column per ticker)"
        )
    for i in value_cols:
        if not pd.api.types.is_numeric_dtype(table.iloc[:, i]):
            table.isetitem(i, to_numbers(table.iloc[:, i], decimal, thousands))
    numbers = {"sep": None, "sep_decided": None, "decimal": decimal, "thousands": thousands}
    numbers.update(numbers_decided="typed values", encoding=None)
    return _interpret(table, names, choice, label, date_format, kind, numbers)


def _flatten(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The frame with its index (unless an unnamed integer one) as leading columns, and the names.

    Columns are labelled by position in the returned frame; the names are returned apart.
    """
    index = frame.index
    # an unnamed integer index (a RangeIndex, or one left by filtering rows) is only a row count
    plain = index.names == [None] and pd.api.types.is_integer_dtype(index.dtype)
    levels = [] if plain else [index.get_level_values(i) for i in range(index.nlevels)]
    parts = [pd.Series(level) for level in levels]
    parts += [frame.iloc[:, j].reset_index(drop=True) for j in range(frame.shape[1])]
    table = pd.concat(parts, axis=1, ignore_index=True) if parts else pd.DataFrame()
    names = ["" if n is None else str(n).strip() for n in ([] if plain else index.names)]
    return table, names + [str(c).strip() for c in frame.columns]


def _interpret(
    table: pd.DataFrame,
    names: list[str],
    choice: Columns,
    label: str,
    date_format: str | None,
    kind: str,
    numbers: dict[str, Any],
) -> pd.DataFrame:
    """Parse the dates and turn the table into a raw wide table with the detection record."""
    date_name = names[choice.date] or "first column"
    tickers = table.iloc[:, choice.ticker] if choice.layout == "long" else None
    dates, how = parse_dates(table.iloc[:, choice.date], label, date_name, date_format, tickers)
    require_daily(dates, f"prices in {label}" if kind != "dataframe" else "the DataFrame's prices")
    clock = " (times of day are dropped: keep one row per date)" if how["time_of_day"] else ""
    if choice.layout == "long":
        ticker_name, value_name = names[choice.ticker], names[choice.price]  # type: ignore[index]
        long = pd.DataFrame(
            {
                "date": dates,
                "ticker": table.iloc[:, choice.ticker].astype(str).str.strip().to_numpy(),
                "value": table.iloc[:, choice.price].to_numpy(),
            }
        )
        repeated = long.duplicated(["date", "ticker"]).to_numpy()
        if repeated.any():
            i = int(np.argmax(repeated))
            raise InputError(
                f"repeated rows in {label}: {long['ticker'].iat[i]} on {_iso(dates[i])} "
                f"(keep one price per ticker and date){clock}"
            )
        wide = long.pivot(index="date", columns="ticker", values="value")
        wide.columns = pd.Index([str(c) for c in wide.columns])
        wide.columns.name = None
        used = {"date": names[choice.date], "ticker": ticker_name, "price": value_name}
    else:
        if clock and dates.has_duplicates:
            first = dates[dates.duplicated()][0]
            raise InputError(f"several rows on {_iso(first)} in {label}{clock}")
        keep = [i for i in range(len(names)) if i != choice.date]
        wide = table.iloc[:, keep].set_axis(pd.Index([names[i] for i in keep]), axis=1)
        wide.index = pd.DatetimeIndex(dates, name="date")
        used = {"date": names[choice.date], "ticker": None, "price": None}
        value_name = None
    record = {"file_type": kind, "layout": choice.layout, **numbers}
    record.update(dates=how, columns=used, columns_decided=choice.how)
    wide.attrs.update(format=choice.layout, value_column=value_name, input=record)
    return wide


DAILY_MAX_GAP = 4.0
"""The largest median gap, in calendar days, between consecutive distinct dates of daily
prices (business days: 1; with holidays and halts still about 1)."""

_SPACINGS = (
    ((6, 8), "weekly"),
    ((13, 15), "every two weeks"),
    ((27, 35), "monthly"),
    ((85, 95), "quarterly"),
    ((175, 190), "half-yearly"),
    ((360, 370), "yearly"),
)


def require_daily(dates: pd.DatetimeIndex, what: str = "prices") -> float:
    """The median gap in calendar days between consecutive distinct dates, refused above
    :data:`DAILY_MAX_GAP`: returns are annualized as daily (252 a year), so weekly or
    monthly prices would give wrong numbers.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        The dates of every row, in any order, repeats allowed (a long table).
    what : str
        What the prices are, for the message (``"prices in prices.csv"``).

    Returns
    -------
    float
        The median gap (0.0 with fewer than 2 distinct dates).

    Raises
    ------
    InputError
        The median gap is above :data:`DAILY_MAX_GAP` days.

    Examples
    --------
    >>> require_daily(pd.bdate_range("2021-01-04", periods=10))
    1.0
    >>> require_daily(pd.date_range("2021-01-01", periods=10, freq="W-FRI"))
    Traceback (most recent call last):
    ...
    qubo_portfolio.errors.InputError: prices are weekly, not daily (median 7 days between dates): qubo-portfolio annualizes daily returns (252 a year); give daily prices
    """
    days = np.unique(pd.DatetimeIndex(dates).normalize().to_numpy(dtype="datetime64[D]"))
    if len(days) < 2:
        return 0.0
    gap = float(np.median(np.diff(days).astype(np.int64)))
    if gap <= DAILY_MAX_GAP:
        return gap
    kind = next((f"{name}, not daily" for (lo, hi), name in _SPACINGS if lo <= gap <= hi), None)
    raise InputError(
        f"{what} are {kind or 'not daily'} (median {gap:g} days between dates): "
        "qubo-portfolio annualizes daily returns (252 a year); give daily prices"
    )


def sample_prices() -> pd.DataFrame:
    """The bundled sample: 20 S&P 500 stocks, daily prices 1990-2022.

    This is ``skfolio.datasets.load_sp500_dataset()`` (a table that ships inside skfolio's
    wheel, so no download), with the index renamed to ``"date"``. skfolio is imported here, not
    at module import, because it is slow to import.

    Returns
    -------
    pandas.DataFrame
        Raw wide table (``DatetimeIndex`` named ``"date"``, float columns).
    """
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()
    prices.index = pd.DatetimeIndex(prices.index, name="date")
    prices.columns = pd.Index([str(c) for c in prices.columns])
    return prices.astype(np.float64)


def synthetic_prices(assets: int = 50, days: int = 756, seed: int = 0, **kw: Any) -> pd.DataFrame:
    """A seeded synthetic market: a factor model with Student-t (fat-tailed) shocks.

    Daily simple returns, for day t and asset i::

        r_t,i = mu_i + sum_f beta_i,f F_t,f + sigma_i e_t,i

    with factor returns ``F_t,f = v_f z_t,f`` (``v`` = 1% for the first, "market", factor and
    0.5% for the others), ``z`` and ``e`` independent Student-t draws with 4 degrees of freedom
    scaled to unit variance, market betas ~ N(1, 0.3), other betas ~ N(0, 0.5), idiosyncratic
    vols ``sigma_i`` ~ U(0.8%, 2.2%) (total daily vols around 1-3%) and drifts ``mu_i`` ~
    U(0.01%, 0.08%) per day. Returns are floored at -90% so prices stay positive, and
    ``p_0 = 100``, ``p_t = 100 prod_(s<=t) (1 + r_s)`` on a business-day calendar.

    Parameters
    ----------
    assets : int
        Number of assets (>= 2); columns are named ``S0000``, ``S0001``, ...
    days : int
        Number of price rows (>= 3), i.e. ``days - 1`` returns.
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give an identical table.
    **kw
        ``factors`` (int >= 0, default 3) and ``start`` (first date, default ``"2015-01-02"``).

    Returns
    -------
    pandas.DataFrame
        ``days`` x ``assets`` float64 prices with a business-day ``DatetimeIndex`` named
        ``"date"``.

    Raises
    ------
    InputError
        ``assets < 2``, ``days < 3``, ``factors < 0``, a bad ``start`` or an unknown option.
    """
    factors = kw.pop("factors", 3)
    start = kw.pop("start", "2015-01-02")
    if kw:
        raise InputError(
            f"unknown synthetic option(s): {', '.join(map(str, kw))} "
            f"(allowed: {', '.join(_SYNTHETIC_OPTIONS)})"
        )
    assets = _as_int(assets, "synthetic assets")
    days = _as_int(days, "synthetic days")
    factors = _as_int(factors, "synthetic factors")
    if assets < 2:
        raise InputError(f"synthetic assets must be >= 2, got {assets} (use assets: 2 or more)")
    if days < 3:
        raise InputError(f"synthetic days must be >= 3, got {days} (use days: 3 or more)")
    if factors < 0:
        raise InputError(f"synthetic factors must be >= 0, got {factors} (use factors: 0 or more)")
    first = _parse_timestamp(start, "synthetic start")

    rng = np.random.default_rng(seed)
    n = days - 1
    unit = np.sqrt((_T_DF - 2.0) / _T_DF)  # Student-t(4) has variance 2: scale to 1
    factor_vol = np.full(factors, 0.005)
    factor_vol[:1] = 0.01
    betas = rng.normal(0.0, 0.5, size=(assets, factors))
    if factors:
        betas[:, 0] = rng.normal(1.0, 0.3, size=assets)
    idio_vol = rng.uniform(0.008, 0.022, size=assets)
    drift = rng.uniform(0.0001, 0.0008, size=assets)
    factor_returns = rng.standard_t(_T_DF, size=(n, factors)) * (unit * factor_vol)
    shocks = rng.standard_t(_T_DF, size=(n, assets))
    shocks *= unit * idio_vol
    returns = shocks
    returns += drift
    returns += factor_returns @ betas.T
    np.maximum(returns, -0.9, out=returns)

    prices = np.empty((days, assets))
    prices[0] = 100.0
    returns += 1.0
    np.cumprod(returns, axis=0, out=prices[1:])
    prices[1:] *= 100.0

    width = max(4, len(str(assets - 1)))
    columns = pd.Index([f"S{i:0{width}d}" for i in range(assets)])
    index = pd.bdate_range(start=first, periods=days, name="date")
    return pd.DataFrame(prices, index=index, columns=columns)


# --------------------------------------------------------------------------------------------
# cleaning


def clean_prices(
    raw: pd.DataFrame,
    *,
    tickers: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    max_gap: int = 5,
    missing: str = "drop_assets",
    defer_missing: bool = False,
) -> PriceData:
    """Validate and clean a raw wide price table, recording each step.

    Steps, in order:

    1. sort by date (``unsorted`` records whether it was needed); repeated dates are an error;
    2. keep the requested ``tickers`` (in the order given) and the rows in ``start..end``
       (both inclusive; an ``end`` without a time includes that whole day);
    3. validate the values: NaN (empty cell) is missing; text that is not a number, an
       infinite value and a price ``<= 0`` are errors;
    4. drop rows where every price is missing (weekends, holidays);
    5. forward-fill interior gaps of at most ``max_gap`` consecutive rows with the last price
       before the gap. A longer gap stays entirely NaN, and leading NaN (before a listing) and
       trailing NaN (after a delisting) are never filled;
    6. ``missing="drop_assets"``: drop the assets that still have NaN; ``missing="keep"``:
       leave the NaN in place (for estimators that handle them). Assets with no price at all
       in the range are dropped in both modes;
    7. report one-day simple returns ``r_t = p_t / p_(t-1) - 1`` (computed on the cleaned
       table without filling) with ``|r| > LARGE_MOVE`` (50%), e.g. splits in unadjusted
       data. They are reported, not removed;
    8. fewer than 2 assets or 2 dates left is an error.

    Parameters
    ----------
    raw : pandas.DataFrame
        Wide table: dates as index (``DatetimeIndex`` or parseable), one column per ticker.
        ``raw.attrs["path"]``, if present, names the file in error messages.
    tickers : list of str, optional
        Tickers to keep (default: all).
    start, end : str, optional
        First and last date to keep, e.g. ``"2015-01-01"`` (default: the whole table).
    max_gap : int
        Longest interior run of missing rows that is forward-filled (0 disables filling).
    missing : {"drop_assets", "keep"}
        What to do with assets that are still incomplete after filling.
    defer_missing : bool
        Step 6 keeps incomplete assets for now (only those with no price at all go) and
        ``report["missing_deferred"]`` is True: :func:`restrict_to_span` judges them later, on
        the rows a command actually uses. ``report["missing"]`` is still ``missing``.

    Returns
    -------
    PriceData
        ``report`` keys: ``source`` (``"dataframe"``; :func:`load_prices` sets it), ``path``,
        ``rows_raw``, ``rows``, ``assets_raw``, ``assets``, ``start``, ``end`` (ISO dates of
        the cleaned table), ``unsorted``, ``all_missing_rows_dropped``, ``filled_cells``
        (``{ticker: cells}``, only tickers with fills), ``dropped_assets``
        (``{ticker: reason}``), ``missing_cells`` (``{ticker: NaN left}``, only with
        ``missing="keep"``), ``large_moves`` (list of ``{"ticker", "date", "return"}``),
        ``large_move_threshold``, ``missing``, ``max_gap``.

    Raises
    ------
    InputError
        Bad ``missing`` or ``max_gap``, repeated or unparseable dates, repeated or unknown
        tickers, bad or empty date range, a non-numeric, infinite or non-positive price, fewer
        than 2 assets or dates left.
    """
    max_gap = _check_cleaning_options(raw, max_gap, missing)
    label = Path(raw.attrs["path"]).name if raw.attrs.get("path") else "prices"
    rows_raw, assets_raw = raw.shape
    frame, unsorted = _sorted_by_date(raw, label)  # 1.
    frame = _select(frame, tickers, start, end, label)  # 2.
    values = _checked_values(frame, label)  # 3.
    isnan = np.isnan(values)  # 4.
    empty_rows = isnan.all(axis=1)
    values, isnan, index = values[~empty_rows], isnan[~empty_rows], frame.index[~empty_rows]
    isnan_before_fill = isnan
    values, filled = _fill_interior_gaps(values, isnan, max_gap)  # 5.
    isnan = np.isnan(values) if filled.any() else isnan
    n_rows = len(index)
    keep, dropped = _incomplete_assets(isnan, frame.columns, "keep" if defer_missing else missing)
    values, columns, filled = values[:, keep], frame.columns[keep], filled[keep]  # 6.
    n_missing = isnan[:, keep].sum(axis=0)
    _require_enough(values.shape[1], n_rows, len(dropped), assets_raw, missing, label)  # 8.
    prices = pd.DataFrame(values, index=pd.DatetimeIndex(index, name="date"), columns=columns)
    prices.index.freq = None
    report: dict[str, Any] = {
        "source": "dataframe",
        "path": raw.attrs.get("path"),
        "rows_raw": int(rows_raw),
        "rows": int(n_rows),
        "assets_raw": int(assets_raw),
        "assets": int(prices.shape[1]),
        "start": _iso(index[0]),
        "end": _iso(index[-1]),
        "unsorted": bool(unsorted),
        "all_missing_rows_dropped": int(empty_rows.sum()),
        "filled_cells": {str(columns[j]): int(filled[j]) for j in np.flatnonzero(filled)},
        "dropped_assets": dropped,
        "missing_cells": {str(columns[j]): int(n_missing[j]) for j in np.flatnonzero(n_missing)},
        "large_moves": large_moves(prices),  # 7.
        "large_move_threshold": LARGE_MOVE,
        "missing": missing,
        "max_gap": max_gap,
    }
    if defer_missing:
        report["missing_deferred"] = True
    mask = None
    if filled.any():
        filled_at = _fill_mask(isnan_before_fill, max_gap)[:, keep]
        mask = pd.DataFrame(filled_at, index=prices.index, columns=columns)
    return PriceData(prices=prices, report=report, filled=mask)


def _check_cleaning_options(raw: Any, max_gap: Any, missing: str) -> int:
    if missing not in MISSING_MODES:
        raise InputError(
            f"unknown missing mode {missing!r} (use one of: {', '.join(MISSING_MODES)})"
        )
    max_gap = _as_int(max_gap, "max_gap")
    if max_gap < 0:
        raise InputError(f"max_gap must be >= 0, got {max_gap} (use 0 to disable gap filling)")
    if not isinstance(raw, pd.DataFrame):
        raise InputError(f"prices must be a pandas DataFrame, got {type(raw).__name__}")
    return max_gap


def _sorted_by_date(raw: pd.DataFrame, label: str) -> tuple[pd.DataFrame, bool]:
    """Step 1: dates parsed (a text index by the whole column), sorted, none repeated;
    tickers stripped and unique. Returns the frame and whether it had to be sorted."""
    frame = raw
    if not isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_axis(parse_dates(pd.Series(frame.index), label, "index")[0], axis=0)
    if frame.index.tz is not None:
        frame = frame.set_axis(frame.index.tz_localize(None), axis=0)
    if frame.index.hasnans:
        raise InputError(f"missing dates in {label} (every row needs a date)")
    frame = frame.set_axis(pd.Index([str(c).strip() for c in frame.columns]), axis=1)
    if frame.columns.has_duplicates:
        repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise InputError(
            f"repeated tickers in {label}: {_preview(repeated)} (keep one column per ticker)"
        )
    unsorted = not frame.index.is_monotonic_increasing
    if unsorted:
        frame = frame.sort_index(kind="stable")
    if frame.index.has_duplicates:
        repeated = frame.index[frame.index.duplicated()].unique()
        raise InputError(
            f"duplicate dates in {label}: {_preview([_iso(d) for d in repeated])} "
            "(remove the repeated rows)"
        )
    return frame, unsorted


def _select(
    frame: pd.DataFrame,
    tickers: list[str] | None,
    start: str | None,
    end: str | None,
    label: str,
) -> pd.DataFrame:
    """Step 2: the requested tickers (in the order given) and the rows in ``start..end``
    (both inclusive; an ``end`` without a time includes that whole day)."""
    if tickers is not None:
        wanted = [tickers] if isinstance(tickers, str) else [str(t).strip() for t in tickers]
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            raise InputError("the ticker list is empty (list at least 2 tickers, or omit it)")
        unknown = [t for t in wanted if t not in frame.columns]
        if unknown:
            available = frame.columns.tolist()
            more = f", ... {len(available) - 5} more" if len(available) > 5 else ""
            raise InputError(
                f"unknown tickers: {', '.join(unknown)} "
                f"(available: {', '.join(available[:5])}{more})"
            )
        frame = frame[wanted]
    lo = None if start is None else _parse_timestamp(start, "start")
    hi = None if end is None else _parse_timestamp(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"start {_iso(lo)} is after end {_iso(hi)} (swap them)")
    if lo is None and hi is None:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    if lo is not None:
        keep &= frame.index >= lo
    if hi is not None:
        whole_day = hi == hi.normalize()  # "2020-01-31" includes all of that day
        keep &= frame.index < hi + pd.Timedelta(days=1) if whole_day else frame.index <= hi
    if not keep.any():
        available = f"{_iso(frame.index[0])} to {_iso(frame.index[-1])}" if len(frame) else "none"
        raise InputError(
            f"no prices between {_iso(lo) if lo is not None else 'the start'} and "
            f"{_iso(hi) if hi is not None else 'the end'} in {label} "
            f"(available: {available}; change start/end)"
        )
    return frame[keep]


def _checked_values(frame: pd.DataFrame, label: str) -> np.ndarray:
    """Step 3: the prices as floats; NaN is missing, text, infinities and prices <= 0 are
    errors naming the ticker and date."""
    values = _numeric_values(frame, label)
    bad = np.isinf(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"infinite price {values[i, j]} for {frame.columns[j]} on {_iso(frame.index[i])} "
            f"in {label} (prices must be finite; check the file)"
        )
    with np.errstate(invalid="ignore"):
        bad = values <= 0
    if bad.any():
        i, j = np.argwhere(bad)[0]
        crsp = ", or take absolute values if it is CRSP's prc (negative for a bid/ask average)"
        raise InputError(
            f"non-positive price {values[i, j]} for {frame.columns[j]} on "
            f"{_iso(frame.index[i])} in {label} (prices must be > 0; check the file"
            + (crsp if values[i, j] < 0 else "")
            + ")"
        )
    return values


def _incomplete_assets(
    isnan: np.ndarray, columns: pd.Index, missing: str
) -> tuple[np.ndarray, dict[str, str]]:
    """Step 6: which assets to keep, and why the others were dropped (``drop_assets``: any
    price still missing; ``keep``: only assets with no price at all)."""
    n_rows = isnan.shape[0]
    n_missing = isnan.sum(axis=0)
    drop = n_missing == n_rows if missing == "keep" else n_missing > 0
    dropped = {
        str(columns[j]): (
            f"no prices in range ({n_rows} rows)"
            if n_missing[j] == n_rows
            else f"{int(n_missing[j])} missing of {n_rows}"
        )
        for j in np.flatnonzero(drop)
    }
    return ~drop, dropped


def _require_enough(
    assets: int, rows: int, dropped: int, assets_raw: int, missing: str, label: str
) -> None:
    """Step 8: at least 2 assets and 2 dates left."""
    if assets < 2:
        hint = (
            "use missing: keep, a later start date or max_gap > 0"
            if missing == "drop_assets"
            else "check tickers and the date range"
        )
        raise InputError(
            f"only {assets} asset(s) left after cleaning {label} "
            f"({dropped} dropped as incomplete, {assets_raw} in the file); "
            f"need at least 2 ({hint})"
        )
    if rows < 2:
        raise InputError(
            f"only {rows} date(s) with prices left in {label}; need at least 2 (widen start..end)"
        )


def restrict_to_span(
    data: PriceData,
    start: Any = None,
    end: Any = None,
) -> PriceData:
    """The prices a command uses: rows ``start..end`` (inclusive; None: open), with the
    completeness of every asset judged on those rows only.

    Step 6 of :func:`clean_prices` (``report["missing"]``) is re-run on the rows kept: with
    ``drop_assets`` an asset is dropped only for a gap inside the span (a gap years before a
    run's lookback no longer costs it), with ``keep`` only for having no price in it. Step 8
    (at least 2 assets and 2 dates) is checked again. Load with ``defer_missing=True`` so that
    :func:`clean_prices` has not dropped the incomplete assets already.

    Returns
    -------
    PriceData
        The rows and assets kept. ``report``: ``rows``, ``start``, ``end``, ``assets``,
        ``filled_cells``, ``missing_cells`` and ``large_moves`` describe the span;
        ``dropped_assets`` adds the assets dropped here (the reason names the span);
        ``loaded`` (``rows``, ``start``, ``end``, ``assets``) is the table before the cut
        when rows were cut; ``missing_deferred`` is removed.

    Examples
    --------
    >>> import numpy as np
    >>> frame = pd.DataFrame({"A": [1.0, np.nan, np.nan, 1.1, 1.2, 1.3],
    ...                       "B": [2.0, 2.1, 2.2, 2.3, 2.4, 2.5],
    ...                       "C": [3.0, 3.1, 3.2, 3.3, 3.4, 3.5]},
    ...                      index=pd.date_range("2021-01-04", periods=6))
    >>> data = clean_prices(frame, max_gap=0, defer_missing=True)
    >>> restrict_to_span(data, "2021-01-07").tickers
    ['A', 'B', 'C']
    >>> restrict_to_span(data).report["dropped_assets"]
    {'A': '2 missing of 6'}
    """
    prices = data.prices
    report = dict(data.report)
    index = pd.DatetimeIndex(prices.index)
    rows = np.ones(len(index), dtype=bool)
    if start is not None:
        rows &= index >= pd.Timestamp(start)
    if end is not None:
        rows &= index <= pd.Timestamp(end)
    cut = not rows.all()
    frame = prices.loc[rows] if cut else prices
    label = Path(report["path"]).name if report.get("path") else "prices"
    missing = report.get("missing", "drop_assets")
    isnan = np.isnan(frame.to_numpy(dtype=np.float64))
    keep, dropped = _incomplete_assets(isnan, frame.columns, missing)
    if cut and len(frame):
        span = f"the span used ({_iso(frame.index[0])} to {_iso(frame.index[-1])})"
        dropped = {
            t: f"no prices in {span}" if why.startswith("no prices") else f"{why} rows in {span}"
            for t, why in dropped.items()
        }
    before = dict(report.get("dropped_assets") or {})
    _require_enough(
        int(keep.sum()),
        len(frame),
        len(before) + len(dropped),
        int(report.get("assets_raw", prices.shape[1])),
        missing,
        label,
    )
    frame = frame.loc[:, keep] if not keep.all() else frame
    check_finite_moments(frame, label)
    if cut:
        report["loaded"] = {k: report[k] for k in ("rows", "start", "end", "assets") if k in report}
    filled = None
    if data.filled is not None:
        filled = data.filled.loc[frame.index, frame.columns]
        filled = filled if filled.to_numpy().any() else None
    n_filled = {} if filled is None else filled.sum(axis=0)
    n_missing = np.isnan(frame.to_numpy(dtype=np.float64)).sum(axis=0)
    report.update(
        rows=int(len(frame)),
        start=_iso(frame.index[0]),
        end=_iso(frame.index[-1]),
        assets=int(frame.shape[1]),
        filled_cells={str(t): int(n) for t, n in dict(n_filled).items() if n},
        dropped_assets={**before, **dropped},
        missing_cells={str(frame.columns[j]): int(n_missing[j]) for j in np.flatnonzero(n_missing)},
        large_moves=large_moves(frame) if cut or dropped else report.get("large_moves", []),
    )
    report.pop("missing_deferred", None)
    return PriceData(prices=frame, report=report, filled=filled)


def check_finite_moments(prices: pd.DataFrame, label: str = "prices") -> None:
    """Refuse prices whose returns would make the moments overflow, naming the first ticker
    and date: a one-day return ``r`` with ``4 n r^2`` beyond float64 (``n`` rows) can make a
    covariance infinite (e.g. a price of 1e300 among prices near 100).

    >>> frame = pd.DataFrame({"A": [100.0, 1e300, 100.0], "B": [1.0, 1.1, 1.2]},
    ...                      index=pd.date_range("2021-01-04", periods=3))
    >>> check_finite_moments(frame)
    Traceback (most recent call last):
    ...
    qubo_portfolio.errors.InputError: the one-day return of A on 2021-01-05 is 1e+298 (price 100 to 1e+300): the covariance would overflow (check the prices of A around 2021-01-05 in prices, or leave A out with data.tickers)
    """
    values = prices.to_numpy(dtype=np.float64)
    if len(values) < 2:
        return
    with np.errstate(all="ignore"):
        rets = values[1:] / values[:-1] - 1.0
        bad = ~np.isfinite(rets * rets * (4.0 * len(rets))) & ~np.isnan(rets)
    if not bad.any():
        return
    i, j = np.argwhere(bad)[0]
    ticker, date = prices.columns[j], _iso(prices.index[i + 1])
    raise InputError(
        f"the one-day return of {ticker} on {date} is {rets[i, j]:.3g} "
        f"(price {values[i, j]:g} to {values[i + 1, j]:g}): the covariance would overflow "
        f"(check the prices of {ticker} around {date} in {label}, or leave {ticker} out with "
        "data.tickers)"
    )


def dropped_notes(report: dict[str, Any]) -> list[str]:
    """One printable line per asset the cleaning dropped: the ticker, why, and the fix."""
    notes = []
    for ticker, why in (report.get("dropped_assets") or {}).items():
        if why.startswith("no prices"):
            fix = "check data.tickers, or move data.start/data.end to where it has prices"
        elif report.get("missing") == "keep":
            fix = "move data.start after its gap"
        else:
            fix = (
                "set data.start after its gap, data.max_gap to fill it, or data.missing: keep "
                "to keep it"
            )
        notes.append(f"note: asset {ticker} dropped: {why} ({fix})")
    return notes


def large_moves(prices: pd.DataFrame, threshold: float = LARGE_MOVE) -> list[dict[str, Any]]:
    """Step 7: one-day simple returns ``r_t = p_t / p_(t-1) - 1`` with ``|r| > threshold``,
    without filling (a NaN on either side gives no return): ``{"ticker", "date", "return"}``."""
    values = prices.to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = values[1:] / values[:-1] - 1.0
        big = np.abs(rets) > threshold
    return [
        {
            "ticker": str(prices.columns[j]),
            "date": _iso(prices.index[i + 1]),
            "return": float(rets[i, j]),
        }
        for i, j in np.argwhere(big)
    ]


# --------------------------------------------------------------------------------------------
# helpers


def _fill_interior_gaps(
    values: np.ndarray, isnan: np.ndarray, max_gap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill interior NaN runs of length <= max_gap, column by column, vectorized.

    For each cell, ``prev`` is the row of the last observed price at or above it and ``nxt``
    the row of the next one at or below it; a NaN cell is interior when both exist and its
    run has length ``nxt - prev - 1``. Returns the filled array and the fill count per column.
    """
    n_rows, n_cols = values.shape
    if max_gap == 0 or not isnan.any():
        return values, np.zeros(n_cols, dtype=np.int64)
    fill, prev = _fill_mask(isnan, max_gap, with_prev=True)
    if not fill.any():
        return values, np.zeros(n_cols, dtype=np.int64)
    out = values.copy()
    r, c = np.nonzero(fill)
    out[r, c] = values[prev[r, c], c]
    return out, fill.sum(axis=0)


def _fill_mask(isnan: np.ndarray, max_gap: int, with_prev: bool = False) -> Any:
    """The NaN cells :func:`_fill_interior_gaps` fills (and, ``with_prev``, the row of the
    last observed price at or above each cell)."""
    n_rows = isnan.shape[0]
    rows = np.arange(n_rows)[:, None]
    prev = np.maximum.accumulate(np.where(isnan, -1, rows), axis=0)
    nxt = np.minimum.accumulate(np.where(isnan, n_rows, rows)[::-1], axis=0)[::-1]
    fill = isnan & (prev >= 0) & (nxt < n_rows) & (nxt - prev - 1 <= max_gap)
    return (fill, prev) if with_prev else fill


def _numeric_values(frame: pd.DataFrame, label: str) -> np.ndarray:
    """The table as a float64 array; text that is not a number raises InputError."""
    text_cols = [
        j for j, dtype in enumerate(frame.dtypes) if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if not text_cols:
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    text = frame.iloc[:, text_cols]
    numbers = text.apply(pd.to_numeric, errors="coerce")
    bad = (text.notna() & numbers.isna()).to_numpy()
    if bad.any():
        i, j = np.argwhere(bad)[0]
        cell = str(text.iat[i, j])
        marks = "; or set data.decimal / data.thousands" if re.search(r"\d[.,' ]\d", cell) else ""
        raise InputError(
            f"non-numeric price {cell!r} for {text.columns[j]} on {_iso(text.index[i])} "
            f"in {label} (prices must be numbers or empty; check the file{marks})"
        )
    values = np.empty(frame.shape, dtype=np.float64)
    num_cols = np.setdiff1d(np.arange(frame.shape[1]), text_cols)
    values[:, num_cols] = frame.iloc[:, num_cols].to_numpy(dtype=np.float64, na_value=np.nan)
    values[:, text_cols] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _parse_timestamp(value: Any, name: str) -> pd.Timestamp:
    """``pd.Timestamp(value)`` with an InputError naming the option on failure."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"cannot parse {name} date {value!r} (use YYYY-MM-DD)") from None
    if ts is pd.NaT:
        raise InputError(f"cannot parse {name} date {value!r} (use YYYY-MM-DD)")
    return ts.tz_localize(None) if ts.tz is not None else ts


def _as_int(value: Any, name: str) -> int:
    """An integer option (bool and non-integral floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InputError(f"{name} must be an integer, got {value!r} (use a whole number)")
    return int(value)


def _iso(ts: Any) -> str:
    """ISO date (``YYYY-MM-DD``), or full ISO timestamp when there is a time of day."""
    ts = pd.Timestamp(ts)
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()


def _preview(items: list[str], n: int = 3) -> str:
    """``"a, b, c and 4 more"``."""
    head = ", ".join(map(str, items[:n]))
    return head if len(items) <= n else f"{head} and {len(items) - n} more"
