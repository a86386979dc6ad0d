"""What makes a result folder reproducible: ``config.yaml`` and ``environment.json``.

``config.yaml`` is the resolved config (every default filled in, relative paths made
absolute), so ``qubo-portfolio run DIR/config.yaml --out NEW`` reruns the experiment from any
working directory. ``environment.json`` records the interpreter, the platform, the versions of
the libraries that shape the numbers and, from a git checkout, the commit of this package.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .._version import __version__
from .files import to_jsonable, write_json, write_text_atomic

__all__ = [
    "CONFIG_FILE",
    "ENVIRONMENT_FILE",
    "PACKAGES",
    "environment",
    "git_state",
    "resolved_config",
    "write_config",
    "write_environment",
]

CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "dimod",
    "dwave-samplers",
    "numba",
    "skfolio",
    "networkx",
    "matplotlib",
    "pydantic",
    "PyYAML",
)
"""Distributions whose versions ``environment.json`` records (``null`` when not installed)."""

SOURCE = Path(__file__).resolve().parents[1]
"""The package's source folder (``.../qubo_portfolio``)."""


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            ["git", "-C", str(SOURCE), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None


def git_state() -> dict[str, Any] | None:
    """``{commit, dirty}`` of the git checkout this package runs from, else None.

    ``dirty``: tracked files differ from the commit (untracked files do not count). None when
    git is missing, the package is not in a git work tree, or its files are not tracked there
    (an installed copy inside someone else's repository).
    """
    tracked = _git("ls-files", "--error-unmatch", "__init__.py")
    if tracked is None or tracked.returncode != 0:
        return None
    head = _git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


def _cpu() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def environment() -> dict[str, Any]:
    """The ``environment.json`` payload (never raises for a missing tool)."""
    return {
        "qubo_portfolio": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def resolved_config(config: Any) -> dict[str, Any]:
    """The config as plain data, ``data.path`` made absolute (relative to the working
    directory, as the config was read).

    ``config`` is a :class:`~qubo_portfolio.workflows.config.Config` or its dump.
    """
    if hasattr(config, "model_dump"):
        raw = config.model_dump(by_alias=True, mode="json")
    else:
        raw = to_jsonable(dict(config))
    data = raw.get("data")
    if isinstance(data, dict) and data.get("path"):
        path = Path(data["path"]).expanduser()
        data["path"] = str(path if path.is_absolute() else path.resolve())
    return raw


def write_config(folder: Path, config: Any, command: str = "run") -> Path:
    """``config.yaml``: the resolved config, rerunnable with ``qubo-portfolio COMMAND``."""
    path = Path(folder) / CONFIG_FILE
    header = (
        "# The resolved config of this result (defaults filled in, paths absolute).\n"
        f"# Rerun: qubo-portfolio {command} {CONFIG_FILE} --out NEW_FOLDER\n"
    )
    if command == "bench":
        header += (
            "# with the --solver, --reads, --repeats, --seed options of the command in bench.md\n"
        )
    body = yaml.safe_dump(resolved_config(config), sort_keys=False, allow_unicode=True)
    write_text_atomic(path, header + body)
    return path


def write_environment(folder: Path) -> Path:
    """``environment.json``: see :func:`environment`."""
    path = Path(folder) / ENVIRONMENT_FILE
    write_json(path, environment())
    return path
