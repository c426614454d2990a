"""``rocky compile``."""

from __future__ import annotations

from pathlib import Path

import click

from rocky_engine.adapters.factory import DIALECTS
from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options
from rocky_engine.errors import Severity

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


@cli.command("compile")
@click.option("--strict", is_flag=True, default=False,
              help="Treat columns whose type cannot be inferred (W130) as errors.")
@click.option("--no-cache", is_flag=True, default=False,
              help="Ignore and do not update the compile cache in target/.")
@click.option("--target", type=click.Choice(sorted(set(DIALECTS.values()))), default=None,
              help="Also check that every model can be expressed on this warehouse's "
                   "dialect (default: the project's [warehouse] type). Needs no server.")
@global_options
@pass_options
def compile_cmd(opts: Options, strict: bool, no_cache: bool, target: str | None) -> int:
    """Parse every model, resolve the DAG, infer every column's type, check types and contracts.

    Exit code 1 when any error is found. When the warehouse speaks another dialect than
    the models (or with --target), constructs it cannot express are errors (R400).

    \b
    Example:
        rocky compile
        rocky compile --strict --format json --project shop
        rocky compile --target postgres
    """
    from rocky_engine.cli import _app
    from rocky_engine.compiler.pipeline import answer_unchanged

    if _app.ONE_SHOT:
        # Compiling runs with the collector paused anyway; turning it back on afterwards
        # would only buy a full pass over everything loaded before the process exits.
        import gc

        gc.disable()

    # Nothing changed since the last compile: its result, without loading the project.
    # (Only for the models' own dialect: a target check needs the project.)
    result = None if no_cache or target else answer_unchanged(opts.project, strict=strict)
    if result is not None and _needs_target(opts.project):
        result = None
    if result is None:
        from rocky_engine.context import Context

        ctx = Context.load(opts.project, opts.console())
        result = ctx.compile(strict=strict, use_cache=not no_cache, target=target)

    def text() -> None:
        from rocky_engine.compiler.render import render_text

        click.echo(render_text(result, lambda s, sev: click.style(s, fg=_COLORS[sev], bold=True)))

    # Only JSON output needs every column: building it decodes the whole compile cache.
    emit(opts, result.to_json() if opts.json else None, text)
    return 0 if result.ok else 1


def _needs_target(project_dir: str | Path) -> bool:
    """Whether rocky.toml names a warehouse of another dialect than the models' (cheap:
    reads the one file, not the project)."""
    import tomllib

    from rocky_engine.files import CONFIG_FILE, find_root

    try:
        root = find_root(Path(project_dir))
        data = tomllib.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - the full load reports whatever is wrong
        return True
    kind = (data.get("warehouse") or {}).get("type", "duckdb")
    dialect = (data.get("project") or {}).get("dialect", "duckdb")
    return kind != dialect
