"""Generate the CLI reference (docs/cli.md) from the commands' own ``--help``.

    python -m rocky_engine.cli.reference > docs/cli.md

A test regenerates it and fails when the committed file is stale.
"""

from __future__ import annotations

import click

from rocky_engine.cli._app import cli


def iter_commands(group: click.Group | None = None, prefix: str = "rocky"
                  ) -> list[tuple[str, click.Command]]:
    group = group or cli
    ctx = click.Context(group, info_name=prefix)
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        path = f"{prefix} {name}"
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            found.extend(iter_commands(cmd, path))
    return found


def help_text(path: str, cmd: click.Command) -> str:
    ctx = click.Context(cmd, info_name=path, terminal_width=100, max_content_width=100)
    return cmd.get_help(ctx)


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
