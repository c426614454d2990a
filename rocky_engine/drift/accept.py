"""``rocky drift --accept``: rewrite ``sources/*.toml`` to the live shape, round-trip.

Files are edited with tomlkit, so comments, order and formatting survive; only the lines
of changed columns and tables differ. Nothing is written until :func:`write_sources`, and
that writes each file atomically (temp file + rename).

    >>> patches = apply_changes_to_sources(project, report.changes)  # doctest: +SKIP
    >>> print(render_diff(project, patches))                          # doctest: +SKIP
    --- a/sources/raw.toml
    +++ b/sources/raw.toml
    -amount = "DECIMAL(10,2)"
    +total = "DECIMAL(10,2)"
    >>> write_sources(project, patches)                               # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError
from tomlkit.items import InlineTable, Item, Table

from rocky_engine.config import IDENT_RE, SourceFileSpec
from rocky_engine.drift.report import (
    COLUMN_ADDED,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    TABLE_ADDED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    Change,
    LiveColumn,
)
from rocky_engine.errors import ConfigError, Location
from rocky_engine.project import Project

# Edits are applied in this order so each finds the names it expects: types and
# nullability by the declared column name, then column renames/removals/additions, then
# whole tables (a table rename is a header rewrite, done last on the text).
_ORDER = {COLUMN_TYPE_CHANGED: 0, COLUMN_NULLABILITY_CHANGED: 0, COLUMN_RENAMED: 1,
          COLUMN_REMOVED: 1, COLUMN_ADDED: 1, TABLE_REMOVED: 2, TABLE_ADDED: 2,
          TABLE_RENAMED: 3}


def apply_changes_to_sources(project: Project, changes: Sequence[Change]) -> dict[str, str]:
    """New text of every sources file the changes touch, keyed by project-relative path.

    Files whose text would not change are left out. The result always loads as a valid
    sources file; a change that cannot be applied raises :class:`ConfigError`.
    """
    by_file: dict[str, list[Change]] = {}
    for change in changes:
        rel = change.source_file or project.source_files.get(change.table.split(".")[0].lower())
        if rel is None:
            continue
        by_file.setdefault(rel, []).append(change)
    patches: dict[str, str] = {}
    for rel, file_changes in sorted(by_file.items()):
        path = project.root / rel
        old = path.read_text(encoding="utf-8")
        new = _apply(old, sorted(file_changes, key=lambda c: _ORDER.get(c.kind, 9)), rel)
        _validate(new, rel)
        if new != old:
            patches[rel] = new
    return patches


def render_diff(project: Project, patches: dict[str, str]) -> str:
    """A unified diff of ``patches`` against the files on disk."""
    out: list[str] = []
    for rel, new in sorted(patches.items()):
        old = (project.root / rel).read_text(encoding="utf-8")
        out.extend(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        fromfile=f"a/{rel}", tofile=f"b/{rel}"))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def write_sources(project: Project, patches: dict[str, str]) -> list[Path]:
    """Write every patch atomically; returns the files written."""
    written: list[Path] = []
    for rel, text in sorted(patches.items()):
        path = project.root / rel
        try:
            _atomic_write(path, text, scratch=project.root / "target")
        except OSError as exc:
            # A full disk or a read-only folder: the file keeps its old text (the write is
            # atomic), and the user gets a located error instead of a crash.
            done = ", ".join(p.name for p in written) or "none"
            raise ConfigError(f"could not write {rel}: {exc.strerror or exc}",
                              location=Location(rel),
                              hint=f"the file is unchanged (already written: {done}); free "
                                   "space or fix permissions, then re-run "
                                   "`rocky drift --accept`") from None
        written.append(path)
    return written


# ---------------------------------------------------------------------------- editing


def _apply(text: str, changes: Sequence[Change], rel: str) -> str:
    doc = tomlkit.parse(text)
    renames: list[tuple[str, str]] = []
    added: list[tuple[str, tuple[LiveColumn, ...]]] = []
    for change in changes:
        table_name = change.table.partition(".")[2]
        if change.kind == TABLE_RENAMED and change.new_table:
            renames.append((_declared_key(doc, table_name, rel),
                            change.new_table.partition(".")[2]))
        elif change.kind == TABLE_REMOVED:
            tables = _tables(doc, rel)
            del tables[_declared_key(doc, table_name, rel)]
        elif change.kind == TABLE_ADDED:
            added.append((table_name, change.columns))
        else:
            _apply_column(_columns(doc, table_name, rel), change, rel)
    out = tomlkit.dumps(doc)
    for old, new in renames:
        out = _rename_table(out, old, new, rel)
    for name, columns in added:
        out = out.rstrip("\n") + "\n\n" + _table_text(name, columns)
    return out


def _apply_column(columns: Table, change: Change, rel: str) -> None:
    if change.kind == COLUMN_ADDED:
        columns[change.column or ""] = _column_value(
            LiveColumn(change.column or "", change.new_type or "VARCHAR",
                       True if change.nullable is None else change.nullable))
        return
    key = _key(columns, change.column or "", rel)
    if change.kind == COLUMN_REMOVED:
        del columns[key]
    elif change.kind == COLUMN_RENAMED:
        columns.value._replace(key, change.new_column or key, columns[key])
    elif change.kind == COLUMN_TYPE_CHANGED:
        item = columns[key]
        if isinstance(item, InlineTable):
            item["type"] = change.new_type
        else:
            columns[key] = change.new_type
    elif change.kind == COLUMN_NULLABILITY_CHANGED:
        item = columns[key]
        if change.nullable_to:
            # Set rather than deleted: tomlkit leaves a double space where a key was.
            if isinstance(item, InlineTable) and "nullable" in item:
                item["nullable"] = True
        elif isinstance(item, InlineTable):
            item["nullable"] = False
        else:
            inline = _column_value(LiveColumn(key, str(item), nullable=False))
            _keep_comment(item, inline)
            columns[key] = inline


def _keep_comment(old: Item, new: Item) -> None:
    new.trivia.comment_ws = old.trivia.comment_ws
    new.trivia.comment = old.trivia.comment


def _column_value(col: LiveColumn) -> Any:
    if col.nullable:
        return col.type
    # Parsed rather than built so it keeps the `{ type = ..., nullable = false }` spacing
    # the example files use.
    return tomlkit.parse(f"x = {_column_text(col)}")["x"]


def _column_text(col: LiveColumn) -> str:
    value = tomlkit.string(col.type).as_string()
    return value if col.nullable else f"{{ type = {value}, nullable = false }}"


def _table_text(name: str, columns: Sequence[LiveColumn]) -> str:
    """A new ``[tables.NAME]`` section, appended as text so its layout matches the file's."""
    lines = [f"[tables.{_bare(name)}]", "# added by `rocky drift --accept`: describe it", "",
             f"[tables.{_bare(name)}.columns]"]
    lines.extend(f"{_bare(c.name)} = {_column_text(c)}" for c in columns)
    return "\n".join(lines) + "\n"


