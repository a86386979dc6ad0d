"""Paths the package writes to (the bottom layer, beside errors): checks before any work."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def check_creatable(path: Path, flag: str = "--out") -> None:
    """Refuse a ``path`` that cannot be created: its nearest existing ancestor must be a
    folder we may write in."""
    parent = Path(path).absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot create {flag} {path}: {parent} is a file (choose another {flag})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot create {flag} {path}: no permission to write in {parent} (choose another {flag})"
        )
