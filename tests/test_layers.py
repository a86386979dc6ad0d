"""The package's layers: every import of our own modules points down (or sideways), no cycles.

errors, _version, paths < core < solvers, classical < workflows < output < cli, estimator,
__init__. Every import counts: top level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import qubo_portfolio

PACKAGE = Path(qubo_portfolio.__file__).parent
NAME = "qubo_portfolio"
LAYERS = {
    "errors": 0,
    "_version": 0,
    "paths": 0,
    "core": 1,
    "solvers": 2,
    "classical": 2,
    "workflows": 3,
    "output": 4,
    "cli": 5,
    "estimator": 5,
    "": 5,  # the package's __init__
}


def modules() -> dict[str, Path]:
    """Dotted module name (without the package prefix) -> file."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Our modules that ``module`` imports anywhere in its file (resolved to modules)."""
    package = module.split(".") if module else []
    if path.name != "__init__.py":
        package = package[:-1]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module == NAME or (node.module or "").startswith(NAME + "."):
                target = node.module[len(NAME) + 1 :]
            else:
                continue
            for alias in node.names:  # "from . import plots" imports a module
                sub = f"{target}.{alias.name}" if target else alias.name
                targets.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == NAME or alias.name.startswith(NAME + "."):
                    targets.add(alias.name[len(NAME) + 1 :])
    return {t for t in targets if t != module}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imported(m, p, known) for m, p in known.items()}


def test_every_module_has_a_layer():
    unknown = [m for m in modules() if m.split(".")[0] not in LAYERS]
    assert not unknown, f"modules outside the layers: {unknown}"


def test_imports_point_down():
    upward = [
        f"{m or NAME} ({layer(m)}) imports {t or NAME} ({layer(t)})"
        for m, targets in graph().items()
        for t in sorted(targets)
        if layer(t) > layer(m)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_solvers_and_classical_do_not_import_each_other():
    edges = [
        (m, t)
        for m, targets in graph().items()
        for t in targets
        if {m.split(".")[0], t.split(".")[0]} == {"solvers", "classical"}
    ]
    assert not edges


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_walker_sees_an_upward_import(tmp_path):
    """The check itself can fail: a core module importing a workflow is caught."""
    fake = tmp_path / "model.py"
    fake.write_text("def f():\n    from ..workflows.settings import SelectorSpec\n")
    targets = imported("core.model", fake, modules())
    assert "workflows.settings" in targets
    assert layer("workflows.settings") > layer("core.model")


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        (
            "qubo_portfolio.output.export",
            ["qubo_portfolio.solvers", "qubo_portfolio.output.plots", "qubo_portfolio.workflows"],
        ),
        ("qubo_portfolio.workflows.run", ["qubo_portfolio.output", "matplotlib"]),
    ],
)
def test_modules_load_only_what_they_need(module, absent):
    code = f"import sys, {module}; print([m for m in {absent!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
