"""A researcher's own files, read right or refused: dates, columns, separators, numbers.

Every readable case is compared with the same prices written plainly (ISO dates, commas);
every ambiguous case must be refused with one line naming the ``data.*`` key that settles it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.core.data import describe_input, load_prices, read_price_frame
from qubo_portfolio.core.detect import sniff_separator
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.config import validate_config

TICKERS = ("AAA", "BBB", "CCC")


def make_prices(start: str = "2021-06-01", rows: int = 60, scale: float = 1.0) -> pd.DataFrame:
    """Distinct positive prices on business days (2 decimals, so every format can hold them)."""
    index = pd.bdate_range(start, periods=rows, name="date")
    steps = 1.0 + 0.01 * np.sin(np.arange(rows)[:, None] + np.arange(len(TICKERS)))
    values = scale * 100.0 * (1.0 + np.arange(len(TICKERS))) * np.cumprod(steps, axis=0)
    return pd.DataFrame(values.round(2), index=index, columns=list(TICKERS))


def plain(tmp_path: Path, prices: pd.DataFrame) -> pd.DataFrame:
    """The prices written plainly and loaded: the reference every other format must equal."""
    path = tmp_path / "plain.csv"
    prices.to_csv(path)
    return load_prices("csv", path=path).prices


def load_text(tmp_path: Path, text: str, name: str = "prices.csv", **options) -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_prices("csv", path=path, **options)


def to_long(prices: pd.DataFrame, names: tuple[str, str, str]) -> pd.DataFrame:
    long = prices.stack().reset_index()
    long.columns = list(names)
    return long.sample(frac=1.0, random_state=0)


def refused(match: str, call, *args, **kwargs) -> str:
    with pytest.raises(InputError, match=match) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------
# dates


@pytest.mark.parametrize(
    ("fmt", "decided"),
    [
        ("%d/%m/%Y", "day-first"),
        ("%m/%d/%Y", "month-first"),
        ("%d.%m.%Y", "day-first"),
        ("%d-%m-%Y", "day-first"),
        ("%d/%m/%y", "day-first"),
        ("%Y/%m/%d", "year first"),
        ("%Y%m%d", "YYYYMMDD"),
        ("%d %b %Y", "month names"),
    ],
)
def test_date_orders_read_from_the_whole_column(tmp_path, fmt, decided):
    # 2021-06-01 first: the first 9 rows fit both orders, the 10th (14 June) only one
    prices = make_prices()
    data = load_text(tmp_path, prices.to_csv(date_format=fmt))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    dates = data.report["input"]["dates"]
    assert dates["decided"].startswith(decided)
    assert dates["format"] == (None if decided == "month names" else fmt)


def test_day_first_decision_names_the_deciding_row(tmp_path):
    data = load_text(tmp_path, make_prices().to_csv(date_format="%d/%m/%Y"))
    assert data.report["input"]["dates"]["decided"] == (
        "day-first: '14/06/2021' (row 10) cannot be month-first"
    )


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"])
def test_ambiguous_dates_are_refused_and_date_format_settles_them(tmp_path, fmt):
    prices = make_prices(rows=120)
    prices = prices[prices.index.day <= 12]  # every row fits both orders
    text = prices.to_csv(date_format=fmt)
    message = refused(r"ambiguous dates .*set data\.date_format", load_text, tmp_path, text)
    assert "'01/06/2021' is 2021-06-01 or 2021-01-06" in message or fmt != "%d/%m/%Y"
    data = load_text(tmp_path, text, date_format=fmt)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["dates"]["decided"] == "data.date_format"


def test_date_format_wins_and_must_fit_every_row(tmp_path):
    prices = make_prices()
    text = prices.to_csv(date_format="%m/%d/%Y")  # detectable as month-first
    data = load_text(tmp_path, text, date_format="%m/%d/%Y")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    refused(
        r"date '06/14/2021' in prices\.csv, row 10 of column 'date' does not match "
        r"data\.date_format '%d/%m/%Y'",
        load_text,
        tmp_path,
        text,
        date_format="%d/%m/%Y",
    )


def test_ambiguous_long_file_is_refused(tmp_path):
    prices = make_prices(rows=120)
    prices = prices[prices.index.day <= 12]
    long = to_long(prices, ("date", "ticker", "close"))
    text = long.to_csv(index=False, date_format="%d/%m/%Y")
    refused(r"ambiguous dates .*data\.date_format", load_text, tmp_path, text)
    data = load_text(tmp_path, text, date_format="%d/%m/%Y")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


def test_day_first_long_file(tmp_path):
    prices = make_prices()
    long = to_long(prices, ("Date", "Symbol", "Close"))
    data = load_text(tmp_path, long.to_csv(index=False, date_format="%d.%m.%Y"))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        (["01/06/2021", "31/02/2021"], r"unparseable date '31/02/2021' in prices\.csv, row 2"),
        (["01/06/2021", "later"], r"unparseable date 'later' in prices\.csv, row 2"),
        (
            ["13/06/2021", "06/14/2021"],
            r"fit neither day-first nor month-first: '13/06/2021' \(row 1\) is not month-first "
            r"and '06/14/2021' \(row 2\) is not day-first \(set data\.date_format\)",
        ),
        (
            ["2021-06-01", "02/06/2021"],
            r"different styles: '2021-06-01' \(row 1\) and '02/06/2021' \(row 2\) "
            r"\(set data\.date_format",
        ),
    ],
)
def test_dates_that_fit_no_format_are_named(tmp_path, rows, match):
    text = "date,AAA,BBB\n" + "".join(f"{d},1,2\n" for d in rows)
    refused(match, load_text, tmp_path, text)


def test_timestamps_across_a_dst_change_keep_the_local_date(tmp_path):
    prices = make_prices(start="2021-03-01", rows=40)  # New York moves to -04:00 on 14 March
    stamped = prices.copy()
    stamped.index = (prices.index + pd.Timedelta(hours=16)).tz_localize("America/New_York")
    text = stamped.to_csv()
    assert "2021-03-12 16:00:00-05:00" in text and "2021-03-15 16:00:00-04:00" in text
    data = load_text(tmp_path, text)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    dates = data.report["input"]["dates"]
    assert dates["time_of_day"] is True and dates["utc_offsets"] == ["-04:00", "-05:00"]


def test_midnight_timestamps_are_not_moved_to_utc(tmp_path):
    # converting 2021-05-28 00:00:00-04:00 to UTC would keep the date, but +09:00 would not
    prices = make_prices(rows=20)
    offsets = ["+09:00", "-04:00", "Z", "+05:30"]
    stamps = [f"{d:%Y-%m-%d}T00:00:00{offsets[i % 4]}" for i, d in enumerate(prices.index)]
    text = prices.set_axis(pd.Index(stamps, name="timestamp")).to_csv()
    data = load_text(tmp_path, text)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert set(data.report["input"]["dates"]["utc_offsets"]) == {"+09:00", "-04:00", "Z", "+05:30"}


def test_day_first_timestamps(tmp_path):
    prices = make_prices()
    stamps = [f"{d:%d/%m/%Y} 17:30" for d in prices.index]
    data = load_text(tmp_path, prices.set_axis(pd.Index(stamps, name="Date")).to_csv())
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


def test_several_rows_on_one_date_are_an_error(tmp_path):
    text = "date,AAA,BBB\n2021-06-01 09:30:00,1,2\n2021-06-01 16:00:00,1,2\n2021-06-02 16:00,1,2\n"
    refused(r"several rows on 2021-06-01 in prices\.csv \(times of day", load_text, tmp_path, text)
    long = "date,ticker,close\n2021-06-01T09:30,AAA,1\n2021-06-01T16:00,AAA,2\n"
    refused(r"repeated rows in prices\.csv: AAA on 2021-06-01", load_text, tmp_path, long)


# --------------------------------------------------------------------------------------------
# columns


@pytest.mark.parametrize(
    "names",
    [
        ("trade_date", "symbol", "adj_close"),
        ("date", "permno", "prc"),
        ("Timestamp", "ISIN", "Close"),
        ("DATE", "TIC", "PRICE"),
        ("Trade Date", "Ticker", "Adj Close"),
    ],
)
def test_long_column_families(tmp_path, names):
    prices = make_prices()
    data = load_text(tmp_path, to_long(prices, names).to_csv(index=False))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    used = data.report["input"]["columns"]
    assert (used["date"], used["ticker"], used["price"]) == names
    assert data.report["value_column"] == names[2]


def test_yahoo_style_long_file_prefers_the_adjusted_close(tmp_path):
    prices = make_prices()
    long = to_long(prices, ("Date", "Ticker", "Adj Close"))
    for name, factor in (("Open", 0.9), ("High", 1.1), ("Low", 0.8), ("Close", 1.05)):
        long[name] = long["Adj Close"] * factor
    long["Volume"] = 1000
    data = load_text(tmp_path, long.to_csv(index=False))
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert "Adj Close preferred over Close" in data.report["input"]["columns_decided"]


def test_several_unadjusted_price_columns_are_refused(tmp_path):
    prices = make_prices()
    long = to_long(prices, ("date", "ticker", "close"))
    long["last"] = long["close"] * 2
    text = long.to_csv(index=False)
    refused(
        r"several price columns in prices\.csv: close, last \(set data\.columns\.price\)",
        load_text,
        tmp_path,
        text,
    )
    data = load_text(tmp_path, text, columns={"price": "last"})
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices * 2))


def test_columns_key_names_unusual_columns(tmp_path):
    prices = make_prices()
    text = to_long(prices, ("Datum", "Wertpapier", "Kurs")).to_csv(index=False)
    refused(r"no parseable date column|price", load_text, tmp_path, text)
    data = load_text(
        tmp_path, text, columns={"date": "Datum", "ticker": "Wertpapier", "price": "Kurs"}
    )
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["columns_decided"] == "data.columns"
    refused(
        r"data\.columns\.price = 'Preis' is not a column of prices\.csv",
        load_text,
        tmp_path,
        text,
        columns={"date": "Datum", "ticker": "Wertpapier", "price": "Preis"},
    )


def test_one_stock_table_could_be_long_or_wide(tmp_path):
    prices = make_prices()
    table = pd.DataFrame({"Open": prices["AAA"] * 0.9, "Close": prices["AAA"]})
    text = table.rename_axis("Date").to_csv()
    refused(
        r"price columns \(Close\) but no ticker column.*data\.columns", load_text, tmp_path, text
    )
    # a wide table whose tickers happen to be called Open and Close
    data = load_text(tmp_path, text, columns={"date": "Date"})
    assert data.prices.columns.tolist() == ["Open", "Close"]
    assert data.report["input"]["layout"] == "wide"


def test_ticker_column_without_a_date_column(tmp_path):
    text = "when,symbol,close\n2021-06-01,AAA,1\n"
    refused(
        r"long table prices\.csv has no date column .*data\.columns\.date",
        load_text,
        tmp_path,
        text,
    )


# --------------------------------------------------------------------------------------------
# separators and numbers


@pytest.mark.parametrize(
    ("sep", "name"), [("\t", "prices.tsv"), ("|", "prices.txt"), (";", "p.csv")]
)
def test_separators_are_sniffed(tmp_path, sep, name):
    prices = make_prices()
    data = load_text(tmp_path, prices.to_csv(sep=sep), name=name)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["sep"] == sep
    assert data.report["input"]["sep_decided"] == "sniffed"


def test_semicolon_and_decimal_comma_with_thousands(tmp_path):
    prices = make_prices(scale=20.0)  # prices above 1000
    assert (prices > 1000).any().any()

    def german(v: float) -> str:
        return f"{v:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")

    lines = ["Datum;" + ";".join(TICKERS)]
    lines += [
        f"{d:%d.%m.%Y};" + ";".join(german(v) for v in row)
        for d, row in zip(prices.index, prices.to_numpy(), strict=True)
    ]
    data = load_text(tmp_path, "\n".join(lines) + "\n")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    info = data.report["input"]
    assert (info["sep"], info["decimal"], info["thousands"]) == (";", ",", ".")


def test_semicolon_decimal_comma_long_and_gzipped(tmp_path):
    prices = make_prices()
    long = to_long(prices, ("date", "ticker", "close"))
    path = tmp_path / "long.csv.gz"
    long.to_csv(path, sep=";", decimal=",", index=False, date_format="%d/%m/%Y")
    data = load_prices("csv", path=path)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


def test_comma_thousands_in_quoted_cells(tmp_path):
    prices = make_prices(scale=20.0)
    lines = ["date," + ",".join(TICKERS)]
    lines += [
        f"{d:%Y-%m-%d}," + ",".join(f'"{v:,.2f}"' for v in row)
        for d, row in zip(prices.index, prices.to_numpy(), strict=True)
    ]
    data = load_text(tmp_path, "\n".join(lines) + "\n")
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["thousands"] == ","


def test_ambiguous_decimal_is_refused(tmp_path):
    text = "date;AAA;BBB\n2021-06-01;1.234;2.500\n2021-06-02;1.250;2.125\n"
    refused(r"cannot tell whether '1\.234' .*set data\.decimal", load_text, tmp_path, text)
    data = load_text(tmp_path, text, decimal=".")
    assert data.prices["AAA"].tolist() == [1.234, 1.25]
    data = load_text(tmp_path, text, decimal=",", thousands=".")
    assert data.prices["AAA"].tolist() == [1234.0, 1250.0]


def test_both_decimal_marks_are_refused(tmp_path):
    text = "date;AAA;BBB\n2021-06-01;1,5;2.5\n2021-06-02;1,25;2.25\n"
    refused(r"uses both decimal marks.*data\.decimal", load_text, tmp_path, text)


def test_wrong_decimal_mark_hints_the_key(tmp_path):
    text = "date;AAA;BBB\n2021-06-01;1,5;2,5\n2021-06-02;1,25;2,25\n"
    refused(r"non-numeric price '1,5' .*data\.decimal", load_text, tmp_path, text, decimal=".")


def test_separator_ambiguity_is_refused_and_sep_settles_it():
    lines = ["date;A,B", "2021-06-01;1,2", "2021-06-02;3,4"]
    refused(
        r"cannot tell the separator of f\.csv: ',' and ';' .*data\.sep",
        sniff_separator,
        lines,
        "f.csv",
    )
    assert sniff_separator(lines, "f.csv", ";") == (";", "data.sep")


def test_utf8_bom_header(tmp_path):
    prices = make_prices()
    path = tmp_path / "excel.csv"
    prices.rename_axis("Date").to_csv(path, encoding="utf-8-sig")
    data = load_prices("csv", path=path)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


# --------------------------------------------------------------------------------------------
# parquet and DataFrames


def test_parquet_wide_and_long(tmp_path):
    prices = make_prices()
    wide = tmp_path / "wide.parquet"
    prices.to_parquet(wide)
    data = load_prices("parquet", path=wide)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["file_type"] == "parquet"
    long = tmp_path / "long.parquet"
    to_long(prices, ("date", "symbol", "adj_close")).to_parquet(long, index=False)
    data = load_prices("csv", path=long)  # the content decides, not the source name
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))
    assert data.report["input"]["layout"] == "long"


def test_parquet_with_timezone_aware_timestamps(tmp_path):
    prices = make_prices(start="2021-03-01", rows=40)
    stamped = prices.copy()
    stamped.index = (prices.index + pd.Timedelta(hours=16)).tz_localize("America/New_York")
    path = tmp_path / "tz.parquet"
    stamped.rename_axis("timestamp").to_parquet(path)
    data = load_prices("parquet", path=path)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices))


def test_parquet_source_needs_a_parquet_file(tmp_path):
    path = tmp_path / "prices.csv"
    make_prices().to_csv(path)
    refused(r"not a Parquet file \(set data\.source: csv", load_prices, "parquet", path=path)


def test_dataframe_source(tmp_path):
    prices = make_prices()
    reference = plain(tmp_path, prices)
    data = load_prices("dataframe", frame=prices)
    pd.testing.assert_frame_equal(data.prices, reference)
    assert data.report["source"] == "dataframe" and data.report["input"]["file_type"] == "dataframe"
    day_first = prices.set_axis(prices.index.strftime("%d/%m/%Y"), axis=0).reset_index(names="Date")
    pd.testing.assert_frame_equal(load_prices("dataframe", frame=day_first).prices, reference)
    long = to_long(prices, ("date", "ticker", "close")).set_index(["date", "ticker"])
    pd.testing.assert_frame_equal(load_prices("dataframe", frame=long).prices, reference)
    ambiguous = day_first[prices.index.day <= 12]
    refused(r"ambiguous dates .*data\.date_format", load_prices, "dataframe", frame=ambiguous)
    raw = read_price_frame(ambiguous, date_format="%d/%m/%Y")
    assert raw.index[0] == pd.Timestamp("2021-06-01")


def test_source_option_errors(tmp_path):
    refused(r"price source dataframe needs a pandas DataFrame", load_prices, "dataframe")
    refused(r"data\.date_format was given but the source is sample", load_prices, date_format="%d")
    refused(r"a frame was given but the source is sample", load_prices, frame=make_prices())


# --------------------------------------------------------------------------------------------
# the report, the config and the CLI


def test_detection_report_is_json_and_printable(tmp_path):
    prices = make_prices()
    data = load_text(tmp_path, prices.to_csv(sep=";", decimal=",", date_format="%d/%m/%Y"))
    info = data.report["input"]
    assert json.loads(json.dumps(data.report)) == data.report
    assert {"file_type", "layout", "sep", "decimal", "thousands", "dates", "columns"} <= set(info)
    lines = describe_input(data.report)
    assert set(lines) == {"source", "file", "layout", "separator", "numbers", "dates", "columns"}
    assert all(isinstance(v, str) for v in lines.values())
    assert "%d/%m/%Y (day-first" in lines["dates"]
    assert describe_input(load_prices("synthetic").report) == {"source": "synthetic"}


def test_config_keys():
    cfg = validate_config(
        {
            "data": {
                "source": "csv",
                "path": "x.csv",
                "date_format": "%d/%m/%Y",
                "columns": {"date": "Datum", "price": "Kurs"},
                "sep": "tab",
                "decimal": ",",
                "thousands": ".",
            },
            "model": {"k": 2},
        }
    )
    assert cfg.data.read_options() == {
        "date_format": "%d/%m/%Y",
        "columns": {"date": "Datum", "price": "Kurs"},
        "sep": "\t",
        "decimal": ",",
        "thousands": ".",
    }
    for bad, match in [
        ({"date_format": "dd/mm/yyyy"}, "strptime"),
        ({"sep": ";;"}, "one character"),
        ({"decimal": ";"}, "data.decimal"),
        ({"columns": {"close": "x"}}, "unknown key"),
        ({"decimal": ",", "thousands": ","}, "both"),
    ]:
        with pytest.raises(InputError, match=match):
            validate_config({"data": {"source": "csv", "path": "x.csv", **bad}, "model": {"k": 2}})


def test_cli_refuses_ambiguous_dates_then_runs_with_date_format(tmp_path):
    prices = make_prices(rows=200)
    prices = prices[prices.index.day <= 12]
    path = tmp_path / "day_first.csv"
    prices.to_csv(path, date_format="%d/%m/%Y")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"data:\n  source: csv\n  path: {path}\nmodel:\n  k: 2\n  xi: 0.5\n"
        "solver:\n  name: swap\n  num_reads: 4\nreport:\n  plots: false\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(config), "--out", str(tmp_path / "a")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "data.date_format" in lines[0] and "ambiguous dates" in lines[0]
    result = runner.invoke(
        app,
        ["run", str(config), "--out", str(tmp_path / "b"), "--set", "data.date_format=%d/%m/%Y"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["data"]["input"]["dates"]["format"] == "%d/%m/%Y"
    assert summary["data"]["start"] == "2021-06-01"


def test_filtered_frame_index_is_not_a_column(tmp_path):
    prices = make_prices()
    frame = prices.reset_index().iloc[5:]  # an integer index that is not a RangeIndex
    data = load_prices("dataframe", frame=frame)
    assert data.prices.columns.tolist() == list(TICKERS)
    pd.testing.assert_frame_equal(data.prices, plain(tmp_path, prices.iloc[5:]))


def test_a_text_line_after_the_data_is_named_as_a_footer(tmp_path):
    rows = "".join(f"2021-06-{d:02d},1,2\n" for d in range(1, 9))
    text = "date,AAA,BBB\n" + rows + "Source: Bloomberg,,\n"
    refused(
        r"unparseable date 'Source: Bloomberg' in prices\.csv, row 9 of column 'date' "
        r"\(a note after the data\? delete that row\)",
        load_text,
        tmp_path,
        text,
    )
    lines = rows.splitlines(keepends=True)
    middle = "date,AAA,BBB\n" + lines[0] + "see below,1,2\n" + "".join(lines[1:])
    message = refused(r"unparseable date 'see below'", load_text, tmp_path, middle)
    assert "use dates like 2020-01-31" in message


@pytest.mark.parametrize(("price", "crsp"), [("-7.5", True), ("0", False)])
def test_a_non_positive_price_is_named_and_a_negative_one_hints_at_crsp(tmp_path, price, crsp):
    text = "date,AAA,BBB\n2021-06-01,1,2\n2021-06-02," + price + ",2\n2021-06-03,1,2\n"
    message = refused(r"non-positive price .* for AAA on 2021-06-02", load_text, tmp_path, text)
    assert ("CRSP's prc" in message) == crsp


def test_three_decimal_prices_in_a_comma_file_are_decimals(tmp_path):
    """101.123 could be a thousands separator; in a comma-separated file it is the decimal
    point (a crash before: the sniffer compared None with '.,')."""
    text = "date,AAA,BBB\n" + "".join(
        f"2021-06-{d:02d},101.{d:03d},50.4{d:02d}\n" for d in range(1, 9)
    )
    prices = load_text(tmp_path, text).prices
    assert prices["AAA"].iloc[0] == pytest.approx(101.001)
    assert prices["BBB"].iloc[-1] == pytest.approx(50.408)
