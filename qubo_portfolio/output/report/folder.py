"""Reading a result folder: its kind (told by the files present) and its JSON and CSV files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import InputError

KIND_FILES = (
    ("run", ("summary.json",)),
    ("sweep", ("results.csv", "sweep.json")),
    ("backtest", ("metrics.json",)),
    ("backtest", ("equity.csv",)),
    ("frontier", ("portfolios.json",)),
    ("bench", ("bench.csv",)),
)


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


def read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc.__class__.__name__})") from exc
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object")
    return value


def read_csv(path: Path, **kwargs: Any) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as CSV ({exc.__class__.__name__})") from exc
