"""Time the 470-asset walk-forward backtest per solver, as a user runs it (the CLI, 2 workers).

    python experiments/bench_backtest.py [--prices ../shared/data/sp500_close_2013_2018.csv.gz]
        [--workers 2] [--case "sa" --case "tabu:timeout=5" ...] [--out results/bench-backtest-...]

Each case runs ``qubo-portfolio backtest experiments/backtest_study.yaml`` in a fresh process
(``python -m qubo_portfolio.cli``: imports, data loading, worker start-up and the 1000 random
subsets included) with ``solver.name`` and ``solver.params`` set from the case, and
``--set`` overrides applied to every case. Reported: the wall time, the selection wall time
and summed solver time from metrics.json, the mean and worst gap of each date's objective
``x^T A x`` to the best any case found on that date, and the out-of-sample Sharpe ratio and
final wealth. ``OUT/bench.md`` holds the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_PRICES = HERE.parents[1] / "shared" / "data" / "sp500_close_2013_2018.csv.gz"
DEFAULT_CASES = [
    "swap",
    "sa",
    "sa:penalty_scale=0.05",
    "tabu:timeout=5",
    "tabu:timeout=1000,num_restarts=0",
]


def case_overrides(case: str) -> list[str]:
    """``"tabu:timeout=5,penalty_scale=0.5"`` -> ``--set`` overrides."""
    name, _, rest = case.partition(":")
    sets = [f"solver.name={name}", "solver.params={}"]
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key == "penalty_scale":
            sets.append(f"model.penalty.scale={value}")
        elif key == "num_reads":
            sets.append(f"solver.num_reads={value}")
        else:
            sets.append(f"solver.params.{key}={value}")
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prices", default=str(DEFAULT_PRICES))
    parser.add_argument("--config", default=str(HERE / "backtest_study.yaml"))
    parser.add_argument("--case", action="append", default=None, help="NAME[:key=value,...]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=f"results/bench-backtest-{time.strftime('%Y%m%d-%H%M%S')}")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    cases = args.case or DEFAULT_CASES
    runs = {}
    for case in cases:
        folder = out / case.replace(":", "_").replace(",", "_").replace("=", "")
        sets = [f"data.path={args.prices}", *case_overrides(case), *args.overrides]
        command = [sys.executable, "-m", "qubo_portfolio.cli", "backtest", args.config]
        command += ["--out", str(folder), "--workers", str(args.workers)]
        for item in sets:
            command += ["--set", item]
        clock = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=os.environ)
        wall = time.perf_counter() - clock
        if proc.returncode != 0:
            print(f"{case}: failed\n{proc.stderr}", file=sys.stderr)
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        rebalances = pd.read_csv(folder / "rebalances.csv", index_col="date")
        runs[case] = (wall, metrics, rebalances)
        print(f"{case}: {wall:.1f} s", flush=True)

    objectives = pd.DataFrame({case: r[2]["objective"] for case, r in runs.items()})
    best = objectives.min(axis=1)
    gaps = (objectives.sub(best, axis=0)).div(best.abs(), axis=0)
    settings = next(iter(runs.values()))[1]["settings"]
    lines = [
        f"{settings['assets']} assets, K' = {settings['k']}, xi = {settings['xi']:g} "
        f"({settings['return_term']}), {settings['rebalances']} rebalances "
        f"{settings['start']}..{settings['end']} every {settings['rebalance']} "
        f"{settings['unit'].replace('_', ' ')}, {settings['num_reads']} reads; "
        f"--workers {args.workers} on {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}",
        "",
        "| solver | wall s | selection wall s | solver s (sum) | mean gap | worst gap | Sharpe | final wealth |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case, (wall, metrics, _) in runs.items():
        t, m = metrics["timings"], metrics["metrics"]["strategy"]
        lines.append(
            f"| {case} | {wall:.1f} | {t['select_seconds']:.1f} | {t['solve_seconds_total']:.1f} "
            f"| {gaps[case].mean():.1%} | {gaps[case].max():.1%} | {m['sharpe']:.2f} "
            f"| {m['final_wealth']:.3f} |"
        )
    lines += [
        "",
        "gap: (objective - best over the cases on that date) / |best|, x^T A x of the selection.",
    ]
    text = "\n".join(lines) + "\n"
    (out / "bench.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
