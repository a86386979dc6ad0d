"""``report.html``: one self-contained page per result folder, built from the folder's files.

The page says what was run (config, data, windows), gives the answer (selection, metrics
against the benchmarks, quality), embeds every PNG figure of the folder as a base64 data
URI, shows the tables a reader needs, the notes and warnings, and the environment. It is plain
HTML with inline CSS: nothing is fetched when it opens (no scripts, no fonts, no links out).

It reads only the files, never a result in memory, so ``qubo-portfolio report DIR`` rebuilds
it for any result folder, older ones included (what they lack is said, not invented). The kind
of folder is told by its files (:func:`detect_kind`).
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .._version import __version__
from ..core.metrics import MEASURES
from ..core.quality import solution_quality
from ..errors import InputError
from .environment import CONFIG_FILE, ENVIRONMENT_FILE, write_config, write_environment
from .files import write_text_atomic

__all__ = [
    "REPORT_FILE",
    "build_report",
    "detect_kind",
    "finish_folder",
    "write_report",
]

REPORT_FILE = "report.html"
MAX_FIGURE_BYTES = 4_000_000
"""A PNG larger than this is named, not embedded (the page stays a few MB at most)."""
HEAD_TAIL = 5

KIND_FILES = (
    ("run", ("summary.json",)),
    ("sweep", ("results.csv", "sweep.json")),
    ("backtest", ("metrics.json",)),
    ("backtest", ("equity.csv",)),
    ("frontier", ("portfolios.json",)),
    ("bench", ("bench.csv",)),
)

FIGURE_CAPTIONS = {
    "cumulative_returns.png": "In-sample growth of 1: the selection against 1/N of all K.",
    "network.png": "The correlation network (minimum spanning tree) of the K assets, the "
    "selection marked.",
    "diversification.png": "The selection's mean tree distance against random subsets of the "
    "same size.",
    "equity.png": "Out-of-sample wealth of the strategy, 1/N of all K, the benchmarks and the "
    "random subsets.",
    "frontier.png": "Markowitz portfolios, the exact efficient frontier, the random cloud and "
    "the equal-weight QUBO selections.",
    "sweep_penalty.png": "Raw feasible fraction and objective gap against the penalty.",
    "sweep_heatmap.png": "Median objective over xi x penalty.",
    "sweep_frontier.png": "The best selection per xi in volatility and return, 1/N marked.",
    "bench_objectives.png": "Every read's gap to the best known objective, per solver.",
}

MEASURE_LABELS = {
    "annualized_mean": "annualized mean",
    "annualized_volatility": "annualized volatility",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "max drawdown",
    "final_wealth": "final wealth",
    "cagr": "CAGR",
    "turnover": "turnover (mean per rebalance)",
    "total_costs": "total costs",
}

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --head: #f0f4f8; --accent: #2f6f9f; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 12px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 8px; }
p { margin: 6px 0; }
.sub { color: var(--muted); margin: 0 0 10px; font-size: 14px; }
nav { font-size: 14px; margin: 6px 0 0; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
.answer { background: #f5f9fc; border-left: 4px solid var(--accent); padding: 10px 14px;
  margin: 10px 0; font-size: 16px; }
.answer b { font-size: 18px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; vertical-align: top; }
th { background: var(--head); text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
td.gap { text-align: center; color: var(--muted); }
table.kv th { white-space: nowrap; padding-right: 18px; }
tr.best td { background: #eef7ee; }
tr.benchmark td { background: #f4f4f8; font-style: italic; }
figure { margin: 16px 0 22px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.notes li { margin: 3px 0; }
.warn { background: #fff8e6; border-left: 4px solid #d9a400; padding: 8px 14px;
  margin: 10px 0; }
.warn ul { margin: 4px 0; padding-left: 20px; }
pre { background: #f7f9fb; border: 1px solid var(--line); padding: 10px 12px;
  font-size: 13px; overflow-x: auto; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
footer { color: var(--muted); font-size: 13px; margin-top: 36px;
  border-top: 1px solid var(--line); padding-top: 8px; }
"""


# --------------------------------------------------------------------------- reading a folder


def detect_kind(folder: Path) -> str:
    """``run``, ``sweep``, ``backtest``, ``frontier`` or ``bench``, told by the files present.

    Raises :class:`InputError` (one line) for anything else.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder (give a result folder of qubo-portfolio)")
    for kind, names in KIND_FILES:
        if all((folder / name).is_file() for name in names):
            return kind
    raise InputError(
        f"{folder} is not a result folder (it holds none of summary.json, results.csv with "
        "sweep.json, metrics.json, equity.csv, portfolios.json, bench.csv)"
    )


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc.__class__.__name__})") from exc
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object")
    return value


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc.__class__.__name__})") from exc


# --------------------------------------------------------------------------- HTML pieces


def esc(value: Any) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, spec: str = ".4f") -> str:
    """A number with ``spec`` (``-`` for None/NaN; ``inf`` spelled out); text as is."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer) and spec in ("d", "g"):
        return str(int(value))
    if isinstance(value, float | int | np.floating | np.integer):
        value = float(value)
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, spec)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


class Cell:
    """A table cell: its text and whether it is a number (right-aligned)."""

    def __init__(self, text: str, numeric: bool = False) -> None:
        self.text, self.numeric = text, numeric


