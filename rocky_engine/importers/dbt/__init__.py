"""``rocky import dbt``: turn a dbt project into a rocky project, with a report.

    >>> report = import_dbt("path/to/jaffle_shop")          # doctest: +SKIP
    >>> report.count("refused"), report.to_json()["path"]   # doctest: +SKIP
    (0, 'manifest')

Two paths, one result: the *manifest* path reads the ``compiled_code`` of the user's own
``dbt compile`` (exact); the *Jinja* path renders each model's raw SQL itself with a
dbt-compatible context (no dbt needed). Both produce the same records
(:mod:`._ir`), which are translated, mapped and written the same way. rocky never imports
dbt; ``--verify`` runs the user's dbt executable as a separate process.
"""

from __future__ import annotations

from pathlib import Path

from rocky_engine.console import Console, SilentConsole
from rocky_engine.importers.dbt._report import ImportReport, ModelReport, SkippedTest

__all__ = ["ImportReport", "ModelReport", "SkippedTest", "import_dbt"]


def import_dbt(dbt_dir: str | Path, dest: str | Path | None = None, *,
               manifest: str | Path | None = None, jinja: bool = False, verify: bool = False,
               force: bool = False, dbt_executable: str | None = None,
               console: Console | None = None) -> ImportReport:
    """Import ``dbt_dir`` into ``dest`` (default ``dbt_dir/rocky``); the report says what
    carried over. Raises a :class:`~rocky_engine.errors.RockyError` (exit 2) on bad input;
    nothing is written then."""
    from rocky_engine.errors import UsageError
    from rocky_engine.importers.dbt._build import build
    from rocky_engine.importers.dbt._manifest import manifest_ir, read_manifest
    from rocky_engine.importers.dbt._project import dbt_project
    from rocky_engine.importers.dbt._writer import check_dest, write_project

    console = console or SilentConsole()
    root = Path(dbt_dir).resolve()
    project = dbt_project(root)
    target = Path(dest).resolve() if dest is not None else root / "rocky"
    if manifest is not None and jinja:
        raise UsageError("--manifest and --jinja exclude each other")
    check_dest(target, force=force)

    data = None
    notes: list[str] = []
    if manifest is not None:
        mpath = Path(manifest)
        data = read_manifest(mpath, str(manifest))
    elif not jinja:
        mpath = root / "target" / "manifest.json"
        if mpath.is_file():
            data = read_manifest(mpath, "target/manifest.json")
            if not _compiled(data):
                notes.append("target/manifest.json has no compiled SQL (written by `dbt parse`"
                             "?): rendered the Jinja instead; run `dbt compile` for the exact path")
                data = None
    if data is not None:
        from rocky_engine.errors import ConfigError, Location

        try:
            ir = manifest_ir(data, project["name"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ConfigError(f"manifest has an unexpected shape ({type(exc).__name__}: {exc})",
                              location=Location(str(manifest or "target/manifest.json")),
                              hint="re-run `dbt compile` with dbt 1.8 or newer") from None
    else:
        from rocky_engine.importers.dbt._jinja import jinja_ir

        ir = jinja_ir(root, project, dbt_executable)
    if notes:
        from dataclasses import replace

        ir = replace(ir, notes=ir.notes + tuple(notes))
    built = build(ir, root, str(target))
    report = built.report
    assert report is not None
    if verify:
        from rocky_engine.importers.dbt._verify import verify_import

        verify_import(root, project, built, report, dbt_executable, console)
    write_project(built, target, report.render_markdown())
    return report


def _compiled(data: dict[str, object]) -> bool:
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return False
    models = [n for n in nodes.values()
              if isinstance(n, dict) and n.get("resource_type") == "model"
              and n.get("language", "sql") == "sql"]
    return not models or any(n.get("compiled_code") is not None for n in models)
