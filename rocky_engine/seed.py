"""``rocky seed``: load ``seeds/<schema>/<table>.csv`` with the types declared in ``sources/``.

A CSV whose header does not match the declared columns, or a value that does not convert
to its declared type, is refused with the file and line; nothing is half-loaded (one
transaction for all seeds).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.errors import Location, ProjectLoadError, WarehouseError, relpath
from rocky_engine.project import Project, SourceTable


@dataclass(frozen=True)
class SeedResult:
    table: str
    file: str
    rows: int


def find_seeds(project: Project) -> list[tuple[Path, SourceTable]]:
    folder = project.root / "seeds"
    found: list[tuple[Path, SourceTable]] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*/*.csv")):
        schema, table = path.parent.name, path.stem
        source = project.source(schema, table)
        if source is None:
            raise ProjectLoadError(
                f"seed {schema}.{table} is not a declared source table",
                location=Location(relpath(path, project.root)),
                hint=f"declare [tables.{table}] in the sources file for schema `{schema}`",
            )
        found.append((path, source))
    return found


def check_header(project: Project, path: Path, source: SourceTable) -> None:
    rel = relpath(path, project.root)
    header = next(csv.reader(io.StringIO(_read_text(path, rel), newline="")), None)
    if not header:
        raise ProjectLoadError("seed CSV is empty (no header row)", location=Location(rel, 1))
    got = [h.strip() for h in header]
    want = [c.name for c in source.columns]
    if [g.lower() for g in got] == [w.lower() for w in want]:
        return
    missing = [w for w in want if w.lower() not in {g.lower() for g in got}]
    extra = [g for g in got if g.lower() not in {w.lower() for w in want}]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("undeclared " + ", ".join(extra))
    if not parts:
        parts.append(f"columns out of order: expected {', '.join(want)}")
    raise ProjectLoadError(
        f"seed header does not match {source.fqn} declared in {source.file}: " + "; ".join(parts),
        location=Location(rel, 1),
        hint="make the CSV header match the declared columns, or update the sources file",
    )


def _read_text(path: Path, rel: str) -> str:
    """The CSV as text: UTF-8, a leading byte-order mark (Excel writes one) dropped.

    Seeds are small by design, so the whole file is decoded: a byte that is not UTF-8 is
    reported at its line instead of surfacing later as a crash.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProjectLoadError(
            f"seed CSV is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})",
            location=Location(rel, line),
            hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from None


def validate_seeds(project: Project) -> list[tuple[Path, SourceTable]]:
    """Every seed file with its declared table, headers checked; touches no warehouse."""
    seeds = find_seeds(project)
    for path, source in seeds:
        check_header(project, path, source)
    return seeds


def load_seeds(project: Project, adapter: WarehouseAdapter,
               seeds: list[tuple[Path, SourceTable]] | None = None) -> list[SeedResult]:
    if seeds is None:
        seeds = validate_seeds(project)
    results: list[SeedResult] = []
    with adapter.transaction():
        for path, source in seeds:
            rel = relpath(path, project.root)
            adapter.create_schema(source.schema)
            try:
                count = adapter.load_csv(source.schema, source.name,
                                         [(c.name, c.type) for c in source.columns], path)
            except WarehouseError as exc:
                raise ProjectLoadError(
                    f"cannot load into {source.fqn}: {_csv_message(exc.message)}",
                    location=Location(rel, _csv_line(exc.message)),
                    hint=f"fix the value, or the declared type in {source.file}",
                ) from None
            results.append(SeedResult(source.fqn, rel, int(count)))
    return results


def _csv_line(message: str) -> int:
    m = re.search(r"[Ll]ine:?\s*(\d+)", message)
    return int(m.group(1)) if m else 0


def _csv_message(message: str) -> str:
    return message.split("\n")[0]