def num(value: Any, spec: str = ".4f") -> Cell:
    return Cell(fmt(value, spec), numeric=True)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    table_id: str | None = None,
    numeric: Sequence[bool] | None = None,
    row_class: Callable[[int], str | None] | None = None,
) -> str:
    """An HTML table; a :class:`Cell` or a number is right-aligned, text left-aligned."""
    rows = list(rows)
    if numeric is None:
        numeric = [
            bool(rows) and all(isinstance(r[i], Cell) and r[i].numeric for r in rows)
            for i in range(len(headers))
        ]
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for i, row in enumerate(rows):
        cells = []
        for value in row:
            if isinstance(value, Cell):
                cls = ' class="num"' if value.numeric else ""
                if value.text == "...":
                    cls = ' class="gap"'
                cells.append(f"<td{cls}>{esc(value.text)}</td>")
            elif _is_number(value):
                cells.append(f'<td class="num">{esc(fmt(value, "g"))}</td>')
            else:
                cells.append(f"<td>{esc(fmt(value))}</td>")
        cls = row_class(i) if row_class else None
        tr = f'<tr class="{esc(cls)}">' if cls else "<tr>"
        body.append(tr + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return (
        f"<table{ident}><thead><tr>{head}</tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def kv_table(pairs: Iterable[tuple[str, Any]], table_id: str | None = None) -> str:
    """A two-column key/value table (values formatted as given)."""
    rows = []
    for key, value in pairs:
        if isinstance(value, Cell):
            text = value.text
        elif isinstance(value, float):
            text = fmt(value, "g")
        elif _is_number(value):
            text = str(int(value))
        else:
            text = fmt(value)
        rows.append(f"<tr><th>{esc(key)}</th><td>{esc(text)}</td></tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f'<table class="kv"{ident}><tbody>' + "".join(rows) + "</tbody></table>"


def frame_table(
    frame: pd.DataFrame,
    table_id: str | None = None,
    formats: Mapping[str, str] | None = None,
    head_tail: int | None = None,
) -> str:
    """A DataFrame as a table (columns as headers); ``head_tail`` rows from each end with a
    ``...`` row between when it is longer."""
    formats = dict(formats or {})
    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool for c in columns]
    parts = [frame]
    if head_tail and len(frame) > 2 * head_tail + 1:
        parts = [frame.iloc[:head_tail], None, frame.iloc[-head_tail:]]
    rows = []
    for part in parts:
        if part is None:
            rows.append([Cell("...")] * len(columns))
            continue
        for record in part.itertuples(index=False):
            row = []
            for col, value, is_num in zip(columns, record, numeric, strict=True):
                if is_num:
                    row.append(num(value, formats.get(col, "g")))
                else:
                    row.append(Cell(fmt(value)))
            rows.append(row)
    return table(columns, rows, table_id, numeric=numeric)


def section(title: str, body: str, ident: str) -> str:
    return f'<section id="sec-{esc(ident)}"><h2>{esc(title)}</h2>{body}</section>'


def para(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def warnings_box(items: Sequence[str], title: str = "Notes and warnings") -> str:
    if not items:
        return para("Nothing to report.")
    lis = "".join(f"<li>{esc(item)}</li>" for item in items)
    return f'<div class="warn"><ul class="notes">{lis}</ul></div>'


def figures(folder: Path, plots_off: bool = False) -> tuple[str, list[str]]:
    """Every PNG in ``folder`` as an embedded ``<img>`` (data URI); notes for skipped ones."""
    notes = []
    parts = []
    order = list(FIGURE_CAPTIONS)
    pngs = sorted(
        (p for p in folder.glob("*.png") if not p.name.startswith(".")),
        key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name),
    )
    for path in pngs:
        size = path.stat().st_size
        if size > MAX_FIGURE_BYTES:
            notes.append(f"{path.name} ({size / 1e6:.1f} MB) is not embedded: open it beside")
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        caption = FIGURE_CAPTIONS.get(path.name, "")
        parts.append(
            f'<figure><img alt="{esc(path.name)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(path.name)}</b>{' ' + esc(caption) if caption else ''}"
            "</figcaption></figure>"
        )
    if not parts:
        why = " (report.plots: false)" if plots_off else ""
        return para(f"No figures in this folder{why}."), notes
    return "".join(parts), notes


# --------------------------------------------------------------------------- shared sections


def data_notes(report: Mapping[str, Any] | None, since: str | None = None) -> list[str]:
    """What loading and cleaning the prices did, as sentences."""
    if not report:
        return []
    notes = []
    dropped = report.get("dropped_assets") or {}
    if dropped:
        names = ", ".join(
            f"{t} ({why})" if isinstance(why, str | int) else t for t, why in dropped.items()
        )
        notes.append(f"{len(dropped)} incomplete asset(s) dropped: {names}")
    filled = report.get("filled_cells") or {}
    if filled:
        total = sum(v for v in filled.values() if isinstance(v, int | float))
        notes.append(
            f"{int(total)} missing price(s) forward-filled (gaps of at most "
            f"{report.get('max_gap')} rows) in {len(filled)} asset(s): "
            + ", ".join(list(filled)[:10])
            + (" ..." if len(filled) > 10 else "")
        )
    missing = report.get("missing_cells") or {}
    if missing:
        notes.append(f"{len(missing)} asset(s) keep missing prices: " + ", ".join(list(missing)))
    if report.get("all_missing_rows_dropped"):
        notes.append(f"{report['all_missing_rows_dropped']} row(s) without any price dropped")
    if report.get("unsorted"):
        notes.append("the dates were not sorted in the file (sorted on loading)")
    moves = report.get("large_moves") or []
    if moves:
        threshold = report.get("large_move_threshold", 0.5)
        inside = [m for m in moves if since is None or str(m.get("date", "")) >= since]
        listed = ", ".join(
            f"{m.get('ticker')} {m.get('date')} ({m.get('return', float('nan')):+.0%})"
            for m in (inside or moves)[:8]
        )
        where = (
            f", {len(inside)} of them in the period used"
            if since is not None and inside
            else ", none in the period used"
            if since is not None
            else ""
        )
        notes.append(
            f"{len(moves)} one-day move(s) beyond +-{threshold:.0%} in the data{where}: {listed}"
        )
    return notes


def data_rows(report: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    if not report:
        return [("data", "not recorded")]
    source = report.get("source")
    if report.get("path"):
        source = f"{source}: {report['path']}"
    return [
        ("data", source),
        (
            "prices",
            f"{report.get('rows')} rows x {report.get('assets')} assets "
            f"({report.get('start')}..{report.get('end')})",
        ),
    ]


def config_section(folder: Path, fallback: Mapping[str, Any] | None) -> str:
    path = folder / CONFIG_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        intro = para(
            f"{CONFIG_FILE} in this folder: the resolved config (defaults filled in, paths "
            "absolute); rerun it with the command in its first lines."
        )
    elif fallback:
        text = yaml.safe_dump(dict(fallback), sort_keys=False, allow_unicode=True)
        intro = para(
            f"No {CONFIG_FILE} in this folder (written before it was recorded); the config as "
            "the result files recorded it:"
        )
    else:
        return para("No config recorded in this folder.")
    return intro + f"<details><summary>show the config</summary><pre>{esc(text)}</pre></details>"


def environment_section(folder: Path) -> str:
    path = folder / ENVIRONMENT_FILE
    if not path.is_file():
        return para(f"No {ENVIRONMENT_FILE} in this folder (written before it was recorded).")
    env = _read_json(path)
    git = env.get("git")
    if isinstance(git, dict):
        git_text = f"{git.get('commit')}" + (" (uncommitted changes)" if git.get("dirty") else "")
    else:
        git_text = "not a git checkout"
    rows = [
        ("qubo_portfolio", env.get("qubo_portfolio")),
        ("git commit", git_text),
        ("python", f"{env.get('python')} ({env.get('implementation')})"),
        ("platform", env.get("platform")),
        ("cpu", f"{env.get('cpu')}, {env.get('cpu_count')} cores"),
        ("written", env.get("created")),
    ]
    packages = env.get("packages") or {}
    rows += [(name, version or "not installed") for name, version in packages.items()]
    return kv_table(rows, table_id="environment")


def page(kind: str, folder: Path, sections: Sequence[tuple[str, str, str]], subtitle: str) -> str:
    """The whole document: header, navigation, ``(ident, title, body)`` sections, footer."""
    nav = "".join(f'<a href="#sec-{esc(i)}">{esc(t)}</a>' for i, t, _ in sections)
    body = "".join(section(t, b, i) for i, t, b in sections)
    built = datetime.now().astimezone().isoformat(timespec="seconds")
    title = f"qubo-portfolio {kind}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}: {esc(subtitle)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        f"<nav>{nav}</nav></header>{body}"
        f"<footer>Built {esc(built)} by qubo-portfolio {esc(__version__)} from the files in "
        "this page's folder; rebuild it with qubo-portfolio report DIR.</footer>"
        "</main></body></html>\n"
    )


def _metric_rows(columns: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> list[list]:
    rows = []
    for name in names:
        values = [col.get(name) if col else None for col in columns.values()]
        if all(v is None for v in values):
            continue
        rows.append([MEASURE_LABELS.get(name, name), *(num(v) for v in values)])
    return rows


# --------------------------------------------------------------------------- run


def _windows_text(windows: Mapping[str, Any] | None) -> str:
    if not windows:
        return "-"
    unit = "calendar days" if windows.get("unit") == "calendar_days" else "rows"
    count = f"{windows['num_windows']} windows" if windows.get("num_windows") else "windows"
    text = f"{count} of {windows.get('length') or 'all'} {unit}"
    if windows.get("step"):
        text += f", step {windows['step']}"
    if windows.get("count"):
        text += f", count {windows['count']}"
    if windows.get("lookback"):
        text += f"; lookback {windows['lookback']}"
    return text


def run_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    s = _read_json(folder / "summary.json")
    samples = _read_csv(folder / "samples.csv")
    selection = _read_csv(folder / "selection.csv")
    in_sample = s.get("in_sample") or {}
    penalty = s.get("penalty")
    overview = kv_table(
        [
            *data_rows(s.get("data")),
            (
                "in sample",
                f"{in_sample.get('start')}..{in_sample.get('end')} ({in_sample.get('rows')} days)",
            ),
            ("windows", _windows_text(s.get("windows"))),
            (
                "model",
                f"K = {s.get('num_assets')}, K' = {s.get('k')}, xi = {s.get('xi')}, "
                f"{s.get('return_term')} return term, {s.get('positions', 'long_only')}",
            ),
            (
                "moments",
                f"covariance {s.get('covariance', 'empirical')}, expected returns "
                f"{s.get('expected_returns', 'empirical')}",
            ),
            (
                "solver",
                f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('seed')}"
                + (f", params {s['solver_params']}" if s.get("solver_params") else "")
                + (", polished" if s.get("polished") else ""),
            ),
            ("penalty lambda", "- (penalty-free solver)" if penalty is None else f"{penalty:.6g}"),
            *(
                [("exclusion gamma", f"{s['exclusion_penalty']:.6g}")]
                if s.get("exclusion_penalty") is not None
                else []
            ),
            (
                "time",
                ", ".join(
                    f"{k.removesuffix('_seconds')} {v:.2f} s"
                    for k, v in (s.get("timings") or {}).items()
                    if isinstance(v, int | float)
                ),
            ),
        ],
        table_id="overview",
    )
    tickers = s.get("tickers") or []
    answer = (
        f'<div class="answer">Selected <b>{esc(", ".join(tickers))}</b>: objective '
        f"x<sup>T</sup>A x = {esc(fmt(s.get('objective'), '.6e'))}, energy "
        f"{esc(fmt(s.get('energy'), '.6e'))}, "
        f"{esc(fmt(s.get('feasible_fraction'), '.0%'))} of the reads feasible"
        + (
            f" ({esc(fmt((s.get('raw') or {}).get('feasible_fraction'), '.0%'))} before polish)"
            if s.get("raw")
            else ""
        )
        + ".</div>"
    )
    if selection is not None:
        answer += "<h3>Selection</h3>" + frame_table(
            selection, "selection", formats={"weight": ".4f"}
        )
    else:
        weights = s.get("weights") or {}
        answer += "<h3>Selection</h3>" + table(
            ["ticker", "weight"], [[t, num(w)] for t, w in weights.items()], "selection"
        )
    bench = (s.get("benchmark") or {}).get("metrics") or {}
    answer += (
        "<h3>Metrics in sample</h3>"
        + table(
            ["measure", "selection", "1/N of all K"],
            _metric_rows({"selection": s.get("metrics") or {}, "1/N": bench}, MEASURES),
            "metrics",
        )
        + para(
            "Weights held constant over the in-sample days, 252 trading days a year, "
            f"risk-free rate {((s.get('config') or {}).get('report') or {}).get('risk_free_rate', 0)}."
        )
    )
    spread = s.get("diversification") or {}
    if spread.get("mean_tree_distance") is not None:
        answer += para(
            f"Diversification: mean tree distance {spread['mean_tree_distance']:.4f} on the "
            f"correlation MST; the median of {spread.get('random_subsets')} random "
            f"{spread.get('num_selected')}-subsets is {spread.get('random_median', float('nan')):.4f} "
            f"(percentile {spread.get('percentile', float('nan')):.0f})."
        )
    quality, notes = run_quality(s, samples)
    sections = [
        ("overview", "What was run", overview),
        ("answer", "The answer", answer),
        ("quality", "Quality of the answer", quality),
    ]
    if samples is not None:
        sections.append(("reads", "Reads", reads_table(samples)))
    figs, fig_notes = figures(
        folder, plots_off=not ((s.get("config") or {}).get("report") or {}).get("plots", True)
    )
    sections.append(("figures", "Figures", figs))
    notes += data_notes(s.get("data"), in_sample.get("start"))
    raw = s.get("raw")
    if raw:
        notes.append(
            f"polished: before repair {raw.get('feasible_fraction', 0):.0%} of the reads were "
            f"feasible; best raw feasible objective {fmt(raw.get('best_feasible_objective'), '.6e')}, "
            f"median raw objective {fmt(raw.get('median_objective'), '.6e')}"
        )
    if s.get("feasible_fraction") is not None and s["feasible_fraction"] < 1:
        notes.append(
            f"only {s['feasible_fraction']:.0%} of the reads are feasible (hold exactly K' "
            "assets): the answer is the best feasible read"
        )
    sections.append(("notes", "Notes and warnings", warnings_box(notes + fig_notes)))
    sections.append(("config", "Config", config_section(folder, s.get("config"))))
    sections.append(("environment", "Environment", environment_section(folder)))
    subtitle = (
        f"{s.get('solver')} on K = {s.get('num_assets')}, K' = {s.get('k')}, xi = {s.get('xi')}; "
        f"in sample {in_sample.get('start')}..{in_sample.get('end')}"
    )
    return subtitle, sections


def run_quality(summary: Mapping[str, Any], samples: pd.DataFrame | None) -> tuple[str, list[str]]:
    """The quality table (from summary.json, else recomputed from samples.csv) and notes."""
    quality = summary.get("quality")
    source = ""
    if not quality and samples is not None and {"objective", "feasible", "tickers"} <= set(samples):
        frame = samples.assign(tickers=samples["tickers"].fillna(""))
        quality = solution_quality(frame)
        source = " (not in summary.json: counted from samples.csv, no exact optimum)"
    if not quality:
        return para("Not recorded in this folder."), []
    reads, at_best = quality.get("reads"), quality.get("reads_at_best")
    rows = [
        ("best found by", Cell(f"{at_best} of {reads} reads")),
        ("feasible reads", quality.get("feasible_reads")),
        ("distinct feasible selections", quality.get("distinct_solutions")),
        ("best objective", Cell(fmt(quality.get("best_objective"), ".6e"))),
        ("median objective (feasible reads)", Cell(fmt(quality.get("median_objective"), ".6e"))),
    ]
    notes = []
    if quality.get("exact_objective") is not None:
        gap = quality.get("gap")
        rows += [
            ("exact optimum (enumerated)", Cell(fmt(quality["exact_objective"], ".6e"))),
            ("gap to the optimum", Cell("0 (optimal)" if gap == 0 else fmt(gap, ".4%"))),
        ]
        if gap:
            notes.append(
                f"the best read is {gap:.4%} above the exact optimum: more reads, or another solver"
            )
    else:
        rows.append(
            ("exact optimum", Cell("not enumerated (too many portfolios)" if not source else "-"))
        )
    if quality.get("lower_bound") is not None:  # solver.certify
        gap = quality.get("certified_gap")
        rows += [
            (
                "certified lower bound",
                Cell(
                    f"{fmt(quality['lower_bound'], '.6e')} ({quality.get('bound_method')}, "
                    f"{fmt(quality.get('bound_seconds'), '.2f')} s)"
                ),
            ),
            (
                "certified gap",
                Cell("0 (proven optimal)" if quality.get("proven_optimal") else fmt(gap, ".4%")),
            ),
        ]
    if at_best == 1 and reads and reads > 1:
        notes.append(f"only one of {reads} reads found the best objective: it may not be optimal")
    body = kv_table(rows, "quality")
    body += para(
        "Reads at the best: feasible reads whose objective equals the best within 1e-9 relative."
        + source
    )
    return body, notes


def reads_table(samples: pd.DataFrame, top: int = 10) -> str:
    feasible = samples[samples["feasible"].astype(bool)]
    if feasible.empty:
        return para("No feasible read.")
    groups = (
        feasible.groupby("tickers", sort=False)
        .agg(reads=("objective", "size"), objective=("objective", "min"))
        .sort_values(["objective", "reads"], ascending=[True, False])
    )
    rows = [
        [str(t).replace(";", ", "), num(int(r.reads), "d"), num(r.objective, ".6e")]
        for t, r in groups.head(top).iterrows()
    ]
    shown = f"the best {top} of them " if len(groups) > top else ""
    text = (
        f"{len(groups)} distinct feasible selection{'s' * (len(groups) != 1)} among "
        f"{len(samples)} reads, {shown}best first (every read is in samples.csv)."
    )
    return para(text) + table(
        ["selection", "reads", "objective"],
        rows,
        "reads",
        row_class=lambda i: "best" if i == 0 else None,
    )


# --------------------------------------------------------------------------- sweep

SWEEP_RESULT_COLUMNS = ("seed", "penalty", "feasible_fraction", "objective", "energy", "tickers")


def sweep_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    state = _read_json(folder / "sweep.json")
    frame = _read_csv(folder / "results.csv")
    identity = state.get("config") or {}
    grid = identity.get("sweep", {}).get("grid") or []
    grid = dict(grid) if isinstance(grid, list) else dict(grid)
    seeds = identity.get("sweep", {}).get("seeds") or []
    keys = [k for k in grid if k in frame.columns]
    planned = int(np.prod([len(v) for v in grid.values()])) * max(len(seeds), 1)
    model = identity.get("model") or {}
    solver = identity.get("solver") or {}
    data = identity.get("data") or {}
    overview = kv_table(
        [
            ("data", data.get("source") + (f": {data['path']}" if data.get("path") else "")),
            (
                "model",
                f"K' = {model.get('k')}, xi = {model.get('xi')}, {model.get('return_term')}, "
                f"{model.get('positions', 'long_only')}, lookback {model.get('lookback')}, "
                f"{_windows_text(model.get('windows'))}",
            ),
            (
                "solver",
                f"{solver.get('name')}, {solver.get('num_reads')} reads, params "
                f"{solver.get('params') or {}}",
            ),
            *((f"grid: {k}", ", ".join(map(str, v))) for k, v in grid.items()),
            ("seeds", ", ".join(map(str, seeds))),
            ("runs", f"{len(frame)} of {planned} in results.csv"),
        ],
        table_id="overview",
    )
    penalty = next((k for k in ("model.penalty.value", "model.penalty.scale") if k in keys), None)
    summary_rows = []
    for values, group in frame.groupby(keys, sort=False) if keys else [((), frame)]:
        values = values if isinstance(values, tuple) else (values,)
        feasible = group[group["objective"].notna()]
        best = feasible.loc[feasible["objective"].idxmin()] if len(feasible) else None
        summary_rows.append(
            [
                *(num(v, "g") for v in values),
                num(len(group), "d"),
                num(group["feasible_fraction"].mean(), ".0%"),
                num(feasible["objective"].min() if len(feasible) else None, ".6e"),
                num(feasible["objective"].mean() if len(feasible) else None, ".6e"),
                num(None if best is None else best.get("sharpe"), ".3f"),
            ]
        )
    metrics = table(
        [*keys, "runs", "feasible", "objective min", "objective mean", "sharpe"],
        summary_rows,
        "metrics",
    )
    group_keys = [k for k in keys if k != penalty]
    feasible = frame[frame["objective"].notna()]
    selection_rows = []
    if len(feasible):
        if group_keys:
            index = feasible.groupby(group_keys, sort=False)["objective"].idxmin()
            best = feasible.loc[index.to_numpy()]
        else:
            best = feasible.loc[[feasible["objective"].idxmin()]]
        for _, row in best.iterrows():
            selection_rows.append(
                [
                    *(num(row[k], "g") for k in group_keys),
                    *([num(row[penalty], "g")] if penalty else []),
                    num(row["seed"], "g"),
                    num(row["objective"], ".6e"),
                    num(row.get("annualized_mean"), ".4f"),
                    num(row.get("annualized_volatility"), ".4f"),
                    num(row.get("sharpe"), ".3f"),
                    str(row["tickers"]).replace(";", ", "),
                ]
            )
    bench_path = folder / "benchmark.json"  # absent in folders of older versions
    benchmarks = (_read_json(bench_path) if bench_path.exists() else {}).get("equal_weight") or []
    for bench in benchmarks:  # 1/N of all K, measured on the same in-sample rows
        measures = bench.get("measures") or {}
        selection_rows.append(
            [
                *(num(None) for _ in group_keys),
                *([num(None)] if penalty else []),
                num(None),
                num(None),
                num(measures.get("annualized_mean"), ".4f"),
                num(measures.get("annualized_volatility"), ".4f"),
                num(measures.get("sharpe"), ".3f"),
                str(bench.get("label", "1/N")),
            ]
        )
    first_bench = len(selection_rows) - len(benchmarks)
    by = f" per {', '.join(group_keys)}" if group_keys else ""
    selection = para(
        f"The lowest objective{by} over {'penalties and ' if penalty else ''}seeds, in sample"
        + (", and 1/N of all assets on the same days." if benchmarks else ".")
    ) + table(
        [
            *group_keys,
            *([penalty] if penalty else []),
            "seed",
            "objective",
            "return",
            "volatility",
            "sharpe",
            "selection",
        ],
        selection_rows,
        "selection",
        row_class=lambda i: "benchmark" if i >= first_bench else None,
    )
    notes = []
    empty = [r for r in summary_rows if r[len(keys) + 2].text == "-"]
    if empty:
        notes.append(f"{len(empty)} grid point(s) without any feasible read (objective -)")
    if len(frame) < planned:
        notes.append(f"the sweep is not complete: {len(frame)} of {planned} runs (rerun to resume)")
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("selection", "Best selections", selection),
        ("metrics", "Grid points", metrics),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, identity)),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = f"{len(frame)} runs over {', '.join(keys) or 'no grid'} x {len(seeds)} seed(s)"
    return subtitle, sections


