"""``rocky demo``: the whole story, offline, in a temporary folder.

Each step calls the same library code as the matching CLI command and prints what a user
would see; the demo stops at the first failing step with its error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from rocky_engine.cli._app import Options, global_options, pass_options
from rocky_engine.console import TerminalConsole
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project


def _step(title: str) -> None:
    click.secho(f"\n== {title}", bold=True)


def run_demo(workdir: Path) -> Path:
    root = workdir / "shop"
    _step(f"rocky init {root} --example shop")
    files = init_project(root, example="shop")
    click.echo(f"wrote {len(files)} files: sources/raw.toml, models/*.sql + intent sidecars, seeds/")

    console = TerminalConsole()
    ctx = Context.load(root, console)
    _step("rocky seed")
    results = ctx.seed()
    click.echo(f"seeded {len(results)} upstream tables")

    for title, action in _later_steps():
        _step(title)
        action(ctx)
    return root


def _later_steps() -> list[tuple[str, Callable[[Context], None]]]:
    from intent_agent.intent_demo_steps import intent_steps
    from intent_agent.repair.demo_steps import repair_steps
    from rocky_engine.execution.demo_steps import execution_steps

    # seed → run → test → branch → promote, then drift → repair stays the last chapter
    return [*execution_steps(), *intent_steps(), *repair_steps()]


@click.command("demo")
@click.option("--keep", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Run in this folder (kept afterwards) instead of a temporary one.")
@global_options
@pass_options
def demo_cmd(opts: Options, keep: Path | None) -> int:
    """Run the offline demo end to end in a temporary folder.

    \b
    Example:
        rocky demo
        rocky demo --keep /tmp/rocky-demo
    """
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        root = run_demo(keep)
    else:
        with tempfile.TemporaryDirectory(prefix="rocky-demo-") as tmp:
            root = run_demo(Path(tmp))
    click.secho(f"\ndemo finished ({root})", fg="green")
    return 0
