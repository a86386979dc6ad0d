"""The file layer every writer shares: result folders, staging, JSON.

Every command writes into a fresh temporary folder beside the destination and moves it into
place only when everything is written (:func:`staged_output`), so a failing run never leaves
half a result, and an existing result is replaced only with ``--force``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..paths import check_creatable, os_error_text

__all__ = [
    "check_creatable",
    "check_out_dir",
    "default_out_dir",
    "remove_stale_staging",
    "staged_output",
    "to_jsonable",
    "write_json",
    "write_text_atomic",
]


def default_out_dir(
    config_path: str | Path, root: str | Path = "results", create: bool = False
) -> Path:
    """``results/<config-stem>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ... when taken.

    ``create=True`` makes the folder (empty) with one atomic ``mkdir`` per candidate name, so
    that two commands started in the same second never get the same folder; the caller fills
    it (:func:`staged_output` with ``force=True`` replaces the empty folder) or removes it.
    Without ``create`` the name is only free when this function looked.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{Path(config_path).stem}-{stamp}"
    if create:
        base.parent.mkdir(parents=True, exist_ok=True)
    out, n = base, 1
    while True:
        if create:
            try:
                out.mkdir()
                return out
            except FileExistsError:
                pass
        elif not out.exists():
            return out
        n += 1
        out = base.with_name(f"{base.name}-{n}")


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an existing non-empty ``out`` unless ``force``, and one that cannot be created."""
    check_creatable(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder (choose another --out)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            f"--out {out} already holds results (choose another --out, or --force to replace it)"
        )


STALE_SECONDS = 6 * 3600
"""A staging folder whose process is gone, or older than this, is left over from a killed run."""
_STAGING = re.compile(r"^\..+\.(?:tmp|old)-(\d+)(?:-[A-Za-z0-9_]+)?$")


@contextmanager
def staged_output(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out`` (replacing it if ``force``).

    The folder, ``.<name>.tmp-<pid>-XXXX`` beside ``out``, is removed on any exception and
    ``out`` is left as it was; staging folders that a killed run left beside ``out`` are
    removed first (:func:`remove_stale_staging`). An OS error (no space, no permission, a
    read-only file system) becomes one :class:`InputError` naming the path and the cause.
    """
    out = Path(out)
    check_out_dir(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {os_error_text(exc)} (choose another --out)") from None
    remove_stale_staging(out.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__  # /proc says "No such file or directory"
        raise InputError(
            f"cannot create a folder in {out.parent} (the system says: {cause}; choose "
            "another --out)"
        ) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private (0700); results are ordinary
        yield tmp
        check_out_dir(out, force)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = exc.filename
        if where is not None and str(where).startswith(str(tmp)):
            where = str(out) + str(where)[len(str(tmp)) :]
        raise InputError(
            f"cannot write {os_error_text(exc, where if where is not None else out)} "
            "(nothing was written; free some space or choose another --out)"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_staging(folder: Path, max_age: float = STALE_SECONDS) -> list[Path]:
    """Remove the ``.<name>.tmp-<pid>-XXXX`` (and ``.<name>.old-<pid>``) folders in
    ``folder`` whose process is no longer alive on this machine, or that are older than
    ``max_age`` seconds (a pid may be reused). Returns what was removed; errors are ignored
    (another run may be removing the same folder)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _STAGING.match(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(match.group(1))
        try:
            age = now - entry.stat().st_mtime
        except OSError:
            continue
        if _alive(pid) and age < max_age:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or we cannot tell: keep it)
    return True


def to_jsonable(value: Any) -> Any:
    """Plain JSON types (NaN and infinities become null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, payload: dict) -> None:
    """``payload`` as indented JSON (see :func:`to_jsonable`), written atomically."""
    write_text_atomic(path, json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, then ``os.replace`` it, so a
    reader sees the old file or the new one, never half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
