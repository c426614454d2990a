"""How a warehouse applies a batch of new rows to a stored table: merge, append, delete+insert.

The engine stages the batch as a table next to the target and calls one method of this
mixin; an adapter inherits the portable statements (sqlglot expressions generated for its
``dialect``) and overrides what its warehouse does better or differently. Everything here
runs inside the caller's transaction, so a failure leaves the stored table as it was.

- ``merge_rows``: ``MERGE INTO`` (DuckDB, PostgreSQL 15+), which updates the rows whose key
  is stored and inserts the others in one statement;
- ``delete_insert_rows``: ``DELETE`` the stored rows whose key is in the batch, then
  ``INSERT`` the batch;
- ``insert_rows``: ``INSERT`` (optionally only the rows whose key is not stored yet);
- ``add_columns``: ``ALTER TABLE ADD COLUMN`` for ``on_schema_change = "append_new_columns"``;
- ``clone_table``: a branch's starting copy of prod's table (``CLONE_KIND`` says whether the
  warehouse makes it zero-copy or copies the rows).

    >>> print(merge_statement("main", "orders", "orders__rocky_batch", ["id"], ["id", "v"])
    ...       .sql("duckdb"))  # doctest: +NORMALIZE_WHITESPACE
    MERGE INTO "main"."orders" AS "_t" USING "main"."orders__rocky_batch" AS "_s"
    ON "_t"."id" = "_s"."id" WHEN MATCHED AND ("_t"."v" IS DISTINCT FROM "_s"."v")
    THEN UPDATE SET "v" = "_s"."v"
    WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES ("_s"."id", "_s"."v")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from rocky_engine.adapters.base import table_ref

_T, _S = "_t", "_s"


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _aliased(schema: str, name: str, alias: str) -> exp.Table:
    table = table_ref(schema, name)
    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return table


def _staged(schema: str, staged: str | exp.Table, alias: str) -> exp.Table:
    """A batch table: a name next to the target, or a reference elsewhere (a warehouse's
    temporary tables, ``STAGING_SCHEMA``)."""
    if isinstance(staged, str):
        return _aliased(schema, staged, alias)
    table = staged.copy()
    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return table


def key_match(key: Sequence[str], left: str = _T, right: str = _S) -> exp.Expr:
    """``left.k1 = right.k1 AND ...`` (NULL keys never match)."""
    conds = [_col(k, left).eq(_col(k, right)) for k in key]
    return exp.and_(*conds) if len(conds) > 1 else conds[0]


def stored_key_exists(schema: str, target: str, key: Sequence[str]) -> exp.Exists:
    """``EXISTS (SELECT 1 FROM target AS _t WHERE _t.k = _s.k ...)`` for a batch row ``_s``."""
    return exp.Exists(this=exp.select(exp.Literal.number(1))
                      .from_(_aliased(schema, target, _T)).where(key_match(key)))


def values_differ(key: Sequence[str], columns: Sequence[str], left: str = _T,
                  right: str = _S) -> exp.Expr | None:
    """``left.c IS DISTINCT FROM right.c OR ...`` over the non-key columns (None if none)."""
    lowered = {k.lower() for k in key}
    conds = [exp.NullSafeNEQ(this=_col(c, left), expression=_col(c, right)) for c in columns
             if c.lower() not in lowered]
    return exp.or_(*conds) if conds else None


def merge_statement(schema: str, target: str, staged: str | exp.Table,
                    key: Sequence[str], columns: Sequence[str]) -> exp.Merge:
    """Rows whose key is stored are updated only where a value differs (a re-read row
    that did not change is not rewritten); the others are inserted."""
    lowered = {k.lower() for k in key}
    updates = [exp.EQ(this=_col(c), expression=_col(c, _S)) for c in columns
               if c.lower() not in lowered]
    whens = []
    differ = values_differ(key, columns)
    if updates and differ is not None:
        whens.append(exp.When(matched=True, condition=exp.Paren(this=differ),
                              then=exp.Update(expressions=updates)))
    whens.append(exp.When(matched=False, then=exp.Insert(
        this=exp.Tuple(expressions=[_col(c) for c in columns]),
        expression=exp.Tuple(expressions=[_col(c, _S) for c in columns]))))
    return exp.Merge(this=_aliased(schema, target, _T), using=_staged(schema, staged, _S),
                     on=key_match(key), whens=exp.Whens(expressions=whens))


def insert_statement(schema: str, target: str, staged: str | exp.Table,
                     columns: Sequence[str], *,
                     skip_stored_key: Sequence[str] = ()) -> exp.Insert:
    select = exp.select(*[_col(c, _S) for c in columns]).from_(_staged(schema, staged, _S))
    if skip_stored_key:
        select = select.where(exp.not_(stored_key_exists(schema, target, skip_stored_key)))
    return exp.insert(select, table_ref(schema, target), columns=[
        exp.to_identifier(c, quoted=True) for c in columns])


def delete_matching_statement(schema: str, target: str, staged: str | exp.Table,
                              key: Sequence[str]) -> exp.Delete:
    """Stored rows whose key is in the batch (``_t`` is the stored table)."""
    in_batch = exp.Exists(this=exp.select(exp.Literal.number(1))
                          .from_(_staged(schema, staged, _S)).where(key_match(key)))
    return exp.delete(_aliased(schema, target, _T), where=in_batch)


class IncrementalSQL:
    """Mixin for adapters: the portable way to apply a staged batch (see the module doc)."""

    # How a branch gets prod's table: "zero-copy" (a clone sharing storage) or "copy".
    CLONE_KIND = "copy"
    # merge | rebuild: how ``merge_rows`` works (for the docs and the run report).
    MERGE_METHOD = "merge"

    if TYPE_CHECKING:  # provided by the adapter class the mixin is part of
        def execute(self, sql: str | exp.Expr,
                    params: Sequence[Any] | None = None) -> None: ...

        def create_table_as(self, schema: str, name: str, query: exp.Query | str, *,
                            replace: bool = False) -> int | None: ...

    def merge_rows(self, schema: str, target: str, staged: str | exp.Table,
                   key: Sequence[str], columns: Sequence[str]) -> None:
        """Update stored rows whose key is in ``staged``, insert the others."""
        self.execute(merge_statement(schema, target, staged, key, columns))

    def delete_insert_rows(self, schema: str, target: str, staged: str | exp.Table,
                           key: Sequence[str], columns: Sequence[str]) -> None:
        """Delete stored rows whose key is in ``staged``, then insert all of ``staged``."""
        self.execute(delete_matching_statement(schema, target, staged, key))
        self.execute(insert_statement(schema, target, staged, columns))

    def insert_rows(self, schema: str, target: str, staged: str | exp.Table,
                    columns: Sequence[str], *,
                    skip_stored_key: Sequence[str] = ()) -> None:
        """Append ``staged`` (without the rows whose ``skip_stored_key`` is stored)."""
        self.execute(insert_statement(schema, target, staged, columns,
                                      skip_stored_key=skip_stored_key))

    def add_columns(self, schema: str, target: str,
                    columns: Sequence[tuple[str, exp.DataType]]) -> None:
        """Add nullable columns (existing rows hold NULL in them)."""
        for name, dtype in columns:
            self.execute(exp.Alter(this=table_ref(schema, target), kind="TABLE", actions=[
                exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=dtype)]))

    def clone_table(self, src_schema: str, name: str, dst_schema: str) -> str:
        """Put a copy of ``src_schema.name`` at ``dst_schema.name``; returns ``CLONE_KIND``."""
        self.create_table_as(dst_schema, name,
                             exp.select(exp.Star()).from_(table_ref(src_schema, name)),
                             replace=True)
        return self.CLONE_KIND
