"""``rocky import dbt``."""

from __future__ import annotations

from pathlib import Path

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options


@cli.group("import")
@global_options
def import_group() -> None:
    """Bring a project from another tool into rocky (dbt).

    \b
    Example:
        rocky import dbt ~/src/jaffle_shop ~/src/shop_rocky
    """


@import_group.command("dbt")
@click.argument("dbt_dir", type=click.Path(path_type=Path, file_okay=False))
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A dbt manifest.json (schema v12, dbt 1.8+) from `dbt compile` "
                   "(default: DBT_DIR/target/manifest.json when it has compiled SQL).")
@click.option("--jinja", is_flag=True, default=False,
              help="Render the models' Jinja instead of reading a manifest.")
@click.option("--verify", is_flag=True, default=False,
              help="Build both projects on the same seeds in throwaway DuckDB files and "
                   "compare every imported model's rows (needs dbt and dbt-duckdb).")
@click.option("--dbt", "dbt_exe", default=None, envvar="ROCKY_DBT",
              help="The dbt executable for --verify (default: `dbt` on PATH; env ROCKY_DBT).")
@click.option("--force", is_flag=True, default=False,
              help="Replace DEST when it holds an earlier import.")
@global_options
@pass_options
def import_dbt_cmd(opts: Options, dbt_dir: Path, dest: Path | None, manifest: Path | None,
                   jinja: bool, verify: bool, dbt_exe: str | None, force: bool) -> int:
    """Turn a dbt project into a rocky project, with a report of what did not carry over.

    Writes DEST (default: DBT_DIR/rocky) and MIGRATION.md in it. Exit 0 when every model
    was imported (some may be `partial`: see the notes), 1 when a model was refused (or,
    with --verify, differs), 2 on bad input.

    \b
    Example:
        cd jaffle_shop && dbt compile
        rocky import dbt . ../shop_rocky
        rocky import dbt . ../shop_rocky --verify --force --format json
    """
    from rocky_engine.importers.dbt import import_dbt

    report = import_dbt(dbt_dir, dest, manifest=manifest, jinja=jinja, verify=verify,
                        force=force, dbt_executable=dbt_exe, console=opts.console())
    emit(opts, report.to_json(), lambda: click.echo(report.render_text()))
    return 0 if report.ok else 1
