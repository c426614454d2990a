"""The click application frame: global options, error rendering, plugin commands."""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from rocky_engine import __version__
from rocky_engine.console import Console, JsonConsole, TerminalConsole
from rocky_engine.errors import RockyError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


@dataclass
class Options:
    project: Path = Path(".")
    format: str = "text"
    debug: bool = False

    @property
    def json(self) -> bool:
        return self.format == "json"

    def console(self) -> Console:
        return JsonConsole() if self.format == "json" else TerminalConsole()


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        opts = ctx.ensure_object(Options)
        # Group options are processed first, so a value after the subcommand wins.
        if ctx.get_parameter_source(param.name or "") is not click.core.ParameterSource.DEFAULT:
            setattr(opts, name, value)
        return value

    return callback


def global_options(f: F) -> F:
    """``--project``, ``--format`` and ``--debug``, accepted before or after the subcommand."""
    f = click.option("--debug", is_flag=True, default=False, expose_value=False, is_eager=True,
                     callback=_store("debug"), help="Show tracebacks for unexpected errors.")(f)
    f = click.option("--format", "format_", type=click.Choice(["text", "json"]), default="text",
                     expose_value=False, is_eager=True, callback=_store("format"),
                     help="Output format: text for people, json for scripts.")(f)
    f = click.option("--project", type=click.Path(path_type=Path, file_okay=False), default=".",
                     expose_value=False, is_eager=True, callback=_store("project"),
                     help="Project folder (default: the current directory).")(f)
    return f


pass_options = click.make_pass_decorator(Options, ensure=True)


def emit(opts: Options, payload: Any, text: Callable[[], None] | None = None) -> None:
    """Print a command's result: one JSON document, or the text renderer's output."""
    if opts.json:
        click.echo(dumps_json(payload))
    elif text is not None:
        text()


# Past this many items in one list, a document is printed in outline form (below).
_OUTLINE_ITEMS = 1000


def dumps_json(payload: Any) -> str:
    """``payload`` as indented JSON; a big document in outline form.

    ``json.dumps(indent=2)`` runs Python's pure encoder: 5 s for the 25 MB compile document
    of a 10,000-model project. So a document with a list of more than ``_OUTLINE_ITEMS``
    items indents its first two levels only — one list item (a model, a diagnostic) per
    line, each encoded compactly by the C encoder — the same JSON value, 10x faster.

        >>> print(dumps_json({"ok": True, "models": [{"name": "m"}]}))
        {
          "ok": true,
          "models": [
            {
              "name": "m"
            }
          ]
        }
    """
    if isinstance(payload, dict) and any(
            isinstance(v, list) and len(v) > _OUTLINE_ITEMS for v in payload.values()):
        return _outline(payload, 0)
    return json.dumps(payload, indent=2, default=str)


def _outline(value: Any, depth: int) -> str:
    if depth >= 2 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, default=str)
    pad, end = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(str(k))}: {_outline(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    items = [f"{pad}{_outline(v, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{end}]"


# Engine commands, loaded lazily: name -> (module under rocky_engine.cli, first paragraph of
# its help). Importing every command module (duckdb, drift, execution) cost ~0.9 s CPU on
# every start; now `rocky compile` imports only compile_cmds, and `rocky --help` lists every
# command from these strings (a test checks they match the commands' real help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "branch": ("run_cmds", ("Isolated environments in the same warehouse: create, list, diff, "
                           "promote, drop.")),
    "compile": ("compile_cmds", ("Parse every model, resolve the DAG, infer every column's type, "
                                "check types and contracts.")),
    "docs": ("docs_cmds", ("Write a static site: catalog, model and source pages, column "
                          "lineage, drift.")),
    "drift": ("drift_cmds", ("Compare the live warehouse with sources/: what changed, how sure, "
                            "what it breaks.")),
    "import": ("import_cmds", "Bring a project from another tool into rocky (dbt)."),
    "init": ("project_cmds", "Create a new rocky project in DIRECTORY (empty or new)."),
    "lsp": ("lsp_cmds", ("Language server over stdio: diagnostics, hover, definition, "
                         "references, completion.")),
    "lineage": ("lineage_cmds", ("Column lineage of MODEL, MODEL.COLUMN or a source "
                                "SCHEMA.TABLE.COLUMN.")),
    "run": ("run_cmds",
            "Compile, then build models in DAG order as views, tables or incremental tables."),
    "seed": ("project_cmds", ("Load seeds/<schema>/<table>.csv into the warehouse with the "
                             "declared source types.")),
    "test": ("run_cmds", "Run the data tests and unit tests declared in model sidecars."),
}


