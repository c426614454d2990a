"""``rocky compile``."""

from __future__ import annotations

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options
from rocky_engine.errors import Severity

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


@cli.command("compile")
@click.option("--strict", is_flag=True, default=False,
              help="Treat columns whose type cannot be inferred (W130) as errors.")
@click.option("--no-cache", is_flag=True, default=False,
              help="Ignore and do not update the compile cache in target/.")
@global_options
@pass_options
def compile_cmd(opts: Options, strict: bool, no_cache: bool) -> int:
    """Parse every model, resolve the DAG, infer every column's type, check types and contracts.

    Exit code 1 when any error is found.

    \b
    Example:
        rocky compile
        rocky compile --strict --format json --project shop
    """
    from rocky_engine.cli import _app
    from rocky_engine.compiler.pipeline import answer_unchanged

    if _app.ONE_SHOT:
        # Compiling runs with the collector paused anyway; turning it back on afterwards
        # would only buy a full pass over everything loaded before the process exits.
        import gc

        gc.disable()

    # Nothing changed since the last compile: its result, without loading the project.
    result = None if no_cache else answer_unchanged(opts.project, strict=strict)
    if result is None:
        from rocky_engine.context import Context

        ctx = Context.load(opts.project, opts.console())
        result = ctx.compile(strict=strict, use_cache=not no_cache)

    def text() -> None:
        from rocky_engine.compiler.render import render_text

        click.echo(render_text(result, lambda s, sev: click.style(s, fg=_COLORS[sev], bold=True)))

    # Only JSON output needs every column: building it decodes the whole compile cache.
    emit(opts, result.to_json() if opts.json else None, text)
    return 0 if result.ok else 1