# --------------------------------------------------------------------------- backtest

BACKTEST_ROWS = (*MEASURES, "final_wealth", "cagr", "turnover", "total_costs")


def backtest_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    path = folder / "metrics.json"
    m = _read_json(path) if path.is_file() else {}
    s = m.get("settings") or {}
    period = m.get("period") or {}
    selections = _read_csv(folder / "selections.csv")
    rebalances = _read_csv(folder / "rebalances.csv")
    unit = str(s.get("unit", "trading_days")).replace("_", " ")
    reb = s.get("rebalance")
    overview = kv_table(
        [
            *data_rows(m.get("data")),
            (
                "out of sample",
                f"{period.get('start')}..{period.get('end')} ({period.get('days')} trading days), "
                f"{period.get('rebalances')} rebalances",
            ),
            ("rebalance", reb if isinstance(reb, str) else f"every {reb} {unit}"),
            ("lookback", f"{s.get('lookback')} {unit}"),
            (
                "model",
                f"{s.get('assets')} assets, K' = {s.get('k')}, xi = {s.get('xi')}, "
                f"{s.get('return_term')}, {_windows_text(s.get('windows'))}",
            ),
            (
                "solver",
                f"{s.get('solver')}, {s.get('num_reads')} reads, seed {s.get('solver_seed')}",
            ),
            ("costs", f"{s.get('costs_bps')} bps of traded value"),
            ("benchmarks", ", ".join(s.get("benchmarks") or []) or "1/N of all assets only"),
        ],
        table_id="overview",
    )
    curves = m.get("metrics") or {}
    labels = {"strategy": "strategy", "equal_weight_all": "1/N all"}
    columns = {labels.get(c, c): v for c, v in curves.items()}
    random = m.get("random_subsets") or {}
    if random.get("count"):
        columns["random median"] = {
            name: (random.get(name) or {}).get("p50") for name in BACKTEST_ROWS
        }
    body = table(["measure", *columns], _metric_rows(columns, BACKTEST_ROWS), "metrics")
    if random.get("count"):
        pct = random.get("strategy_percentile") or {}
        fw, sh = random.get("final_wealth") or {}, random.get("sharpe") or {}
        body += para(
            f"Against {random['count']} random {s.get('k')}-subsets (seed {random.get('seed')}): "
            f"the strategy is at percentile {fmt(pct.get('final_wealth'), '.1f')} of final "
            f"wealth and {fmt(pct.get('sharpe'), '.1f')} of Sharpe; random 5-95%: final "
            f"wealth {fmt(fw.get('p05'), '.3f')}..{fmt(fw.get('p95'), '.3f')}, Sharpe "
            f"{fmt(sh.get('p05'), '.2f')}..{fmt(sh.get('p95'), '.2f')}."
        )
    sections = [("overview", "What was run", overview), ("metrics", "Metrics out of sample", body)]
    if selections is not None and len(selections):
        last = selections[selections["date"] == selections["date"].max()]
        held = selections.groupby("date", sort=True)["ticker"].apply(lambda t: ", ".join(t))
        held = held.reset_index().rename(columns={"ticker": "selection"})
        sel = (
            para(f"Held from the last rebalance, {last['date'].iloc[0]}:")
            + frame_table(last[["ticker", "weight"]], "selection", {"weight": ".4f"})
            + "<h3>Selections per rebalance date</h3>"
            + frame_table(held, "selections", head_tail=HEAD_TAIL)
        )
        sections.append(("selection", "Selections", sel))
    notes = data_notes(m.get("data"))
    if rebalances is not None and len(rebalances):
        formats = {c: ".4g" for c in rebalances.columns}
        formats.update({"objective": ".6e", "feasible_fraction": ".0%", "solve_seconds": ".3f"})
        sections.append(
            (
                "rebalances",
                "Rebalances",
                para(
                    f"{len(rebalances)} rebalance dates (first and last {HEAD_TAIL}; all in "
                    "rebalances.csv)."
                )
                + frame_table(rebalances, "rebalances", formats, head_tail=HEAD_TAIL),
            )
        )
        if "feasible_fraction" in rebalances and rebalances["feasible_fraction"].min() < 1:
            notes.append(
                f"some dates had infeasible reads: feasible fraction down to "
                f"{rebalances['feasible_fraction'].min():.0%}"
            )
    figs, fig_notes = figures(folder)
    sections += [
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, m.get("config"))),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = (
        f"walk-forward {period.get('start')}..{period.get('end')}, {s.get('solver')}, "
        f"K' = {s.get('k')} of {s.get('assets')}"
    )
    return subtitle, sections


