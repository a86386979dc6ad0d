"""The ``qubo-portfolio`` command.

Exit codes: 0 success; 2 bad input or config (one line on stderr naming the problem and the
fix, no traceback unless ``--debug``); 1 an unexpected error (a bug: please report it).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from ._version import __version__
from .errors import InputError

# Each command imports its workflow and writer inside its function: `--help`, `solvers` and
# `export` then start without loading pandas-heavy workflows, solvers or matplotlib they
# never use (startup time), and the layers stay one-way (cli is the top).


# Global flags a user may also type after the command (`qubo-portfolio run CONFIG --quiet`).
GLOBAL_FLAGS = ("--quiet", "-q", "--verbose", "-v")


class Group(TyperGroup):
    """The top-level help lists every command with the whole first line of its docstring
    (click cuts it to the terminal width minus the names and adds "..."); ``--quiet`` and
    ``--verbose`` work after the command too."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        """Move :data:`GLOBAL_FLAGS` typed after the command (before any ``--``) in front."""
        names = set(self.list_commands(ctx))
        start = next((i for i, arg in enumerate(args) if arg in names), None)
        if start is not None:
            end = start + args[start:].index("--") if "--" in args[start:] else len(args)
            flags = [a for a in args[start:end] if a in GLOBAL_FLAGS]
            rest = [a for a in args[start:end] if a not in GLOBAL_FLAGS]
            args = [*flags, *args[:start], *rest, *args[end:]]
        return super().parse_args(ctx, args)

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class Command(TyperCommand):
    """Usage lines show a required argument as ``CONFIG`` (typer writes ``{CONFIG}``)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


class App(typer.Typer):
    """A Typer whose commands are :class:`Command` unless told otherwise."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or Command, **kwargs)


app = App(
    cls=Group,
    add_completion=False,
    no_args_is_help=True,
    help="Pick an equal-weight portfolio of K' stocks out of K by solving a QUBO.\n\n"
    "Global options go before or after the command: qubo-portfolio run CONFIG --quiet. "
    "Each command has its own --help.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# --quiet / --verbose (global options, before or after the command): quiet prints only errors,
# notes about the data and the final "wrote DIR" line; verbose adds timings.
VERBOSITY = {"level": 1}


def echo(text: str = "", err: bool = False) -> None:
    """Print a line; when the reader of stdout has gone (``| head``), print nothing more and
    let the command finish its work (its results are files, not this output)."""
    try:
        typer.echo(text, err=err)
    except BrokenPipeError:
        _silence(sys.stderr if err else sys.stdout)


def _silence(stream) -> None:
    """Point ``stream``'s file descriptor at /dev/null (so its flush at exit cannot fail)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def say(text: str = "", err: bool = False) -> None:
    """Print unless --quiet."""
    if VERBOSITY["level"] >= 1:
        echo(text, err=err)


def detail(text: str) -> None:
    """Print on stderr with --verbose only."""
    if VERBOSITY["level"] >= 2:
        echo(text, err=True)


def done(text: str) -> None:
    """The final line (always printed)."""
    echo(text.lstrip("\n") if VERBOSITY["level"] < 1 else text)


def _print_version(value: bool) -> None:
    if value:
        echo(f"qubo-portfolio {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print the version and exit",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help='only errors and the final "wrote DIR" line')
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="also print timings of each stage")
    ] = False,
) -> None:
    """Global options: --version, --quiet, --verbose."""
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    VERBOSITY["level"] = 0 if quiet else 2 if verbose else 1


