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
