"""The ``qubo-portfolio`` command.

Exit codes: 0 success; 2 bad input or config (one line on stderr naming the problem and the
fix, no traceback unless ``--debug``); 1 an unexpected error (a bug: please report it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Pick an equal-weight portfolio of K' stocks out of K by solving a QUBO.",
    pretty_exceptions_enable=False,
)

ConfigArg = Annotated[Path, typer.Argument(help="experiment config (YAML)", show_default=False)]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="result folder (default results/<config-stem>-<timestamp>)"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a config key, e.g. --set model.xi=0.2 (repeatable)"),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="replace an existing result folder")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="show tracebacks")]


@contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn bad input into one stderr line and exit code 2."""
    try:
        yield
    except InputError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted: nothing was written", err=True)
        raise typer.Exit(130) from None


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
        from .config import load_config
        from .pipeline import run_experiment
        from .report import check_out_dir, console_table, default_out_dir, staged_output, write_run

        cfg = load_config(config, set_)
        out = out or default_out_dir(config)
        check_out_dir(out, force)
        result = run_experiment(cfg)
        with staged_output(out, force) as folder:
            write_run(result, folder, plots=cfg.report.plots)
        typer.echo(console_table(result))
        typer.echo(f"\nwrote {out}/ (summary.json, selection.csv, samples.csv, plots)")


@app.command()
def solvers() -> None:
    """List the solvers and their parameters."""
    from .solvers import SOLVERS

    for spec in SOLVERS.values():
        alias = f" (alias: {', '.join(spec.aliases)})" if spec.aliases else ""
        penalty = "penalty BQM" if spec.uses_penalty else "no penalty"
        typer.echo(f"{spec.name}{alias}  [{penalty}]\n  {spec.summary}")
        for name, text in spec.parameters.items():
            typer.echo(f"    {name}: {text}")
        if not spec.parameters:
            typer.echo("    (no solver.params)")
    typer.echo("\nall solvers: solver.num_reads, solver.seed, solver.polish")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except InputError as exc:  # raised outside a command body (should not happen)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