ConfigArg = Annotated[
    Path, typer.Argument(help="experiment config (YAML)", show_default=False, metavar="CONFIG")
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", help="result folder (default results/<config-stem>-<timestamp>)", metavar="DIR"
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="override a config key, e.g. --set model.xi=0.2 (repeatable)",
        metavar="KEY=VALUE",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing result folder")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="show tracebacks")]


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning as one stderr line (no source line, no file path)."""
    text = (str(message).strip().splitlines() or [category.__name__])[0]
    typer.echo(f"warning: {text} ({category.__name__})", err=True)


# typer's own exit and usage errors pass through; its click may be vendored (typer >= 0.2x
# installs no click), so the usage-error base is found from typer itself, not imported
_CLI_EXCEPTIONS = (
    typer.Exit,
    typer.Abort,
    *[c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"],
)


@contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn bad input and OS errors (no space, no permission, ...) into one stderr line and
    exit code 2, an unexpected error into one line and exit code 1 (``--debug``: raise)."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            yield
    except InputError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BrokenPipeError:  # the reader of the output went away mid-command: stop quietly
        _silence(sys.stdout)
        raise typer.Exit(141) from None
    except OSError as exc:  # reading or writing: no space, no permission, read-only, ...
        if debug:
            raise
        from .paths import os_error_text

        typer.echo(f"error: cannot read or write {os_error_text(exc)}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing was written", err=True)
        raise typer.Exit(130) from None
    except _CLI_EXCEPTIONS:
        raise
    except Exception as exc:  # a bug: one line, the traceback with --debug
        if debug:
            raise
        text = (str(exc).strip().splitlines() or [""])[0]
        typer.echo(
            f"internal error: {type(exc).__name__}: {text} (a bug: rerun with --debug for the "
            "traceback and please report it)",
            err=True,
        )
        raise typer.Exit(1) from None


def listing(folder: Path, *first: str) -> str:
    """The files of a result folder: ``first`` in that order, then the rest by name."""
    names = sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))
    return ", ".join([*(n for n in first if n in names), *(n for n in names if n not in first)])


def echo_dropped(data: object) -> None:
    """Name every asset the cleaning dropped, why, and the fix (stderr)."""
    from .core.data import dropped_notes

    report = getattr(data, "report", data)
    for note in dropped_notes(report if isinstance(report, dict) else {}):
        echo(note, err=True)


def run_and_write(
    config: Path,
    overrides: list[str] | None,
    out: Path | None,
    force: bool,
    compute: Callable,
    write: Callable,
):
    """Load CONFIG, refuse a used ``--out`` early, compute, write atomically.

    Returns ``(cfg, result, out)``; ``write(result, folder, plots=...)`` fills the staged
    folder that replaces ``out`` only when it is complete.
    """
    from .output.files import check_out_dir, default_out_dir, staged_output
    from .workflows.config import load_config

    cfg = load_config(config, overrides)
    reserved = out is None  # a fresh default folder, created empty (unique under concurrency)
    out = out or default_out_dir(config, create=True)
    try:
        check_out_dir(out, force or reserved)
        start = time.perf_counter()
        result = compute(cfg)
        computed = time.perf_counter() - start
        echo_dropped(getattr(result, "data", None))
        start = time.perf_counter()
        with staged_output(out, force or reserved) as folder:
            write(result, folder, plots=cfg.report.plots)
    except BaseException:
        if reserved:
            _remove_if_empty(out)
        raise
    timings = getattr(result, "timings", None) or {}
    stages = "  ".join(
        f"{k.removesuffix('_seconds')} {v:.2f} s"
        for k, v in timings.items()
        if k.endswith("_seconds") and isinstance(v, int | float)
    )
    detail(
        f"timings: compute {computed:.2f} s"
        + (f" ({stages})" if stages else "")
        + f", write {time.perf_counter() - start:.2f} s"
    )
    return cfg, result, out


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


@app.command()
def run(
    config: ConfigArg,
    out: OutOpt = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run one experiment: build the QUBO, solve it, write summary.json, CSVs and plots."""
    with user_errors(debug):
        from .output.run import console_table, write_run
        from .workflows.run import run_experiment

        cfg, result, out = run_and_write(config, set_, out, force, run_experiment, write_run)
        say(console_table(result))
        done(f"\nwrote {out}/ ({listing(out, 'summary.json', 'selection.csv', 'samples.csv')})")


@app.command()
def frontier(
    config: ConfigArg,
    out: OutOpt = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Markowitz portfolios, exact frontier, random cloud and the QUBO selections per xi."""
    with user_errors(debug):
        from .output.frontier import frontier_table, write_frontier
        from .workflows.frontier import run_frontier

        cfg, result, out = run_and_write(config, set_, out, force, run_frontier, write_frontier)
        say(frontier_table(result))
        done(f"\nwrote {out}/ ({listing(out, 'portfolios.json', 'frontier.csv')})")


@app.command()
def export(
    config: ConfigArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="file to write (refused if it exists, unless --force)", metavar="FILE"
        ),
    ],
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="bqm | cqm | lp | qubo-json (default: from the suffix .bqm .cqm .lp .json; "
            "a suffix naming another format is refused)",
        ),
    ] = None,
    set_: SetOpt = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing file")] = False,
    debug: DebugOpt = False,
) -> None:
    """Write the config's model to a file for other samplers (penalty BQM, CQM, LP, JSON)."""
    with user_errors(debug):
        from .core.returns import simple_returns
        from .output.export import CLI_WORDS, check_target, export_model, format_of
        from .workflows.config import load_config
        from .workflows.settings import build_model, load_for_model

        cfg = load_config(config, set_)
        # a folder, or an existing file without --force: refused before loading anything
        check_target(out, force, format_, words=CLI_WORDS)
        fmt = format_of(out, format_, words=CLI_WORDS)
        data = load_for_model(cfg.data, cfg.model)
        echo_dropped(data)
        qubo = build_model(simple_returns(data.prices), cfg.model)
        penalty = cfg.model.penalty
        info = export_model(
            qubo,
            out,
            fmt,
            penalty=penalty.value,
            penalty_scale=penalty.scale,
            exclusion=penalty.exclusion_value,
            exclusion_scale=penalty.exclusion_scale,
            force=force,
        )
        what = {"bqm": "penalty BQM", "qubo-json": "penalty BQM (JSON)"}.get(fmt, "CQM")
        done(
            f"wrote {out} ({fmt}: {what}, {qubo.num_variables} binary variables, "
            f"k {qubo.k}, xi {qubo.xi:g}, {qubo.positions})"
        )
        if info["penalty"] is not None:
            line = (
                f"penalty lambda {info['penalty']:.6g} "
                f"({info['penalty'] / info['penalty_bound']:.3g} lambda*)"
            )
            if info["exclusion_penalty"] is not None:
                line += (
                    f"  exclusion gamma {info['exclusion_penalty']:.6g} "
                    f"({info['exclusion_penalty'] / info['exclusion_penalty_bound']:.3g} gamma*)"
                )
            say(line)
        else:
            say(f"constraints {info['num_constraints']} (cardinality == {qubo.k})")
        if info.get("lp_renamed"):
            say(
                f"LP names: {len(info['lp_renamed'])} labels renamed, e.g. "
                + ", ".join(f"{a} -> {b}" for a, b in list(info["lp_renamed"].items())[:2])
                + " (listed in the file's header)"
            )


@app.command()
def data(
    config: ConfigArg,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what the config's commands would use, without solving: the file's detected
    format, dates, assets kept and dropped (why), gaps, large moves, windows, rebalance dates."""
    with user_errors(debug):
        from .output.inspect import inspection_json, inspection_text
        from .workflows.config import load_config
        from .workflows.inspect import inspect_config

        cfg = load_config(config, set_)
        result = inspect_config(cfg, str(config))
        echo(inspection_json(result) if json_ else inspection_text(result))


@app.command()
def solvers() -> None:
    """List the solvers and their parameters."""
    from .solvers import SOLVERS

    for spec in SOLVERS.values():
        alias = f" (alias: {', '.join(spec.aliases)})" if spec.aliases else ""
        penalty = "penalty BQM" if spec.uses_penalty else "no penalty"
        echo(f"{spec.name}{alias}  [{penalty}]\n  {spec.summary}")
        for name, text in spec.parameters.items():
            echo(f"    {name}: {text}")
        if not spec.parameters:
            echo("    (no solver.params)")
    echo(
        "\nall solvers: solver.num_reads, solver.seed, solver.polish, solver.certify (certify_time_limit)"
    )


@app.command()
def bench(
    config: Annotated[
        Path | None, typer.Argument(help="take data and model from this config", show_default=False)
    ] = None,
    prices: Annotated[Path | None, typer.Option(help="price CSV (instead of a config)")] = None,
    synthetic: Annotated[
        int | None, typer.Option(help="a synthetic market of this many assets (instead)")
    ] = None,
    days: Annotated[int | None, typer.Option(help="synthetic: price rows [default: 127]")] = None,
    data_seed: Annotated[
        int | None, typer.Option(help="synthetic: market seed [default: 1]")
    ] = None,
    max_gap: Annotated[
        int | None, typer.Option(help="--prices: fill gaps up to this many rows [default: 0]")
    ] = None,
    k: Annotated[int | None, typer.Option(help="K' (default: the config's, else 30)")] = None,
    xi: Annotated[float | None, typer.Option(help="xi (default: the config's, else 0.05)")] = None,
    lookback: Annotated[
        int | None, typer.Option(help="last N return rows (no config) [default: 126]")
    ] = None,
    window_length: Annotated[
        int | None, typer.Option(help="window rows (no config) [default: 21]")
    ] = None,
    window_step: Annotated[
        int | None, typer.Option(help="window step (no config) [default: 10]")
    ] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option(help="NAME[+polish][:key=value,...], repeatable (default: a standard set)"),
    ] = None,
    reads: Annotated[int, typer.Option(help="reads per repeat")] = 20,
    repeats: Annotated[int, typer.Option(help="repeats per solver (seeds seed, seed+1, ...)")] = 5,
    seed: Annotated[int, typer.Option(help="first seed")] = 0,
    penalty_scale: Annotated[
        float | None,
        typer.Option(help="lambda / lambda* for penalty solvers (default: the config's, else 1)"),
    ] = None,
    best_known: Annotated[float | None, typer.Option(help="best known objective")] = None,
    prove: Annotated[
        float,
        typer.Option(
            help="seconds to prove the optimum (enumeration or branch and bound) and use it as "
            "the reference; 0: the best read is the reference"
        ),
    ] = 10.0,
    out: OutOpt = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Benchmark solvers on one instance: bench.csv, bench.md and a PNG of objectives."""
    with user_errors(debug):
        from .output.bench import write_bench
        from .output.files import check_out_dir, default_out_dir, staged_output
        from .workflows.bench import (
            DEFAULT_CASES,
            BenchCase,
            bench_config,
            bench_instance,
            dropped_option_notes,
            in_option_terms,
            run_bench,
        )

        cfg, stem = bench_config(
            config,
            set_,
            prices=prices,
            synthetic=synthetic,
            days=days,
            data_seed=data_seed,
            max_gap=max_gap,
            k=k,
            xi=xi,
            lookback=lookback,
            window_length=window_length,
            window_step=window_step,
        )
        cases = [BenchCase.parse(s) for s in (solver or DEFAULT_CASES)]
        reserved = out is None  # a fresh default folder, created empty
        out = out or default_out_dir(f"bench-{stem}", create=True)
        force = force or reserved
        try:
            check_out_dir(out, force)
            if config is not None:
                instance = bench_instance(cfg, stem, penalty_scale)
                echo_dropped(instance.data_report)
            else:  # the instance comes from options: name those in messages
                try:
                    instance = bench_instance(cfg, stem, penalty_scale)
                except InputError as exc:
                    raise InputError(in_option_terms(str(exc))) from exc
                for note in dropped_option_notes(instance.data_report):
                    echo(note, err=True)
            say(
                f"{instance.description}; {len(cases)} solvers x {repeats} repeats x {reads} reads",
                err=True,
            )
            result = run_bench(
                instance.qubo,
                cases,
                reads=reads,
                repeats=repeats,
                seed=seed,
                penalty_scale=instance.penalty_scale,
                best_known=best_known,
                progress=lambda label: say(f"  {label} ...", err=True),
                exclusion_scale=instance.exclusion_scale,
                penalty=instance.penalty,
                exclusion=instance.exclusion,
                prove=prove,
            )
            args = sys.argv[1:]
            args = args[args.index("bench") + 1 :] if "bench" in args else args[1:]
            command = "qubo-portfolio bench " + " ".join(args)
            with staged_output(out, force) as folder:
                write_bench(result, folder, instance.description, command, config=cfg)
        except BaseException:
            if reserved:
                _remove_if_empty(out)
            raise
        say((out / "bench.md").read_text())
        done(f"wrote {out}/ ({listing(out, 'bench.md', 'bench.csv')})")


@app.command()
def backtest(
    config: ConfigArg,
    out: OutOpt = None,
    executor: Annotated[
        str, typer.Option(help="local (processes on this machine) or dask")
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(help="worker processes (default: serial for small jobs, else all cores)"),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (with --executor dask)")
    ] = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Walk-forward backtest out of sample: select at each rebalance date, buy and hold."""
    with user_errors(debug):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from .output.backtest import backtest_table, write_backtest
        from .workflows.backtest import backtest_config

        console = Console(stderr=True)
        columns = ("rebalance dates", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())

        def compute(cfg):
            quiet = VERBOSITY["level"] < 1 or not console.is_terminal
            with Progress(*columns, console=console, disable=quiet) as bar:
                task = bar.add_task("solve", total=None)
                return backtest_config(
                    cfg,
                    executor=executor,
                    workers=workers,
                    scheduler=scheduler,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )

        cfg, result, out = run_and_write(config, set_, out, force, compute, write_backtest)
        say(backtest_table(result))
        done(f"\nwrote {out}/ ({listing(out, 'metrics.json', 'equity.csv')})")


@app.command()
def sweep(
    config: ConfigArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="sweep folder, reused to resume (default results/<config-stem>)"
        ),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (joblib processes) or dask")] = "local",
    workers: Annotated[
        int | None, typer.Option(help="processes (local) or LocalCluster workers (dask)")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="address of a running Dask scheduler (with --executor dask)")
    ] = None,
    set_: SetOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Sweep the config's grid x seeds: results.csv (resumable), plots and a summary table."""
    with user_errors(debug):
        from .output.sweep import sweep_table, write_sweep
        from .workflows.config import load_config
        from .workflows.sweep import plan_sweep, run_sweep

        cfg = load_config(config, set_)
        plan = plan_sweep(cfg, str(config))
        out = out or Path("results") / Path(config).stem
        try:
            result = run_sweep(
                plan,
                out,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                log=lambda line: say(line, err=True),
            )
        except KeyboardInterrupt:
            typer.echo(
                f"interrupted: finished runs are kept in {out}/results.csv (rerun the same "
                "command to resume)",
                err=True,
            )
            raise typer.Exit(130) from None
        plots = write_sweep(result, plots=cfg.report.plots)
        say(sweep_table(result))
        files = ", ".join(["results.csv", "sweep.json", *(p.name for p in plots)])
        done(f"\nwrote {out}/ ({files})")


@app.command()
def report(
    folder: Annotated[
        Path,
        typer.Argument(
            help="a result folder of run, sweep, backtest, frontier or bench",
            show_default=False,
            metavar="DIR",
        ),
    ],
    debug: DebugOpt = False,
) -> None:
    """(Re)build DIR/report.html, one self-contained page, from the folder's files."""
    with user_errors(debug):
        from .output.report import detect_kind, write_report

        kind = detect_kind(folder)
        path = write_report(folder, kind)
        echo(f"wrote {path} ({kind} report, {path.stat().st_size / 1e3:.0f} kB)")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except InputError as exc:  # raised outside a command body (should not happen)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
