"""qubo_portfolio: pick an equal-weight portfolio of K' stocks out of K by solving a QUBO.

>>> from qubo_portfolio import build_qubo, decode, load_prices, simple_returns, solve
>>> returns = simple_returns(load_prices("sample").prices).iloc[-252:]
>>> qubo = build_qubo(returns, k=5, xi=0.5, windows={"length": 63, "step": 21})
>>> best = decode(solve(qubo, "exact"), qubo).best
>>> len(best.tickers)
5
"""

from ._version import __version__
from .core.data import PriceData, load_prices
from .core.decode import Decoded, Selection, decode
from .core.model import PortfolioQubo, WindowMoments, build_qubo, window_moments
from .core.returns import Window, WindowSpec, simple_returns, window_bounds
from .errors import InputError

__all__ = [
    "SOLVERS",
    "Decoded",
    "InputError",
    "PortfolioQubo",
    "PriceData",
    "Selection",
    "Window",
    "WindowMoments",
    "WindowSpec",
    "__version__",
    "build_qubo",
    "decode",
    "get_solver",
    "load_prices",
    "simple_returns",
    "solve",
    "window_bounds",
    "window_moments",
]


_SOLVER_NAMES = ("SOLVERS", "get_sampler", "get_solver", "solve")


def __getattr__(name: str):
    # QuboSelection imports skfolio: load it only when asked for. The solvers load on first
    # use too, so that commands which never solve (export, data) do not import them.
    if name == "QuboSelection":
        from .estimator import QuboSelection

        return QuboSelection
    if name in _SOLVER_NAMES:
        from . import solvers

        return getattr(solvers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
