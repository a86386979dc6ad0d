"""Tests of qubo_portfolio.core.data: loading, validation, cleaning and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qubo_portfolio.core.data import (
    PriceData,
    clean_prices,
    load_prices,
    read_price_csv,
    sample_prices,
    synthetic_prices,
)
from qubo_portfolio.errors import InputError

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
REPORT_KEYS = {
    "source",
    "path",
    "rows_raw",
    "rows",
    "assets_raw",
    "assets",
    "start",
    "end",
    "unsorted",
    "all_missing_rows_dropped",
    "filled_cells",
    "dropped_assets",
    "large_moves",
    "missing",
    "max_gap",
}


def make_prices(rows: int = 20, tickers: tuple[str, ...] = ("AAA", "BBB", "CCC")) -> pd.DataFrame:
    """Small positive price table on business days, every value distinct."""
    index = pd.bdate_range("2020-01-01", periods=rows, name="date")
    steps = 1.0 + 0.01 * np.sin(np.arange(rows)[:, None] + np.arange(len(tickers)))
    values = 100.0 * (1.0 + np.arange(len(tickers))) * np.cumprod(steps, axis=0)
    return pd.DataFrame(values, index=index, columns=list(tickers))


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


def assert_clean(data: PriceData) -> None:
    prices = data.prices
    assert isinstance(prices.index, pd.DatetimeIndex)
    assert prices.index.name == "date"
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert all(isinstance(c, str) for c in prices.columns)
    assert (prices.dtypes == np.float64).all()
    assert REPORT_KEYS <= set(data.report)
    assert json.loads(json.dumps(data.report)) == data.report


# --------------------------------------------------------------------------------------------
# sources


def test_sample_loads_20_complete_tickers():
    data = load_prices()
    assert_clean(data)
    assert data.prices.shape[1] == 20
    assert len(data.prices) > 8000
    assert not data.prices.isna().any().any()
    assert data.report["source"] == "sample"
    assert data.report["path"] is None
    assert data.report["start"] == data.prices.index[0].strftime("%Y-%m-%d")
    assert "AAPL" in data.prices.columns
    assert sample_prices().shape == (data.report["rows_raw"], 20)


@pytest.mark.parametrize("date_header", ["Date", "date", ""])
def test_wide_csv(tmp_path, date_header):
    prices = make_prices()
    path = tmp_path / "prices.csv"
    prices.rename_axis(date_header or None).to_csv(path)
    if date_header == "":
        assert path.read_text().startswith(",AAA,BBB,CCC")
    data = load_prices("csv", path=path)
    assert_clean(data)
    pd.testing.assert_frame_equal(data.prices, prices, check_freq=False, check_index_type=False)
    assert data.report["source"] == "csv"
    assert data.report["path"] == str(path)
    assert data.report["csv_format"] == "wide"


def test_wide_csv_date_column_not_first(tmp_path):
    prices = make_prices()
    path = tmp_path / "prices.csv"
    prices.reset_index()[["AAA", "date", "BBB", "CCC"]].to_csv(path, index=False)
    data = load_prices("csv", path=path)
    assert data.prices.columns.tolist() == ["AAA", "BBB", "CCC"]
    np.testing.assert_allclose(data.prices.to_numpy(), prices.to_numpy())


def test_wide_csv_with_fewer_header_fields(tmp_path):
    # header without a field for the dates: pandas puts them in the index
    prices = make_prices(rows=5)
    path = tmp_path / "prices.csv"
    text = prices.to_csv(header=False)
    path.write_text("AAA,BBB,CCC\n" + text)
    data = load_prices("csv", path=path)
    np.testing.assert_allclose(data.prices.to_numpy(), prices.to_numpy())
    assert data.prices.index.equals(pd.DatetimeIndex(prices.index))


@pytest.mark.parametrize(
    ("columns", "value"),
    [
        (("date", "ticker", "close"), "close"),
        (("Date", "Ticker", "Adj Close"), "Adj Close"),
        (("DATE", "symbol", "price"), "price"),
        (("date", "ticker", "adj_close"), "adj_close"),
    ],
)
def test_long_csv_equals_wide(tmp_path, columns, value):
    prices = make_prices()
    prices.iloc[3, 1] = np.nan  # a gap: absent from the long table
    wide_path = tmp_path / "wide.csv"
    prices.to_csv(wide_path)
    long = prices.stack().reset_index()
    long.columns = list(columns)
    long = long.sample(frac=1.0, random_state=0)  # any row order
    long_path = tmp_path / "long.csv"
    long.to_csv(long_path, index=False)

    from_long = load_prices("csv", path=long_path)
    from_wide = load_prices("csv", path=wide_path)
    pd.testing.assert_frame_equal(from_long.prices, from_wide.prices)
    assert from_long.report["csv_format"] == "long"
    assert from_long.report["value_column"] == value
    assert from_long.report["filled_cells"] == {"BBB": 1}


def test_long_csv_prefers_adjusted_close(tmp_path):
    prices = make_prices(rows=5)
    long = prices.stack().reset_index()
    long.columns = ["date", "ticker", "close"]
    long["adj_close"] = long["close"] / 2
    path = tmp_path / "long.csv"
    long.to_csv(path, index=False)
    data = load_prices("csv", path=path)
    np.testing.assert_allclose(data.prices.to_numpy(), prices.to_numpy() / 2)


def test_gzipped_csv(tmp_path):
    prices = make_prices()
    path = tmp_path / "prices.csv.gz"
    prices.to_csv(path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    data = load_prices("csv", path=str(path))
    np.testing.assert_allclose(data.prices.to_numpy(), prices.to_numpy())


def test_read_price_csv_keeps_raw_order_and_gaps(tmp_path):
    prices = make_prices(rows=6)
    prices.iloc[2, 0] = np.nan
    path = tmp_path / "prices.csv"
    prices.iloc[::-1].to_csv(path)
    raw = read_price_csv(path)
    assert raw.index.name == "date"
    assert raw.index[0] == prices.index[-1]
    assert raw.isna().sum().sum() == 1


# --------------------------------------------------------------------------------------------
# cleaning


def test_unsorted_input_is_sorted_and_reported():
    prices = make_prices()
    shuffled = prices.iloc[np.random.default_rng(0).permutation(len(prices))]
    data = clean_prices(shuffled)
    assert data.report["unsorted"] is True
    pd.testing.assert_frame_equal(data.prices, prices, check_freq=False)
    assert clean_prices(prices).report["unsorted"] is False


def test_input_frame_is_not_modified():
    prices = make_prices()
    prices.iloc[2, 0] = np.nan
    before = prices.copy()
    clean_prices(prices.rename(columns={"AAA": " AAA "}))
    clean_prices(prices)
    pd.testing.assert_frame_equal(prices, before)


def test_holiday_rows_dropped_and_counted():
    prices = make_prices()
    full = prices.reindex(pd.date_range(prices.index[0], prices.index[-1], name="date"))
    assert len(full) > len(prices)
    data = clean_prices(full)
    assert data.report["all_missing_rows_dropped"] == len(full) - len(prices)
    assert data.report["rows_raw"] == len(full)
    assert data.report["rows"] == len(prices)
    assert data.report["filled_cells"] == {}
    pd.testing.assert_frame_equal(data.prices, prices, check_freq=False)


def test_short_interior_gap_is_filled_with_last_price():
    prices = make_prices()
    gappy = prices.copy()
    gappy.iloc[5:7, 0] = np.nan  # 2 rows
    gappy.iloc[10:15, 2] = np.nan  # 5 rows = default max_gap
    data = clean_prices(gappy)
    assert data.report["filled_cells"] == {"AAA": 2, "CCC": 5}
    assert data.report["dropped_assets"] == {}
    np.testing.assert_array_equal(data.prices["AAA"].iloc[5:7], prices["AAA"].iloc[4])
    np.testing.assert_array_equal(data.prices["CCC"].iloc[10:15], prices["CCC"].iloc[9])
    pd.testing.assert_series_equal(data.prices["BBB"], prices["BBB"], check_freq=False)


def test_long_interior_gap_is_not_filled_at_all():
    prices = make_prices()
    gappy = prices.copy()
    gappy.iloc[5:8, 1] = np.nan  # 3 rows > max_gap=2
    gappy.iloc[12:14, 1] = np.nan  # 2 rows <= max_gap
    dropped = clean_prices(gappy, max_gap=2)
    assert dropped.prices.columns.tolist() == ["AAA", "CCC"]
    assert dropped.report["dropped_assets"] == {"BBB": f"3 missing of {len(prices)}"}
    assert dropped.report["filled_cells"] == {}
    assert dropped.report["assets"] == 2 and dropped.report["assets_raw"] == 3

    kept = clean_prices(gappy, max_gap=2, missing="keep")
    bbb = kept.prices["BBB"]
    assert bbb.isna().to_numpy().nonzero()[0].tolist() == [5, 6, 7]
    np.testing.assert_array_equal(bbb.iloc[12:14], prices["BBB"].iloc[11])
    assert kept.report["filled_cells"] == {"BBB": 2}
    assert kept.report["missing_cells"] == {"BBB": 3}
    assert kept.report["dropped_assets"] == {}
    assert kept.report["missing"] == "keep"

    nothing = clean_prices(gappy, max_gap=0, missing="keep")
    assert nothing.report["filled_cells"] == {}
    assert nothing.prices["BBB"].isna().sum() == 5


def test_leading_and_trailing_nan_are_never_filled():
    prices = make_prices(tickers=("AAA", "BBB", "CCC", "DDD"))
    gappy = prices.copy()
    gappy.iloc[:2, 0] = np.nan  # listed late
    gappy.iloc[-1:, 2] = np.nan  # delisted
    kept = clean_prices(gappy, max_gap=100, missing="keep")
    assert kept.report["filled_cells"] == {}
    assert kept.prices["AAA"].isna().to_numpy().nonzero()[0].tolist() == [0, 1]
    assert kept.prices["CCC"].isna().to_numpy().nonzero()[0].tolist() == [len(prices) - 1]
    dropped = clean_prices(gappy, max_gap=100)
    assert dropped.prices.columns.tolist() == ["BBB", "DDD"]
    assert dropped.report["dropped_assets"] == {
        "AAA": f"2 missing of {len(prices)}",
        "CCC": f"1 missing of {len(prices)}",
    }


def test_asset_without_any_price_is_dropped_even_when_keeping_nan():
    prices = make_prices()
    prices["DDD"] = np.nan
    data = clean_prices(prices, missing="keep")
    assert "DDD" not in data.prices.columns
    assert data.report["dropped_assets"] == {"DDD": f"no prices in range ({len(prices)} rows)"}


def test_large_move_reported_not_removed():
    prices = make_prices()
    prices.iloc[8:, 1] *= 0.4  # -60% split-like drop on row 8
    prices.iloc[15:, 2] *= 1.45  # +45%: below the threshold
    data = clean_prices(prices)
    assert data.report["large_moves"] == [
        {
            "ticker": "BBB",
            "date": prices.index[8].strftime("%Y-%m-%d"),
            "return": pytest.approx(prices["BBB"].iloc[8] / prices["BBB"].iloc[7] - 1),
        }
    ]
    assert data.report["large_moves"][0]["return"] < -0.5
    pd.testing.assert_frame_equal(data.prices, prices, check_freq=False)


def test_tickers_and_inclusive_date_range():
    prices = make_prices(tickers=("AAA", "BBB", "CCC", "DDD"))
    start, end = prices.index[3], prices.index[10]
    data = clean_prices(
        prices,
        tickers=["DDD", "BBB"],
        start=start.strftime("%Y-%m-%d"),
        end=end.strftime("%Y-%m-%d"),
    )
    assert data.prices.columns.tolist() == ["DDD", "BBB"]
    assert data.prices.index[0] == start and data.prices.index[-1] == end
    assert data.report["start"] == start.strftime("%Y-%m-%d")
    assert data.report["end"] == end.strftime("%Y-%m-%d")
    assert data.report["rows"] == 8 and data.report["assets"] == 2


def test_date_range_applies_before_dropping_incomplete_assets():
    prices = make_prices()
    prices.iloc[:10, 0] = np.nan  # AAA listed on row 10
    assert "AAA" not in clean_prices(prices).prices.columns
    later = clean_prices(prices, start=prices.index[10].strftime("%Y-%m-%d"))
    assert later.prices.columns.tolist() == ["AAA", "BBB", "CCC"]


def test_problems_outside_the_selection_are_ignored():
    prices = make_prices().astype(object)
    prices.iloc[2, 0] = -1.0
    prices.iloc[3, 1] = "oops"
    data = clean_prices(prices, start=prices.index[5].strftime("%Y-%m-%d"))
    assert data.prices.shape == (15, 3)
    assert clean_prices(prices, tickers=["CCC", "BBB"], start="2020-01-07").prices.shape[1] == 2


# --------------------------------------------------------------------------------------------
# errors


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_error_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"price file not found: .*nope\.csv \(check data\.path\)"):
        load_prices("csv", path=tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"price file is empty"),
        ("date,AAA,BBB\n", r"price file has no rows"),
        (
            "AAA,BBB\n1.0,2.0\n3.0,4.0\n",
            r"no date column in prices\.csv: column 'AAA' holds numbers",
        ),
        ("when,AAA\nfoo,1\nbar,2\n", r"no parseable date column in prices\.csv: .*'foo'"),
        ("date,AAA\n2020-01-02,1\nlater,2\n", r"unparseable date 'later' in prices\.csv, row 2"),
        ("date\n2020-01-02\n", r"has no price columns"),
        ("date,ticker,volume\n2020-01-02,AAA,100\n", r"no price column \(add one named close"),
        ("date,AAA,AAA\n2020-01-02,1,2\n", r"repeated columns in prices\.csv: AAA"),
        (
            "date,ticker,close\n2020-01-02,AAA,1\n2020-01-02,AAA,2\n",
            r"repeated rows in prices\.csv: AAA on 2020-01-02",
        ),
    ],
)
def test_error_unreadable_csv(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_prices("csv", path=write(tmp_path, text))


def test_error_corrupt_gzip(tmp_path):
    path = tmp_path / "prices.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match=r"cannot read price file .*prices\.csv\.gz"):
        read_price_csv(path)


def test_error_directory_instead_of_file(tmp_path):
    with pytest.raises(InputError, match=r"price path is not a file"):
        read_price_csv(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"source": "yahoo"},
            r"unknown price source 'yahoo' \(use one of: sample, csv, synthetic\)",
        ),
        ({"source": "csv"}, r"price source csv needs a path \(set data\.path"),
        ({"source": "synthetic", "path": "x.csv"}, r"path was given but the source is synthetic"),
        ({"source": "csv", "path": "x.csv", "synthetic": {"assets": 3}}, r"synthetic options"),
        ({"source": "synthetic", "synthetic": {"assets": 1}}, r"synthetic assets must be >= 2"),
        ({"source": "synthetic", "synthetic": {"days": 2}}, r"synthetic days must be >= 3"),
        (
            {"source": "synthetic", "synthetic": {"sizes": 2}},
            r"unknown synthetic option\(s\): sizes",
        ),
        (
            {"source": "synthetic", "synthetic": {"start": "someday"}},
            r"cannot parse synthetic start",
        ),
        ({"source": "synthetic", "missing": "fill"}, r"unknown missing mode 'fill' \(use one of"),
        ({"source": "synthetic", "max_gap": -1}, r"max_gap must be >= 0, got -1"),
    ],
)
def test_error_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        load_prices(**kwargs)


def test_error_duplicate_dates(tmp_path):
    text = "date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,1,2\n2020-01-03,1,2\n"
    with pytest.raises(
        InputError, match=r"duplicate dates in prices\.csv: 2020-01-03 \(remove the repeated rows\)"
    ):
        load_prices("csv", path=write(tmp_path, text))


def test_error_unknown_tickers():
    prices = make_prices(tickers=tuple(f"T{i}" for i in range(20)))
    with pytest.raises(
        InputError,
        match=r"unknown tickers: FOO, BAR \(available: T0, T1, T2, T3, T4, \.\.\. 15 more\)",
    ):
        clean_prices(prices, tickers=["T1", "FOO", "BAR"])


def test_error_empty_or_bad_date_range():
    prices = make_prices()
    with pytest.raises(
        InputError,
        match=r"no prices between 2021-01-01 and the end .*available: 2020-01-01 to 2020-01-28",
    ):
        clean_prices(prices, start="2021-01-01")
    with pytest.raises(InputError, match=r"start 2020-02-01 is after end 2020-01-01"):
        clean_prices(prices, start="2020-02-01", end="2020-01-01")
    with pytest.raises(InputError, match=r"cannot parse end date 'soon'"):
        clean_prices(prices, end="soon")


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        (
            "-3.0",
            r"non-positive price -3\.0 for BBB on 2020-01-06 in prices\.csv \(prices must be > 0",
        ),
        ("0", r"non-positive price 0\.0 for BBB on 2020-01-06"),
        ("abc", r"non-numeric price 'abc' for BBB on 2020-01-06 in prices\.csv"),
        ("inf", r"infinite price inf for BBB on 2020-01-06 .*must be finite"),
    ],
)
def test_error_bad_price(tmp_path, cell, match):
    text = f"date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,1,2\n2020-01-06,1,{cell}\n2020-01-07,1,2\n"
    with pytest.raises(InputError, match=match):
        load_prices("csv", path=write(tmp_path, text))


def test_missing_cell_is_not_an_error(tmp_path):
    text = "date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,1,\n2020-01-06,1,2.5\n"
    data = load_prices("csv", path=write(tmp_path, text))
    assert data.prices["BBB"].tolist() == [2.0, 2.0, 2.5]


def test_error_fewer_than_two_assets():
    prices = make_prices()
    prices.iloc[3:12, [0, 1]] = np.nan
    with pytest.raises(
        InputError,
        match=r"only 1 asset\(s\) left after cleaning .*use missing: keep, a later start date",
    ):
        clean_prices(prices)
    assert clean_prices(prices, missing="keep").prices.shape[1] == 3
    with pytest.raises(InputError, match=r"only 1 asset"):
        clean_prices(prices, tickers=["AAA"])


def test_error_fewer_than_two_dates():
    with pytest.raises(InputError, match=r"only 1 date\(s\) with prices left"):
        clean_prices(make_prices(), end="2020-01-01")


# --------------------------------------------------------------------------------------------
# synthetic market


def test_synthetic_is_deterministic_per_seed():
    a = synthetic_prices(assets=30, days=200, seed=7)
    b = synthetic_prices(assets=30, days=200, seed=7)
    c = synthetic_prices(assets=30, days=200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_synthetic_shape_names_and_calendar():
    prices = synthetic_prices(assets=12, days=300, seed=0, factors=2, start="2020-03-02")
    assert prices.shape == (300, 12)
    assert prices.columns[:2].tolist() == ["S0000", "S0001"] and prices.columns[-1] == "S0011"
    assert prices.index[0] == pd.Timestamp("2020-03-02")
    assert (prices.index.day_of_week < 5).all() and prices.index.is_unique
    assert (prices.to_numpy() > 0).all() and np.isfinite(prices.to_numpy()).all()
    np.testing.assert_array_equal(prices.iloc[0].to_numpy(), 100.0)
    assert synthetic_prices(assets=10_001, days=3).columns[-1] == "S10000"


def test_synthetic_returns_are_fat_tailed_with_plausible_vols():
    returns = synthetic_prices(assets=100, days=1000, seed=3).pct_change(fill_method=None).iloc[1:]
    pooled = returns.to_numpy().ravel()
    z = (pooled - pooled.mean()) / pooled.std()
    assert np.mean(z**4) - 3.0 > 1.0
    vols = returns.std()
    assert 0.008 < vols.min() and vols.max() < 0.035
    assert returns.mean().mean() > 0
    # the first factor is a market factor: assets co-move
    corr = np.corrcoef(returns.to_numpy().T)
    assert corr[np.triu_indices_from(corr, k=1)].mean() > 0.1


def test_synthetic_is_large_and_loads_cleanly():
    # speed is a benchmark's business (experiments/), not a timed test's
    big = synthetic_prices(assets=2000, days=1500, seed=1)
    assert big.shape == (1500, 2000)
    data = load_prices("synthetic", synthetic={"assets": 40, "days": 100, "seed": 5})
    assert_clean(data)
    assert data.prices.shape == (100, 40)
    assert data.report["synthetic"] == {
        "assets": 40,
        "days": 100,
        "seed": 5,
        "factors": 3,
        "start": "2015-01-02",
    }
    pd.testing.assert_frame_equal(
        data.prices, synthetic_prices(40, 100, 5), check_freq=False, check_index_type=False
    )


# --------------------------------------------------------------------------------------------
# real data in ../shared/data (skipped when absent)


def test_sp500_table():
    path = shared_file("sp500_close_2013_2018.csv.gz")
    data = load_prices("csv", path=path)
    assert_clean(data)
    report = data.report
    assert report["rows_raw"] == 1826 and report["assets_raw"] == 505
    assert report["rows"] == 1259
    assert report["all_missing_rows_dropped"] == 1826 - 1259
    # 470 tickers have no gap at all; BMY, ORCL and ICE have interior gaps of <= 5 rows
    assert report["filled_cells"] == {"BMY": 2, "ICE": 5, "ORCL": 2}
    assert report["assets"] == 473 and not data.prices.isna().any().any()
    assert clean_prices(read_price_csv(path), max_gap=0).report["assets"] == 470
    assert report["dropped_assets"]["ES"] == "10 missing of 1259"  # a 10-row gap
    moves = {(m["ticker"], m["date"]) for m in report["large_moves"]}
    assert {("DISCA", "2014-08-07"), ("DISCK", "2014-08-07"), ("NI", "2015-07-02")} <= moves


def test_us20_table_leading_nan():
    path = shared_file("us20_stock_prices_1990_2018.csv.gz")
    data = load_prices("csv", path=path)
    assert "FB" in data.report["dropped_assets"] and data.report["filled_cells"] == {}
    kept = load_prices("csv", path=path, missing="keep")
    assert kept.prices.shape == (7126, 20)
    first = kept.prices["FB"].first_valid_index()
    assert first == pd.Timestamp("2012-05-18")
    assert kept.prices["FB"].loc[first:].notna().all()
    late = load_prices("csv", path=path, start="2015-01-01")
    assert late.prices.shape[1] == 20
