"""Compare declared sources with the live catalog and classify every difference.

Pure except for the :class:`Reader` seam, through which the values are read (fingerprints,
row and NULL counts); :class:`NoData` reads nothing, so detection falls back to type, name
and position evidence.

    >>> changes, notes = compare(project, live, stored={}, reader=NoData())  # doctest: +SKIP
    >>> [c.kind for c in changes]                                             # doctest: +SKIP
    ['column_renamed']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.drift import profiling
from rocky_engine.drift.fingerprints import Fingerprint
from rocky_engine.drift.introspect import LiveTable
from rocky_engine.drift.renames import (
    ColumnSide,
    Matching,
    match,
    neighbours,
    score_columns,
    score_tables,
)
from rocky_engine.drift.report import (
    COLUMN_ADDED,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    TABLE_ADDED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    Candidate,
    Change,
)
from rocky_engine.drift.typechange import canonical_type, classify_type_change, family
from rocky_engine.errors import WarehouseError
from rocky_engine.project import Project, SourceTable

Stored = dict[tuple[str, str, str], Fingerprint]


class Reader(Protocol):
    """Reads values of live tables; every method returns None when it cannot."""

    def fingerprint(self, schema: str, table: str, column: str) -> Fingerprint | None: ...
    def rows(self, schema: str, table: str) -> int | None: ...
    def nulls(self, schema: str, table: str, column: str) -> int | None: ...


class NoData:
    """A reader for when data cannot (or should not) be read."""

    def fingerprint(self, schema: str, table: str, column: str) -> Fingerprint | None:
        return None

    def rows(self, schema: str, table: str) -> int | None:
        return None

    def nulls(self, schema: str, table: str, column: str) -> int | None:
        return None


class WarehouseReader:
    """Reads values through a warehouse adapter, caching fingerprints."""

    def __init__(self, adapter: WarehouseAdapter) -> None:
        self.adapter = adapter
        self._cache: dict[tuple[str, str, str], Fingerprint | None] = {}

    def fingerprint(self, schema: str, table: str, column: str) -> Fingerprint | None:
        key = (schema, table, column)
        if key not in self._cache:
            self._cache[key] = profiling.safe_compute(self.adapter, schema, table, column)
        return self._cache[key]

    def rows(self, schema: str, table: str) -> int | None:
        from sqlglot import exp

        try:
            return int(self.adapter.fetchall(
                exp.select(exp.func("COUNT", exp.Star())).from_(table_ref(schema, table)))[0][0])
        except WarehouseError:
            return None

    def nulls(self, schema: str, table: str, column: str) -> int | None:
        from sqlglot import exp

        col = exp.column(column, quoted=True)
        q = exp.select(exp.func("COUNT", exp.Star())).from_(table_ref(schema, table)).where(
            exp.Is(this=col, expression=exp.Null()))
        try:
            return int(self.adapter.fetchall(q)[0][0])
        except WarehouseError:
            return None


@dataclass(frozen=True)
class _Ctx:
    stored: Stored
    reader: Reader
    dialect: str | None


def compare(project: Project, live: dict[str, LiveTable], *, stored: Stored,
            reader: Reader) -> tuple[list[Change], list[str]]:
    """Every change between ``project.sources`` and ``live``, plus notes on the evidence."""
    ctx = _Ctx(stored, reader, project.dialect)
    changes: list[Change] = []
    notes: list[str] = []
    schemas = sorted({t.schema.lower() for t in project.sources.values()}
                     | set(project.source_files))
    for schema in schemas:
        declared = {k: t for k, t in project.sources.items() if t.schema.lower() == schema.lower()}
        here = {k: t for k, t in live.items() if t.schema.lower() == schema.lower()}
        file = project.source_files.get(schema.lower())
        if declared and not here:
            notes.append(f"schema `{schema}` holds no tables in the warehouse "
                         "(not loaded yet? run `rocky seed` or your loader)")
        vanished = [declared[k].name for k in sorted(declared) if k not in here]
        new = [here[k].name for k in sorted(here) if k not in declared]
        tm = _match_tables(schema, vanished, new, declared, here, ctx)
        by_name = {t.name.lower(): t for t in here.values()}
        for old_name, cand in tm.renames.items():
            src = declared[f"{schema}.{old_name}".lower()]
            changes.append(Change(
                kind=TABLE_RENAMED, table=src.fqn, new_table=by_name[cand.name.lower()].fqn,
                confidence=cand.confidence, evidence=cand.evidence, source_file=src.file))
            changes.extend(_compare_columns(src, by_name[cand.name.lower()], ctx))
        renamed_to = {c.name.lower() for c in tm.renames.values()}
        for old_name in vanished:
            if old_name in tm.renames:
                continue
            src = declared[f"{schema}.{old_name}".lower()]
            cands = tm.ambiguous.get(old_name, ())
            changes.append(Change(kind=TABLE_REMOVED, table=src.fqn, ambiguous=bool(cands),
                                  candidates=cands, source_file=src.file))
        for new_name in new:
            if new_name.lower() in renamed_to:
                continue
            table = by_name[new_name.lower()]
            olds = tm.ambiguous_new.get(new_name, ())
            changes.append(Change(
                kind=TABLE_ADDED, table=table.fqn, columns=table.columns,
                ambiguous=bool(olds), candidates=_claims(tm, new_name), source_file=file))
        for key in sorted(declared):
            if key in here:
                changes.extend(_compare_columns(declared[key], here[key], ctx))
    if any(c.kind in (COLUMN_RENAMED, COLUMN_REMOVED, TABLE_RENAMED, TABLE_REMOVED)
           for c in changes) and not stored:
        notes.append("no earlier value fingerprints are stored for these sources, so renames "
                     "were judged on type, name and position only (fingerprints are recorded "
                     "each time `rocky drift` sees a table that matches its declaration)")
    return changes, notes


def _claims(m: Matching, new_name: str) -> tuple[Candidate, ...]:
    """For a new name in an ambiguous case: the vanished names claiming it, with confidence."""
    out = []
    for old in m.ambiguous_new.get(new_name, ()):
        cand = next((c for c in m.ambiguous.get(old, ()) if c.name == new_name), None)
        out.append(Candidate(old, cand.confidence if cand else 0.0,
                             cand.evidence if cand else ()))
    return tuple(out)


def _match_tables(schema: str, vanished: list[str], new: list[str],
                  declared: dict[str, SourceTable], here: dict[str, LiveTable],
                  ctx: _Ctx) -> Matching:
    if not vanished or not new:
        return Matching()

    def score(old: str, new_name: str) -> Candidate:
        src = declared[f"{schema}.{old}".lower()]
        tbl = here[f"{schema}.{new_name}".lower()]
        old_rows = next((fp.rows for (s, t, _), fp in ctx.stored.items()
                         if s == schema.lower() and t == old.lower()), None)
        new_rows = ctx.reader.rows(tbl.schema, tbl.name) if old_rows is not None else None
        return score_tables(old, src.columns, old_rows, new_name, tbl.columns, new_rows,
                            schema=schema, dialect=ctx.dialect)

    return match(vanished, new, score)


def _compare_columns(src: SourceTable, tbl: LiveTable, ctx: _Ctx) -> list[Change]:
    """Column changes of one declared table against its live table (maybe renamed)."""
    declared = {c.name.lower(): c for c in src.columns}
    live = {c.name.lower(): c for c in tbl.columns}
    surviving = set(declared) & set(live)
    vanished = [c.name for c in src.columns if c.name.lower() not in live]
    new = [c.name for c in tbl.columns if c.name.lower() not in declared]
    out: list[Change] = []
    table, file = src.fqn, src.file

    def side_old(name: str) -> ColumnSide:
        col = declared[name.lower()]
        return ColumnSide(col.name, col.type,
                          neighbours([c.name for c in src.columns], surviving, name),
                          ctx.stored.get((src.schema.lower(), src.name.lower(), name.lower())))

    def side_new(name: str, with_values: bool) -> ColumnSide:
        col = live[name.lower()]
        fp = ctx.reader.fingerprint(tbl.schema, tbl.name, col.name) if with_values else None
        return ColumnSide(col.name, col.type,
                          neighbours([c.name for c in tbl.columns], surviving, name), fp)

    def score(old: str, new_name: str) -> Candidate:
        o = side_old(old)
        return score_columns(o, side_new(new_name, o.fingerprint is not None),
                             table=src.fqn, dialect=ctx.dialect)

    cm = match(vanished, new, score) if vanished and new else Matching()
    for old, cand in cm.renames.items():
        o, n = declared[old.lower()], live[cand.name.lower()]
        out.append(Change(kind=COLUMN_RENAMED, column=o.name, new_column=n.name,
                          old_type=o.type, new_type=n.type, confidence=cand.confidence,
                          evidence=cand.evidence, table=table, source_file=file))
        if canonical_type(o.type, ctx.dialect) != canonical_type(n.type, ctx.dialect):
            out.append(_type_change(o.name, o.type, n.type, ctx, new_column=n.name,
                                    table=table, source_file=file))
    for old in vanished:
        if old in cm.renames:
            continue
        cands = cm.ambiguous.get(old, ())
        out.append(Change(kind=COLUMN_REMOVED, column=old, old_type=declared[old.lower()].type,
                          ambiguous=bool(cands), candidates=cands, table=table, source_file=file))
    renamed_to = {c.name.lower() for c in cm.renames.values()}
    for name in new:
        if name.lower() in renamed_to:
            continue
        col = live[name.lower()]
        olds = cm.ambiguous_new.get(name, ())
        out.append(Change(kind=COLUMN_ADDED, column=col.name, new_type=col.type,
                          position=col.ordinal, nullable=col.nullable, ambiguous=bool(olds),
                          candidates=_claims(cm, name), table=table, source_file=file))
    for decl in src.columns:
        now = live.get(decl.name.lower())
        if now is None:
            continue
        if canonical_type(decl.type, ctx.dialect) != canonical_type(now.type, ctx.dialect):
            out.append(_type_change(decl.name, decl.type, now.type, ctx, table=table,
                                    source_file=file))
        out.extend(_nullability(src, tbl, decl.name, decl.nullable, now.nullable, ctx))
    return out


def _type_change(column: str, old: str, new: str, ctx: _Ctx, *, table: str,
                 source_file: str | None, new_column: str | None = None) -> Change:
    kind = classify_type_change(old, new, ctx.dialect)
    fam_old, fam_new = family(old, ctx.dialect), family(new, ctx.dialect)
    if kind == "widening":
        why = f"every {old} value fits {new} unchanged"
    elif fam_old != fam_new:
        why = f"values change kind ({fam_old} -> {fam_new})"
    else:
        why = f"some {old} values do not fit {new} exactly"
    return Change(kind=COLUMN_TYPE_CHANGED, table=table, column=column, new_column=new_column,
                  old_type=old, new_type=new, change=kind, evidence=(why,),
                  source_file=source_file)


def _nullability(src: SourceTable, tbl: LiveTable, column: str, declared: bool, live: bool,
                 ctx: _Ctx) -> list[Change]:
    if declared and not live:
        return [Change(kind=COLUMN_NULLABILITY_CHANGED, table=src.fqn, column=column,
                       source_file=src.file, nullable_from=True, nullable_to=False,
                       change="tightening",
                       evidence=("the warehouse now declares the column NOT NULL",))]
    if not declared and live:
        # Loaded tables rarely carry NOT NULL in the catalog; the data is the evidence.
        nulls = ctx.reader.nulls(tbl.schema, tbl.name, column)
        if nulls:
            return [Change(kind=COLUMN_NULLABILITY_CHANGED, table=src.fqn, column=column,
                           source_file=src.file, nullable_from=False, nullable_to=True,
                           change="loosening",
                           evidence=(f"{nulls} NULL value(s) in a column declared NOT NULL",))]
    return []
