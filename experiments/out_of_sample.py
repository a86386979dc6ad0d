"""Does the QUBO selection beat 1/N out of sample? Walk-forward on four price tables.

    python experiments/out_of_sample.py [--sp500 PATH] [--ftse100 PATH] [--us20 PATH]
        [--datasets sp500 ftse100 us20 sample] [--workers 2] [--out experiments/out_of_sample]

For every dataset (a missing file is skipped with a note) three backtests run on the same
monthly dates (``qubo-portfolio backtest`` semantics, :func:`backtest_config`):

- ``empirical``: sample covariance per window, equal weights on the K' picks, xi tuned at
  every date on the last 63 rows of the 252-row lookback (``backtest.tune``); the fixed-xi
  strategies of the grid come out of the same run (``tune_equity``), and 1/N, 200 random
  K'-subsets and the four classical baselines are held on the same dates with the same costs;
- ``ledoit_wolf``: the same with ``model.covariance: ledoit_wolf``;
- ``min_volatility weights``: ``empirical`` with the picks weighted by the minimum-variance
  portfolio of the picks (``backtest.weights: min_volatility``).

Writes ``OUT/<dataset>.png`` (equity curves, log scale), ``OUT/tables.md`` (the tables in
the DeMiguel-Garlappi-Uppal form) and prints them with the run times.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from qubo_portfolio.workflows.backtest import backtest_config
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.settings import load_data

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
XI_GRID = [0.0, 1.0, 4.0]
DATASETS = {
    # name: (file, K', first rebalance, label)
    # (later first rebalances than the tables allow keep the whole study near 20 minutes
    # on a shared 2-core machine; --start-all uses every year)
    "sp500": ("sp500_close_2013_2018.csv.gz", 30, None, "S&P 500 (2013-2018)"),
    "ftse100": ("ftse100_2000_2023.csv.gz", 10, "2008-01-01", "FTSE 100 (2000-2023)"),
    "us20": ("us20_stock_prices_1990_2018.csv.gz", 5, "2005-01-01", "US 20 stocks (1990-2018)"),
    "sample": (None, 5, "2010-01-01", "bundled sample, 20 S&P 500 stocks (1990-2022)"),
}
VARIANTS = {
    "empirical": {},
    "ledoit_wolf": {"model": {"covariance": "ledoit_wolf"}},
    "min_volatility weights": {"backtest": {"weights": "min_volatility"}},
}


def config(path: str | None, k: int, start: str | None, variant: dict) -> dict:
    data = {"source": "sample"} if path is None else {"source": "csv", "path": path}
    raw = {
        "data": {**data, "missing": "keep"},
        "model": {
            "k": k,
            "xi": XI_GRID[0],
            "windows": {"length": 63, "step": 21},
        },
        "solver": {"name": "swap", "num_reads": 10, "seed": 0},
        "backtest": {
            "lookback": 252,
            "rebalance": "monthly",
            "start": start,
            "costs_bps": 10,
            "random_subsets": 200,
            "seed": 0,
            "tune": {"grid": {"model.xi": XI_GRID}, "metric": "sharpe", "validation": 63},
        },
    }
    for section, values in variant.items():
        raw[section].update(values)
    return raw


def cells(metrics: dict, sig: dict) -> list[str]:
    ci = sig["sharpe_ci"]
    p = sig["vs_equal_weight_all"]["p_value"]
    return [
        f"{metrics['sharpe']:.2f} [{ci['lower']:.2f}, {ci['upper']:.2f}]",
        f"{p:.2f}",
        f"{sig['ceq']:.3f}",
        f"{metrics['turnover']:.1%}",
        f"{metrics['max_drawdown']:.1%}",
        f"{metrics['final_wealth']:.2f}",
    ]


HEADER = (
    "| strategy | Sharpe [95% CI] | p vs 1/N | CEQ | turnover | max DD | final wealth |\n"
    "|---|---|---|---|---|---|---|"
)


def table(name: str, runs: dict) -> tuple[str, dict]:
    """The markdown table of one dataset and the curves to draw."""
    base = runs["empirical"]
    s = base.settings
    lines = [HEADER]
    draw = {"1/N": base.equity["equal_weight_all"]}

    def add(label: str, metrics: dict, sig: dict) -> None:
        lines.append(f"| {label} | " + " | ".join(cells(metrics, sig)) + " |")

    add(
        "1/N (all candidates)",
        base.metrics["equal_weight_all"],
        base.significance["equal_weight_all"],
    )
    r = base.random
    lines.append(
        f"| random {s['k']}-subsets ({len(r)}): median [5%, 95%] | "
        f"{r['sharpe'].median():.2f} [{r['sharpe'].quantile(0.05):.2f}, "
        f"{r['sharpe'].quantile(0.95):.2f}] | | | {r['turnover'].median():.1%} | "
        f"{r['max_drawdown'].median():.1%} | {r['final_wealth'].median():.2f} |"
    )
    for baseline in s["baselines"]:
        add(baseline.replace("_", " "), base.metrics[baseline], base.significance[baseline])
        draw[baseline.replace("_", " ")] = base.equity[baseline]
    for variant, result in runs.items():
        for g in result.tune["grid"]:
            xi = g["values"]["model.xi"]
            add(f"QUBO {variant}, xi = {xi:g} fixed", g["metrics"], g["significance"])
        sig = result.significance["strategy"]
        dsr = sig.get("deflated_sharpe", {}).get("deflated_sharpe", float("nan"))
        chosen = " / ".join(f"{g['times_chosen']}" for g in result.tune["grid"])
        add(
            f"**QUBO {variant}, xi tuned** (chosen {chosen} times; DSR {dsr:.2f})",
            result.metrics["strategy"],
            sig,
        )
        draw[f"QUBO {variant}, xi tuned"] = result.equity["strategy"]
    intro = (
        f"{s['start']}..{s['end']} ({s['days']} days), {s['rebalances']} monthly rebalances, "
        f"lookback {s['lookback']} rows, candidates per date {int(base.rebalances['universe'].min())}"
        f"-{int(base.rebalances['universe'].max())}, K' = {s['k']}, costs {s['costs_bps']:g} bps"
    )
    return intro + "\n\n" + "\n".join(lines), {"draw": draw, "band": base.equity}


def figure(name: str, label: str, curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    band = curves["band"]
    if "random_p05" in band:
        ax.fill_between(
            band.index,
            band["random_p05"],
            band["random_p95"],
            color="0.85",
            lw=0,
            label="random K'-subsets 5-95%",
        )
    styles = {"1/N": {"color": "black", "lw": 1.6}}
    for i, (curve, wealth) in enumerate(curves["draw"].items()):
        style = styles.get(curve, {"lw": 1.6 if curve.startswith("QUBO") else 1.0})
        if not curve.startswith("QUBO") and curve != "1/N":
            style = {**style, "ls": "-."}
        ax.plot(wealth.index, wealth, label=curve, color=style.pop("color", f"C{i % 10}"), **style)
    ax.set_yscale("log")
    ax.set_ylabel("wealth (log scale, after 10 bps costs)")
    ax.set_title(f"{label}: out of sample, monthly rebalancing", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("sp500", "ftse100", "us20"):
        parser.add_argument(f"--{name}", default=str(SHARED / DATASETS[name][0]))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--start-all", action="store_true", help="rebalance from the first complete lookback"
    )
    parser.add_argument("--out", default=str(HERE / "out_of_sample"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    sections, total = [], time.perf_counter()
    for name in args.datasets:
        file, k, start, label = DATASETS[name]
        start = None if args.start_all else start
        path = None if file is None else getattr(args, name)
        if path is not None and not Path(path).is_file():
            note = f"## {label}\n\nskipped: {path} not found."
            print(note, flush=True)
            sections.append(note)
            continue
        clock = time.perf_counter()
        data = None
        runs = {}
        for variant, change in VARIANTS.items():
            raw = config(path, k, start, change)
            if variant != "empirical":  # the shared curves come from the first run
                raw["backtest"]["random_subsets"] = 0
            else:
                raw["backtest"]["baselines"] = [
                    "min_volatility",
                    "max_sharpe",
                    "inverse_volatility",
                    "hrp",
                ]
            cfg = validate_config(raw, f"{name}/{variant}")
            data = data if data is not None else load_data(cfg.data)
            step = time.perf_counter()
            runs[variant] = backtest_config(cfg, workers=args.workers, data=data)
            print(f"{name} {variant}: {time.perf_counter() - step:.0f} s", flush=True)
        seconds = time.perf_counter() - clock
        text, curves = table(name, runs)
        figure(name, label, curves, out / f"{name}.png")
        section = f"## {label}\n\n{text}\n\n(run time {seconds:.0f} s)"
        print("\n" + section + "\n", flush=True)
        sections.append(section)
    minutes = (time.perf_counter() - total) / 60
    footer = (
        f"Total {minutes:.1f} min on {platform.machine()}, Python {platform.python_version()}, "
        f"{args.workers} workers."
    )
    (out / "tables.md").write_text("\n\n".join(sections) + "\n\n" + footer + "\n")
    print(footer)
    print(f"wrote {out}/ (tables.md, <dataset>.png)")


if __name__ == "__main__":
    main()
