"""Certified lower bounds and branch and bound on four instances (the write-up is
``experiments/bench_certify.md``).

    python experiments/bench_certify.py [--ftse ../shared/data/ftse100_2000_2023.csv.gz]
        [--sp500 ../shared/data/sp500_close_2013_2018.csv.gz] [--time-limit 60]
        [--sdp-seconds 120] [--only sample,ftse,synthetic,sp500]

Instances (xi = 0.05, linear return term, 21-row windows stepping 10, end-anchored):

- ``sample``: the bundled 20 stocks, K' = 5, last 252 returns (default.yaml's lookback);
- ``ftse``: the 46 complete FTSE 100 stocks (no gaps), K' = 10, last 252 returns;
- ``synthetic``: the 253-asset synthetic market of the solver benchmark (127 days, seed 1),
  K' = 20, last 126 returns;
- ``sp500``: the 470 complete S&P 500 stocks, K' = 30, last 126 returns (DESIGN.md 3).

Methods: ``eigenvalue`` (lambda_min K'), ``qcr-uniform`` (uniform shift), ``shor`` (the SDP by
the boundary point method, certified through its dual shift; at most ``--sdp-seconds``),
``bnb`` (branch and bound from scratch: swap incumbent, SDP root, tree; ``--time-limit`` for
all of it). ``best`` is the best selection known (the B&B's). Gap = (best - bound) / |best|.
The script pins BLAS to one thread (the machine has two cores and other jobs).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import time

import numpy as np

from qubo_portfolio import build_qubo
from qubo_portfolio.core.data import load_prices
from qubo_portfolio.core.returns import simple_returns
from qubo_portfolio.solvers.bounds import eigenvalue_bound, qcr_bound, shor_bound
from qubo_portfolio.solvers.branch_and_bound import branch_and_bound

WINDOWS = {"length": 21, "step": 10}
XI = 0.05


def instances(args):
    """(name, qubo) for each requested instance whose data is present."""
    only = set(args.only.split(","))
    if "sample" in only:
        r = simple_returns(load_prices("sample").prices)
        yield "sample", build_qubo(r, k=5, xi=XI, windows=WINDOWS, lookback=252)
    if "ftse" in only and os.path.exists(args.ftse):
        r = simple_returns(load_prices("csv", path=args.ftse, max_gap=0).prices)
        yield "ftse", build_qubo(r, k=10, xi=XI, windows=WINDOWS, lookback=252)
    if "synthetic" in only:
        prices = load_prices("synthetic", synthetic={"assets": 253, "days": 127, "seed": 1})
        r = simple_returns(prices.prices)
        yield "synthetic", build_qubo(r, k=20, xi=XI, windows=WINDOWS, lookback=126)
    if "sp500" in only and os.path.exists(args.sp500):
        r = simple_returns(load_prices("csv", path=args.sp500, max_gap=0).prices)
        yield "sp500", build_qubo(r, k=30, xi=XI, windows=WINDOWS, lookback=126)


def gap(best: float, bound: float) -> float:
    return 100.0 * (best - bound) / abs(best)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ftse", default="../shared/data/ftse100_2000_2023.csv.gz")
    p.add_argument("--sp500", default="../shared/data/sp500_close_2013_2018.csv.gz")
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--sdp-seconds", type=float, default=120.0)
    p.add_argument("--only", default="sample,ftse,synthetic,sp500")
    args = p.parse_args()

    # compile (or load from numba's cache) the kernels outside the timings
    t0 = time.perf_counter()
    warm = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 3.0]])
    branch_and_bound(warm, 1, shift="uniform")
    print(f"warm-up (numba compile or cache load): {time.perf_counter() - t0:.2f} s\n")

    rows = []
    curves = {}
    for name, qubo in instances(args):
        A, k = qubo.A, qubo.k
        res = branch_and_bound(A, k, time_limit=args.time_limit)
        best = res.objective
        e = eigenvalue_bound(A, k)
        q = qcr_bound(A, k)
        s = shor_bound(A, k, time_limit=args.sdp_seconds)
        n = A.shape[0]
        for b in (e, q, s):
            rows.append((name, n, k, b.method, b.value, best, gap(best, b.value), b.seconds, ""))
        rows.append(
            (
                name,
                n,
                k,
                "bnb",
                res.lower_bound,
                best,
                100.0 * res.gap,
                res.seconds,
                f"{'yes' if res.proven_optimal else 'no'} ({res.nodes} nodes, "
                f"root {res.info['root_seconds']:.1f} s, SDP root gap "
                f"{gap(best, res.root.value):.2f}%)",
            )
        )
        curves[name] = res.history
        print(
            f"{name}: n={n} K'={k} best={best:.6e} bnb bound={res.lower_bound:.6e} "
            f"proven={res.proven_optimal} nodes={res.nodes} {res.seconds:.1f} s; "
            f"shor solver value {s.solver_value:.6e} ({s.info.get('bpm', {})})",
            flush=True,
        )

    print("\n| instance | K | K' | method | bound | best | gap % | seconds | proven |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, n, k, method, bound, best, g, sec, proven in rows:
        print(
            f"| {name} | {n} | {k} | {method} | {bound:.6e} | {best:.6e} | {g:.3f} | "
            f"{sec:.2f} | {proven} |"
        )
    for name, hist in curves.items():
        best = hist[-1][2]
        print(f"\ncertified gap vs time, {name} (B&B from scratch):")
        print("| seconds | lower bound | gap % |")
        print("| --- | --- | --- |")
        shown = -np.inf
        for t, lb, b in hist:
            g = gap(b, lb)
            if t - shown >= 2.0 or (t, lb, b) == hist[-1]:
                print(f"| {t:.1f} | {lb:.6e} | {g:.3f} |")
                shown = t


if __name__ == "__main__":
    main()
