"""``rocky init`` and ``rocky seed``."""

from __future__ import annotations

from pathlib import Path

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options
from rocky_engine.context import Context
from rocky_engine.scaffold import EXAMPLES, init_project


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--example", type=click.Choice(EXAMPLES), default=None,
              help="Write a working example project (with seed data) instead of a skeleton.")
@global_options
@pass_options
def init_cmd(opts: Options, directory: Path, example: str | None) -> int:
    """Create a new rocky project in DIRECTORY (empty or new).

    \b
    Example:
        rocky init shop --example shop
        cd shop && rocky seed && rocky compile
    """
    written = init_project(directory, example=example)
    root = directory.resolve()

    def text() -> None:
        click.echo(f"created {'example ' + example if example else 'project'} in {root} "
                   f"({len(written)} files)")
        click.echo(f"next: cd {directory} && rocky seed" if example else
                   f"next: declare sources in {directory}/sources/ and add models/*.sql")

    emit(opts, {"root": str(root), "files": [str(p.relative_to(root)) for p in written]}, text)
    return 0


@cli.command("seed")
@global_options
@pass_options
def seed_cmd(opts: Options) -> int:
    """Load seeds/<schema>/<table>.csv into the warehouse with the declared source types.

    \b
    Example:
        rocky seed --project shop
    """
    ctx = Context.load(opts.project, opts.console())
    results = ctx.seed()

    def text() -> None:
        total = sum(r.rows for r in results)
        click.echo(f"seeded {len(results)} tables, {total} rows into {ctx.warehouse_label}")

    emit(opts, {"seeds": [{"table": r.table, "file": r.file, "rows": r.rows} for r in results]},
         text)
    return 0
