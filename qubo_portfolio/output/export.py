"""Write the model to a file another sampler can read, in dimod's own formats where they exist.

========== ================================================================ ==================
format     what                                                             read it back with
========== ================================================================ ==================
bqm        the penalty BQM, dimod's binary file (``bqm.to_file()``)         ``dimod.BinaryQuadraticModel.from_file``
cqm        the CQM (objective ``x^T A x`` and its constraints),             ``dimod.ConstrainedQuadraticModel.from_file``
           dimod's binary file (``cqm.to_file()``)
lp         the CQM as an LP file (``dimod.lp.dump``)                        ``dimod.lp.load`` (or any LP reader)
qubo-json  the penalty BQM as ``bqm.to_serializable()`` in a JSON object    ``dimod.BinaryQuadraticModel.from_serializable(obj["bqm"])``
           with the model's metadata
========== ================================================================ ==================

The penalty BQM is ``x^T A x + lambda (sum x - K')^2`` (+ ``gamma sum_i long_i short_i``
long/short) with the lambda and gamma of the config's ``model.penalty``; the CQM has the
constraint ``cardinality`` (``sum x == K'``) and, long/short, ``one_side:<ticker>``
(``long:<t> + short:<t> <= 1``). Both are labelled as the model is (:attr:`variables`).

LP files allow only letters, digits and ``!"#$%&(),.;?@_{}~'`` in names, and no name may start
with a digit, ``.``, ``e`` or ``E``: every other character becomes ``_`` (so ``long:AAPL``
becomes ``long_AAPL``) and a name that starts badly gets the prefix ``x_``. The header comment
of the LP file lists every renamed label (``\\ label long_AAPL = long:AAPL``), and
:func:`lp_labels` gives the same mapping in Python.

Files are written atomically (a temporary file beside ``path``, then ``os.replace``) and an
existing file is replaced only with ``force``.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dimod

from .._version import __version__
from ..core.model import PortfolioQubo
from ..core.returns import row_label
from ..errors import InputError
from .files import check_creatable

FORMATS = ("bqm", "cqm", "lp", "qubo-json")
SUFFIXES = {".bqm": "bqm", ".cqm": "cqm", ".lp": "lp", ".json": "qubo-json"}
JSON_FORMAT = "qubo_portfolio/qubo-json"
JSON_VERSION = 1

_LP_CHARS = set(string.ascii_letters + string.digits + "'!\"#$%&(),.;?@_{}~")
_LP_BAD_FIRST = set("eE." + string.digits)


# How errors name the options: the command line's, or :func:`export_model`'s arguments.
CLI_WORDS = {"out": "--out", "format": "--format", "force": "--force"}
PYTHON_WORDS = {"out": "path", "format": "fmt", "force": "force=True"}


def format_of(path: str | Path, fmt: str | None = None, *, words: dict = PYTHON_WORDS) -> str:
    """``fmt`` checked, or the format its suffix names (``.bqm``, ``.cqm``, ``.lp``, ``.json``).

    A suffix that names another format than ``fmt`` (``x.lp`` with ``bqm``) is refused; other
    suffixes are free (``x.bin`` with ``bqm``). ``words`` names the options in the errors
    (:data:`CLI_WORDS` for the command line).
    """
    named = SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        fmt = named
        if fmt is None:
            raise InputError(
                f"cannot tell the format of {path} from its suffix: give {words['format']} "
                f"({' | '.join(FORMATS)})"
            )
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r} (choose one of: {', '.join(FORMATS)})")
    if named is not None and named != fmt:
        raise InputError(
            f"{words['out']} {path} has the suffix of format {named}, not of {words['format']} "
            f"{fmt} (name it {Path(path).with_suffix(_suffix(fmt)).name}, or drop "
            f"{words['format']} to write {named})"
        )
    return fmt


def _suffix(fmt: str) -> str:
    """The suffix that names ``fmt`` (``.bqm``, ``.cqm``, ``.lp``, ``.json``)."""
    return next(suffix for suffix, name in SUFFIXES.items() if name == fmt)


def lp_label(label: str) -> str:
    """``label`` as an LP name: invalid characters become ``_``, a bad start gets ``x_``."""
    name = "".join(c if c in _LP_CHARS else "_" for c in str(label))[:253]
    if not name or name[0] in _LP_BAD_FIRST:
        name = "x_" + name
    return name


def lp_labels(labels: Iterable[str]) -> dict[str, str]:
    """``{label: LP name}``; raises :class:`InputError` when two labels map to one name."""
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for label in labels:
        name = lp_label(label)
        if name in seen and seen[name] != label:
            raise InputError(
                f"labels {seen[name]!r} and {label!r} both become {name!r} in an LP file "
                "(rename a ticker, or use --format cqm)"
            )
        seen[name] = label
        mapping[label] = name
    return mapping


def metadata(qubo: PortfolioQubo, penalty: float | None, exclusion: float | None) -> dict:
    """What the file holds: the model's parameters, the penalties and the variable labels."""

    return {
        "k": qubo.k,
        "xi": qubo.xi,
        "return_term": qubo.return_term,
        "positions": qubo.positions,
        "num_assets": qubo.num_assets,
        "num_variables": qubo.num_variables,
        "num_windows": qubo.num_windows,
        "penalty": penalty,
        "penalty_bound": qubo.penalty_bound(),
        "exclusion_penalty": exclusion,
        "exclusion_penalty_bound": qubo.exclusion_bound(),
        "tickers": qubo.tickers,
        "variables": qubo.variables,
        "energy": "x^T A x + penalty (sum x - k)^2"
        + (" + exclusion_penalty sum_i long_i short_i" if qubo.long_short else ""),
        "in_sample": _in_sample(qubo),
        "version": __version__,
    }