# --------------------------------------------------------------------------- frontier

FRONTIER_NAMES = (
    "min_volatility",
    "max_sharpe",
    "max_sortino",
    "efficient_risk",
    "efficient_return",
    "equal_weight_all",
)


def _holdings(weights: Mapping[str, float] | None, top: int = 4) -> str:
    held = sorted(
        ((t, w) for t, w in (weights or {}).items() if w is not None and abs(w) > 1e-6),
        key=lambda tw: -tw[1],
    )
    shown = ", ".join(f"{t} {w:.0%}" for t, w in held[:top])
    return f"{len(held)}: {shown}" + (f", +{len(held) - top}" if len(held) > top else "")


def frontier_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    p = _read_json(folder / "portfolios.json")
    in_sample = p.get("in_sample") or {}
    q = p.get("qubo_model") or {}
    overview = kv_table(
        [
            *data_rows(p.get("data")),
            (
                "in sample",
                f"{in_sample.get('start')}..{in_sample.get('end')} ({in_sample.get('rows')} days)",
            ),
            ("expected returns", p.get("expected_returns_method")),
            ("risk-free rate", p.get("risk_free_rate")),
            ("random portfolios", f"{p.get('random_portfolios')} (seed {p.get('seed')})"),
            ("frontier points", p.get("frontier_points")),
            (
                "QUBO",
                f"K' = {q.get('k')}, {q.get('return_term')}, {q.get('solver')}, "
                f"{q.get('num_reads')} reads",
            ),
        ],
        table_id="overview",
    )
    rows = []
    for name in FRONTIER_NAMES:
        port = p.get(name)
        if not isinstance(port, dict):
            continue
        rows.append(
            [
                name,
                num(port.get("annualized_return")),
                num(port.get("annualized_volatility")),
                num(port.get("sharpe")),
                num(port.get("sortino")),
                _holdings(port.get("weights")),
            ]
        )
    points = p.get("qubo") or []
    for point in points:
        rows.append(
            [
                f"qubo xi={point.get('xi')}",
                num(point.get("annualized_return")),
                num(point.get("annualized_volatility")),
                num(point.get("sharpe")),
                num(point.get("sortino")),
                f"{len(point.get('tickers') or [])}: {', '.join(point.get('tickers') or [])}",
            ]
        )
    metrics = table(
        ["portfolio", "return", "volatility", "sharpe", "sortino", "holdings"], rows, "metrics"
    )
    selection = table(
        ["xi", "selection", "objective", "return", "volatility", "sharpe", "feasible"],
        [
            [
                num(pt.get("xi"), "g"),
                ", ".join(pt.get("tickers") or []),
                num(pt.get("objective"), ".6e"),
                num(pt.get("annualized_return")),
                num(pt.get("annualized_volatility")),
                num(pt.get("sharpe")),
                num(pt.get("feasible_fraction"), ".0%"),
            ]
            for pt in points
        ],
        "selection",
    )
    rb = p.get("random_best") or {}
    random_rows = [
        [
            name,
            r.get("measure"),
            num(r.get(r.get("measure"))),
            num(r.get("exact")),
            num(r.get("gap")),
        ]
        for name, r in rb.items()
        if isinstance(r, dict)
    ]
    random_body = para(
        f"The best of the {p.get('random_portfolios')} random portfolios against the exact optimum:"
    ) + table(["portfolio", "measure", "best random", "exact", "gap"], random_rows, "random")
    notes = data_notes(p.get("data"), in_sample.get("start"))
    excluded = q.get("assets_excluded") or []
    if excluded:
        notes.append(f"QUBO without {len(excluded)} incomplete asset(s): {', '.join(excluded)}")
    est = p.get("estimates") or {}
    if est.get("covariance_psd_repaired"):
        notes.append("the pairwise covariance was repaired to positive semidefinite")
    if in_sample.get("complete_rows") is not None and in_sample.get("complete_rows") < (
        in_sample.get("rows") or 0
    ):
        notes.append(
            f"Sortino on the {in_sample['complete_rows']} of {in_sample['rows']} days where every "
            "asset has data"
        )
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("metrics", "Portfolios", metrics),
        ("selection", "QUBO selections", selection),
        ("random", "Random portfolios", random_body),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, p.get("config"))),
        ("environment", "Environment", environment_section(folder)),
    ]
    subtitle = (
        f"Markowitz frontier and equal-weight QUBO selections, in sample "
        f"{in_sample.get('start')}..{in_sample.get('end')}"
    )
    return subtitle, sections


