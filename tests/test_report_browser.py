"""report.html in a real browser: headless Chromium renders the tables and the figures offline.

Skipped when no ``chromium`` is installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qubo_portfolio.cli import app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


class Dom(HTMLParser):
    """Table ids, image sources and the text of the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append(attrs.get("id") or "")
        if tag == "img":
            self.images.append(attrs.get("src") or "")

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "run"
    config = out.parent / "run.yaml"
    config.write_text(
        "data:\n  source: synthetic\n  synthetic: {assets: 12, days: 200, seed: 1}\n"
        "model:\n  k: 4\n  xi: 0.5\n  lookback: 150\n  windows: {length: 50, step: 25}\n"
        "solver:\n  name: swap\n  num_reads: 20\n"
    )
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_dom_holds_the_tables_and_figures(run_folder, tmp_path):
    page = run_folder / "report.html"
    proc = chromium(tmp_path, "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Dom()
    dom.feed(proc.stdout)
    for ident in ("overview", "selection", "metrics", "quality", "reads", "environment"):
        assert ident in dom.tables, (ident, dom.tables)
    pngs = list(run_folder.glob("*.png"))
    assert len(dom.images) == len(pngs) >= 2
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)
    text = " ".join(dom.text)
    assert "What was run" in text and "best found by" in text and "Sharpe ratio" in text


def test_the_screenshot_is_not_blank(run_folder, tmp_path):
    import matplotlib.image

    shot = tmp_path / "report.png"
    page = run_folder / "report.html"
    proc = chromium(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.resolve().as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 20_000
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 0.05  # text, tables and figures, not one colour
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 100  # anti-aliased text and the embedded figures
    # the lower half holds content too (a figure), not only the top of the page
    assert pixels[1000:].std() > 0.05
