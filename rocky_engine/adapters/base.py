"""The warehouse seam: a small interface every warehouse adapter implements.

SQL is built as sqlglot expressions and generated for ``adapter.dialect`` (through the
dialect layer, :mod:`rocky_engine.adapters.dialect`, when that is not the project's
dialect); engine code never writes warehouse-specific SQL strings. Capabilities are class
constants so the engine can ask rather than assume (``adapter.SUPPORTS_TRANSACTIONAL_DDL``).

Adding a warehouse (e.g. Spark): a class implementing :class:`WarehouseAdapter`, a config
model in :mod:`rocky_engine.config` (the ``[warehouse]`` union), an opener registered in
:mod:`rocky_engine.adapters.factory`, :class:`~rocky_engine.adapters.dialect.TargetRules`
when sqlglot needs help, and one parameter of the conformance suite
(``tests/adapters/conftest.py``). A string passed as SQL is already in ``dialect``.

Optional hook: ``adapter.view_sql`` — when a warehouse must drop views along with an
object it replaces (Postgres), the engine sets it to ``(schema, name) -> SELECT or None``
so a dependant view that is a model is re-created from the model, not from its stale
stored definition. Adapters without such dependencies set it to None and ignore it.

Optional capability (read with ``getattr``, so an adapter without them still works):

* ``SAMPLE_METHOD``: a ``TABLESAMPLE`` method of the adapter's dialect that accepts a
  percentage and a seed (DuckDB and PostgreSQL ``"SYSTEM"``); drift fingerprints of large
  tables are then read from a repeatable sample instead of the whole table.
* ``STAGING_SCHEMA``: where an incremental batch is staged instead of next to its target:
  a schema name the adapter's ``create_table_as`` / ``table`` / ``row_count`` /
  ``drop_relation`` understand as session-private temporary tables (DuckDB ``"temp"``).
* ``MATERIALIZED_CTE``: the dialect accepts ``WITH x AS MATERIALIZED (...)``; the sample
  is then drawn once per table and every figure reads it (else each figure re-draws it).
* ``relations_matching(schema, text)``: lower-case names of the relations of ``schema``
  whose name contains ``text``, in one catalog call; the swap recovery every writing
  command runs (warehouses without transactional DDL) then costs one call per schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlglot import exp

from rocky_engine.errors import WarehouseError


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
    # True when the warehouse itself admits one writing process at a time (an embedded
    # file): a lock row left by another process is then necessarily stale.
    SINGLE_WRITER_PROCESS: bool
    # True when the warehouse has session locks that die with the session
    # (:meth:`try_advisory_lock`): the writer lock then survives nothing, not even kill -9.
    SUPPORTS_ADVISORY_LOCK: bool

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

    def catalog(self, schemas: Sequence[str]) -> list[CatalogTable]:
        """Every table and view of ``schemas`` in one round trip; column types in rocky's
        spelling (:func:`~rocky_engine.adapters.dialect.normalize_type`)."""
        ...

    def load_csv(self, schema: str, name: str, columns: Sequence[tuple[str, str]],
                 path: Path) -> int:
        """(Re)create ``schema.name`` with ``columns`` (name, rocky type) from a CSV file
        with a header row; a bad value raises :class:`WarehouseError` naming its line."""
        ...

    def create_schema(self, schema: str) -> None: ...

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None: ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; re-entrant (an inner ``transaction()`` joins the outer one)."""
        ...

    def close(self) -> None: ...

    def clone(self) -> WarehouseAdapter:
        """Another connection to the same warehouse, for one worker thread.

        ``rocky run --threads N`` builds independent models on N clones at once: each
        has its own transactions and is closed on its own (closing a clone leaves this
        adapter open). Sandbox settings carry over.

        An adapter whose replace drops and re-creates the views reading a relation
        (Postgres) also offers ``view_dependants() -> {(schema, name): {(schema, view)}}``
        (lower-case, the whole warehouse), so parallel builds that would rewrite the same
        view are kept apart.
        """
        ...

    # -- object management: the engine builds models only through these -----------

    def relations(self, schema: str) -> dict[str, str]:
        """Lower-case name -> ``"table"`` | ``"view"`` for every relation in ``schema``."""
        ...

    def create_view(self, schema: str, name: str, query: exp.Query | str, *,
                    replace: bool = True) -> None:
        """``query`` is an expression, or one SELECT's text already in ``dialect``."""
        ...

    def create_table_as(self, schema: str, name: str, query: exp.Query | str, *,
                        replace: bool = False) -> int | None:
        """Create a table from ``query`` (as for :meth:`create_view`); the row count when
        the warehouse reports it."""
        ...

    def swap_table(self, schema: str, tmp: str, name: str, *,
                   existing_kind: str | None | object = ...) -> None:
        """Atomically put table ``tmp`` in place of ``name`` (a table or view, or nothing).

        ``existing_kind`` (``"table"``, ``"view"`` or None for nothing) saves a catalog
        lookup when the caller already knows it.
        """
        ...

    def rename(self, schema: str, old: str, new: str, *, kind: str | None = None) -> None: ...

    def drop_relation(self, schema: str, name: str, *, kind: str | None = None) -> None:
        """Drop ``schema.name`` whatever its kind (looked up unless given); no-op if absent."""
        ...

    def row_count(self, schema: str, name: str) -> int: ...

    # -- incremental models (portable versions: rocky_engine.adapters.incremental) ------

    CLONE_KIND: str  # "zero-copy" | "copy": how clone_table gives a branch prod's table

    # ``staged``: the batch table, a name in ``schema``, or a reference to where the
    # adapter stages batches (its optional ``STAGING_SCHEMA``, e.g. DuckDB's "temp").

    def merge_rows(self, schema: str, target: str, staged: str | exp.Table,
                   key: Sequence[str], columns: Sequence[str]) -> None:
        """Update stored rows whose key is in table ``staged``, insert the others."""
        ...

    def delete_insert_rows(self, schema: str, target: str, staged: str | exp.Table,
                           key: Sequence[str], columns: Sequence[str]) -> None:
        """Delete stored rows whose key is in ``staged``, then insert all of ``staged``."""
        ...

    def insert_rows(self, schema: str, target: str, staged: str | exp.Table,
                    columns: Sequence[str], *, skip_stored_key: Sequence[str] = ()) -> None:
        """Append ``staged`` (without the rows whose ``skip_stored_key`` is stored)."""
        ...

    def add_columns(self, schema: str, target: str,
                    columns: Sequence[tuple[str, exp.DataType]]) -> None: ...

    def clone_table(self, src_schema: str, name: str, dst_schema: str) -> str:
        """Copy (or zero-copy clone) a table into another schema; returns ``CLONE_KIND``."""
        ...


class WarehouseBusy(WarehouseError):
    """The warehouse could not be opened because another process holds it.

    ``holder`` is what the warehouse says about the other process (e.g. ``"PID 4242"``).
    Callers that can wait (``rocky run``) retry, then raise :class:`LockTimeout`.
    """

    def __init__(self, message: str, *, holder: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


def table_ref(schema: str, name: str) -> exp.Table:
    """A quoted ``schema.name`` table expression, safe for any identifier."""
    return exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
    )
