"""Paths the package writes to (the bottom layer, beside errors): checks before any work."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def check_creatable(path: Path, flag: str = "--out") -> None:
    """Refuse a ``path`` that cannot be created: its nearest existing ancestor must be a
    folder we may write in."""
    parent = Path(path).absolute().parent
    try:
        while not parent.exists():
            parent = parent.parent
    except OSError as exc:  # a name too long, a loop of links, ...
        raise InputError(
            f"cannot create {flag} {os_error_text(exc, path)} (choose another {flag})"
        ) from None
    if not parent.is_dir():
        raise InputError(f"cannot create {flag} {path}: {parent} is a file (choose another {flag})")
    if not os.access(parent, os.W_OK | os.X_OK):
        why = "no permission to write in"
        try:
            if os.statvfs(parent).f_flag & os.ST_RDONLY:
                why = "read-only file system at"
        except OSError:
            pass
        raise InputError(f"cannot create {flag} {path}: {why} {parent} (choose another {flag})")


def os_error_text(exc: OSError, path: str | Path | None = None) -> str:
    """``"<path>: <cause>"`` for an OS error (``path`` overrides the one the error names).

    >>> os_error_text(PermissionError(13, "Permission denied", "/x/y"))
    '/x/y: Permission denied'
    """
    where = path if path is not None else exc.filename
    if where is None and exc.filename2 is not None:
        where = exc.filename2
    cause = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {cause}" if where is not None else cause
