"""``rocky drift``: compare live sources with ``sources/``, show the impact, accept it."""

from __future__ import annotations

import sys

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options
from rocky_engine.context import Context
from rocky_engine.drift.render import render_report
from rocky_engine.errors import UsageError


@cli.command("drift")
@click.option("--check", is_flag=True, default=False,
              help="Exit 1 when anything drifted (for CI).")
@click.option("--accept", is_flag=True, default=False,
              help="Update sources/*.toml to the live shape (comments and order kept), "
                   "after showing the diff.")
@click.option("--yes", "-y", is_flag=True, default=False,
              help="With --accept: write without asking (needed when not interactive).")
@global_options
@pass_options
def drift_cmd(opts: Options, check: bool, accept: bool, yes: bool) -> int:
    """Compare the live warehouse with sources/: what changed, how sure, what it breaks.

    Renames are recognised from evidence (type, name, position, values); each impacted
    model column is `broken` (no longer compiles) or `affected` (values may change),
    with its lineage path from the changed source column.

    \b
    Example:
        rocky drift                    # report
        rocky drift --check            # exit 1 when anything drifted
        rocky drift --accept --yes     # record the live shape in sources/
    """
    if check and accept:
        raise UsageError("--check and --accept cannot be combined",
                         hint="run `rocky drift --check` in CI, `rocky drift --accept` by hand")
    if yes and not accept:
        raise UsageError("--yes only applies to --accept", hint="rocky drift --accept --yes")
    ctx = Context.load(opts.project, opts.console())
    report = ctx.drift()
    if not accept:
        emit(opts, report.to_json(), lambda: click.echo(render_report(report), nl=False))
        return 1 if check and report.drifted else 0

    preview = ctx.drift_accept(report, dry_run=True)
    if not preview.patches:
        emit(opts, {**report.to_json(), "accepted": preview.to_json()},
             lambda: click.echo("nothing to accept: sources/ already matches the warehouse"))
        return 0
    if not yes:
        if opts.json or not sys.stdin.isatty():
            if not opts.json:
                click.echo("sources/ would change like this:\n")
                click.echo(preview.diff, nl=False)
            raise UsageError("--accept would rewrite " + ", ".join(sorted(preview.patches))
                             + " and needs confirmation, but this is not an interactive "
                               "terminal", hint="re-run with --accept --yes to write it")
        click.echo(render_report(report), nl=False)
        click.echo("\nsources/ will change like this:\n")
        click.echo(preview.diff, nl=False)
        if not click.confirm("\nwrite these changes?", default=False):
            click.echo("nothing written")
            return 0
    elif not opts.json:
        click.echo(preview.diff, nl=False)
    result = ctx.drift_accept(report)

    def text() -> None:
        files = ", ".join(sorted(result.patches))
        click.echo(f"accepted {len(report.changes)} change(s): updated {files}")
        if report.impact:
            click.echo("models still read the old shape: run `rocky repair` "
                       "(or fix them by hand) and `rocky compile`")

    emit(opts, {**report.to_json(), "accepted": result.to_json()}, text)
    return 0
