"""DuckDB, embedded: the default warehouse. No server, no credentials."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import duckdb
from sqlglot import exp

from rocky_engine.adapters.base import CatalogColumn, CatalogTable, WarehouseBusy, table_ref
from rocky_engine.adapters.incremental import IncrementalSQL
from rocky_engine.errors import WarehouseError


class DuckDBAdapter(IncrementalSQL):
    dialect = "duckdb"
    SUPPORTS_TRANSACTIONAL_DDL = True
    SUPPORTS_ZERO_COPY_VIEWS = True
    SINGLE_WRITER_PROCESS = True
    # No table clones in DuckDB: a branch starts from a copy of prod's rows.
    CLONE_KIND = "copy"
    MERGE_METHOD = "merge"  # MERGE INTO (DuckDB >= 1.4)
    SUPPORTS_ADVISORY_LOCK = False
    # Optional capability read by drift profiling: the TABLESAMPLE method used (with a
    # seed) to fingerprint large tables. SYSTEM picks whole vectors: it reads ~1% of a big
    # table, where BERNOULLI would read every row (see docs/drift.md for the trade-off).
    SAMPLE_METHOD = "SYSTEM"
    # ... drawn once per table into a WITH ... AS MATERIALIZED, read by every figure.
    MATERIALIZED_CTE = True
    # Incremental batches are staged as TEMP tables ("temp"."<model>__rocky_batch"): never
    # written to the file (no WAL, no checkpoint), private to the connection, and gone
    # with it if the process dies.
    STAGING_SCHEMA = "temp"

    def __init__(self, path: str | Path, *, read_only: bool = False, sandboxed: bool = False,
                 create: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            file = Path(self.path)
            if not create and not file.exists():
                raise WarehouseError(
                    f"warehouse file not found: {file}",
                    hint="run `rocky seed` or `rocky run` first to create it",
                )
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            first = _first_line(exc)
            if "lock" in first.lower():
                holder = re.search(r"\(PID (\d+)\)", first)
                raise WarehouseBusy(
                    f"cannot open warehouse {self.path}: {first}",
                    holder=f"PID {holder.group(1)}" if holder else "another process",
                    hint="another process holds it open (a running rocky or a DuckDB shell); "
                         "close it and retry",
                ) from None
            raise WarehouseError(
                f"cannot open warehouse {self.path}: {_first_line(exc)}",
                hint="another process may hold it open (a running rocky or a DuckDB shell); "
                     "close it and retry",
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path}: {_first_line(exc)}") from None
        self._tx_depth = 0
        # DuckDB does not tie views to the tables they read: nothing to re-create.
        self.view_sql = None
        if sandboxed:
            self.sandbox()

    def clone(self) -> DuckDBAdapter:
        """A cursor on the same database: DuckDB runs concurrent transactions of one
        process's connections in parallel (its settings, sandbox included, are shared)."""
        twin = object.__new__(DuckDBAdapter)
        twin.path = self.path
        try:
            twin.conn = self.conn.cursor()
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open a connection to {self.path}: "
                                 f"{_first_line(exc)}") from None
        twin._tx_depth = 0
        return twin

    def sandbox(self) -> None:
        """No file or network access from SQL on this connection, and no way to undo it."""
        self.conn.execute("SET enable_external_access = false")
        self.conn.execute("SET lock_configuration = true")

    # ------------------------------------------------------------------ statements

    def _sql(self, sql: str | exp.Expr) -> str:
        # copy=False: the generator's defensive deep copy costs more than DuckDB takes to
        # run a small statement; the engine builds a fresh statement tree per call.
        return sql if isinstance(sql, str) else sql.sql(dialect=self.dialect, copy=False)

    def execute(self, sql: str | exp.Expr, params: Sequence[Any] | None = None) -> None:
        try:
            self.conn.execute(self._sql(sql), params).fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(_first_line(exc)) from exc

    def fetchall(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                 ) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(self._sql(sql), params).fetchall()
        except duckdb.Error as exc:
            raise WarehouseError(_first_line(exc)) from exc

    def fetch_with_columns(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                           ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cur = self.conn.execute(self._sql(sql), params)
            rows = cur.fetchall()
            names = [d[0] for d in (cur.description or [])]
            return names, rows
        except duckdb.Error as exc:
            raise WarehouseError(_first_line(exc)) from exc

    # ------------------------------------------------------------------ catalog

    def schemas(self) -> list[str]:
        rows = self.fetchall(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE catalog_name = current_database() ORDER BY 1"
        )
        return [r[0] for r in rows]

    def tables(self, schema: str) -> list[CatalogTable]:
        return self.catalog([schema])

    def catalog(self, schemas: Sequence[str]) -> list[CatalogTable]:
        """Every table and view of ``schemas`` (case-insensitive), in one query."""
        if not schemas:
            return []
        rows = self.fetchall(
            "SELECT t.table_schema, t.table_name, t.table_type, c.column_name, c.data_type, "
            "c.is_nullable, "
            "c.ordinal_position, c.column_comment, t.table_comment "
            "FROM information_schema.tables t JOIN information_schema.columns c "
            "ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name "
            "WHERE t.table_catalog = current_database() "
            "AND list_contains(?, lower(t.table_schema)) "
            "ORDER BY t.table_schema, t.table_name, c.ordinal_position",
            [[s.lower() for s in schemas]],
        )
        grouped: dict[tuple[str, str], tuple[str, str | None, list[CatalogColumn]]] = {}
        for schema, name, kind, col, typ, nullable, ordinal, comment, tcomment in rows:
            entry = grouped.setdefault(
                (schema, name), ("view" if kind == "VIEW" else "table", tcomment, [])
            )
            entry[2].append(CatalogColumn(col, typ, nullable == "YES", int(ordinal), comment))
        return [
            CatalogTable(schema, name, kind, tuple(cols), tcomment)
            for (schema, name), (kind, tcomment, cols) in grouped.items()
        ]

    def table(self, schema: str, name: str) -> CatalogTable | None:
        # A table straight from duckdb_columns(): a few ms, where the information_schema
        # join over the whole schema takes four times as long (an incremental build reads
        # its stored table's and its batch's columns on every run). Views: the general path.
        temp = schema.lower() == self.STAGING_SCHEMA  # the connection's TEMP tables
        where = "c.database_name = 'temp'" if temp else \
            "c.database_name = current_database() AND lower(c.schema_name) = lower(?)"
        rows = self.fetchall(
            "SELECT t.schema_name, t.table_name, c.column_name, c.data_type, c.is_nullable, "
            "c.column_index, c.comment, t.comment FROM duckdb_columns() c "
            f"JOIN duckdb_tables() t ON t.table_oid = c.table_oid WHERE {where} "
            "AND lower(c.table_name) = lower(?) ORDER BY c.column_index",
            [name] if temp else [schema, name])
        if rows:
            return CatalogTable(schema if temp else rows[0][0], rows[0][1], "table", tuple(
                CatalogColumn(col, typ, bool(nullable), int(ordinal), comment)
                for _, _, col, typ, nullable, ordinal, comment, _ in rows), rows[0][7])
        return next((t for t in self.tables(schema) if t.name.lower() == name.lower()), None)

    def create_schema(self, schema: str) -> None:
        self.execute(exp.Create(this=exp.Table(this=exp.to_identifier(schema, quoted=True)),
                                kind="SCHEMA", exists=True))

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None:
        self.execute(exp.Drop(tables=[exp.Table(this=exp.to_identifier(schema, quoted=True))],
                              kind="SCHEMA", exists=True, cascade=cascade))

    def drop_table(self, schema: str, name: str, kind: str = "TABLE") -> None:
        self.execute(exp.Drop(tables=[table_ref(schema, name)], kind=kind, exists=True))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # Re-entrant: ``swap_table`` opens its own transaction but must also compose into
        # a caller's (promote replaces many objects in one).
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        self.conn.execute("BEGIN TRANSACTION")
        self._tx_depth = 1
        try:
            yield
        except BaseException:
            self._tx_depth = 0
            try:
                self.conn.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the failed statement may already have aborted the transaction
            raise
        else:
            self._tx_depth = 0
            try:
                self.conn.execute("COMMIT")
            except duckdb.Error as exc:
                raise WarehouseError(f"commit failed: {_first_line(exc)}") from exc

    # ------------------------------------------------------------------ objects

    def relations(self, schema: str) -> dict[str, str]:
        rows = self.fetchall(
            "SELECT lower(table_name), table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND lower(table_schema) = lower(?)",
            [schema],
        )
        return {name: ("view" if kind == "VIEW" else "table") for name, kind in rows}

    def create_view(self, schema: str, name: str, query: exp.Query | str, *,
                    replace: bool = True) -> None:
        self.execute(self._create("VIEW", schema, name, query, replace))

    def create_table_as(self, schema: str, name: str, query: exp.Query | str, *,
                        replace: bool = False) -> int | None:
        """Create (or replace: a table or a view) ``schema.name`` from ``query``."""
        statement = self._create("TABLE", schema, name, query, replace)
        # In a transaction a failed statement would abort the caller's: look first.
        if replace and self._tx_depth and schema.lower() != self.STAGING_SCHEMA and \
                self.relations(schema).get(name.lower()) == "view":
            self.drop_table(schema, name, "VIEW")
        try:
            rows = self.fetchall(statement)
        except WarehouseError as exc:
            # Outside a transaction the cheap path is to try: a view of that name is rare.
            if not (replace and "is of type View" in exc.message):
                raise
            with self.transaction():
                self.drop_table(schema, name, "VIEW")
                rows = self.fetchall(statement)
        # DuckDB answers CREATE TABLE AS with the number of rows written.
        return int(rows[0][0]) if rows and rows[0] and isinstance(rows[0][0], int) else None

    def _create(self, kind: str, schema: str, name: str, query: exp.Query | str,
                replace: bool) -> str | exp.Expr:
        temp = kind == "TABLE" and schema.lower() == self.STAGING_SCHEMA
        if not isinstance(query, str):
            return exp.Create(this=table_ref(schema, name), kind=kind, replace=replace,
                              expression=query, properties=exp.Properties(
                                  expressions=[exp.TemporaryProperty()]) if temp else None)
        # A SELECT's text (a model's own SQL, references already bound): generating the
        # head from expressions around it would re-generate the whole query, which costs
        # more per model than DuckDB takes to build a small one.
        return f"CREATE {'OR REPLACE ' if replace else ''}{'TEMP ' if temp else ''}{kind} " \
               f"{_qualified(schema, name)} AS {query}"

    def swap_table(self, schema: str, tmp: str, name: str, *,
                   existing_kind: str | None | object = ...) -> None:
        kind = self.relations(schema).get(name.lower()) if existing_kind is ... else existing_kind
        with self.transaction():
            if kind is not None:
                self.drop_table(schema, name, str(kind).upper())
            self.rename(schema, tmp, name, kind="table")

    def rename(self, schema: str, old: str, new: str, *, kind: str | None = None) -> None:
        kind = kind or self.relations(schema).get(old.lower())
        if kind is None:
            raise WarehouseError(f"cannot rename {schema}.{old}: it does not exist")
        self.execute(exp.Alter(this=table_ref(schema, old), kind=kind.upper(), actions=[
            exp.AlterRename(this=exp.Table(this=exp.to_identifier(new, quoted=True)))
        ]))

    def drop_relation(self, schema: str, name: str, *, kind: str | None = None) -> None:
        kind = kind or self.relations(schema).get(name.lower())
        if kind is not None:
            self.drop_table(schema, name, kind.upper())

    def load_csv(self, schema: str, name: str, columns: Sequence[tuple[str, str]],
                 path: Path) -> int:
        """(Re)create ``schema.name`` from a CSV with a header row, with the given types."""
        types = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.Literal.string(c), expression=exp.Literal.string(t))
            for c, t in columns
        ])
        call = exp.Anonymous(this="read_csv", expressions=[
            exp.Literal.string(str(Path(path).resolve())),
            exp.EQ(this=exp.column("header"), expression=exp.true()),
            exp.EQ(this=exp.column("columns"), expression=types),
            exp.EQ(this=exp.column("auto_detect"), expression=exp.false()),
        ])
        self.execute(exp.Create(this=table_ref(schema, name), kind="TABLE", replace=True,
                                expression=exp.select("*").from_(exp.Table(this=call))))
        return self.row_count(schema, name)

    def row_count(self, schema: str, name: str) -> int:
        (count,) = self.fetchall(exp.select(exp.Count(this=exp.Star()))
                                 .from_(table_ref(schema, name)))[0]
        return int(count)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=65536)
def _qualified(schema: str, name: str) -> str:
    return table_ref(schema, name).sql(dialect=DuckDBAdapter.dialect)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
