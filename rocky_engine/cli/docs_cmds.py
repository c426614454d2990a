"""``rocky docs``: write the static site, optionally serve it."""

from __future__ import annotations

from pathlib import Path

import click

from rocky_engine.cli._app import Options, cli, emit, global_options, pass_options


@cli.command("docs")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              metavar="DIR", help="Where to write the site (default: target/docs).")
@click.option("--serve", is_flag=True, default=False,
              help="Serve the site on http://127.0.0.1:PORT/ until interrupted.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              metavar="P", help="Port for --serve (0: any free port).")
@global_options
@pass_options
def docs_cmd(opts: Options, out: Path | None, serve: bool, port: int) -> int:
    """Write a static site: catalog, model and source pages, column lineage, drift.

    The site opens from the file system (index.html) and needs no network: every script
    ships inside rocky. Its data are the compile, lineage and last `rocky drift` JSON
    documents; run `rocky test` and `rocky drift` first to show their results.

    \b
    Example:
        rocky docs                     # then open target/docs/index.html
        rocky docs --out site --serve --port 8000
    """
    from rocky_engine.cli import _app
    from rocky_engine.context import Context

    if _app.ONE_SHOT and not serve:
        # As `rocky compile`: a full collection over everything a big compile loaded would
        # only cost time in a process that ends when the site is written.
        import gc

        gc.disable()
    from rocky_engine.docs_site import build_site, serve_site
    from rocky_engine.errors import UsageError

    if not serve and port != 8080:
        raise UsageError("--port only applies to --serve", hint="rocky docs --serve --port 8000")
    ctx = Context.load(opts.project, opts.console())
    target = out if out is not None else ctx.project.root / "target" / "docs"
    site = build_site(ctx, target.resolve())
    emit(opts, site.to_json(), lambda: click.echo(
        f"wrote {site.index} ({site.models} models, {site.sources} sources"
        f"{', last drift' if site.drift else ''}{', last tests' if site.tests else ''})"))
    if serve:
        def ready(url: str) -> None:
            click.echo(f"serving {site.out} at {url} (Ctrl+C to stop)", err=True)

        try:
            serve_site(site.out, port=port, ready=ready)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
    return 0
