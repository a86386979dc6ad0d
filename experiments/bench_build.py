"""How long building A and the penalty BQM takes, at 470 real and 2000 synthetic assets.

    python experiments/bench_build.py [--prices ../shared/data/sp500_close_2013_2018.csv.gz]

Prints a table of medians over repeats: moments (the xi-free Q-bar, P-bar), A for a new xi
(moments reused), the BQM, and the whole build_qubo + to_bqm.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from qubo_portfolio import build_qubo, load_prices, simple_returns

WINDOWS = {"length": 21, "step": 10}


def timed(fn, repeats):
    values = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        values.append(time.perf_counter() - start)
    return statistics.median(values)


def measure(name, returns, k, repeats):
    returns = returns.iloc[-126:]
    qubo = build_qubo(returns, k=k, xi=0.05, windows=WINDOWS)
    t_build = timed(lambda: build_qubo(returns, k=k, xi=0.05, windows=WINDOWS).A, repeats)
    t_xi = timed(lambda: qubo.with_params(xi=0.1).A, repeats)
    t_bqm = timed(lambda: qubo.to_bqm(), repeats)
    t_all = timed(lambda: build_qubo(returns, k=k, xi=0.05, windows=WINDOWS).to_bqm(), repeats)
    return name, returns.shape[1], qubo.num_windows, t_build, t_xi, t_bqm, t_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared/data/sp500_close_2013_2018.csv.gz"
    parser.add_argument("--prices", default=str(default))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = []
    if Path(args.prices).exists():
        prices = load_prices("csv", path=args.prices, max_gap=0).prices
        rows.append(measure("S&P 500 (real)", simple_returns(prices), 30, args.repeats))
    else:
        print(f"(skipping real data: {args.prices} not found)")
    synth = load_prices("synthetic", synthetic={"assets": 2000, "days": 127, "seed": 1}).prices
    rows.append(measure("synthetic", simple_returns(synth), 100, args.repeats))
    print(f"machine: {platform.machine()}, {platform.python_version()}, median of {args.repeats}")
    print(
        "| instance | K | M | moments + A (s) | A for new xi (s) | to_bqm (s) | build_qubo + to_bqm (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, n, m, *times in rows:
        print(f"| {name} | {n} | {m} | " + " | ".join(f"{t:.4f}" for t in times) + " |")


if __name__ == "__main__":
    main()
