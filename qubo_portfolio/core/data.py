"""Load daily prices, validate them, clean them and report what was done.

Three sources give a wide price table (one row per date, one column per ticker):

- ``sample``: the 20-stock S&P 500 daily price table (1990-2022) that ships inside skfolio's
  wheel (``skfolio.datasets.load_sp500_dataset()``); real data and the default.
- ``csv``: a wide CSV (dates in the first column, or in a column named ``date``; one column per
  ticker) or a long CSV with columns ``date, ticker, close`` (see :func:`read_price_csv`);
  ``.csv.gz`` works too.
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

import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qubo_portfolio.errors import InputError

__all__ = [
    "LARGE_MOVE",
    "MISSING_MODES",
    "SOURCES",
    "PriceData",
    "clean_prices",
    "load_prices",
    "read_price_csv",
    "sample_prices",
    "synthetic_prices",
]

SOURCES = ("sample", "csv", "synthetic")
"""Price sources understood by :func:`load_prices`."""

MISSING_MODES = ("drop_assets", "keep")
"""What :func:`clean_prices` does with assets that still have gaps after filling."""

LARGE_MOVE = 0.5
"""One-day simple returns with ``|r| > LARGE_MOVE`` are reported as warnings."""

_LONG_DATE = ("date",)
_LONG_TICKER = ("ticker", "symbol")
_LONG_VALUE = ("adj_close", "adj close", "adjclose", "close", "price")  # in order of preference
_SYNTHETIC_OPTIONS = ("assets", "days", "seed", "factors", "start")
_T_DF = 4.0  # degrees of freedom of the Student-t shocks of the synthetic market


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
    tickers: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    max_gap: int = 5,
    missing: str = "drop_assets",
    synthetic: dict | None = None,
) -> PriceData:
    """Load prices from a source and clean them.

    Parameters
    ----------
    source : {"sample", "csv", "synthetic"}
        Where the prices come from (see the module docstring).
    path : str or Path, optional
        The CSV file; required for ``source="csv"`` and not allowed otherwise.
    tickers, start, end, max_gap, missing
        Passed to :func:`clean_prices`.
    synthetic : dict, optional
        Options of :func:`synthetic_prices` (``assets``, ``days``, ``seed``, ``factors``,
        ``start``); only for ``source="synthetic"``.

    Returns
    -------
    PriceData
        The cleaned prices; ``report`` has the keys of :func:`clean_prices` with ``source`` and
        ``path`` filled in, plus ``csv_format`` (``"wide"``/``"long"``) and ``value_column`` for
        CSV files and ``synthetic`` (the options used) for the synthetic market.

    Raises
    ------
    InputError
        Unknown source, missing or misplaced ``path``, misplaced ``synthetic`` options, and
        everything :func:`read_price_csv`, :func:`synthetic_prices` and :func:`clean_prices`
        raise.
    """
    name = str(source).strip().lower()
    if name not in SOURCES:
        raise InputError(f"unknown price source {source!r} (use one of: {', '.join(SOURCES)})")
    if name == "csv" and path is None:
        raise InputError("price source csv needs a path (set data.path to the CSV file)")
    if name != "csv" and path is not None:
        raise InputError(
            f"a price file path was given but the source is {name} "
            "(set data.source: csv to read the file, or remove data.path)"
        )
    if name != "synthetic" and synthetic:
        raise InputError(
            f"synthetic options were given but the source is {name} "
            "(set data.source: synthetic, or remove data.synthetic)"
        )

    extra: dict[str, Any] = {}
    if name == "sample":
        raw = sample_prices()
    elif name == "csv":
        raw = read_price_csv(path)  # type: ignore[arg-type]
        extra["csv_format"] = raw.attrs.get("format")
        extra["value_column"] = raw.attrs.get("value_column")
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
        raw, tickers=tickers, start=start, end=end, max_gap=max_gap, missing=missing
    )
    data.report["source"] = name
    data.report["path"] = None if path is None else str(path)
    data.report.update(extra)
    return data


def read_price_csv(path: str | Path) -> pd.DataFrame:
    """Read a price CSV into a raw wide table (parsing only, no cleaning).

    Two layouts are recognised:

    - **wide**: dates in the column named ``date`` (any case), or else in the first column
      (whose header may be empty, e.g. a table written by ``DataFrame.to_csv``), and one column
      per ticker.
    - **long**: columns ``date``, ``ticker`` (or ``symbol``) and a value column, matched case
      insensitively; the value column is the first of ``adj_close``, ``adj close``,
      ``adjclose``, ``close``, ``price`` that is present. The table is pivoted to wide.

    Compressed files (``.csv.gz``, ``.zip``, ...) are read by pandas transparently.

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        ``DatetimeIndex`` named ``"date"`` in file order (not sorted, duplicates kept), one
        column per ticker (``str`` names) holding the values as parsed: float columns where
        every cell is a number, ``str``/object columns where some cell is not.
        ``attrs`` holds ``path``, ``format`` (``"wide"``/``"long"``) and ``value_column``.

    Raises
    ------
    InputError
        Missing file, unreadable or empty CSV, no parseable date column, a repeated ticker
        column, a long table with no value column or with repeated (date, ticker) rows.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"price file not found: {path} (check data.path)")
    if not p.is_file():
        raise InputError(f"price path is not a file: {path} (point data.path at a CSV file)")
    try:
        header = pd.read_csv(p, header=None, nrows=1, dtype=str, keep_default_na=False)
        table = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise InputError(f"price file is empty: {path} (expected a header and rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot read price file {path}: {reason} (expected a CSV of dates and prices)"
        ) from None
    if table.empty:
        raise InputError(f"price file has no rows: {path} (expected a header and rows)")

    names = [str(c).strip() for c in header.iloc[0]]
    if not isinstance(table.index, pd.RangeIndex) and table.index.nlevels == 1:
        # the header has one field fewer than the rows: pandas took the dates as the index
        table = table.reset_index()
        names = ["", *names]
    seen: set[str] = set()
    repeated = sorted({c for c in names if c and (c in seen or seen.add(c))})
    if repeated:
        raise InputError(
            f"repeated columns in {p.name}: {_preview(repeated)} (keep one column per ticker)"
        )
    table.columns = names
    lower = {c.lower(): c for c in names}

    date_col = next((lower[k] for k in _LONG_DATE if k in lower), None)
    ticker_col = next((lower[k] for k in _LONG_TICKER if k in lower), None)
    if date_col is not None and ticker_col is not None:
        value_col = next((lower[k] for k in _LONG_VALUE if k in lower), None)
        if value_col is None:
            raise InputError(
                f"long-format price file {p.name} has no price column "
                f"(add one named close, adj_close or price; found: {', '.join(names)})"
            )
        dates = _parse_dates(table[date_col], p.name, date_col)
        long = pd.DataFrame(
            {
                "date": dates,
                "ticker": table[ticker_col].astype(str).str.strip().to_numpy(),
                "value": table[value_col].to_numpy(),
            }
        )
        repeated = long.duplicated(["date", "ticker"]).to_numpy()
        if repeated.any():
            i = int(np.argmax(repeated))
            raise InputError(
                f"repeated rows in {p.name}: {long['ticker'].iat[i]} on {_iso(dates[i])} "
                "(keep one price per ticker and date)"
            )
        wide = long.pivot(index="date", columns="ticker", values="value")
        wide.columns = pd.Index([str(c) for c in wide.columns])
        wide.columns.name = None
        wide.attrs.update(path=str(path), format="long", value_column=value_col)
        return wide

    date_col = date_col if date_col is not None else names[0]
    if table.shape[1] < 2:
        raise InputError(
            f"price file {p.name} has no price columns (expected a date column and one column per ticker)"
        )
    dates = _parse_dates(table[date_col], p.name, date_col or "first column")
    wide = table.drop(columns=[date_col])
    wide.index = pd.DatetimeIndex(dates, name="date")
    wide.columns = pd.Index([str(c) for c in wide.columns])
    wide.attrs.update(path=str(path), format="wide", value_column=None)
    return wide


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
    if missing not in MISSING_MODES:
        raise InputError(
            f"unknown missing mode {missing!r} (use one of: {', '.join(MISSING_MODES)})"
        )
    max_gap = _as_int(max_gap, "max_gap")
    if max_gap < 0:
        raise InputError(f"max_gap must be >= 0, got {max_gap} (use 0 to disable gap filling)")
    if not isinstance(raw, pd.DataFrame):
        raise InputError(f"prices must be a pandas DataFrame, got {type(raw).__name__}")
    label = Path(raw.attrs["path"]).name if raw.attrs.get("path") else "prices"
    rows_raw, assets_raw = raw.shape

    # 1. dates: parse, sort, no repeats
    frame = raw
    if not isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_axis(_parse_dates(pd.Series(frame.index), label, "index"), axis=0)
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

    # 2. tickers and date range
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
    if lo is not None or hi is not None:
        keep = np.ones(len(frame), dtype=bool)
        if lo is not None:
            keep &= frame.index >= lo
        if hi is not None:
            whole_day = hi == hi.normalize()  # "2020-01-31" includes all of that day
            keep &= frame.index < hi + pd.Timedelta(days=1) if whole_day else frame.index <= hi
        if not keep.any():
            available = (
                f"{_iso(frame.index[0])} to {_iso(frame.index[-1])}" if len(frame) else "none"
            )
            raise InputError(
                f"no prices between {_iso(lo) if lo is not None else 'the start'} and "
                f"{_iso(hi) if hi is not None else 'the end'} in {label} "
                f"(available: {available}; change start/end)"
            )
        frame = frame[keep]

    # 3. values: numbers, finite, positive
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
        raise InputError(
            f"non-positive price {values[i, j]} for {frame.columns[j]} on "
            f"{_iso(frame.index[i])} in {label} (prices must be > 0; check the file)"
        )

    # 4. rows where every price is missing
    isnan = np.isnan(values)
    empty_rows = isnan.all(axis=1)
    n_empty = int(empty_rows.sum())
    index = frame.index
    columns = frame.columns
    if n_empty:
        values, isnan, index = values[~empty_rows], isnan[~empty_rows], index[~empty_rows]

    # 5. interior gaps of at most max_gap rows
    values, filled = _fill_interior_gaps(values, isnan, max_gap)
    isnan = np.isnan(values) if filled.any() else isnan

    # 6. incomplete assets
    n_rows = len(index)
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
    keep_cols = ~drop
    values, n_missing, columns = values[:, keep_cols], n_missing[keep_cols], columns[keep_cols]
    filled = filled[keep_cols]

    # 8. (checked before 7 so that no report is built for an unusable table)
    if values.shape[1] < 2:
        hint = (
            "use missing: keep, a later start date or max_gap > 0"
            if missing == "drop_assets"
            else "check tickers and the date range"
        )
        raise InputError(
            f"only {values.shape[1]} asset(s) left after cleaning {label} "
            f"({len(dropped)} dropped as incomplete, {assets_raw} in the file); "
            f"need at least 2 ({hint})"
        )
    if n_rows < 2:
        raise InputError(
            f"only {n_rows} date(s) with prices left in {label}; need at least 2 (widen start..end)"
        )

    # 7. large one-day moves (no filling: a NaN on either side gives no return)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = values[1:] / values[:-1] - 1.0
        big = np.abs(rets) > LARGE_MOVE
    large_moves = [
        {"ticker": str(columns[j]), "date": _iso(index[i + 1]), "return": float(rets[i, j])}
        for i, j in np.argwhere(big)
    ]

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
        "all_missing_rows_dropped": n_empty,
        "filled_cells": {str(columns[j]): int(filled[j]) for j in np.flatnonzero(filled)},
        "dropped_assets": dropped,
        "missing_cells": {str(columns[j]): int(n_missing[j]) for j in np.flatnonzero(n_missing)},
        "large_moves": large_moves,
        "large_move_threshold": LARGE_MOVE,
        "missing": missing,
        "max_gap": max_gap,
    }
    return PriceData(prices=prices, report=report)


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
    rows = np.arange(n_rows)[:, None]
    prev = np.maximum.accumulate(np.where(isnan, -1, rows), axis=0)
    nxt = np.minimum.accumulate(np.where(isnan, n_rows, rows)[::-1], axis=0)[::-1]
    fill = isnan & (prev >= 0) & (nxt < n_rows) & (nxt - prev - 1 <= max_gap)
    if not fill.any():
        return values, np.zeros(n_cols, dtype=np.int64)
    out = values.copy()
    r, c = np.nonzero(fill)
    out[r, c] = values[prev[r, c], c]
    return out, fill.sum(axis=0)


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
        raise InputError(
            f"non-numeric price {str(text.iat[i, j])!r} for {text.columns[j]} on "
            f"{_iso(text.index[i])} in {label} (prices must be numbers or empty; check the file)"
        )
    values = np.empty(frame.shape, dtype=np.float64)
    num_cols = np.setdiff1d(np.arange(frame.shape[1]), text_cols)
    values[:, num_cols] = frame.iloc[:, num_cols].to_numpy(dtype=np.float64, na_value=np.nan)
    values[:, text_cols] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _parse_dates(column: pd.Series, file: str, name: str) -> pd.DatetimeIndex:
    """Parse a column of dates; anything that is not a date raises InputError."""
    hint = "(put dates like 2020-01-31 in the first column or a column named date)"
    if pd.api.types.is_datetime64_any_dtype(column):
        dates = pd.DatetimeIndex(column)
    elif pd.api.types.is_integer_dtype(column) and column.between(1800_01_01, 2200_12_31).all():
        dates = pd.DatetimeIndex(pd.to_datetime(column.astype(str), format="%Y%m%d"))
    elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InputError(
            f"no date column in {file}: column {name!r} holds numbers, not dates {hint}"
        )
    else:
        if column.isna().any():
            i = int(np.argmax(column.isna().to_numpy()))
            raise InputError(
                f"missing date in {file}, row {i + 1} of column {name!r} (every row needs a date)"
            )
        text = column.astype(str).str.strip()
        with warnings.catch_warnings():  # "could not infer format": we check the result
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(text, errors="coerce")
            if parsed.isna().any() and parsed.notna().any():
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed.isna().all():
            raise InputError(
                f"no parseable date column in {file}: column {name!r} starts with "
                f"{text.iloc[0]!r} {hint}"
            )
        if parsed.isna().any():
            i = int(np.argmax(parsed.isna().to_numpy()))
            raise InputError(
                f"unparseable date {column.iloc[i]!r} in {file}, row {i + 1} of column "
                f"{name!r} (use dates like 2020-01-31)"
            )
        dates = pd.DatetimeIndex(parsed)
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return dates.rename("date")


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
