import subprocess
import sys


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, qubo_portfolio; "
        "print(','.join(m for m in ('skfolio', 'dask', 'matplotlib', 'numba', 'cvxpy', 'typer') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_cli_needs_no_click():
    """typer >= 0.2x vendors click: a plain `pip install -e .` has no click (dask brings it in
    the test environment), so the CLI must not import it."""
    code = (
        "import sys; sys.modules['click'] = None; "
        "from typer.testing import CliRunner; from qubo_portfolio.cli import app; "
        "r = CliRunner().invoke(app, ['solvers']); print(r.exit_code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
