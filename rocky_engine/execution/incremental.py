"""Building an incremental model: only the rows above the stored watermark, applied atomically.

The model's SQL is the SELECT of the full result. A run wraps it::

    SELECT * FROM (<model>) AS _rocky_batch
    WHERE (SELECT MAX(wm) FROM <table>) IS NULL
       OR _rocky_batch.wm > (SELECT MAX(wm) FROM <table>) - <lookback>

stages that batch as ``<name>__rocky_batch``, reconciles a changed column set according
to ``on_schema_change``, checks the key is unique in the batch, and hands it to the
adapter (``merge_rows`` / ``delete_insert_rows`` / ``insert_rows``). The caller runs all of
it inside one transaction, so any failure leaves the stored table as it was. The first
build, a stored object that is not a table, and ``--full-refresh`` build the whole table.

    >>> from rocky_engine.config import IncrementalConfig
    >>> cfg = IncrementalConfig(unique_key=["id"], watermark="ts", lookback="2 days")
    >>> batch_query(sqlglot.parse_one("SELECT id, ts FROM raw.t"), "main", "m", cfg, "ts"
    ...             ).sql("duckdb")  # doctest: +NORMALIZE_WHITESPACE
    'SELECT * FROM (SELECT id, ts FROM raw.t) AS "_rocky_batch" WHERE (SELECT MAX("ts") FROM
    "main"."m") IS NULL OR "_rocky_batch"."ts" > (SELECT MAX("ts") FROM "main"."m") -
    INTERVAL \\'2\\' DAY'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlglot
from sqlglot import exp

from rocky_engine.adapters.base import CatalogColumn, WarehouseAdapter, table_ref
from rocky_engine.adapters.incremental import stored_key_exists, values_differ
from rocky_engine.config import IncrementalConfig, parse_lookback
from rocky_engine.errors import WarehouseError

BATCH_SUFFIX = "__rocky_batch"
SYNC_SUFFIX = "__rocky_sync"
_B = "_rocky_batch"

# Test seam: called (with the model name) after the batch is applied, before the
# caller's transaction commits — a test kills the process there ("kill -9 mid-merge").
after_apply: Callable[[str], None] | None = None


class IncrementalError(WarehouseError):
    """An incremental build refused to apply its batch; nothing was changed."""


@dataclass(frozen=True)
class IncrementalOutcome:
    """What one incremental build did. ``mode``: ``full`` (whole table) | ``incremental``."""

    mode: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    batch_rows: int = 0
    schema_change: str | None = None  # what on_schema_change did, for people
    cloned: str | None = None  # a branch's start from prod: "copy" | "zero-copy"


@dataclass(frozen=True)
class ColumnChanges:
    """The batch's columns against the stored table's (catalog names and types)."""

    added: tuple[CatalogColumn, ...] = ()
    removed: tuple[CatalogColumn, ...] = ()
    retyped: tuple[tuple[CatalogColumn, CatalogColumn], ...] = ()  # (stored, batch)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(c.name for c in self.added))
        if self.removed:
            parts.append("removed " + ", ".join(c.name for c in self.removed))
        if self.retyped:
            parts.append("type of " + ", ".join(f"{old.name} {old.type} -> {new.type}"
                                               for old, new in self.retyped))
        return "; ".join(parts)


def batch_query(query: exp.Query, schema: str, name: str, config: IncrementalConfig,
                watermark: str | None, *, stored_max: exp.Expr | None = None) -> exp.Query:
    """The rows of ``query`` newer than what ``schema.name`` holds (all when it is empty).

    ``stored_max`` is the stored maximum as a literal (read beforehand): a constant bound
    lets the warehouse push the filter down to the source scan (DuckDB skips whole row
    groups by their min/max), where a subquery bound would make it read every row.
    """
    outer = exp.select(exp.Star()).from_(
        exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(_B, quoted=True))))
    if watermark is None:
        return outer
    bound: exp.Expr
    if stored_max is None:
        bound = exp.Subquery(this=exp.select(
            exp.Max(this=exp.column(watermark, quoted=True))).from_(table_ref(schema, name)))
    else:
        bound = stored_max
    if config.lookback is not None:
        amount, unit = parse_lookback(config.lookback)
        number = str(int(amount)) if amount == int(amount) else str(amount)
        step: exp.Expr = (exp.Interval(this=exp.Literal.string(number),
                                       unit=exp.Var(this=unit.upper()))
                          if unit else exp.Literal.number(number))
        bound = exp.Sub(this=bound.copy(), expression=step)
    newer = exp.GT(this=exp.column(watermark, table=_B, quoted=True), expression=bound)
    if stored_max is not None:
        return outer.where(newer)
    return outer.where(exp.or_(exp.Is(this=exp.Subquery(this=exp.select(
        exp.Max(this=exp.column(watermark, quoted=True))).from_(table_ref(schema, name))),
        expression=exp.Null()), newer))


def stored_maximum(adapter: WarehouseAdapter, schema: str, name: str,
                   column: CatalogColumn) -> exp.Expr | None:
    """``MAX(column)`` of the stored table as a typed literal; None when it holds no rows."""
    (value,) = adapter.fetchall(exp.select(exp.Max(this=exp.column(column.name, quoted=True)))
                                .from_(table_ref(schema, name)))[0]
    if value is None:
        return None
    if isinstance(value, bool):
        raise IncrementalError(f"watermark {column.name} is BOOLEAN")
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime | date):
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        return exp.Cast(this=exp.Literal.string(text), to=_dtype(column, adapter.dialect))
    return exp.Cast(this=exp.Literal.string(str(value)), to=_dtype(column, adapter.dialect))


def build_incremental(adapter: WarehouseAdapter, schema: str, name: str,
                      query: exp.Query | str, config: IncrementalConfig, *,
                      existing: str | None, full_refresh: bool = False,
                      clone_from: str | None = None) -> IncrementalOutcome:
    """Build ``schema.name`` from ``query`` (the model's full SELECT, bound to ``schema``).

    ``existing`` is the stored object's kind (``"table"``, ``"view"`` or None).
    ``clone_from`` (a branch build) is prod's schema: when the branch has no table of its
    own yet, it starts from prod's (``adapter.clone_table``), never writing prod. Must run
    inside the caller's transaction.
    """
    tree = _as_tree(query, adapter.dialect)
    cloned = None
    if existing != "table" and clone_from is not None and not full_refresh and \
            adapter.relations(clone_from).get(name.lower()) == "table":
        if existing is not None:
            adapter.drop_relation(schema, name, kind=existing)
        cloned = adapter.clone_table(clone_from, name, schema)
        existing = "table"
    if full_refresh or existing != "table":
        return _full(adapter, schema, name, tree, existing, cloned=cloned)

    stored = adapter.table(schema, name)
    assert stored is not None
    by_name = {c.name.lower(): c for c in stored.columns}
    watermark = None
    top: exp.Expr | None = None
    if config.watermark is not None:
        col = by_name.get(config.watermark.lower())
        if col is None:
            raise IncrementalError(
                f"watermark column {config.watermark} is not in the stored table "
                f"{schema}.{name}; rebuild it with `rocky run --full-refresh --select {name}`")
        watermark = col.name
        top = stored_maximum(adapter, schema, name, col)
        if top is None:  # an empty stored table: every row is new
            watermark = None
    staged = name + BATCH_SUFFIX
    # Where the batch is staged: the warehouse's temporary tables when it has them
    # (``STAGING_SCHEMA``: never written to storage, never seen by another session, gone
    # with a killed process), else next to the target.
    stage = getattr(adapter, "STAGING_SCHEMA", None) or schema
    staged_ref: str | exp.Table = staged if stage == schema else table_ref(stage, staged)
    adapter.create_table_as(stage, staged,
                            batch_query(tree, schema, name, config, watermark, stored_max=top),
                            replace=True)
    batch = adapter.table(stage, staged)
    assert batch is not None
    changes = compare_columns(stored.columns, batch.columns)
    note = None
    if changes:
        action = config.on_schema_change
        if action == "fail":
            adapter.drop_relation(stage, staged, kind="table")
            raise IncrementalError(
                f"columns of {name} changed since its table was built ({changes.describe()}); "
                "on_schema_change = \"fail\" stops here, the stored table is unchanged — set "
                "[incremental] on_schema_change or run "
                f"`rocky run --full-refresh --select {name}`")
        if action == "full_refresh":
            adapter.drop_relation(stage, staged, kind="table")
            full = _full(adapter, schema, name, tree, "table", cloned=cloned)
            return _with_note(full, f"full refresh: {changes.describe()}")
        if action == "append_new_columns":
            if changes.retyped:
                adapter.drop_relation(stage, staged, kind="table")
                raise IncrementalError(
                    f"column types of {name} changed ({changes.describe()}); "
                    "append_new_columns only adds columns — use on_schema_change = "
                    f"\"sync_all_columns\" or `rocky run --full-refresh --select {name}`")
            adapter.add_columns(schema, name, [(c.name, _dtype(c, adapter.dialect))
                                               for c in changes.added])
            note = f"added column(s) {', '.join(c.name for c in changes.added)}" \
                if changes.added else None
        else:  # sync_all_columns
            _sync_columns(adapter, schema, name, batch.columns, by_name)
            note = f"synced columns: {changes.describe()}"

    columns = [c.name for c in batch.columns]
    key = _key_columns(config.unique_key, batch.columns)
    batch_rows, stored_rows = _batch_figures(adapter, stage, staged, schema, name, key)
    inserted = updated = deleted = 0
    if batch_rows:
        # A batch of only new keys (the usual fact load) needs no join with the stored
        # table at all: a plain INSERT is the same result, for a fraction of the work.
        if config.strategy == "merge":
            # "updated" counts stored rows whose values change; a row the lookback reads
            # again unchanged is neither rewritten nor counted.
            differ = values_differ(key, columns)
            updated = _count(adapter, exp.select(exp.Count(this=exp.Star())).from_(
                _alias(stage, staged, "_s")).where(exp.Exists(this=exp.select(
                    exp.Literal.number(1)).from_(_alias(schema, name, "_t")).where(
                    exp.and_(_match(key), exp.Paren(this=differ)))))) \
                if stored_rows and differ is not None else 0
            inserted = batch_rows - stored_rows
            if updated:
                adapter.merge_rows(schema, name, staged_ref, key, columns)
            elif inserted:
                adapter.insert_rows(schema, name, staged_ref, columns,
                                    skip_stored_key=key if stored_rows else ())
        elif config.strategy == "delete+insert":
            deleted = _count(adapter, exp.select(exp.Count(this=exp.Star())).from_(
                _alias(schema, name, "_t")).where(exp.Exists(this=exp.select(
                    exp.Literal.number(1)).from_(_alias(stage, staged, "_s")).where(
                    _match(key))))) if stored_rows else 0
            if deleted:
                adapter.delete_insert_rows(schema, name, staged_ref, key, columns)
            else:
                adapter.insert_rows(schema, name, staged_ref, columns)
            inserted = batch_rows
        else:  # append
            adapter.insert_rows(schema, name, staged_ref, columns,
                                skip_stored_key=key if stored_rows else ())
            inserted = batch_rows - stored_rows
    adapter.drop_relation(stage, staged, kind="table")
    if after_apply is not None:
        after_apply(name)
    return IncrementalOutcome("incremental", inserted, updated, deleted, batch_rows, note,
                              cloned)


def compare_columns(stored: tuple[CatalogColumn, ...],
                    batch: tuple[CatalogColumn, ...]) -> ColumnChanges:
    old = {c.name.lower(): c for c in stored}
    new = {c.name.lower(): c for c in batch}
    return ColumnChanges(
        added=tuple(c for k, c in new.items() if k not in old),
        removed=tuple(c for k, c in old.items() if k not in new),
        retyped=tuple((old[k], c) for k, c in new.items()
                      if k in old and old[k].type.upper() != c.type.upper()),
    )


def _full(adapter: WarehouseAdapter, schema: str, name: str, tree: exp.Query,
          existing: str | None, *, cloned: str | None = None) -> IncrementalOutcome:
    if existing == "view":
        adapter.drop_relation(schema, name, kind="view")
    rows = adapter.create_table_as(schema, name, tree, replace=True)
    if rows is None:
        rows = adapter.row_count(schema, name)
    return IncrementalOutcome("full", inserted=rows, batch_rows=rows, cloned=cloned)


def _with_note(outcome: IncrementalOutcome, note: str) -> IncrementalOutcome:
    return IncrementalOutcome(outcome.mode, outcome.inserted, outcome.updated, outcome.deleted,
                              outcome.batch_rows, note, outcome.cloned)


def _sync_columns(adapter: WarehouseAdapter, schema: str, name: str,
                  batch: tuple[CatalogColumn, ...], stored: dict[str, CatalogColumn]) -> None:
    """Rebuild the stored table with the batch's columns: kept rows cast, new ones NULL."""
    selects: list[exp.Expr] = []
    for col in batch:
        dtype = _dtype(col, adapter.dialect)
        old = stored.get(col.name.lower())
        value: exp.Expr = exp.column(old.name, quoted=True) if old is not None else exp.Null()
        if old is None or old.type.upper() != col.type.upper():
            value = exp.Cast(this=value, to=dtype)
        selects.append(exp.alias_(value, col.name, quoted=True))
    tmp = name + SYNC_SUFFIX
    adapter.create_table_as(schema, tmp, exp.select(*selects).from_(table_ref(schema, name)),
                            replace=True)
    adapter.swap_table(schema, tmp, name, existing_kind="table")


def _dtype(col: CatalogColumn, dialect: str) -> exp.DataType:
    # Adapters report types normalised to the project's (DuckDB-style) names, which the
    # warehouse's own dialect almost always reads too.
    try:
        return exp.DataType.build(col.type, dialect=dialect)
    except Exception:  # noqa: BLE001 - sqlglot raises ParseError or ValueError
        return exp.DataType.build(col.type, dialect="duckdb")


def _key_columns(key: list[str], batch: tuple[CatalogColumn, ...]) -> list[str]:
    names = {c.name.lower(): c.name for c in batch}
    out = []
    for k in key:
        if k.lower() not in names:
            raise IncrementalError(f"unique_key column {k} is not an output column")
        out.append(names[k.lower()])
    return out


def _batch_figures(adapter: WarehouseAdapter, stage: str, staged: str, schema: str,
                   name: str, key: list[str]) -> tuple[int, int]:
    """The batch's row count and how many of its keys are already stored, in one query
    (one round trip, one job on Spark); a key that repeats within the batch is an error."""
    def count(source: exp.Expr, where: exp.Expr | None = None) -> exp.Subquery:
        query = exp.select(exp.Count(this=exp.Star())).from_(source)
        return exp.Subquery(this=query.where(where) if where is not None else query)

    rows = count(table_ref(stage, staged))
    if not key:
        return _count(adapter, exp.select(rows)), 0
    cols = [exp.column(k, quoted=True) for k in key]
    dup = exp.select(*cols).from_(table_ref(stage, staged)).group_by(
        *[c.copy() for c in cols]).having(
        exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    stored = count(_alias(stage, staged, "_s"), stored_key_exists(schema, name, key))
    n, found, stored_rows = adapter.fetchall(exp.select(rows, count(dup.subquery("_d")),
                                                        stored))[0]
    if found:
        raise IncrementalError(
            f"unique_key ({', '.join(key)}) is not unique in the new rows of {name}: "
            f"{found} key value(s) appear more than once; the stored table is unchanged")
    return int(n or 0), int(stored_rows or 0)


def _count(adapter: WarehouseAdapter, query: exp.Query) -> int:
    return int(adapter.fetchall(query)[0][0] or 0)


def _alias(schema: str, name: str, alias: str) -> exp.Table:
    table = table_ref(schema, name)
    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return table


def _match(key: list[str]) -> exp.Expr:
    from rocky_engine.adapters.incremental import key_match

    return key_match(key)


def _as_tree(query: exp.Query | str, dialect: str) -> exp.Query:
    if not isinstance(query, str):
        return query.copy()
    tree = sqlglot.parse_one(query, dialect=dialect)
    assert isinstance(tree, exp.Query)
    return tree
