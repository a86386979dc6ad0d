"""HTML pieces of the report page: escaping and number formats, tables, sections, the page.

Plain HTML with inline CSS: nothing is fetched when the page opens (no scripts, no fonts, no
links out).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._version import __version__

Section = tuple[str, str, str]
"""A page section: ``(ident, title, body)``, the body as HTML."""

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


def page(kind: str, folder: Path, sections: Sequence[Section], subtitle: str) -> str:
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