class RockyGroup(click.Group):
    """Engine commands (imported on first use) plus the ``rocky.commands`` entry-point group
    (agent, plugins).

        >>> "compile" in cli.list_commands(click.Context(cli))
        True
    """

    def _plugins(self) -> dict[str, Any]:
        from importlib.metadata import entry_points  # ~50 ms: only when a plugin is looked up

        found = {}
        for ep in entry_points(group="rocky.commands"):
            found[ep.name] = ep
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        lazy = LAZY_COMMANDS.get(cmd_name)
        if lazy is not None:
            importlib.import_module(f"rocky_engine.cli.{lazy[0]}")  # registers on `cli`
            return super().get_command(ctx, cmd_name)
        ep = self._plugins().get(cmd_name)
        if ep is None:
            return None
        loaded = ep.load()
        return loaded if isinstance(loaded, click.Command) else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, but engine commands not imported yet show their stored help."""
        rows: list[tuple[str, str | None]] = []  # None: ask the loaded command
        loaded: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][1]))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            loaded[name] = cmd
            rows.append((name, None))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        # A stand-in command shortens the stored help exactly as the real one would.
        listing = [(name, (loaded[name] if text is None else click.Command(name, help=text))
                    .get_short_help_str(limit)) for name, text in rows]
        with formatter.section("Commands"):
            formatter.write_dl(listing)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise click.UsageError(f"no such command `{name}`{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=RockyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="rocky")
@global_options
def cli() -> None:
    """rocky: typed SQL models, column lineage, branches, and drift repair from intent.

    \b
    Example:
        rocky init shop --example shop && cd shop
        rocky seed && rocky compile
    """


# True when main() runs as the process's command (not called in-process, as tests do): a
# command may then leave the garbage collector off, since the process ends when it returns.
ONE_SHOT = False


def main(argv: list[str] | None = None) -> None:
    global ONE_SHOT
    ONE_SHOT = argv is None
    if argv is None:
        # rocky's own models use no pydantic plugins; looking for them scans the metadata of
        # every installed package (~40 ms of each command's start). An explicit setting wins.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        _main(argv)
    finally:
        if argv is None:
            # The process ends now: spare the interpreter a last full garbage collection of
            # everything a big project loaded (0.1 s of a 0.8 s warm compile at 10,000 models).
            # Objects are still freed and atexit handlers still run.
            gc.freeze()


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    json_mode = _wants_json(args)
    try:
        rv = cli.main(args=args, prog_name="rocky", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if json_mode:
            click.echo(json.dumps({"error": {"code": "R001", "message": exc.format_message()}}))
        else:
            exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except RockyError as exc:
        if debug:
            raise
        if json_mode:
            click.echo(json.dumps({"error": exc.to_json()}, indent=2))
        else:
            click.echo(exc.render(), err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"error[R999]: internal error: {type(exc).__name__}: {exc} "
            "(re-run with --debug for the traceback, and please report it)",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _wants_json(args: list[str]) -> bool:
    for i, a in enumerate(args):
        if a == "--format=json" or (a == "--format" and i + 1 < len(args) and args[i + 1] == "json"):
            return True
    return False
