"""Export round trips: write the model, read it back with dimod, solve it exactly."""

from __future__ import annotations

import itertools
import json

import dimod
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.cli import app
from qubo_portfolio.errors import InputError
from qubo_portfolio.output.export import FORMATS, export_model, load_model, lp_label, lp_labels

from helpers import make_returns

SCHEME = {"length": 25, "step": 15}


def small_qubo(positions, columns=None):
    n = 6 if positions == "long_short" else 10
    r = make_returns(100, n, seed=11)
    if columns is not None:
        r.columns = columns
    return build_qubo(r, k=3, xi=0.5, windows=SCHEME, positions=positions)


def exact_optimum(qubo):
    return decode(solve(qubo, "exact"), qubo).best


def cqm_feasible_minimum(cqm):
    """Brute force: the objective of all 2^n states, the lowest that ``check_feasible`` takes."""
    variables = list(cqm.variables)
    states = np.array(list(itertools.product([0, 1], repeat=len(variables))), dtype=np.int8)
    values = cqm.objective.energies((states, variables))
    for r in np.argsort(values, kind="stable"):
        sample = dict(zip(variables, states[r].tolist(), strict=True))
        if cqm.check_feasible(sample):
            return sample, float(values[r])
    raise AssertionError("no feasible state")


@pytest.mark.parametrize("positions", ["long_only", "long_short"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_gives_the_same_minimizer(tmp_path, fmt, positions):
    qubo = small_qubo(positions)
    best = exact_optimum(qubo)
    path = tmp_path / f"model.{fmt}"
    info = export_model(qubo, path, fmt, penalty_scale=1.0, exclusion_scale=1.0)
    assert info["format"] == fmt and info["variables"] == qubo.variables
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left
    loaded = load_model(path, fmt)
    if fmt in ("bqm", "qubo-json"):
        if fmt == "qubo-json":
            loaded, meta = loaded
            assert meta["k"] == 3 and meta["xi"] == 0.5 and meta["positions"] == positions
            assert meta["variables"] == qubo.variables
            assert meta["penalty"] == pytest.approx(qubo.penalty_bound())
            assert meta["exclusion_penalty"] == (
                pytest.approx(qubo.exclusion_bound()) if positions == "long_short" else None
            )
        assert loaded == qubo.to_bqm(scale=1.0)  # exactly the same biases
        ground = dimod.ExactSolver().sample(loaded).first
        assert [v for v in qubo.variables if ground.sample[v]] == best.legs
        assert ground.energy == pytest.approx(best.objective, rel=1e-9)
    else:
        names = lp_labels([*qubo.variables, "cardinality"]) if fmt == "lp" else None
        sample, value = cqm_feasible_minimum(loaded)
        if fmt == "lp":
            sample = {label: sample[name] for label, name in names.items() if name in sample}
        else:
            assert loaded.objective.is_equal(qubo.to_cqm().objective)
        assert [v for v in qubo.variables if sample[v]] == best.legs
        assert value == pytest.approx(best.objective, rel=1e-9)
        assert len(loaded.constraints) == (1 + qubo.num_assets if positions == "long_short" else 1)


def test_lp_names_and_header(tmp_path):
    columns = ["BRK-B", "3M", "E.ON", "AAPL", "X:Y", "KO"]
    qubo = small_qubo("long_short", columns)
    assert lp_label("BRK-B") == "BRK_B" and lp_label("3M") == "x_3M"
    assert lp_label("E.ON") == "x_E.ON" and lp_label("long:BRK-B") == "long_BRK_B"
    path = tmp_path / "m.lp"
    info = export_model(qubo, path)
    renamed = info["lp_renamed"]
    assert renamed["long:3M"] == "long_3M" and renamed["one_side:X:Y"] == "one_side_X_Y"
    text = path.read_text()
    assert "\\ label long_BRK_B = long:BRK-B" in text.splitlines()
    loaded = load_model(path)
    assert set(loaded.variables) == {lp_label(v) for v in qubo.variables}
    sample, _ = cqm_feasible_minimum(loaded)
    back = {v: sample[lp_label(v)] for v in qubo.variables}
    assert [v for v in qubo.variables if back[v]] == exact_optimum(qubo).legs
    with pytest.raises(InputError, match="both become 'A_B'"):
        lp_labels(["A-B", "A_B"])


def test_existing_files_are_kept_unless_forced(tmp_path):
    qubo = small_qubo("long_only")
    path = tmp_path / "m.bqm"
    path.write_text("old")
    with pytest.raises(
        InputError, match=r"path .*m.bqm exists \(choose another path, or force=True"
    ):
        export_model(qubo, path)
    assert path.read_text() == "old"
    export_model(qubo, path, force=True)
    assert load_model(path) == qubo.to_bqm()
    with pytest.raises(InputError, match="give fmt"):  # the Python API names its arguments
        export_model(qubo, tmp_path / "m.txt")
    with pytest.raises(InputError, match="unknown export format"):
        export_model(qubo, tmp_path / "m.txt", "mps")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bqm"]


def test_export_command(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "sample", "tickers": ["AAPL", "JNJ", "KO", "PEP", "XOM", "JPM"]},
                "model": {
                    "k": 3,
                    "xi": 0.5,
                    "positions": "long_short",
                    "lookback": 252,
                    "windows": {"length": 63, "step": 21},
                },
            }
        )
    )
    runner = CliRunner()
    out = tmp_path / "model.lp"
    result = runner.invoke(app, ["export", str(config), "--format", "lp", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "12 binary variables" in result.stdout and "long:AAPL -> long_AAPL" in result.stdout
    before = out.read_bytes()
    result = runner.invoke(app, ["export", str(config), "--format", "lp", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.stderr and out.read_bytes() == before
    result = runner.invoke(
        app, ["export", str(config), "--out", str(out), "--force", "--set", "model.xi=2.0"]
    )
    assert result.exit_code == 0 and out.read_bytes() != before
    qj = tmp_path / "model.json"
    result = runner.invoke(app, ["export", str(config), "--out", str(qj)])
    assert result.exit_code == 0 and "gamma" in result.stdout
    payload = json.loads(qj.read_text())
    assert payload["metadata"]["k"] == 3 and len(payload["metadata"]["variables"]) == 12
    bqm = dimod.BinaryQuadraticModel.from_serializable(payload["bqm"])
    ground = dimod.ExactSolver().sample(bqm).first.sample
    legs = [v for v in payload["metadata"]["variables"] if ground[v]]
    assert len(legs) == 3 and len({leg.split(":")[1] for leg in legs}) == 3
    result = runner.invoke(app, ["export", str(config), "--out", str(tmp_path / "m.txt")])
    assert result.exit_code == 2 and "give --format" in result.stderr


def small_config(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "sample", "tickers": ["AAPL", "JNJ", "KO", "PEP", "XOM"]},
                "model": {"k": 2, "lookback": 126, "windows": {"length": 63, "step": 21}},
            }
        )
    )
    return config


def test_a_folder_as_out_asks_for_a_file_even_with_force(tmp_path):
    config = small_config(tmp_path)
    folder = tmp_path / "o1"
    folder.mkdir()
    runner = CliRunner()
    for extra in (["--format", "bqm", "--force"], ["--format", "bqm"], []):
        result = runner.invoke(app, ["export", str(config), "--out", str(folder), *extra])
        assert result.exit_code == 2, result.output
        assert "is a folder, not a file: give the FILE to write" in result.stderr
        assert "--force to replace" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert list(folder.iterdir()) == []
    with pytest.raises(InputError, match="is a folder, not a file"):
        export_model(small_qubo("long_only"), folder, "bqm", force=True)


def test_a_suffix_naming_another_format_is_refused(tmp_path):
    config = small_config(tmp_path)
    runner = CliRunner()
    out = tmp_path / "x.lp"
    result = runner.invoke(app, ["export", str(config), "--out", str(out), "--format", "bqm"])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: --out {out} has the suffix of format lp, not of --format bqm "
        "(name it x.bqm, or drop --format to write lp)\n"
    )
    assert not out.exists()
    qubo = small_qubo("long_only")
    with pytest.raises(InputError, match="suffix of format qubo-json, not of fmt cqm"):
        export_model(qubo, tmp_path / "m.json", "cqm")
    # a suffix that names no format, or the format given, is fine
    export_model(qubo, tmp_path / "m.bin", "bqm")
    export_model(qubo, tmp_path / "m.JSON", "qubo-json")
    assert load_model(tmp_path / "m.bin", "bqm") == qubo.to_bqm()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_model_built_from_moments_exports_without_windows(tmp_path, fmt):
    from qubo_portfolio import PortfolioQubo

    returns = make_returns(60, 5, seed=3)
    qubo = PortfolioQubo.from_moments(returns.cov(), returns.mean(), k=2, xi=0.5)
    path = tmp_path / f"m{'.json' if fmt == 'qubo-json' else '.' + fmt}"
    info = export_model(qubo, path, fmt)
    assert info["in_sample"] is None and info["num_windows"] == 0
    assert path.stat().st_size > 0
