"""The sweep folder: a lock, ``sweep.json`` (what the folder belongs to) and ``results.csv``
(rows appended durably, a cut-off last line repaired on resume)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._version import __version__
from ...errors import InputError
from ...paths import check_creatable
from .plan import (
    LOCK_FILE,
    RESULT_COLUMNS,
    RESULTS_FILE,
    STATE_FILE,
    SweepPlan,
    cell,
    config_value,
)


# --- the output folder ---------------------------------------------------------------------
def read_rows(path: Path, columns: Sequence[str], repair: bool = False) -> list[list[str]]:
    """The complete rows of a results.csv (header checked, not returned).

    A last line without its newline was cut off while being written: it is ignored, and
    with ``repair`` truncated from the file (so appends start on a fresh line). A missing or
    empty file has no rows; with ``repair`` it gets its header.
    """
    data = path.read_bytes() if path.exists() else b""
    end = data.rfind(b"\n") + 1
    if repair and end < len(data):
        os.truncate(path, end)
    rows = list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))
    if not rows:
        if repair:
            _append_line(path, list(columns))
        return []
    if rows[0] != list(columns):
        raise InputError(
            f"{path} has the columns {','.join(rows[0])}, not those of this sweep "
            f"({','.join(columns)}): move it away and rerun"
        )
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns):
            raise InputError(
                f"{path} line {number} has {len(row)} fields, expected {len(columns)} "
                "(the file was edited: repair or remove that line)"
            )
    return rows[1:]


def csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _append_line(path: Path, cells: Sequence[str]) -> None:
    with open(path, "a", newline="", encoding="utf-8") as f:
        f.write(csv_line(cells))
        f.flush()
        os.fsync(f.fileno())


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree}


def _first_difference(old: dict, new: dict) -> str:
    a, b = _flatten(old), _flatten(new)
    for key in [*a, *(k for k in b if k not in a)]:
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            before = _short(json.dumps(a[key])) if key in a else "absent"
            after = _short(json.dumps(b[key])) if key in b else "absent"
            return f"{key} is {before} there, {after} now"
    return "same settings, different hash"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def config_hash(identity: dict) -> str:
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class SweepFolder:
    """The ``--out`` folder of a sweep: lock, ``sweep.json`` and ``results.csv``.

    Use as a context manager: entering locks the folder and checks that it is new, empty,
    or holds a sweep of the same config; :meth:`start` writes ``sweep.json`` (new folder)
    or checks the data fingerprints (resume), repairs ``results.csv`` and returns the keys
    of the rows already there; :meth:`append` adds one row durably.
    """

    def __init__(self, out: Path, plan: SweepPlan) -> None:
        self.out = Path(out)
        self.plan = plan
        self.results = self.out / RESULTS_FILE
        self.state_path = self.out / STATE_FILE
        self.identity = plan.identity()
        self.hash = config_hash(self.identity)
        self.state: dict | None = None
        self._created = False
        self._lock = None
        self._file = None

    def __enter__(self) -> SweepFolder:

        out = self.out
        check_creatable(out)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out} is a file, not a folder (choose another --out)")
        self._created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._check_existing()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _acquire_lock(self) -> None:
        """Lock ``.sweep.lock`` (flock); it is removed on exit, so a folder at rest has none.

        The holder unlinks the file before unlocking it: a process that opened the old file
        meanwhile finds it gone after locking and locks the new one instead.
        """
        path = self.out / LOCK_FILE
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX: no lock
            return
        while True:
            handle = open(path, "a")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise InputError(
                    f"another sweep is writing to {self.out} (wait for it to finish, or choose "
                    "another --out)"
                ) from None
            try:
                current = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                self._lock = handle
                return
            handle.close()

    def _check_existing(self) -> None:
        if self.state_path.exists():
            try:
                self.state = json.loads(self.state_path.read_text())
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"{self.state_path} is unreadable ({exc.__class__.__name__}): this folder "
                    "cannot be resumed (choose another --out)"
                ) from None
            if self.state.get("hash") != self.hash:
                why = _first_difference(self.state.get("config", {}), self.identity)
                raise InputError(
                    f"--out {self.out} holds a sweep of a different config ({why}); resume it "
                    f"with its own config (saved in {self.state_path}) or choose another --out"
                )
            return
        others = [
            p.name
            for p in self.out.iterdir()
            if p.name != LOCK_FILE and not p.name.startswith(f".{STATE_FILE}.tmp")
        ]
        if others:
            raise InputError(
                f"--out {self.out} already holds files that are not a sweep "
                f"({', '.join(sorted(others)[:3])}): choose another --out"
            )

    @property
    def resuming(self) -> bool:
        return self.state is not None

    def start(self, fingerprints: dict[str, str]) -> set[tuple[str, ...]]:
        """Record or check what the sweep runs; return the keys of the rows already done."""
        if self.state is None:
            self.state = {
                "hash": self.hash,
                "config": self.identity,
                "columns": self.plan.columns,
                "grid_points": len(self.plan.points),
                "seeds": list(self.plan.seeds),
                "runs": len(self.plan.runs),
                "data_fingerprints": fingerprints,
                "created": dt.datetime.now().isoformat(timespec="seconds"),
                "version": __version__,
            }
            _write_json_atomic(self.state_path, self.state)
        elif self.state.get("data_fingerprints") != fingerprints:
            raise InputError(
                f"the data behind the sweep in {self.out} changed since it started (same "
                "config, different prices): choose another --out to sweep the new data"
            )
        rows = read_rows(self.results, self.plan.columns, repair=True)
        width = len(self.plan.keys) + 1
        done = {tuple(r[:width]) for r in rows}
        self._file = open(self.results, "a", newline="", encoding="utf-8")
        return done

    def append(self, cells: Sequence[str]) -> None:
        """Append one row: one write, flushed and fsynced."""
        assert self._file is not None, "call start() first"
        self._file.write(csv_line(cells))
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(self, *exc_info: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock is not None:  # remove the file while holding it (see _acquire_lock)
            (self.out / LOCK_FILE).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None
        if self._created and self.state is None:  # nothing recorded: leave no folder behind
            try:
                self.out.rmdir()
            except OSError:
                pass


def load_results(
    path: Path, plan: SweepPlan, point_scheme: Sequence[int] | None = None
) -> pd.DataFrame:
    """results.csv as a DataFrame in plan order (see :attr:`SweepResult.frame`).

    Grid key columns carry the values as given in the config; a cut-off last line is
    ignored; rows of points the plan does not have are dropped.
    """
    rows = read_rows(path, plan.columns)
    width = len(plan.keys)
    index = {p.cells: i for i, p in enumerate(plan.points)}
    records = []
    for row in rows:
        point = index.get(tuple(row[:width]))
        if point is None:
            continue
        # values as validated (a YAML "1e-3" is a float here); unhashable ones (lists,
        # mappings) as their cells, so that rows can be grouped
        config = plan.points[point].config
        record: dict[str, Any] = {}
        for key in plan.keys:
            value = config_value(config, key)
            record[key] = cell(value) if isinstance(value, list | dict) else value
        record["point"] = point
        if point_scheme is not None:
            record["scheme"] = point_scheme[point]
        for name, text in zip(RESULT_COLUMNS, row[width:], strict=True):
            if name == "tickers":
                record[name] = text
            elif name == "seed":
                record[name] = int(text)
            else:
                record[name] = float(text) if text else np.nan
        records.append(record)
    columns = [*plan.keys, "point", *(["scheme"] if point_scheme is not None else [])]
    frame = pd.DataFrame(records, columns=[*columns, *RESULT_COLUMNS])
    return frame.sort_values(["point", "seed"], kind="stable").reset_index(drop=True)
