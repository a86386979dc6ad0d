"""Time and memory of `qubo-portfolio run` on a big synthetic universe, per stage.

    python experiments/bench_big_universe.py [--assets 3000] [--days 300] [--k 100]
        [--reads 20] [--source DIR [--source DIR ...]] [--repeats 1] [--skip-stages]

The config: ``data: {source: synthetic, synthetic: {assets: 3000, days: 300}}``, model
``k: 100`` (the rest as configs/default.yaml's defaults), the swap solver with 20 reads, plots
on. For each ``--source`` (a folder holding a ``qubo_portfolio`` package: this checkout by
default; for a before/after, extract an older commit with
``git archive COMMIT qubo_portfolio | tar -x -C /tmp/before``) two fresh processes run:

1. ``python -m qubo_portfolio.cli run CONFIG --out TMP``: the whole command as a user runs
   it (``--repeats`` times, then the medians), wall time, CPU time and peak resident memory
   (``ru_maxrss`` of the child);
2. the same steps one by one in one process (``run_experiment``, then each file and figure
   of ``write_run``), each timed (wall and CPU seconds; the CPU of the workflow's stages is
   shared out by their wall times), with the process's peak memory after it (one figure
   for the workflow's stages: run_experiment runs them in one call).

Prints one table per source. Wall times depend on the machine's load (the CPU seconds of
the whole command less so): compare sources run back to back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

STAGES = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB

    rows = []
    clock = [time.process_time()]
    def stage(name, seconds):
        now = time.process_time()
        rows.append((name, seconds, now - clock[0], peak()))
        clock[0] = now

    start = time.perf_counter()
    from qubo_portfolio.workflows.config import load_config
    from qubo_portfolio.workflows.run import run_experiment
    from qubo_portfolio.output import run as out
    from qubo_portfolio.output.files import write_json
    from qubo_portfolio.classical.network import correlation_network
    stage("imports", time.perf_counter() - start)
    cfg = load_config(sys.argv[1])
    result = run_experiment(cfg)
    t = result.timings
    seconds = [
        t.get(k, 0.0)
        for k in ("load_seconds", "build_seconds", "solve_seconds", "metrics_seconds",
                  "network_seconds")
    ]
    names = ["load data", "build QUBO", "solve", "metrics (in sample)", "diversification"]
    cpu = time.process_time() - clock[0]
    wall = sum(seconds)
    for n, (name, sec) in enumerate(zip(names, seconds)):  # CPU shared out by wall time
        last = n == len(names) - 1  # one peak for the whole workflow, on its last row
        rows.append((name, sec, cpu * sec / wall if wall else 0.0, peak() if last else None))
    clock[0] = time.process_time()
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        stage(name, time.perf_counter() - start)
        return value

    timed("summary.json", lambda: write_json(folder / "summary.json", out.run_summary(result)))
    timed("selection.csv + samples.csv", lambda: (
        out.selection_table(result.decoded.best).to_csv(folder / "selection.csv", index=False),
        result.decoded.samples.to_csv(folder / "samples.csv"),
    ))
    timed("plot cumulative_returns", lambda: out.plot_cumulative_returns(
        result, folder / "cumulative_returns.png"))
    network = timed("network (for the plots)", lambda: correlation_network(result.returns))
    timed("plot network", lambda: out.plot_network(result, folder / "network.png", network))
    timed("plot diversification", lambda: out.plot_diversification(
        result, folder / "diversification.png", network))
    print(json.dumps(rows))
    """
)


def run_child(args: list[str], source: Path, cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS (MB), CPU seconds and stdout of one child process."""
    env = {**os.environ, "PYTHONPATH": str(source), "MPLBACKEND": "Agg"}
    code = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        f"proc = subprocess.run({args!r}, capture_output=True, text=True); "
        "wall = time.perf_counter() - start; "
        "sys.stderr.write(proc.stderr); "
        "assert proc.returncode == 0, proc.returncode; "
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime); "
        "print(proc.stdout)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd
    )
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed:\n{proc.stderr[-2000:]}")
    head, _, rest = proc.stdout.partition("\n")
    wall, rss, cpu = map(float, head.split())
    return wall, rss, cpu, rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=3000)
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--source", action="append", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=1, help="runs of the whole command")
    parser.add_argument("--skip-stages", action="store_true", help="only the whole command")
    opts = parser.parse_args()
    sources = opts.source or [HERE.parent]
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        tmp = Path(tmp)
        config = tmp / "big.yaml"
        config.write_text(
            json.dumps(
                {
                    "data": {
                        "source": "synthetic",
                        "synthetic": {"assets": opts.assets, "days": opts.days},
                    },
                    "model": {"k": opts.k},
                    "solver": {"name": "swap", "num_reads": opts.reads, "seed": 0},
                    "report": {"plots": True},
                }
            )
        )
        print(
            f"synthetic market {opts.assets} assets x {opts.days} days, k {opts.k}, "
            f"swap {opts.reads} reads, plots on; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for n, source in enumerate(sources):
            source = source.resolve()
            print(f"\nsource {source}")
            out = tmp / f"run-{n}"
            cli = [
                sys.executable,
                "-m",
                "qubo_portfolio.cli",
                "run",
                str(config),
                "--out",
                str(out),
            ]
            runs = []
            for r in range(opts.repeats):
                runs.append(run_child([*cli[:-1], f"{out}-{r}"], source, tmp)[:3])
                wall, rss, cpu = runs[-1]
                print(
                    f"{'whole `run` command':<32}{wall:>9.1f} s{rss:>10.0f} MB peak"
                    f"  ({cpu:.1f} s CPU; load average now {os.getloadavg()[0]:.1f})"
                )
            if opts.repeats > 1:
                wall, rss, cpu = (statistics.median(col) for col in zip(*runs, strict=True))
                print(
                    f"{'median of ' + str(opts.repeats):<32}{wall:>9.1f} s{rss:>10.0f} MB peak"
                    f"  ({cpu:.1f} s CPU)"
                )
            if opts.skip_stages:
                continue
            script = tmp / "stages.py"
            script.write_text(STAGES)
            cmd = [sys.executable, str(script), str(config), str(tmp / f"stages-{n}")]
            _, _, _, stdout = run_child(cmd, source, tmp)
            rows = json.loads(stdout.strip().splitlines()[-1])
            print(f"{'stage':<32}{'wall':>11}{'CPU':>11}{'peak so far':>13}")
            for name, seconds, cpu, peak in rows:
                memory = f"{peak:>10.0f} MB" if peak is not None else ""
                print(f"{name:<32}{seconds:>9.2f} s{cpu:>9.2f} s{memory}")
            print(
                f"{'sum of stages':<32}{sum(r[1] for r in rows):>9.1f} s"
                f"{sum(r[2] for r in rows):>9.1f} s"
            )


if __name__ == "__main__":
    main()
