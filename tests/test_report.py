"""report.html, config.yaml and environment.json in every result folder; `qubo-portfolio report`."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qubo_portfolio.cli import app
from qubo_portfolio.output.environment import PACKAGES
from qubo_portfolio.output.report import build_report, detect_kind

from helpers import REPO

runner = CliRunner()

SYNTHETIC = {"source": "synthetic", "synthetic": {"assets": 10, "days": 260, "seed": 3}}
SMALL_MODEL = {"k": 3, "xi": 0.5, "lookback": 120, "windows": {"length": 40, "step": 20}}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """One result folder per command, each made by the CLI with small settings."""
    root = tmp_path_factory.mktemp("reports")
    out = {}

    result = invoke(
        "run",
        REPO / "configs" / "default.yaml",
        "--out",
        root / "run",
        "--set",
        "solver.num_reads=20",
    )
    assert result.exit_code == 0, result.output
    out["run"] = root / "run"

    sweep = write_yaml(
        root / "sweep.yaml",
        {
            "data": SYNTHETIC,
            "model": SMALL_MODEL,
            "solver": {"name": "sa", "num_reads": 10, "params": {"num_sweeps": 100}},
            "sweep": {
                "grid": {"model.xi": [0.0, 1.0], "model.penalty.scale": [0.1, 0.5]},
                "seeds": [0],
            },
        },
    )
    result = invoke("sweep", sweep, "--out", root / "sweep", "--workers", 1)
    assert result.exit_code == 0, result.output
    out["sweep"] = root / "sweep"

    backtest = write_yaml(
        root / "backtest.yaml",
        {
            "data": SYNTHETIC,
            "model": {"k": 3, "xi": 0.5, "windows": {"length": 20, "step": 10}},
            "solver": {"name": "exact", "num_reads": 1},
            "backtest": {"lookback": 60, "rebalance": 40, "random_subsets": 10},
        },
    )
    result = invoke("backtest", backtest, "--out", root / "backtest", "--workers", 1)
    assert result.exit_code == 0, result.output
    out["backtest"] = root / "backtest"

    frontier = write_yaml(
        root / "frontier.yaml",
        {
            "data": SYNTHETIC,
            "model": {"k": 3, "lookback": 200, "windows": {"length": 50, "step": 25}},
            "solver": {"name": "exact", "num_reads": 1},
            "frontier": {"random_portfolios": 200, "points": 8, "xi_values": [0.0, 1.0]},
        },
    )
    result = invoke("frontier", frontier, "--out", root / "frontier")
    assert result.exit_code == 0, result.output
    out["frontier"] = root / "frontier"

    result = invoke(
        "bench",
        "--synthetic",
        12,
        "--k",
        4,
        "--solver",
        "exact",
        "--solver",
        "swap",
        "--reads",
        3,
        "--repeats",
        2,
        "--out",
        root / "bench",
    )
    assert result.exit_code == 0, result.output
    out["bench"] = root / "bench"
    return out


KINDS = ("run", "sweep", "backtest", "frontier", "bench")
TABLES = {
    "run": ("overview", "selection", "metrics", "quality", "reads", "environment"),
    "sweep": ("overview", "selection", "metrics", "environment"),
    "backtest": ("overview", "selection", "metrics", "rebalances", "environment"),
    "frontier": ("overview", "selection", "metrics", "environment"),
    "bench": ("overview", "bench", "environment"),
}


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def no_network(text: str) -> None:
    """Nothing the page would fetch: no scripts, no stylesheets, no iframes, every src/href
    a data URI or an anchor in the page, no url() or @import in the CSS."""
    parser = Tags()
    parser.feed(text)
    names = {tag for tag, _ in parser.tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "base"}
    for tag, attrs in parser.tags:
        for key in ("src", "href", "srcset", "action", "poster"):
            value = (attrs.get(key) or "").strip()
            if value:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, value[:60])
    style = re.findall(r"<style>(.*?)</style>", text, re.S)
    assert not re.search(r"@import|url\(", "".join(style), re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text.split("<body>")[0])


@pytest.mark.parametrize("kind", KINDS)
def test_every_folder_has_a_self_contained_report(folders, kind):
    folder = folders[kind]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    no_network(page)
    for ident in TABLES[kind]:
        assert f'<table id="{ident}"' in page or f'<table class="kv" id="{ident}"' in page, ident
    pngs = sorted(folder.glob("*.png"))
    assert pngs, "the small configs draw figures"
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert (folder / "report.html").stat().st_size < 5e6
    assert detect_kind(folder) == kind


def test_the_run_report_shows_the_answer(folders):
    folder = folders["run"]
    summary = json.loads((folder / "summary.json").read_text())
    page = (folder / "report.html").read_text()
    for ticker in summary["tickers"]:
        assert f"<td>{ticker}</td>" in page
    assert f"{summary['metrics']['sharpe']:.4f}" in page
    assert f"{summary['benchmark']['metrics']['sharpe']:.4f}" in page
    quality = summary["quality"]
    assert f"{quality['reads_at_best']} of {quality['reads']} reads" in page
    assert "best found by" in page


def test_data_notes_name_the_moves_in_the_period_used():
    """The data report lists the moves of the span used (since the span cut, moves before the
    lookback are not in summary.json's data at all)."""
    from qubo_portfolio.output.report.sections import data_notes

    report = {
        "large_moves": [{"ticker": "T1", "date": "2022-03-01", "return": -0.6}],
        "large_move_threshold": 0.5,
    }
    (note,) = data_notes(report, since="2022-01-01")
    assert "1 one-day move(s) beyond +-50%" in note and "T1 2022-03-01 (-60%)" in note
    assert "1 of them in the period used" in note
    assert data_notes({"large_moves": []}) == []


@pytest.mark.parametrize("kind", KINDS)
def test_config_and_environment_are_recorded(folders, kind):
    folder = folders[kind]
    env = json.loads((folder / "environment.json").read_text())
    assert {"python", "platform", "packages", "qubo_portfolio", "git"} <= set(env)
    assert set(PACKAGES) <= set(env["packages"])
    assert {"numpy", "pandas", "dimod", "dwave-samplers", "numba", "skfolio"} <= set(
        env["packages"]
    )
    assert env["packages"]["numpy"]
    assert env["git"] is None or set(env["git"]) == {"commit", "dirty"}
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert {"data", "model", "solver"} <= set(config)


def test_report_rebuilds_the_page(folders, tmp_path):
    for kind in KINDS:
        copy = tmp_path / kind
        shutil.copytree(folders[kind], copy)
        (copy / "report.html").unlink()
        result = invoke("report", copy)
        assert result.exit_code == 0, result.output
        assert f"({kind} report" in result.stdout
        page = (copy / "report.html").read_text()
        no_network(page)
        assert not list(copy.glob(".report.html.tmp-*"))  # the temporary file is gone


def test_report_of_an_older_folder_says_what_is_missing(folders, tmp_path):
    """A run folder from before config.yaml, environment.json and quality."""
    old = tmp_path / "old"
    shutil.copytree(folders["run"], old)
    for name in ("config.yaml", "environment.json", "report.html"):
        (old / name).unlink()
    summary = json.loads((old / "summary.json").read_text())
    expected = summary.pop("quality")
    (old / "summary.json").write_text(json.dumps(summary))
    assert invoke("report", old).exit_code == 0
    page = (old / "report.html").read_text()
    assert "No environment.json in this folder" in page
    assert "No config.yaml in this folder" in page
    assert "counted from samples.csv" in page
    assert f"{expected['reads_at_best']} of {expected['reads']} reads" in page


def test_text_is_escaped(folders, tmp_path):
    folder = tmp_path / "evil"
    shutil.copytree(folders["run"], folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["tickers"] = ['<script>alert("x")</script>', "A&B"]
    summary["data"]["dropped_assets"] = {"<img src=http://x/>": "gone"}
    (folder / "summary.json").write_text(json.dumps(summary))
    page = build_report(folder)
    assert "<script>" not in page and "<img src=http" not in page
    assert "&lt;script&gt;" in page and "A&amp;B" in page
    no_network(page)


@pytest.mark.parametrize("make", ["empty", "other", "file", "missing"])
def test_a_non_result_folder_exits_2_with_one_line(tmp_path, make):
    target = tmp_path / "x"
    if make == "empty":
        target.mkdir()
    elif make == "other":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
        (target / "results.csv").write_text("a\n1\n")  # results.csv without sweep.json
    elif make == "file":
        target.write_text("not a folder")
    result = invoke("report", target)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert not (tmp_path / "x" / "report.html").exists() if make != "file" else True


def test_config_yaml_reruns_to_the_same_answer(tmp_path, monkeypatch):
    """A relative data.path is made absolute: the copy reruns from another directory."""
    from qubo_portfolio.core.data import synthetic_prices

    work = tmp_path / "work"
    work.mkdir()
    prices = synthetic_prices(assets=9, days=200, seed=5)
    prices.to_csv(work / "prices.csv")
    write_yaml(
        work / "exp.yaml",
        {
            "data": {"source": "csv", "path": "prices.csv"},
            "model": SMALL_MODEL,
            "solver": {"name": "sa", "num_reads": 15, "seed": 4},
            "report": {"plots": False},
        },
    )
    monkeypatch.chdir(work)
    assert invoke("run", "exp.yaml", "--out", "first").exit_code == 0
    first = json.loads((work / "first" / "summary.json").read_text())
    config = yaml.safe_load((work / "first" / "config.yaml").read_text())
    assert Path(config["data"]["path"]) == (work / "prices.csv").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("run", work / "first" / "config.yaml", "--out", "again")
    assert result.exit_code == 0, result.output
    again = json.loads((elsewhere / "again" / "summary.json").read_text())
    assert again["tickers"] == first["tickers"]
    assert again["objective"] == first["objective"]
    assert again["quality"] == first["quality"]
    assert yaml.safe_load((elsewhere / "again" / "config.yaml").read_text()) == config


def test_the_sweep_page_shows_1_over_n_measured_like_a_run(folders, tmp_path):
    """benchmark.json holds 1/N of all K on the sweep's in-sample days; a `run` of the same
    config measures the same 1/N (an independent path), and the page shows it."""
    bench = json.loads((folders["sweep"] / "benchmark.json").read_text())["equal_weight"]
    assert [b["label"] for b in bench] == ["1/N of all 10"]
    raw = yaml.safe_load((folders["sweep"] / "config.yaml").read_text())
    config = write_yaml(tmp_path / "one.yaml", {k: v for k, v in raw.items() if k != "sweep"})
    result = invoke("run", config, "--out", tmp_path / "run", "--set", "report.plots=false")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert bench[0]["measures"] == pytest.approx(summary["benchmark"]["metrics"], rel=1e-12)
    assert bench[0]["in_sample"]["start"] == summary["in_sample"]["start"]
    page = (folders["sweep"] / "report.html").read_text()
    row = page[page.index('<tr class="benchmark">') :].split("</tr>")[0]
    assert "1/N of all 10" in row
    assert f"{bench[0]['measures']['sharpe']:.3f}" in row


def test_a_damaged_environment_file_leaves_the_rest_of_the_page(folders, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(folders["run"], target)
    (target / "environment.json").write_text("{not json")
    page = build_report(target)
    assert "environment.json cannot be read" in page
    assert 'id="selection"' in page and 'id="metrics"' in page


def test_a_damaged_benchmark_file_leaves_the_sweep_page(folders, tmp_path):
    target = tmp_path / "sweep"
    shutil.copytree(folders["sweep"], target)
    (target / "benchmark.json").write_text('{"equal_weight": [1, {"label": "x", "measures": 3}]}')
    page = build_report(target)
    assert 'id="selection"' in page and '<tr class="benchmark">' in page