def _bare(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomlkit.string(key).as_string()


def _tables(doc: Any, rel: str, *, create: bool = False) -> Table:
    if "tables" not in doc:
        if not create:
            raise ConfigError(f"{rel} declares no tables", location=Location(rel))
        doc["tables"] = tomlkit.table(is_super_table=True)
    tables = doc["tables"]
    if not isinstance(tables, Table):
        raise ConfigError("`tables` is not a table", location=Location(rel),
                          hint="accept cannot edit this layout; update the file by hand")
    return tables


def _declared_key(doc: Any, table: str, rel: str) -> str:
    return _key(_tables(doc, rel), table, rel)


def _columns(doc: Any, table: str, rel: str) -> Table:
    tables = _tables(doc, rel)
    entry = tables[_key(tables, table, rel)]
    columns = entry.get("columns") if isinstance(entry, (Table, InlineTable)) else None
    if not isinstance(columns, Table):
        raise ConfigError(f"table `{table}` has no [tables.{table}.columns] section",
                          location=Location(rel),
                          hint="accept edits [tables.T.columns] tables; update the file by hand")
    return columns


def _key(container: Any, name: str, rel: str) -> str:
    low = name.lower()
    for key in container:
        if str(key).lower() == low:
            return str(key)
    raise ConfigError(f"`{name}` is not declared in {rel}", location=Location(rel),
                      hint="reload: the sources file changed since drift was detected")


def _rename_table(text: str, old: str, new: str, rel: str) -> str:
    """Rewrite ``[tables.old]`` / ``[tables.old.x]`` headers to ``new``, nothing else."""
    pattern = re.compile(
        r'^(?P<pre>[ \t]*\[\[?[ \t]*tables[ \t]*\.[ \t]*)(?P<q>"?)' + re.escape(old)
        + r'(?P=q)(?P<post>[ \t]*[\].])', re.MULTILINE)
    out, count = pattern.subn(lambda m: f"{m['pre']}{m['q']}{new}{m['q']}{m['post']}", text)
    if count == 0:
        raise ConfigError(f"cannot find the [tables.{old}] header to rename",
                          location=Location(rel), hint="rename the table by hand")
    return out


def _validate(text: str, rel: str) -> None:
    try:
        spec = SourceFileSpec.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigError(f"accepting drift would make {rel} invalid: {exc}",
                          location=Location(rel),
                          hint="update the sources file by hand") from None
    # The loader refuses table names that are not plain identifiers; writing one would
    # leave every later command unable to load the project, so refuse before writing.
    for table in spec.tables:
        if not IDENT_RE.match(table):
            raise ConfigError(
                f"accepting drift would make {rel} invalid: live table name {table!r} "
                "is not a plain identifier", location=Location(rel),
                hint="rename the table in the warehouse, or update the sources file by hand")


def _atomic_write(path: Path, text: str, *, scratch: Path | None = None) -> None:
    """Replace ``path`` with ``text`` in one rename. The new text is written first under
    ``scratch`` (the project's ``target/``), so a process killed mid-write leaves nothing in
    the user's folder; next to ``path`` when ``scratch`` is on another file system."""
    if scratch is not None:
        try:
            scratch.mkdir(parents=True, exist_ok=True)
            _write_and_replace(path, text, scratch)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    _write_and_replace(path, text, path.parent)


def _write_and_replace(path: Path, text: str, folder: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["AcceptResult", "apply_changes_to_sources", "render_diff", "write_sources"]


@dataclass(frozen=True)
class AcceptResult:
    """What ``--accept`` did (or, with ``dry_run``, would do): new texts, files, the diff."""

    patches: dict[str, str]
    diff: str
    written: tuple[Path, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"files": sorted(self.patches), "written": [str(p) for p in self.written],
                "diff": self.diff}
