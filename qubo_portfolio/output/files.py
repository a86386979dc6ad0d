"""The file layer every writer shares: result folders, staging, JSON.

Every command writes into a fresh temporary folder beside the destination and moves it into
place only when everything is written (:func:`staged_output`), so a failing run never leaves
half a result, and an existing result is replaced only with ``--force``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..paths import check_creatable

__all__ = [
    "check_creatable",
    "check_out_dir",
    "default_out_dir",
    "staged_output",
    "to_jsonable",
    "write_json",
    "write_text_atomic",
]


def default_out_dir(config_path: str | Path, root: str | Path = "results") -> Path:
    """``results/<config-stem>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ... when taken."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{Path(config_path).stem}-{stamp}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse an existing non-empty ``out`` unless ``force``, and one that cannot be created."""
    check_creatable(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder (choose another --out)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            f"--out {out} already holds results (choose another --out, or --force to replace it)"
        )


@contextmanager
def staged_output(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out`` (replacing it if ``force``).

    On any exception the temporary folder is removed and ``out`` is left as it was.
    """
    out = Path(out)
    check_out_dir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private (0700); results are ordinary folders
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    check_out_dir(out, force)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


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
