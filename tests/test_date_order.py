"""Two-digit years written first (``yy/mm/dd``) and prices that are not daily.

``15/01/02`` is 2015-01-02 year first or 2002-01-15 day first: when both readings fit every
row, the date order of the rows decides (only one reading puts them in order) or the file is
refused naming ``data.date_format``. Weekly or monthly prices would be annualized as daily:
they are refused. Every readable case is compared with the same prices written with ISO dates.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_data_formats import load_text, make_prices, plain, refused
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.core.data import load_prices, require_daily
from qubo_portfolio.core.detect import parse_dates

NOT_DAILY = (
    r"prices in prices\.csv are {kind} \(median {gap} days between dates\): qubo-portfolio "
    r"annualizes daily returns \(252 a year\); give daily prices$"
)


def sorted_long(prices: pd.DataFrame, by: tuple[str, str], fmt: str) -> str:
    """The prices as a long ``ticker,date,close`` text, rows sorted by ``by``."""
    long = prices.stack().rename("close").reset_index()
    long.columns = ["date", "ticker", "close"]
    long = long.sort_values(list(by), kind="stable")[["ticker", "date", "close"]]
    return long.to_csv(index=False, date_format=fmt)


# --------------------------------------------------------------------------------------------
# year first or year last


@pytest.mark.parametrize("sep", ["/", "-", "."])
def test_year_first_two_digit_dates_in_order(tmp_path, sep):
    prices = make_prices(start="2015-01-02", rows=150)
    data = load_text(tmp_path, prices.to_csv(date_format=f"%y{sep}%m{sep}%d"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    dates = data.report["input"]["dates"]
    assert dates["format"] == f"%y{sep}%m{sep}%d"
    assert dates["decided"] == (
        f"year-first: the rows are in date order as year-first (%y{sep}%m{sep}%d), "
        f"not as day-first (%d{sep}%m{sep}%y)"
    )


def test_year_first_newest_first(tmp_path):
    prices = make_prices(start="2015-01-02", rows=150)
    data = load_text(tmp_path, prices.iloc[::-1].to_csv(date_format="%y/%m/%d"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["format"] == "%y/%m/%d"


def test_year_first_when_no_year_last_reading_fits(tmp_path):
    prices = make_prices(start="1995-06-01", rows=40)  # 95 is no day and no month
    data = load_text(tmp_path, prices.to_csv(date_format="%y/%m/%d"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["decided"] == (
        "year-first: '95/06/01' (row 1) is neither day-first nor month-first; the rows are in "
        "date order"
    )


def test_a_day_first_file_with_one_impossible_date_is_refused_not_read_year_first(tmp_path):
    """DD/MM/YY from 2005-2008 also reads as YY/MM/DD; a typo (29/02/07) makes day-first
    fail, but year-first puts the rows out of order: the typo is named, nothing is guessed."""
    prices = make_prices(start="2005-01-03", rows=900)
    text = prices.to_csv(date_format="%d/%m/%y").replace("\n28/02/07,", "\n29/02/07,")
    assert "29/02/07" in text
    refused(r"unparseable date '29/02/07' in prices\.csv, row \d+", load_text, tmp_path, text)


@pytest.mark.parametrize("fmt", ["%d/%m/%y", "%d.%m.%y", "%d-%m-%y"])
def test_day_first_two_digit_years_2010_to_2012_still_load(tmp_path, fmt):
    # every row also reads year first (10/06/01 could be 2010-06-01): the order decides
    prices = make_prices(start="2010-03-01", rows=700)
    data = load_text(tmp_path, prices.to_csv(date_format=fmt))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    dates = data.report["input"]["dates"]
    sep = fmt[2]
    assert dates["format"] == fmt
    assert dates["decided"] == (
        f"day-first: '{prices.index[10]:{fmt}}' (row 11) cannot be month-first; the rows are in "
        f"date order as day-first ({fmt}), not as year-first (%y{sep}%m{sep}%d)"
    )


def test_month_first_two_digit_years_are_not_read_year_first(tmp_path):
    # the day in the middle (13 and more) is no month: year-first does not fit
    prices = make_prices(start="2010-03-01", rows=100)
    data = load_text(tmp_path, prices.to_csv(date_format="%m/%d/%y"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["decided"].startswith("month-first: ")


def test_both_readings_in_order_is_refused_and_date_format_settles_it(tmp_path):
    # within one month: 15/01/02, 15/01/05, ... also rise read as 2002-01-15, 2005-01-15, ...
    prices = make_prices(start="2015-01-02", rows=20)
    text = prices.to_csv(date_format="%y/%m/%d")
    message = refused(
        r"ambiguous dates in prices\.csv, column 'date': every date reads as day-first and as "
        r"year-first \('15/01/02' is 2002-01-15 or 2015-01-02\) and the rows are in date "
        r'order either way \(set data\.date_format: "%d/%m/%y" or "%y/%m/%d"\)$',
        load_text,
        tmp_path,
        text,
    )
    assert message.count("data.date_format") == 1
    data = load_text(tmp_path, text, date_format="%y/%m/%d")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["decided"] == "data.date_format"


def test_shuffled_rows_are_refused_and_date_format_settles_them(tmp_path):
    prices = make_prices(start="2015-01-02", rows=150)
    text = prices.sample(frac=1.0, random_state=0).to_csv(date_format="%y/%m/%d")
    refused(
        r"ambiguous dates .*the rows are in date order neither way "
        r'\(set data\.date_format: "%d/%m/%y" or "%y/%m/%d"\)$',
        load_text,
        tmp_path,
        text,
    )
    data = load_text(tmp_path, text, date_format="%y/%m/%d")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


def test_date_format_wins_over_the_order(tmp_path):
    # in order year first (and detected so); read day first because the key says so
    prices = make_prices(start="2015-01-02", rows=150)
    texts = pd.Series([f"{d:%y/%m/%d}" for d in prices.index])
    dates, how = parse_dates(texts, "prices.csv", "date")
    assert how["format"] == "%y/%m/%d" and (dates == prices.index).all()
    dates, how = parse_dates(texts, "prices.csv", "date", "%d/%m/%y")
    assert how["decided"] == "data.date_format" and dates[0] == pd.Timestamp("2002-01-15")
    # a whole file read that way has months between its dates: refused, not annualized
    text = prices.to_csv(date_format="%y/%m/%d")
    refused(r"are monthly, not daily", load_text, tmp_path, text, date_format="%d/%m/%y")


def test_all_three_readings_fit_is_refused_naming_every_pattern(tmp_path):
    prices = make_prices(start="2010-01-04", rows=150)  # 10/01/04: any field a day or a month
    text = prices.to_csv(date_format="%y/%m/%d")
    refused(
        r"every date reads as day-first, as month-first and as year-first \('10/01/04' is "
        r"2004-01-10 or 2004-10-01 or 2010-01-04\) "
        r'\(set data\.date_format: "%d/%m/%y" or "%m/%d/%y" or "%y/%m/%d"\)$',
        load_text,
        tmp_path,
        text,
    )
    data = load_text(tmp_path, text, date_format="%y/%m/%d")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


@pytest.mark.parametrize("by", [("ticker", "date"), ("date", "ticker")])
def test_long_file_year_first_in_order_within_each_ticker(tmp_path, by):
    prices = make_prices(start="2015-01-02", rows=150)
    data = load_text(tmp_path, sorted_long(prices, by, "%y-%m-%d"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    dates = data.report["input"]["dates"]
    assert dates["format"] == "%y-%m-%d"
    assert "the rows (within each ticker) are in date order as year-first" in dates["decided"]


def test_long_file_shuffled_is_refused(tmp_path):
    prices = make_prices(start="2015-01-02", rows=150)
    text = sorted_long(prices, ("ticker", "date"), "%y-%m-%d").splitlines()
    shuffled = pd.Series(text[1:]).sample(frac=1.0, random_state=1).tolist()
    refused(
        r"the rows \(within each ticker\) are in date order neither way "
        r'\(set data\.date_format: "%d-%m-%y" or "%y-%m-%d"\)$',
        load_text,
        tmp_path,
        "\n".join([text[0], *shuffled]) + "\n",
    )


def test_long_file_day_first_two_digit_years(tmp_path):
    prices = make_prices(start="2011-05-02", rows=300)
    data = load_text(tmp_path, sorted_long(prices, ("ticker", "date"), "%d/%m/%y"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["format"] == "%d/%m/%y"


# --------------------------------------------------------------------------------------------
# daily or not


def spaced(freq: str, rows: int = 150) -> pd.DataFrame:
    prices = make_prices(rows=rows)
    prices.index = pd.date_range("2012-01-06", periods=rows, freq=freq, name="date")
    return prices


@pytest.mark.parametrize(
    ("freq", "kind", "gap"),
    [
        ("W-FRI", "weekly, not daily", "7"),
        ("ME", "monthly, not daily", "31"),
        ("BME", "monthly, not daily", "31"),
        ("QE", "quarterly, not daily", "91"),
        ("5D", "not daily", "5"),
    ],
)
def test_prices_that_are_not_daily_are_refused(tmp_path, freq, kind, gap):
    text = spaced(freq).to_csv()
    refused(NOT_DAILY.format(kind=kind, gap=gap), load_text, tmp_path, text)


def test_weekly_long_file_parquet_and_dataframe_are_refused(tmp_path):
    prices = spaced("W-FRI")
    long = sorted_long(prices, ("ticker", "date"), "%Y-%m-%d")
    refused(NOT_DAILY.format(kind="weekly, not daily", gap="7"), load_text, tmp_path, long)
    path = tmp_path / "prices.parquet"
    prices.to_parquet(path)
    refused(r"prices in prices\.parquet are weekly, not daily", load_prices, "parquet", path=path)
    refused(
        r"the DataFrame's prices are weekly, not daily",
        load_prices,
        "dataframe",
        frame=prices,
    )


@pytest.mark.parametrize("command", ["run", "data"])
def test_cli_refuses_weekly_prices_with_one_line(tmp_path, command):
    path = tmp_path / "prices.csv"
    spaced("W-FRI").to_csv(path)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"data:\n  source: csv\n  path: {path}\nmodel:\n  k: 2\n"
        "solver:\n  name: swap\n  num_reads: 4\nreport:\n  plots: false\n"
    )
    args = [command, str(config)] + (["--out", str(tmp_path / "out")] if command == "run" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        "error: prices in prices.csv are weekly, not daily (median 7 days between dates): "
        "qubo-portfolio annualizes daily returns (252 a year); give daily prices"
    )


def test_daily_prices_with_a_two_week_halt_still_load(tmp_path):
    prices = make_prices(start="2021-06-01", rows=120)
    halted = prices.drop(prices.index[40:50])  # two weeks without a price
    data = load_text(tmp_path, halted.to_csv())
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, halted))


def test_seven_day_prices_still_load(tmp_path):
    crypto = make_prices(rows=100)
    crypto.index = pd.date_range("2021-06-01", periods=100, freq="D", name="date")
    pd.testing.assert_frame_equal(
        load_text(tmp_path, crypto.to_csv()).prices, plain(tmp_path, crypto)
    )
    assert require_daily(crypto.index) == 1.0
