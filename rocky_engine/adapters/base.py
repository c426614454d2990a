"""The warehouse seam: a small interface every warehouse adapter implements.

SQL is built as sqlglot expressions and generated for ``adapter.dialect``; engine code
never writes warehouse-specific SQL strings. Capabilities are class constants so the
engine can ask rather than assume (``adapter.SUPPORTS_TRANSACTIONAL_DDL``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlglot import exp


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str
    nullable: bool
    ordinal: int
    comment: str | None = None


@dataclass(frozen=True)
class CatalogTable:
    schema: str
    name: str
    kind: str  # "table" | "view"
    columns: tuple[CatalogColumn, ...]
    comment: str | None = None


@runtime_checkable
class WarehouseAdapter(Protocol):
    dialect: str
    SUPPORTS_TRANSACTIONAL_DDL: bool
    SUPPORTS_ZERO_COPY_VIEWS: bool

    def execute(self, sql: str | exp.Expr, params: Sequence[Any] | None = None) -> None: ...

    def fetchall(
        self, sql: str | exp.Expr, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]: ...

    def fetch_with_columns(
        self, sql: str | exp.Expr, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def schemas(self) -> list[str]: ...

    def tables(self, schema: str) -> list[CatalogTable]: ...

    def table(self, schema: str, name: str) -> CatalogTable | None: ...

    def create_schema(self, schema: str) -> None: ...

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[None]: ...

    def close(self) -> None: ...


def table_ref(schema: str, name: str) -> exp.Table:
    """A quoted ``schema.name`` table expression, safe for any identifier."""
    return exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )
