"""The Python API refuses bad input with one InputError line (never a silently other result).

Found in a user trial of the API: returns in another order than oldest first, moments paired
by position instead of label, and inputs that failed deep inside pandas or numpy.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from qubo_portfolio import (
    PortfolioQubo,
    build_qubo,
    load_prices,
    simple_returns,
    window_bounds,
    window_moments,
)
from qubo_portfolio.errors import InputError
from qubo_portfolio.estimator import QuboSelection

from helpers import make_returns

WINDOWS = {"length": 40, "step": 20}
CALENDAR = {"length": 60, "unit": "calendar_days"}


def returns_table() -> pd.DataFrame:
    return make_returns(n_rows=160, n_assets=6, seed=3)


# --------------------------------------------------------------------------- row order


def test_rows_newest_first_are_refused_everywhere_naming_the_row_and_the_fix():
    returns = returns_table()
    newest_first = returns.iloc[::-1]
    message = (
        "returns rows are not oldest first: row 1 (2021-08-12) comes after row 0 (2021-08-13); "
        "sort them with returns.sort_index()"
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_qubo(newest_first, k=2, xi=0.5, windows=WINDOWS, lookback=100)
    with pytest.raises(InputError, match=re.escape(message)):
        window_bounds(newest_first.index, WINDOWS)
    good = window_bounds(returns.index, WINDOWS)
    with pytest.raises(InputError, match=re.escape(message)):
        window_moments(newest_first, good)
    with pytest.raises(InputError, match=re.escape(message.replace("returns", "X"))):
        QuboSelection(k=2, solver="exact").fit(newest_first)
    # sorted, the same table builds the model of the rows in date order
    sorted_back = build_qubo(newest_first.sort_index(), k=2, xi=0.5, windows=WINDOWS)
    np.testing.assert_array_equal(
        sorted_back.A, build_qubo(returns, k=2, xi=0.5, windows=WINDOWS).A
    )


def test_a_repeated_date_is_named():
    returns = returns_table()
    doubled = pd.concat([returns.iloc[:10], returns.iloc[9:]])  # row 9 twice, still sorted
    message = (
        "returns.index holds 2021-01-15 twice (rows 9 and 10): keep one row per date, e.g. "
        "returns[~returns.index.duplicated(keep='last')]"
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_qubo(doubled, k=2, xi=0.5)
    with pytest.raises(InputError, match="holds 2021-01-15 twice"):
        QuboSelection(k=2, solver="exact").fit(doubled)


def test_shuffled_rows_with_calendar_windows_get_the_order_error_not_an_empty_window():
    shuffled = returns_table().sample(frac=1.0, random_state=0)
    with pytest.raises(
        InputError,
        match=r"^returns rows are not oldest first: row 3 \(2021-01-13\) .*sort_index\(\)$",
    ):
        build_qubo(shuffled, k=2, xi=0.5, windows=CALENDAR, lookback=120)


def test_any_sortable_index_is_checked_and_a_missing_date_named():
    returns = returns_table().reset_index(drop=True)  # integers: trading-day windows only
    assert build_qubo(returns, k=2, xi=0.5, windows=WINDOWS).num_windows == 7
    with pytest.raises(InputError, match=r"row 1 \(158\) comes after row 0 \(159\)"):
        build_qubo(returns.iloc[::-1], k=2, xi=0.5, windows=WINDOWS)
    with pytest.raises(InputError, match="X rows are not oldest first"):
        QuboSelection(k=2, solver="exact").fit(returns.iloc[::-1])  # before the placeholders
    dated = returns_table()
    dated.index = dated.index.where(np.arange(len(dated)) != 5, pd.NaT)
    with pytest.raises(InputError, match=r"returns row 5 has no date \(NaT\): drop it"):
        build_qubo(dated, k=2, xi=0.5)


def test_date_strings_are_ordered_as_dates_not_as_text():
    returns = returns_table().iloc[:4, :3]
    returns.index = ["1/10/2021", "1/5/2021", "1/6/2021", "1/7/2021"]  # text order, not dates
    with pytest.raises(InputError, match=r"row 1 \(2021-01-05\) comes after row 0 \(2021-01-10\)"):
        build_qubo(returns, k=1, xi=0.5)
    returns.index = [f"d{i}" for i in range(4)]
    with pytest.raises(InputError, match="labels such as 'd0' are not dates"):
        build_qubo(returns, k=1, xi=0.5)
    with pytest.raises(InputError, match="calendar-day windows need returns with a DatetimeIndex"):
        build_qubo(returns, k=1, xi=0.5, windows={"unit": "calendar_days"})


def test_the_loaders_sort_so_the_cli_path_is_unaffected():
    """Prices read through load_prices (the CLI's path) come back oldest first."""
    prices = make_returns(n_rows=120, n_assets=5, seed=8).add(1).cumprod() * 100
    newest_first = load_prices("dataframe", frame=prices.iloc[::-1], max_gap=0)
    returns = simple_returns(newest_first.prices)
    assert returns.index.is_monotonic_increasing
    expected = simple_returns(load_prices("dataframe", frame=prices, max_gap=0).prices)
    a = build_qubo(returns, k=2, xi=0.5, windows=WINDOWS).A
    np.testing.assert_array_equal(a, build_qubo(expected, k=2, xi=0.5, windows=WINDOWS).A)


# --------------------------------------------------------------------------- from_moments


def moments() -> tuple[pd.DataFrame, pd.Series]:
    returns = returns_table()
    return returns.cov(), returns.mean()


def plain_a(cov: np.ndarray, mean: np.ndarray, k: int, xi: float) -> np.ndarray:
    """``(cov - xi diag(mean)) / k^2`` in plain numpy."""
    return (cov - xi * np.diag(mean)) / k**2


def test_from_moments_pairs_a_pandas_mean_by_label():
    cov, mean = moments()
    expected = plain_a(cov.to_numpy(), mean.to_numpy(), 2, 1.5)
    aligned = PortfolioQubo.from_moments(cov, mean, k=2, xi=1.5)
    shuffled = PortfolioQubo.from_moments(cov, mean.sort_index(ascending=False), k=2, xi=1.5)
    np.testing.assert_allclose(aligned.A, expected, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(shuffled.A, aligned.A)
    assert shuffled.tickers == list(cov.index)


def test_from_moments_reorders_cov_columns_and_outer_to_the_index():
    cov, mean = moments()
    order = [3, 0, 5, 1, 4, 2]
    outer = pd.DataFrame(np.outer(mean, mean), index=mean.index, columns=mean.index)
    mixed = PortfolioQubo.from_moments(
        cov.iloc[:, order],
        mean.iloc[order],
        outer=outer.iloc[order, order[::-1]],
        k=2,
        xi=3.0,
        return_term="squared",
    )
    c, m = cov.to_numpy(), mean.to_numpy()
    np.testing.assert_allclose(mixed.A, (c - 3.0 * np.outer(m, m)) / 4, rtol=1e-15, atol=0)
    assert mixed.tickers == list(cov.index)


def test_from_moments_orders_labelled_inputs_by_the_tickers_given():
    cov, mean = moments()
    tickers = list(cov.index[::-1])
    qubo = PortfolioQubo.from_moments(cov, mean, k=2, xi=1.0, tickers=tickers)
    reverse = np.arange(len(tickers))[::-1]
    expected = plain_a(cov.to_numpy()[np.ix_(reverse, reverse)], mean.to_numpy()[reverse], 2, 1.0)
    np.testing.assert_allclose(qubo.A, expected, rtol=1e-15, atol=0)
    assert qubo.tickers == tickers
    # plain arrays are read by position, in the order of the tickers
    plain = PortfolioQubo.from_moments(cov.to_numpy(), mean.to_numpy(), k=2, tickers=list("abcdef"))
    np.testing.assert_allclose(plain.A, plain_a(cov.to_numpy(), mean.to_numpy(), 2, 0.0))


def test_from_moments_refuses_labels_that_do_not_match():
    cov, mean = moments()
    renamed = cov.rename(columns={"T05": "ZZZ"})
    with pytest.raises(
        InputError,
        match=re.escape(
            "cov's columns and cov's index hold different labels: missing T05; extra ZZZ"
        ),
    ):
        PortfolioQubo.from_moments(renamed, mean, k=2)
    with pytest.raises(
        InputError, match="mean's index and cov's index hold different labels: missing T05 \\(use"
    ):
        PortfolioQubo.from_moments(cov, mean.drop("T05"), k=2)
    with pytest.raises(InputError, match="extra 0, 1, 2, 3, 4"):  # a RangeIndex is no label
        PortfolioQubo.from_moments(cov, pd.Series(mean.to_numpy()), k=2)
    with pytest.raises(InputError, match="tickers must be distinct labels, one per asset: A"):
        PortfolioQubo.from_moments(cov, mean, k=2, tickers=["A", "A", "B", "C", "D", "E"])
    with pytest.raises(InputError, match="must be a sequence of labels, not one string"):
        PortfolioQubo.from_moments(cov.to_numpy()[:3, :3], [0, 0, 0], k=1, tickers="ABC")
    with pytest.raises(InputError, match="mean must hold numbers, got <U"):
        PortfolioQubo.from_moments(np.eye(3), ["0.1", "0.2", "0.3"], k=1)


@pytest.mark.parametrize(
    ("xi", "message"),
    [
        (None, "model.xi = None must be a number, not a NoneType"),
        ("0.5", "model.xi = '0.5' must be a number, not a str"),
        (True, "model.xi = True must be a number, not a bool"),
        (float("nan"), "model.xi = nan must be a finite number"),
    ],
)
def test_xi_must_be_a_number(xi, message):
    cov, mean = moments()
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        PortfolioQubo.from_moments(cov, mean, k=2, xi=xi)
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_qubo(returns_table(), k=2, xi=xi)
    qubo = PortfolioQubo.from_moments(cov, mean, k=2, xi=np.float32(0.5))
    assert type(qubo.xi) is float and qubo.xi == 0.5
    if xi is not None:  # with_params(xi=None) keeps xi
        with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
            qubo.with_params(xi=xi)


# --------------------------------------------------------------------------- build_qubo inputs


@pytest.mark.parametrize(
    ("returns", "kind"),
    [(returns_table().to_numpy(), "ndarray"), (returns_table()["T00"], "Series")],
)
def test_returns_must_be_a_dataframe(returns, kind):
    message = (
        f"returns must be a pandas DataFrame (rows = dates, columns = tickers), got {kind} "
        "(e.g. pd.DataFrame(values, index=dates, columns=tickers))"
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        build_qubo(returns, k=2, xi=0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lookback": 100.5}, "model.lookback = 100.5 must be a whole number of trading days"),
        ({"windows": {"length": 42.5}}, "windows.length = 42.5 must be a whole number of trading"),
        ({"windows": {"length": 42, "step": 2.5}}, "windows.step = 2.5 must be a whole number"),
        ({"windows": {"length": 42, "count": 2.5}}, "windows.count = 2.5 must be a whole number"),
        ({"windows": {"length": True}}, "windows.length = True must be a whole number"),
        ({"windows": [42, 21]}, "windows = [42, 21] must be a mapping such as {'length': 63"),
    ],
)
def test_counts_must_be_whole_numbers(options, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}"):
        build_qubo(returns_table(), k=2, xi=0.5, **options)


def test_numpy_integers_are_whole_numbers():
    qubo = build_qubo(
        returns_table(), k=2, xi=0.5, lookback=np.int64(120), windows={"length": np.int32(40)}
    )
    assert qubo.num_windows == 3


def test_columns_must_be_numbers_and_distinct():
    returns = returns_table()
    with pytest.raises(
        InputError, match=r"^returns columns T00 \((object|str)\), T01 \((object|str)\), "
    ):
        build_qubo(returns.astype(str), k=2, xi=0.5)
    with pytest.raises(InputError, match=r"columns T03 \(bool\) do not hold numbers"):
        build_qubo(returns.assign(T03=returns["T03"] > 0), k=2, xi=0.5)
    doubled = returns.set_axis(["T00", "T01", "T00", "T03", "T04", "T01"], axis=1)
    with pytest.raises(InputError, match="^returns has more than one column named T00, T01: "):
        build_qubo(doubled, k=2, xi=0.5)
    with pytest.raises(InputError, match="^returns has no columns"):
        build_qubo(returns.iloc[:, :0], k=2, xi=0.5)


def test_the_estimator_refuses_what_it_cannot_read():
    returns = returns_table()
    with pytest.raises(InputError, match="calendar-day windows need returns with a DatetimeIndex"):
        QuboSelection(k=2, solver="exact", windows=CALENDAR).fit(returns.to_numpy())
    with pytest.raises(InputError, match="X must be 2-dimensional .* X.to_frame"):
        QuboSelection(k=2, solver="exact").fit(returns["T00"])
    with pytest.raises(InputError, match="X must hold numbers"):
        QuboSelection(k=2, solver="exact").fit(returns.to_numpy().astype(str))
    with pytest.raises(InputError, match="X columns T00 .* do not hold numbers"):
        QuboSelection(k=2, solver="exact").fit(returns.astype(str))
    with pytest.raises(InputError, match="windows = \\[42\\] must be a mapping"):
        QuboSelection(k=2, solver="exact", windows=[42]).fit(returns)


# --------------------------------------------------------------------------- selections


def test_objective_names_unknown_tickers_and_reads_a_string_as_one_ticker():
    qubo = build_qubo(returns_table(), k=2, xi=0.5)
    unknown = "unknown tickers in selection: ZZZ (choose among T00, T01, T02, T03, T04, ...)"
    for selection in (["ZZZ"], {"ZZZ": 1}, pd.Series({"T00": 1, "ZZZ": 1}), "ZZZ"):
        with pytest.raises(InputError, match=f"^{re.escape(unknown)}$"):
            qubo.objective(selection)
    assert qubo.objective("T02") == qubo.A[2, 2]
    assert qubo.objective("T02") == qubo.objective(["T02"])
    pair = qubo.A[1, 1] + qubo.A[4, 4] + 2 * qubo.A[1, 4]
    assert qubo.objective(pd.Series({"T04": 1, "T01": 1})) == pytest.approx(pair, rel=1e-15)
    with pytest.raises(InputError, match="selection names T01 more than once"):
        qubo.objective(["T01", "T01"])
    with pytest.raises(InputError, match="selection vector has length 3, expected 6"):
        qubo.objective(np.ones(3))
    spin = {t: -1 for t in qubo.tickers} | {"T01": 1, "T04": 1}  # a SPIN sample
    with pytest.raises(InputError, match=r"^selection values must be 0 or 1, got \[-1, -1, -1\]$"):
        qubo.objective(spin)
    with pytest.raises(InputError, match=r"got \[0.5, 0.5\]"):
        qubo.objective(np.array([0, 0.5, 0, 0, 0.5, 0]))  # weights, not a selection
    with pytest.raises(InputError, match=r"got \[nan\]"):
        qubo.objective(pd.Series({"T01": 1, "T04": np.nan}))
