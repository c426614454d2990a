"""``rocky run``, ``rocky test`` and ``rocky branch create|list|diff|promote|drop``."""

from __future__ import annotations

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options
from rocky_engine.config import MAX_THREADS
from rocky_engine.context import Context
from rocky_engine.execution.branches import validate_branch_name

_SELECT_HELP = ("Models to include: NAME, +NAME (with upstream), NAME+ (with downstream), "
                "+NAME+; repeat or separate with commas for several.")


def _branch_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Rejected before any SQL is built (and before the warehouse is opened).
    return validate_branch_name(value) if value is not None else None


@cli.command("run")
@click.option("--select", "-s", "select", multiple=True, metavar="SEL", help=_SELECT_HELP)
@click.option("--branch", "-b", default=None, callback=_branch_arg, metavar="B",
              help="Build into branch B (schema <schema>__B) instead of prod.")
@click.option("--threads", "-j", "threads", type=click.IntRange(1, MAX_THREADS), default=None,
              metavar="N", help="Build up to N independent models at once, each on its own "
                                "warehouse connection (default: [warehouse] threads, else 1).")
@click.option("--full-refresh", is_flag=True, default=False,
              help="Rebuild incremental models whole instead of adding their new rows.")
@global_options
@pass_options
def run_cmd(opts: Options, select: tuple[str, ...], branch: str | None,
            threads: int | None, full_refresh: bool) -> int:
    """Compile, then build models in DAG order as views, tables or incremental tables.

    Refuses to run (exit 1) when the project has compile errors. A model that fails
    skips its dependents, not unrelated models; exit 1 when any model failed. With
    --threads N, models whose parents are built run N at a time; the output keeps the
    same order as one thread. An incremental model adds only the rows above its stored
    watermark (atomically: a failure leaves the table as it was); its first run and
    --full-refresh build it whole.

    \b
    Example:
        rocky run
        rocky run --select +customers --select daily_revenue
        rocky run --threads 4
        rocky run --branch fix_orders --select stg_orders+ --format json
        rocky run --full-refresh --select orders_incremental
    """
    ctx = Context.load(opts.project, opts.console())
    result = ctx.run(list(select) or None, branch, threads=threads,
                     full_refresh=full_refresh)

    def text() -> None:
        color = "green" if result.ok else "red"
        click.secho(result.summary(), fg=color, err=False)
        for m in result.models:
            if m.status == "error":
                click.echo(f"error: model {m.name} failed: {m.error}")

    emit(opts, result.to_json(), text)
    return 0 if result.ok else 1


@cli.command("test")
@click.option("--select", "-s", "select", multiple=True, metavar="SEL", help=_SELECT_HELP)
@click.option("--branch", "-b", default=None, callback=_branch_arg, metavar="B",
              help="Test the objects of branch B instead of prod.")
@global_options
@pass_options
def test_cmd(opts: Options, select: tuple[str, ...], branch: str | None) -> int:
    """Run the data tests and unit tests declared in model sidecars.

    Data tests: not_null, unique, accepted_values, relationships, expression, row_count.
    Unit tests run in a throwaway schema. Exit 1 when any test fails.

    \b
    Example:
        rocky test
        rocky test --select customers --branch fix_orders --format json
    """
    ctx = Context.load(opts.project, opts.console())
    report = ctx.test(list(select) or None, branch)

    def text() -> None:
        click.secho(report.summary(), fg="green" if report.ok else "red")

    emit(opts, report.to_json(), text)
    return 0 if report.ok else 1


@cli.group("branch")
def branch_group() -> None:
    """Isolated environments in the same warehouse: create, list, diff, promote, drop.

    \b
    Example:
        rocky branch create fix_orders
        rocky run --branch fix_orders --select stg_orders+
        rocky branch diff fix_orders
        rocky branch promote fix_orders && rocky branch drop fix_orders
    """


_NAME = click.argument("name", callback=_branch_arg)


@branch_group.command("create")
@_NAME
@global_options
@pass_options
def branch_create_cmd(opts: Options, name: str) -> int:
    """Create branch NAME: schema <schema>__NAME with a zero-copy view over every prod model.

    \b
    Example:
        rocky branch create fix_orders
    """
    ctx = Context.load(opts.project, opts.console())
    info = ctx.branch_create(name)
    emit(opts, info.to_json(),
         lambda: click.echo(f"created branch {info.name} (schema {info.schema})"))
    return 0


@branch_group.command("list")
@global_options
@pass_options
def branch_list_cmd(opts: Options) -> int:
    """List branches with the models built on each.

    \b
    Example:
        rocky branch list --format json
    """
    ctx = Context.load(opts.project, opts.console())
    infos = ctx.branch_list()

    def text() -> None:
        if not infos:
            click.echo("no branches")
        for b in infos:
            built = ", ".join(b.built) or "nothing built yet"
            click.echo(f"{b.name:<24} {b.schema:<32} {built}")

    emit(opts, {"branches": [b.to_json() for b in infos]}, text)
    return 0


@branch_group.command("diff")
@_NAME
@click.option("--select", "-s", "select", multiple=True, metavar="SEL",
              help="Models to diff (default: the models built on the branch). " + _SELECT_HELP)
@global_options
@pass_options
def branch_diff_cmd(opts: Options, name: str, select: tuple[str, ...]) -> int:
    """Schema and data diff of branch NAME against prod, keyed by each model's grain.

    \b
    Example:
        rocky branch diff fix_orders
        rocky branch diff fix_orders --select customers --format json
    """
    ctx = Context.load(opts.project, opts.console())
    diff = ctx.branch_diff(name, list(select) or None)

    def text() -> None:
        click.echo(f"branch {diff.branch} ({diff.schema}) vs {diff.base}:")
        if not diff.models:
            click.echo("  nothing built on the branch")
        for m in diff.models:
            click.echo(m.render())

    emit(opts, diff.to_json(), text)
    return 0


@branch_group.command("promote")
@_NAME
@global_options
@pass_options
def branch_promote_cmd(opts: Options, name: str) -> int:
    """Replace prod objects with the models built on branch NAME, in one transaction.

    \b
    Example:
        rocky branch promote fix_orders
    """
    ctx = Context.load(opts.project, opts.console())
    result = ctx.branch_promote(name)
    emit(opts, result.to_json(), lambda: click.echo(
        f"promoted {len(result.promoted)} model(s) from {result.branch} to prod: "
        + ", ".join(m.model for m in result.promoted)))
    return 0


@branch_group.command("drop")
@_NAME
@global_options
@pass_options
def branch_drop_cmd(opts: Options, name: str) -> int:
    """Drop branch NAME (its schema and everything built on it). Prod is not touched.

    \b
    Example:
        rocky branch drop fix_orders
    """
    ctx = Context.load(opts.project, opts.console())
    info = ctx.branch_drop(name)
    emit(opts, {"dropped": info.to_json()},
         lambda: click.echo(f"dropped branch {info.name} (schema {info.schema})"))
    return 0
