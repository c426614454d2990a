"""``rocky lsp``."""

from __future__ import annotations

from pathlib import Path

from rocky_engine.cli._app import Options, cli, global_options, pass_options
from rocky_engine.errors import UsageError


@cli.command("lsp")
@global_options
@pass_options
def lsp_cmd(opts: Options) -> int:
    """Language server over stdio: diagnostics, hover, definition, references, completion.

    An editor starts it and talks the Language Server Protocol on stdin/stdout; the project
    is the editor's workspace folder, or --project. Needs the `lsp` extra
    (pip install 'rocky-intent[lsp]'). Editor set-up: docs/lsp.md.

    \b
    Example:
        rocky lsp
        rocky lsp --project shop
    """
    try:
        from rocky_engine.lsp.server import serve
    except ImportError as exc:
        raise UsageError(
            f"rocky lsp needs pygls ({exc.name} is not installed)",
            hint="pip install 'rocky-intent[lsp]'") from None
    serve(str(opts.project) if opts.project != Path(".") else None)
    return 0
