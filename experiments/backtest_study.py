"""Reproduce the study's walk-forward protocol on the S&P 500 table, for several xi.

    python experiments/backtest_study.py [--prices ../shared/data/sp500_close_2013_2018.csv.gz]
        [--xi 0 1 3 10] [--costs-bps 0] [--workers 2] [--out results/study-...]
        [--set solver.name=sa ...]

The protocol is ``experiments/backtest_study.yaml`` (calendar-day windows of 30 days
overlapping by 15 over a 180-day lookback, K' = 30, ``return_term: squared``, 20 samples,
hold 30 days; 1/N of all 470 and 1000 random 30-subsets on the same dates). Every xi is run
as ``qubo-portfolio backtest`` runs it and written to ``OUT/xi-<xi>/`` (equity.csv,
selections.csv, metrics.json, equity.png, ...); ``OUT/study.md`` holds the comparison
table and is printed. The solver comes from the YAML (``--set solver.name=...`` switches it).
xi is not tuned on the test period: every value run is reported.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from qubo_portfolio.output.backtest import write_backtest
from qubo_portfolio.output.files import staged_output
from qubo_portfolio.workflows.backtest import backtest_config
from qubo_portfolio.workflows.config import load_config
from qubo_portfolio.workflows.settings import load_data

HERE = Path(__file__).resolve().parent
DEFAULT_PRICES = HERE.parents[1] / "shared" / "data" / "sp500_close_2013_2018.csv.gz"
COLUMNS = (
    ("annualized_mean", "return", "{:.1%}"),
    ("annualized_volatility", "volatility", "{:.1%}"),
    ("sharpe", "Sharpe", "{:.2f}"),
    ("sortino", "Sortino", "{:.2f}"),
    ("max_drawdown", "max DD", "{:.1%}"),
    ("final_wealth", "final wealth", "{:.3f}"),
    ("turnover", "turnover", "{:.0%}"),
)


def row(name: str, values: dict, extra: str = "") -> str:
    cells = [fmt.format(values[key]) for key, _, fmt in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + f" | {extra} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prices", default=str(DEFAULT_PRICES))
    parser.add_argument("--config", default=str(HERE / "backtest_study.yaml"))
    parser.add_argument("--xi", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0])
    parser.add_argument("--costs-bps", type=float, default=None, help="override costs_bps")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default=f"results/study-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    overrides = [f"data.path={args.prices}", *args.overrides]
    if args.costs_bps is not None:
        overrides.append(f"backtest.costs_bps={args.costs_bps}")
    base = load_config(args.config, overrides)
    data = load_data(base.data)
    out = Path(args.out)
    results = []
    for xi in args.xi:
        cfg = load_config(args.config, [*overrides, f"model.xi={xi}"])
        clock = time.perf_counter()
        result = backtest_config(cfg, workers=args.workers, data=data)
        seconds = time.perf_counter() - clock
        with staged_output(out / f"xi-{xi:g}") as folder:
            write_backtest(result, folder)
        results.append((xi, result, seconds))
        strategy = result.metrics["strategy"]
        print(
            f"xi {xi:g}: Sharpe {strategy['sharpe']:.2f}, final {strategy['final_wealth']:.3f}"
            f" ({seconds:.1f} s)",
            flush=True,
        )

    first = results[0][1]
    s = first.settings
    header = (
        "| portfolio | " + " | ".join(c[1] for c in COLUMNS) + " | percentile (wealth / Sharpe) |"
    )
    lines = [
        f"Out of sample {s['start']}..{s['end']} ({s['days']} days), {s['rebalances']} "
        f"rebalances every {s['rebalance']} {s['unit'].replace('_', ' ')}, lookback "
        f"{s['lookback']}, {s['assets']} assets, K' = {s['k']}, {s['return_term']} return term, "
        f"solver {s['solver']} ({s['num_reads']} reads, params {s['solver_params']}), costs "
        f"{s['costs_bps']:g} bps; {platform.machine()} {platform.python_version()}.",
        "",
        header,
        "|" + "---|" * (len(COLUMNS) + 2),
    ]
    for xi, result, seconds in results:
        pct = result.random_summary["strategy_percentile"]
        lines.append(
            row(
                f"QUBO xi = {xi:g}",
                result.metrics["strategy"],
                f"{pct['final_wealth']:.1f} / {pct['sharpe']:.1f} ({seconds:.0f} s)",
            )
        )
    lines.append(row("1/N of all", first.metrics["equal_weight_all"]))
    random = first.random
    for q, label in ((0.05, "p05"), (0.5, "median"), (0.95, "p95")):
        values = {key: float(random[key].quantile(q)) for key, _, _ in COLUMNS}
        lines.append(row(f"random {s['k']}-subsets, {label} of each measure", values))
    lines += [
        "",
        f"Random subsets: {len(random)} strategies, each holding a fresh uniformly random "
        f"{s['k']}-subset on every rebalance date (seed {first.random_summary['seed']}); each "
        "row's figures are that quantile of each measure separately.",
    ]
    text = "\n".join(lines) + "\n"
    (out / "study.md").write_text(text)
    print("\n" + text)
    print(f"wrote {out}/ (study.md, xi-*/)")


if __name__ == "__main__":
    main()
