"""``rocky lineage``: column lineage, upstream or downstream, as text, JSON, DOT or Mermaid.

Kept light on purpose: a warm query loads ``target/lineage.idx`` and never imports the
compiler, sqlglot or the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("text", "json", "dot", "mermaid")


def _graph_formats(f: F) -> F:
    """Widen the global ``--format`` of this command to the graph formats."""
    for param in getattr(f, "__click_params__", []):
        if param.name == "format_":
            param.type = click.Choice(FORMATS)
            param.help = "Output format: text (a tree), json, dot (Graphviz) or mermaid."
    return f


@cli.command("lineage")
@click.argument("root", metavar="MODEL[.COLUMN]")
@click.option("--upstream/--downstream", "upstream", default=True,
              help="Where ROOT comes from (default), or what it feeds (the blast radius).")
@click.option("--depth", type=click.IntRange(min=0), default=None, metavar="N",
              help="Follow at most N hops (default: all the way).")
@click.option("--value-only", is_flag=True, default=False,
              help="Only value flow (copy/cast/transform/aggregate/window): drop filter, "
                   "join and group influence edges.")
@_graph_formats
@global_options
@pass_options
def lineage_cmd(opts: Options, root: str, upstream: bool, depth: int | None,
                value_only: bool) -> int:
    """Column lineage of MODEL, MODEL.COLUMN or a source SCHEMA.TABLE.COLUMN.

    Each hop carries a kind: copy, cast, transform, aggregate, window (value flow) or
    filter, join, group (influence on which rows exist). A source column with
    --downstream is the blast radius of changing it.

    \b
    Example:
        rocky lineage customers.lifetime_revenue
        rocky lineage raw.orders.amount --downstream --format mermaid
        rocky lineage customers --depth 1 --value-only --format json
    """
    from rocky_engine.lineage.store import load_fresh_graph

    graph = load_fresh_graph(opts.project)
    if graph is None:  # no index, or the project changed since: compile (cache-backed)
        from rocky_engine.context import Context

        graph = Context.load(opts.project, opts.console()).lineage_graph(use_index=False)
    result = graph.query(root, "upstream" if upstream else "downstream", depth=depth,
                         value_only=value_only)

    def text() -> None:
        from rocky_engine.lineage import render

        renderer = {"dot": render.render_dot, "mermaid": render.render_mermaid}.get(
            opts.format, render.render_text)
        click.echo(renderer(result))
        if result.incomplete:
            click.echo(f"warning: {', '.join(result.incomplete)} did not compile; lineage "
                       "through it may be incomplete (run `rocky compile`)", err=True)

    emit(opts, result.to_json(), text)
    return 0
