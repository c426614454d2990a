"""DuckDB, embedded: the default warehouse. No server, no credentials."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from rocky_engine.adapters.base import CatalogColumn, CatalogTable, table_ref
from rocky_engine.errors import WarehouseError


class DuckDBAdapter:
    dialect = "duckdb"
    SUPPORTS_TRANSACTIONAL_DDL = True
    SUPPORTS_ZERO_COPY_VIEWS = True

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
            raise WarehouseError(
                f"cannot open warehouse {self.path}: {_first_line(exc)}",
                hint="another process may hold it open (a running rocky or a DuckDB shell); "
                     "close it and retry",
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path}: {_first_line(exc)}") from None
        if sandboxed:
            self.sandbox()

    def sandbox(self) -> None:
        """No file or network access from SQL on this connection, and no way to undo it."""
        self.conn.execute("SET enable_external_access = false")
        self.conn.execute("SET lock_configuration = true")

    # ------------------------------------------------------------------ statements

    def _sql(self, sql: str | exp.Expr) -> str:
        return sql if isinstance(sql, str) else sql.sql(dialect=self.dialect)

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
        rows = self.fetchall(
            "SELECT t.table_name, t.table_type, c.column_name, c.data_type, c.is_nullable, "
            "c.ordinal_position, c.column_comment, t.table_comment "
            "FROM information_schema.tables t JOIN information_schema.columns c "
            "ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name "
            "WHERE t.table_catalog = current_database() AND t.table_schema = ? "
            "ORDER BY t.table_name, c.ordinal_position",
            [schema],
        )
        grouped: dict[str, tuple[str, str | None, list[CatalogColumn]]] = {}
        for name, kind, col, typ, nullable, ordinal, comment, tcomment in rows:
            entry = grouped.setdefault(
                name, ("view" if kind == "VIEW" else "table", tcomment, [])
            )
            entry[2].append(CatalogColumn(col, typ, nullable == "YES", int(ordinal), comment))
        return [
            CatalogTable(schema, name, kind, tuple(cols), tcomment)
            for name, (kind, tcomment, cols) in grouped.items()
        ]

    def table(self, schema: str, name: str) -> CatalogTable | None:
        return next((t for t in self.tables(schema) if t.name.lower() == name.lower()), None)

    def create_schema(self, schema: str) -> None:
        self.execute(exp.Create(this=exp.Table(this=exp.to_identifier(schema, quoted=True)),
                                kind="SCHEMA", exists=True))

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None:
        self.execute(exp.Drop(this=exp.Table(this=exp.to_identifier(schema, quoted=True)),
                              kind="SCHEMA", exists=True, cascade=cascade))

    def drop_table(self, schema: str, name: str, kind: str = "TABLE") -> None:
        self.execute(exp.Drop(this=table_ref(schema, name), kind=kind, exists=True))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> DuckDBAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
