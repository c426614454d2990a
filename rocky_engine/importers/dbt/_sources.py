"""Sources and seeds: ``sources.yml`` tables and seed CSVs become ``sources/<name>.toml``.

A seed is declared as a source (a ``ref`` to a seed becomes ``schema.table``); its column
types are the ones dbt gives it when loading: ``column_types`` config first, else what dbt's
CSV inference (agate) picks, reproduced here::

    >>> infer_seed_types(["id", "price", "day", "flag", "name"],
    ...                  [["1", "2.5", "2024-01-01", "true", "x"], ["2", "3", "", "false", "y"]])
    {'id': 'INTEGER', 'price': 'DOUBLE', 'day': 'DATE', 'flag': 'BOOLEAN', 'name': 'VARCHAR'}
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from rocky_engine.config import IDENT_RE
from rocky_engine.importers.dbt._ir import DbtColumn, DbtSeed, DbtSource, RelKey

_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
# dbt's type tester for seeds (dbt-core's agate_helper): only true/false are booleans, only
# empty and "null" are nulls while inferring. dbt-duckdb then loads the file with DuckDB's CSV
# reader and those types, as `rocky seed` does: the values read are the same.
_BOOL = {"true", "false"}
_NULLS = {"", "null"}


def infer_seed_types(header: list[str], rows: list[list[str]]) -> dict[str, str]:
    """Column types as dbt-duckdb's seed loader infers them (agate's type tester)."""
    out: dict[str, str] = {}
    for i, col in enumerate(header):
        values = [r[i].strip() for r in rows if i < len(r) and r[i].strip().lower() not in _NULLS]
        out[col] = _infer(values)
    return out


def _infer(values: list[str]) -> str:
    if not values:
        return "INTEGER"  # agate: an all-null column is a Number without decimals
    if all(v.lower() in _BOOL for v in values):
        return "BOOLEAN"
    if all(_NUM.match(v.replace(",", "")) for v in values):
        if all(_INT.match(v.replace(",", "")) for v in values):
            big = any(abs(int(v.replace(",", ""))) > 2**31 - 1 for v in values)
            return "BIGINT" if big else "INTEGER"
        return "DOUBLE"
    if all(_DATE.match(v) for v in values):
        return "DATE"
    if all(_TS.match(v) or _DATE.match(v) for v in values):
        return "TIMESTAMP"
    return "VARCHAR"


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return [], []
    return [h.strip() for h in rows[0]], rows[1:]


@dataclass
class SourceTableOut:
    table: str
    description: str = ""
    columns: list[tuple[str, str, str]] = field(default_factory=list)  # (name, type, desc)
    untyped: list[str] = field(default_factory=list)  # columns without a known type
    declared_in: str = ""


@dataclass
class SourceFileOut:
    name: str                 # file stem
    schema: str
    description: str = ""
    tables: dict[str, SourceTableOut] = field(default_factory=dict)


def _file_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "sources"
    return stem


def rocky_type(data_type: str, dialect: str) -> str | None:
    """A dbt ``data_type`` as rocky declares source types (DuckDB names); None if not a type.

        >>> rocky_type("varchar(255)", "duckdb"), rocky_type("number(38,0)", "snowflake")
        ('VARCHAR(255)', 'DECIMAL(38, 0)')
    """
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        built = exp.DataType.build(data_type, dialect=dialect)
    except (ParseError, ValueError):
        return None
    if dialect == "duckdb":
        return data_type.upper()
    return built.sql(dialect="duckdb")


def build_sources(sources: tuple[DbtSource, ...], seeds: list[tuple[DbtSeed, dict[str, str]]],
                  dialect: str = "duckdb",
                  ) -> tuple[dict[str, SourceFileOut], dict[RelKey, str], dict[RelKey, str]]:
    """Source files (by schema), relation -> rocky reference, relation -> why unusable."""
    files: dict[str, SourceFileOut] = {}
    refs: dict[RelKey, str] = {}
    unusable: dict[RelKey, str] = {}
    seed_types = {s.relation: (s, types) for s, types in seeds}

    def file_for(schema: str, name: str, description: str = "") -> SourceFileOut:
        key = schema.lower()
        if key not in files:
            files[key] = SourceFileOut(_file_stem(name), schema, description)
        return files[key]

    for seed, types in seeds:
        if not (IDENT_RE.match(seed.schema) and IDENT_RE.match(seed.identifier)):
            unusable[seed.relation] = (f"seed {seed.schema}.{seed.identifier} is not a plain "
                                       "identifier, which rocky needs for a source table")
            continue
        out = file_for(seed.schema, seed.schema)
        described = {c.name.lower(): c.description for c in seed.columns}
        table = SourceTableOut(seed.identifier, seed.description, declared_in=seed.csv)
        for col, typ in types.items():
            table.columns.append((col, typ, described.get(col.lower(), "")))
        out.tables[seed.identifier.lower()] = table
        refs[seed.relation] = f"{seed.schema}.{seed.identifier}"

    for src in sources:
        if not (IDENT_RE.match(src.schema) and IDENT_RE.match(src.identifier)):
            unusable[src.relation] = (f"source {src.source}.{src.name} lives in "
                                      f"{src.schema}.{src.identifier}, not a plain identifier")
            continue
        out = file_for(src.schema, src.source, src.source_description)
        if not out.description and src.source_description:
            out.description = src.source_description
        refs[src.relation] = f"{src.schema}.{src.identifier}"
        existing = out.tables.get(src.identifier.lower())
        if existing is not None and src.relation in seed_types:
            # The same table as a seed: the seed's loaded types are the truth; the yml adds words.
            if src.description and not existing.description:
                existing.description = src.description
            described = {c.name.lower(): c.description for c in src.columns}
            existing.columns = [(n, t, d or described.get(n.lower(), ""))
                                for n, t, d in existing.columns]
            continue
        table = SourceTableOut(src.identifier, src.description, declared_in=src.file)
        bad_types = []
        for c in src.columns:
            rtype = rocky_type(c.data_type, dialect) if c.data_type else None
            if rtype:
                table.columns.append((c.name, rtype, c.description))
            else:
                table.untyped.append(c.name)
                if c.data_type:
                    bad_types.append(f"{c.name} {c.data_type!r}")
        if not src.columns:
            table.untyped.append("*")
        out.tables[src.identifier.lower()] = table
        if bad_types:
            unusable[src.relation] = (
                f"source {src.source}.{src.name} has a data_type that is not a SQL type "
                f"({', '.join(bad_types)}) in {src.file}")
        elif table.untyped:
            what = ("declares no columns" if table.untyped == ["*"] else
                    f"has no data_type for {', '.join(table.untyped)}")
            unusable[src.relation] = (
                f"source {src.source}.{src.name} {what} in {src.file}: rocky needs every "
                "source column with its type (add `data_type` to each column)")
    return files, refs, unusable


def render_source_file(out: SourceFileOut) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment("Imported from dbt by `rocky import dbt`."))
    doc["schema"] = out.schema
    if out.description:
        doc["description"] = out.description
    tables = tomlkit.table(is_super_table=True)
    for t in out.tables.values():
        if t.untyped:
            continue  # not declarable: readers are refused (see the report)
        tbl = tomlkit.table()
        if t.description:
            tbl["description"] = t.description
        cols = tomlkit.table()
        for name, typ, desc in t.columns:
            if desc:
                c = tomlkit.inline_table()
                c["type"] = typ
                c["description"] = desc
                cols[name] = c
            else:
                cols[name] = typ
        tbl["columns"] = cols
        tables[t.table] = tbl
    doc["tables"] = tables
    return tomlkit.dumps(doc)


def seed_columns(seed: DbtSeed, root: Path) -> dict[str, str]:
    header, rows = read_csv(root / seed.csv)
    types = infer_seed_types(header, rows)
    overrides = {k.lower(): v.upper() for k, v in seed.column_types.items()}
    return {c: overrides.get(c.lower(), t) for c, t in types.items()}


__all__ = ["DbtColumn", "build_sources", "infer_seed_types", "render_source_file", "seed_columns"]
