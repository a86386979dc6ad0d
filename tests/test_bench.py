import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.cli import app
from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.bench import BenchCase, run_bench, summarize, tts99

from helpers import REPO, make_returns


def test_tts99_formula():
    assert tts99(0.01, 0.5) == pytest.approx(0.01 * math.log(0.01) / math.log(0.5))
    assert tts99(0.01, 1.0) == 0.01
    assert tts99(0.01, 0.0) == math.inf


def test_parse_cases():
    case = BenchCase.parse("tabu:timeout=50,tenure=5")
    assert (case.solver, case.params, case.polish) == ("tabu", {"timeout": 50, "tenure": 5}, False)
    case = BenchCase.parse("sa+polish:beta_range=[1, 10]")
    assert case.polish and case.params == {"beta_range": [1, 10]}
    assert case.label == "sa+polish:beta_range=[1, 10]"
    with pytest.raises(InputError, match="unknown solver"):
        BenchCase.parse("nope")
    with pytest.raises(InputError, match="key=value"):
        BenchCase.parse("tabu:timeout")


def test_summary_counts_hits_within_tolerance_and_misses_infeasible():
    best = -2.0
    objectives = np.array([-2.0, -2.0 * (1 - 5e-10), -1.9, np.inf])
    row = summarize(
        BenchCase("sa"), wall=0.4, repeats=[objectives[:2], objectives[2:]], best_known=best
    )
    assert row["hit_rate"] == 0.5
    assert row["feasible_fraction"] == 0.75
    assert row["time_per_read"] == pytest.approx(0.1)
    assert row["gap"] == 0.0
    assert row["median_gap"] == pytest.approx(0.0 + (-2.0 * (1 - 5e-10) + 2.0) / 2)
    assert row["tts99"] == pytest.approx(0.1 * math.log(0.01) / math.log(0.5))
    assert row["repeats_hit"] == 0.5


def test_run_bench_best_known_is_the_exact_optimum():
    qubo = build_qubo(
        make_returns(100, 10, seed=3), k=3, xi=0.5, windows={"length": 25, "step": 15}
    )
    optimum = decode(solve(qubo, "exact"), qubo).best.objective
    result = run_bench(
        qubo,
        [BenchCase("exact"), BenchCase("sa", {"num_sweeps": 50})],
        reads=4,
        repeats=2,
        penalty_scale=0.1,
    )
    assert result.best_known == pytest.approx(optimum)
    table = result.table.set_index("solver")
    assert table.loc["exact", "gap"] == 0.0
    assert table.loc["exact", "hit_rate"] == 0.25  # 1 optimum among 4 distinct subsets
    assert table.loc["sa", "reads"] == 8
    assert (table["hit_rate"].between(0, 1)).all()
    given = run_bench(
        qubo, [BenchCase("exact")], reads=1, repeats=1, best_known=optimum + abs(optimum)
    )
    assert "found a better one" in given.best_known_source


def test_bench_cli_writes_table_markdown_and_plot(tmp_path):
    out = tmp_path / "b"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            str(REPO / "configs" / "default.yaml"),
            "--solver",
            "exact",
            "--solver",
            "tabu:timeout=5",
            "--reads",
            "3",
            "--repeats",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(out / "bench.csv")
    assert table["solver"].tolist() == ["exact", "tabu"]
    assert {
        "time_per_read",
        "best_objective",
        "median_objective",
        "gap",
        "hit_rate",
        "tts99",
    } <= set(table)
    assert "| solver |" in (out / "bench.md").read_text()
    assert (out / "bench_objectives.png").stat().st_size > 5000


def test_bench_cli_needs_one_instance(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "exactly one of CONFIG" in result.stderr


def test_bench_refuses_instance_options_with_a_config(tmp_path):
    args = [
        "bench",
        str(REPO / "configs" / "default.yaml"),
        "--lookback",
        "50",
        "--out",
        str(tmp_path / "b"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--lookback: only without a CONFIG" in result.stderr
    result = CliRunner().invoke(app, ["bench", "--prices", str(tmp_path / "no.csv")])
    assert result.exit_code == 2 and "check --prices" in result.stderr


def test_bench_uses_an_absolute_penalty_when_given():
    qubo = build_qubo(
        make_returns(100, 10, seed=3), k=3, xi=0.0, windows={"length": 25, "step": 15}
    )
    cases = [BenchCase("exact"), BenchCase("exact-bqm")]
    strong = run_bench(qubo, cases, reads=1, repeats=1, penalty_scale=0.0, penalty=1.0)
    assert strong.table.set_index("solver").loc["exact-bqm", "feasible_fraction"] == 1.0
    none = run_bench(qubo, cases, reads=1, repeats=1, penalty_scale=1.0, penalty=0.0)
    assert none.table.set_index("solver").loc["exact-bqm", "feasible_fraction"] == 0.0


def test_bench_without_a_config_names_its_options_in_messages(tmp_path):
    """--prices / --synthetic set the instance by options: errors and notes name those
    options (--k, --window-length, --max-gap), not config keys the user cannot set."""
    dates = pd.bdate_range("2021-01-04", periods=160)
    rng = np.random.default_rng(0)
    prices = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (160, 6)), axis=0)),
        index=pd.Index(dates, name="date"),
        columns=[f"S{i}" for i in range(6)],
    )
    prices.iloc[150, 2] = np.nan  # one gap in the span used
    path = tmp_path / "prices.csv"
    prices.to_csv(path)
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "--prices", str(path), "--out", str(tmp_path / "a")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --k = 30 is out of range: choose 1 <= k < 5 (the number of assets)"
    ]
    args = ["bench", "--prices", str(path), "--k", "2", "--solver", "exact", "--repeats", "1"]
    result = runner.invoke(app, [*args, "--reads", "1", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "note: asset S2 dropped" in result.stderr and "--max-gap N fills gaps" in result.stderr
    assert "data.max_gap" not in result.stderr
    result = runner.invoke(
        app, ["bench", "--synthetic", "8", "--window-length", "0", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 2 and "--window-length = 0 must be" in result.stderr