# --------------------------------------------------------------------------- bench


def bench_report(folder: Path) -> tuple[str, list[tuple[str, str, str]]]:
    frame = _read_csv(folder / "bench.csv", keep_default_na=False, na_values=[""])
    md = folder / "bench.md"
    facts = []
    if md.is_file():
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.startswith("- ") and ":" in line:
                key, value = line[2:].split(":", 1)
                facts.append((key.strip(), value.strip().strip("`")))
    overview = kv_table(facts or [("instance", "not recorded (no bench.md)")], "overview")
    rows = []
    for r in frame.to_dict("records"):
        tts = r.get("tts99")
        rows.append(
            [
                r.get("solver"),
                r.get("params") if isinstance(r.get("params"), str) and r.get("params") else "-",
                num(r.get("reads"), "g"),
                num(
                    1e3 * r["time_per_read"] if r.get("time_per_read") is not None else None, ".3f"
                ),
                num(r.get("best_objective"), ".6e"),
                num(r.get("gap"), ".2%"),
                num(r.get("median_gap"), ".2%"),
                num(r.get("feasible_fraction"), ".0%"),
                num(r.get("hit_rate"), ".0%"),
                num(1e3 * tts if isinstance(tts, int | float) else tts, ".2f"),
                num(r.get("repeats_hit"), ".0%"),
            ]
        )
    body = table(
        [
            "solver",
            "params",
            "reads",
            "ms/read",
            "best objective",
            "gap",
            "median gap",
            "feasible",
            "hit rate",
            "TTS99 ms",
            "repeats hit",
        ],
        rows,
        "bench",
    ) + para(
        "hit = a read within 1e-9 relative of the best known; TTS99 = time per read * ln(0.01) "
        "/ ln(1 - hit rate)."
    )
    notes = []
    for r in frame.to_dict("records"):
        if isinstance(r.get("feasible_fraction"), float) and r["feasible_fraction"] < 1:
            notes.append(
                f"{r['solver']} {r.get('params') or ''}: only {r['feasible_fraction']:.0%} of "
                "the reads feasible".replace("  ", " ")
            )
    figs, fig_notes = figures(folder)
    sections = [
        ("overview", "What was run", overview),
        ("bench", "Solvers", body),
        ("figures", "Figures", figs),
        ("notes", "Notes and warnings", warnings_box(notes + fig_notes)),
        ("config", "Config", config_section(folder, None)),
        ("environment", "Environment", environment_section(folder)),
    ]
    return f"{len(frame)} solver configurations", sections


# --------------------------------------------------------------------------- the page

BUILDERS = {
    "run": run_report,
    "sweep": sweep_report,
    "backtest": backtest_report,
    "frontier": frontier_report,
    "bench": bench_report,
}


def build_report(folder: Path, kind: str | None = None) -> str:
    """The ``report.html`` text of a result folder (its kind detected unless given)."""
    folder = Path(folder)
    kind = kind or detect_kind(folder)
    subtitle, sections = BUILDERS[kind](folder)
    return page(kind, folder, sections, subtitle)


def write_report(folder: Path, kind: str | None = None) -> Path:
    """Build and write ``folder/report.html`` atomically (temporary file, then replace)."""
    path = Path(folder) / REPORT_FILE
    write_text_atomic(path, build_report(folder, kind))
    return path


def finish_folder(folder: Path, config: Any, command: str) -> list[Path]:
    """The files every result folder ends with: ``config.yaml`` (when ``config`` is given),
    ``environment.json`` and, last (it reads the others), ``report.html``."""
    written = []
    if config is not None:
        written.append(write_config(folder, config, command))
    written.append(write_environment(folder))
    written.append(write_report(folder, command))
    return written
