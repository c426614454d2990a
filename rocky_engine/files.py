"""Which files make up a project, and whether any changed: cheap, without reading them.

    >>> find_root(Path("/nowhere"))            # doctest: +SKIP
    ProjectLoadError: no rocky.toml found in /nowhere or any parent folder

The loader (:mod:`rocky_engine.project`) reads exactly these files; :func:`unchanged` lets
a caller that kept their stat *stamps* from a load tell, with one ``stat`` per file and no
pydantic, TOML or SQL, that the project is byte-for-byte what that load read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from rocky_engine.errors import ProjectLoadError, relpath

CONFIG_FILE = "rocky.toml"
# A file modified less than this before its stamp was recorded may have changed within the
# same clock tick (filesystem timestamps can be as coarse as 2 s): it is never trusted.
RACY_NS = 2_000_000_000

Signature = tuple[int, int, int, int]  # size, mtime, ctime, inode
Stamp = tuple[Signature, int]  # the file's signature, and when it was recorded (time_ns)


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding a ``rocky.toml``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectLoadError(
        f"no {CONFIG_FILE} found in {start} or any parent folder",
        hint="run `rocky init DIR` to create a project, or pass --project DIR",
    )


def model_files(root: Path, folder: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(relative posix path, full path) of ``*.sql`` and ``*.toml`` under ``folder``, sorted
    like ``sorted(folder.rglob(...))``.

    os.walk with plain strings: building, sorting and relativising Path objects for 10,000
    models was a measurable part of a warm compile.
    """
    sql: list[tuple[tuple[str, ...], str, str]] = []
    toml: list[tuple[tuple[str, ...], str, str]] = []
    base = str(folder)
    prefix = _rel(folder, root)
    for dirpath, _dirs, names in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base)
        parts = () if rel_dir == "." else tuple(rel_dir.split(os.sep))
        rel_base = "/".join((prefix, *parts)) + "/"
        full_base = dirpath + os.sep
        for name in names:
            if name.endswith(".sql"):
                sql.append(((*parts, name), rel_base + name, full_base + name))
            elif name.endswith(".toml"):
                toml.append(((*parts, name), rel_base + name, full_base + name))
    # Sorted like sorted(rglob): by path components (in one folder: by file name, cheaply).
    sql.sort(key=_parts_key)
    toml.sort(key=_parts_key)
    return [(rel, full) for _, rel, full in sql], [(rel, full) for _, rel, full in toml]


def _parts_key(item: tuple[tuple[str, ...], str, str]) -> tuple[str, ...]:
    return item[0]


def _rel(path: Path, root: Path) -> str:
    """``relpath`` without resolving symlinks: files found under the (resolved) root."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return relpath(path, root)


def source_files(root: Path) -> list[tuple[str, str]]:
    """(relative path, full path) of ``sources/*.toml``, sorted."""
    folder = root / "sources"
    if not folder.is_dir():
        return []
    return [(relpath(path, root), str(path)) for path in sorted(folder.glob("*.toml"))]


def project_files(root: Path) -> list[tuple[str, str]]:
    """Every file a load reads: ``rocky.toml``, sources, and models' SQL and sidecars."""
    files = [(CONFIG_FILE, str(root / CONFIG_FILE)), *source_files(root)]
    folder = root / "models"
    if folder.is_dir():
        sql, toml = model_files(root, folder)
        files += sql + toml
    return files


def signature(st: os.stat_result) -> Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def trusted(st: os.stat_result, stamp: Stamp) -> bool:
    """The file is the one stamped: same signature, and last changed well before the stamp
    was recorded (git's "racy clean" rule: an edit in the same clock tick is never missed)."""
    return signature(st) == stamp[0] and max(st.st_mtime_ns, st.st_ctime_ns) < stamp[1] - RACY_NS


def unchanged(root: Path, stamps: Mapping[str, Stamp]) -> bool:
    """True when the project's files are exactly the stamped ones, none of them changed."""
    files = project_files(root)
    if len(files) != len(stamps):
        return False
    for rel, full in files:
        stamp = stamps.get(rel)
        if stamp is None:
            return False
        try:
            st = os.stat(full)
        except OSError:
            return False
        if not trusted(st, stamp):
            return False
    return True