def _in_sample(qubo: PortfolioQubo) -> dict[str, str] | None:
    """The first and last row the windows cover (dates, or the row labels as written); None
    for a model built from moments (:meth:`PortfolioQubo.from_moments`), which has no rows."""
    if not qubo.windows:
        return None
    first, last = qubo.windows[0].first_date, qubo.windows[-1].last_date
    return {"start": row_label(first), "end": row_label(last)}


def check_target(
    path: Path, force: bool, fmt: str | None = None, *, words: dict = PYTHON_WORDS
) -> None:
    """Refuse a folder, an existing file unless ``force``, a path that cannot be created.

    ``words`` names the options in the errors (:data:`CLI_WORDS` for the command line).
    """

    check_creatable(path)
    out = words["out"]
    if path.is_dir():
        example = path / f"model{_suffix(fmt) if fmt in FORMATS else '.bqm'}"
        raise InputError(
            f"{out} {path} is a folder, not a file: give the FILE to write (e.g. {out} {example})"
        )
    if path.exists() and not force:
        raise InputError(
            f"{out} {path} exists (choose another {out}, or {words['force']} to replace it)"
        )


def _write_atomic(path: Path, force: bool, write) -> None:
    """``write(binary_file)`` into a temporary file beside ``path``, then move it there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with tmp.open("xb") as f:  # new file, the usual permissions (umask)
            write(f)
        check_target(path, force)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def export_model(
    qubo: PortfolioQubo,
    path: str | Path,
    fmt: str | None = None,
    *,
    penalty: float | None = None,
    penalty_scale: float = 1.0,
    exclusion: float | None = None,
    exclusion_scale: float = 1.0,
    force: bool = False,
) -> dict[str, Any]:
    """Write ``qubo`` to ``path`` in format ``fmt`` (default: from the suffix).

    ``penalty``/``penalty_scale`` and ``exclusion``/``exclusion_scale`` set lambda and gamma
    of the penalty BQM (formats ``bqm`` and ``qubo-json``) as in :meth:`PortfolioQubo.to_bqm`.
    Returns :func:`metadata` plus ``format``, ``path``, ``num_constraints`` (CQM formats)
    and ``lp_renamed`` (LP: the labels that were renamed).
    """
    path = Path(path)
    fmt = format_of(path, fmt)
    check_target(path, force, fmt)
    info: dict[str, Any] = {"format": fmt, "path": str(path)}
    if fmt in ("bqm", "qubo-json"):
        bqm = qubo.to_bqm(
            penalty, penalty_scale, exclusion=exclusion, exclusion_scale=exclusion_scale
        )
        meta = metadata(qubo, qubo.penalty_used, qubo.exclusion_used)
        if fmt == "bqm":

            def write(f):
                with bqm.to_file() as src:
                    while chunk := src.read(1 << 20):
                        f.write(chunk)

        else:
            payload = {
                "format": JSON_FORMAT,
                "format_version": JSON_VERSION,
                "metadata": meta,
                "bqm": bqm.to_serializable(),
            }

            def write(f):
                f.write((json.dumps(payload, indent=1, allow_nan=False) + "\n").encode())

    else:
        cqm = qubo.to_cqm()
        meta = metadata(qubo, None, None)
        info["num_constraints"] = len(cqm.constraints)
        if fmt == "cqm":

            def write(f):
                with cqm.to_file() as src:
                    while chunk := src.read(1 << 20):
                        f.write(chunk)

        else:
            names = lp_labels([*cqm.variables, *cqm.constraints])
            renamed = {label: name for label, name in names.items() if label != name}
            cqm.relabel_variables({v: names[v] for v in cqm.variables})
            cqm.relabel_constraints({c: names[c] for c in cqm.constraints})
            info["lp_renamed"] = renamed
            header = [
                f"\\ qubo_portfolio {meta['version']}: min x^T A x subject to the constraints",
                f"\\ k {qubo.k}  xi {qubo.xi!r}  return_term {qubo.return_term}  "
                f"positions {qubo.positions}  assets {qubo.num_assets}  "
                f"windows {qubo.num_windows}  in-sample "
                + (
                    f"{meta['in_sample']['start']}..{meta['in_sample']['end']}"
                    if meta["in_sample"]
                    else "- (built from moments)"
                ),
                *(f"\\ label {name} = {label}" for label, name in renamed.items()),
            ]

            def write(f):
                text = "\n".join(header) + "\n" + dimod.lp.dumps(cqm) + "\n"
                f.write(text.encode())

    _write_atomic(path, force, write)
    return {**meta, **info}


def load_model(path: str | Path, fmt: str | None = None):
    """Read a file written by :func:`export_model`.

    Returns a ``dimod.BinaryQuadraticModel`` (``bqm``), a ``dimod.ConstrainedQuadraticModel``
    (``cqm``, ``lp``; LP names as written, see :func:`lp_labels`), or ``(bqm, metadata)``
    for ``qubo-json``.
    """
    path = Path(path)
    fmt = format_of(path, fmt)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    if fmt == "bqm":
        with path.open("rb") as f:
            return dimod.BinaryQuadraticModel.from_file(f)
    if fmt == "cqm":
        with path.open("rb") as f:
            return dimod.ConstrainedQuadraticModel.from_file(f)
    if fmt == "lp":
        return dimod.lp.load(str(path))
    payload = json.loads(path.read_text())
    if payload.get("format") != JSON_FORMAT:
        raise InputError(f"{path} is not a {JSON_FORMAT} file")
    return dimod.BinaryQuadraticModel.from_serializable(payload["bqm"]), payload["metadata"]
