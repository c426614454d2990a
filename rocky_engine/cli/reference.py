"""Generate the CLI reference (docs/cli.md) from the commands' own ``--help``.

    python -m rocky_engine.cli.reference > docs/cli.md

A test regenerates it and fails when the committed file is stale.
"""

from __future__ import annotations

import click

from rocky_engine.cli._app import cli


def _root_context() -> click.Context:
    return click.Context(cli, info_name="rocky", terminal_width=100, max_content_width=100,
                         **cli.context_settings)


def iter_commands(group: click.Group | None = None, ctx: click.Context | None = None
                  ) -> list[tuple[str, click.Command]]:
    """Every (sub)command as ``("rocky branch diff", command)``, depth first."""
    group = group or cli
    ctx = ctx or _root_context()
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx, **cmd.context_settings)
        found.append((sub.command_path, cmd))
        if isinstance(cmd, click.Group):
            found.extend(iter_commands(cmd, sub))
    return found


def help_text(path: str, cmd: click.Command) -> str:
    """``--help`` of the command at ``path``, built with its real parent contexts."""
    ctx = _root_context()
    for name in path.split()[1:]:
        assert isinstance(ctx.command, click.Group)
        sub = ctx.command.get_command(ctx, name)
        assert sub is not None
        ctx = click.Context(sub, info_name=name, parent=ctx, **sub.context_settings)
    return ctx.command.get_help(ctx)


def render() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from `--help` by `python -m rocky_engine.cli.reference`; do not edit by hand.",
        "",
        "```text",
        help_text("rocky", cli),
        "```",
        "",
    ]
    for path, cmd in iter_commands():
        out += [f"## `{path}`", "", "```text", help_text(path, cmd), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
