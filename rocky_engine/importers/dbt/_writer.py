"""Put the imported project in place all at once: built in a sibling temp folder, renamed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rocky_engine.errors import UsageError
from rocky_engine.importers.dbt._build import BuiltProject

MARKER = "MIGRATION.md"


def check_dest(dest: Path, *, force: bool) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder", hint="choose another DEST")
    if not any(dest.iterdir()):
        return
    if force and (dest / MARKER).is_file() and (dest / "rocky.toml").is_file():
        return
    if force:
        raise UsageError(f"{dest} is not empty and is not an earlier import (no {MARKER})",
                         hint="--force only replaces a project written by `rocky import dbt`")
    raise UsageError(f"{dest} exists and is not empty",
                     hint="choose another DEST, or pass --force to replace an earlier import")


def write_project(built: BuiltProject, dest: Path, migration_md: str) -> None:
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.import-", dir=dest.parent))
    try:
        for rel, text in built.files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for rel, src in built.copies.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, path)
        (tmp / MARKER).write_text(migration_md, encoding="utf-8")
        (tmp / ".gitignore").write_text("target/\n*.duckdb\n*.duckdb.wal\n", encoding="utf-8")
        if dest.exists():
            old = dest.with_name(f".{dest.name}.replaced")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
