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
    path.write_text(json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n")
