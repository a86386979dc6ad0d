import numpy as np
import pandas as pd
import pytest

from qubo_portfolio.core.returns import WindowSpec, apply_lookback, simple_returns, window_bounds
from qubo_portfolio.errors import InputError


def test_simple_returns_match_definition_and_keep_gaps():
    prices = pd.DataFrame(
        {"A": [10.0, 11.0, np.nan, 12.1], "B": [5.0, 4.0, 4.4, 4.4]},
        index=pd.bdate_range("2022-01-03", periods=4),
    )
    r = simple_returns(prices)
    assert len(r) == 3
    assert r["A"].iloc[0] == pytest.approx(0.1)
    assert np.isnan(r["A"].iloc[1]) and np.isnan(r["A"].iloc[2])  # no filling
    np.testing.assert_allclose(r["B"], [4 / 5 - 1, 4.4 / 4 - 1, 0.0])


def rows(index, **spec):
    return [(w.start, w.stop) for w in window_bounds(index, spec)]


def test_step_windows_are_end_anchored():
    index = pd.bdate_range("2020-01-01", periods=126)
    got = rows(index, length=21, step=10)
    expected = [(s, s + 21) for s in range(105, -1, -10)][::-1]
    assert got == expected
    assert got[-1][1] == 126 and got[0][0] == 5 and len(got) == 11


def test_count_windows_span_first_to_last_row():
    index = pd.bdate_range("2020-01-01", periods=100)
    got = rows(index, length=30, count=4)
    starts = [round(s) for s in np.linspace(0, 70, 4)]
    assert got == [(s, s + 30) for s in starts]
    assert rows(index, length=30, count=1) == [(70, 100)]


def test_default_windows_do_not_overlap_and_no_length_is_one_window():
    index = pd.bdate_range("2020-01-01", periods=100)
    assert rows(index, length=30) == [(10, 40), (40, 70), (70, 100)]
    assert rows(index) == [(0, 100)]


def test_calendar_windows_hold_dates_in_their_day_range():
    index = pd.bdate_range("2021-01-01", "2021-06-30")
    windows = window_bounds(index, {"length": 30, "step": 15, "unit": "calendar_days"})
    last = index[-1]
    span = (last - index[0]).days + 1
    offsets = list(range(span - 30, -1, -15))[::-1]
    assert len(windows) == len(offsets)
    for w, off in zip(windows, offsets, strict=True):
        lo = index[0] + pd.Timedelta(days=off)
        hi = lo + pd.Timedelta(days=30)
        inside = np.flatnonzero((index >= lo) & (index < hi))
        assert (w.start, w.stop) == (inside[0], inside[-1] + 1)
    assert windows[-1].last_date == last


def test_calendar_lookback_keeps_last_days():
    index = pd.bdate_range("2021-01-01", "2021-12-31")
    r = pd.DataFrame({"A": np.arange(len(index), dtype=float)}, index=index)
    kept = apply_lookback(r, 180, "calendar_days")
    assert kept.index[-1] == index[-1]
    assert (kept.index[-1] - kept.index[0]).days <= 179
    assert (index[-1] - index[len(index) - len(kept) - 1]).days >= 180
    assert len(apply_lookback(r, 10, "trading_days")) == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"length": 200}, "windows.length = 200 exceeds the 126 return rows"),
        ({"length": 1}, "at least 2 return rows"),
        ({"length": 20, "step": 5, "count": 3}, "both set"),
        ({"length": 120, "count": 10}, "exceeds the 7 distinct windows"),
        ({"length": 20, "unit": "weeks"}, "unknown"),
        ({"length": 20, "step": 0}, "must be >= 1"),
    ],
)
def test_bad_windows(spec, message):
    index = pd.bdate_range("2020-01-01", periods=126)
    with pytest.raises(InputError, match=message):
        window_bounds(index, spec)


def test_calendar_window_with_too_few_rows_names_both_numbers():
    index = pd.bdate_range("2021-01-01", periods=40)
    with pytest.raises(InputError, match=r"window of 2 calendar days holds [01] return rows"):
        window_bounds(index, WindowSpec(length=2, step=1, unit="calendar_days"))
