"""Apache Spark: an in-process engine (``master = "local[N]"``) or Spark Connect.

What Spark does differently from DuckDB and Postgres, and how this adapter meets it:

- No multi-statement transactions and no transactional DDL: :meth:`transaction` groups
  nothing; a table is built under a temporary name and swapped in (the runner does that
  when ``SUPPORTS_TRANSACTIONAL_DDL`` is False) — the old table is renamed aside, not
  dropped, until the new one is in place (:mod:`rocky_engine.adapters.swap`), so a kill -9
  never loses it — and ``promote`` journals its swaps in ``_rocky`` (see
  :mod:`rocky_engine.execution.promote_journal`).
- Parquet tables cannot ``CREATE OR REPLACE``, ``DELETE`` or ``UPDATE``: a replace drops
  first; ``DELETE``/``UPDATE`` (only the small ``_rocky`` state tables use them) are
  carried out by reading the remaining rows and writing them back (``INSERT OVERWRITE``).
- NOT NULL is not kept on parquet tables: the catalog reports every column nullable, so
  nullability comes from the declarations (drift never reports it).
- Views are created ``WITH SCHEMA EVOLUTION``: Spark's default view mode casts an
  upstream column back to the type it had when the view was made, which would hide an
  upstream type change from the catalog and from drift.
- No information_schema: the catalog is read with ``SHOW TABLE EXTENDED`` (one call for
  every table and view of a database).

    >>> adapter = SparkAdapter(SparkSettings(master="local[2]", home=Path("target/spark")))  # doctest: +SKIP
    >>> adapter.fetchall("SELECT 1 + 1")                                                    # doctest: +SKIP
    [(2,)]
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

from sqlglot import exp

from rocky_engine.adapters import spark_lock
from rocky_engine.adapters.base import CatalogColumn, CatalogTable, table_ref
from rocky_engine.adapters.dialect import normalize_type, render
from rocky_engine.adapters.incremental import IncrementalSQL
from rocky_engine.adapters.spark_session import SparkSettings, first_line, get_session
from rocky_engine.adapters.swap import aside_swap
from rocky_engine.errors import WarehouseError

__all__ = ["SparkAdapter", "SparkSettings"]

_DML_SUFFIX = "__rocky_dml"
# Scratch tables (the runner's build, promote's copy, a seed's new table): replaced
# without care.
_SCRATCH = ("__rocky_tmp", "__rocky_promote", _DML_SUFFIX, "__rocky_new")
# The `_rocky` tables' writes of this process, one at a time: a DELETE/UPDATE reads the rows
# and writes them back, so an INSERT from another thread (`rocky run --threads`, one Spark
# session) in between would be lost. Other processes are kept out by the writer lock.
_STATE_WRITES = threading.RLock()
# Set to a list to record every statement of every adapter of the process (benchmark).
_RECORD: list[str] | None = None
# Spark's typeName (as printed by StructType.treeString) -> the DDL name.
_TYPE_NAMES = {"integer": "INT", "long": "BIGINT", "short": "SMALLINT", "byte": "TINYINT"}
_TREE_LINE = re.compile(r"^ \|-- (.+?): (.+) \(nullable = (true|false)\)$")


class SparkAdapter(IncrementalSQL):
    dialect = "spark"
    SUPPORTS_TRANSACTIONAL_DDL = False
    SUPPORTS_ZERO_COPY_VIEWS = True
    SINGLE_WRITER_PROCESS = True
    SUPPORTS_ADVISORY_LOCK = False
    # Parquet tables have no clone (a branch copies prod's table) and no MERGE/DELETE:
    # merge and delete+insert rebuild the table under a scratch name and swap it in.
    CLONE_KIND = "copy"
    MERGE_METHOD = "rebuild"
    # Drift profiling of large tables: Spark's row sample (`TABLESAMPLE (p PERCENT)
    # REPEATABLE (seed)`); the method name is not part of Spark's syntax.
    SAMPLE_METHOD = "BERNOULLI"

    def __init__(self, settings: SparkSettings) -> None:
        self.settings = settings
        self.spark = get_session(settings)
        # Local mode: the catalog's file lock admits one rocky process, so a lock row left
        # by another process is stale. Spark Connect: several clients share the server.
        self.SINGLE_WRITER_PROCESS = settings.local
        # Spark Connect: processes are kept apart by a marker table only one can create
        # (rocky_engine.adapters.spark_lock); local mode's file lock already does it.
        self.SUPPORTS_ADVISORY_LOCK = not settings.local
        self._locks: dict[str, str] = {}
        # Views WITH SCHEMA EVOLUTION follow their upstream: nothing to re-create.
        self.view_sql = None
        # Every statement text sent to Spark, when a list (bench/spark_bench.py).
        self.statements: list[str] | None = _RECORD
        self._state_tables: set[str] | None = None
        # Databases this handle created or found (a command asks for the same ones many
        # times; CREATE DATABASE IF NOT EXISTS is a metastore round trip each time).
        self._made: set[str] = set()

    def clone(self) -> SparkAdapter:
        """Another handle for a worker thread: a Spark session takes concurrent queries."""
        return SparkAdapter(self.settings)

    # ------------------------------------------------------------------ locks

    def try_advisory_lock(self, key: str) -> bool:
        """Take lock ``key`` by creating its marker table (atomic in the catalog)."""
        return spark_lock.try_lock(self, key, self._locks)

    def advisory_unlock(self, key: str) -> None:
        spark_lock.unlock(self, key, self._locks)

    def advisory_holder(self, key: str) -> str | None:
        """Who holds lock ``key`` (from its marker), for a lock-timeout message."""
        holder = spark_lock.holder_of(self, key)
        return holder.describe() if holder is not None else None

    def advisory_hint(self, key: str) -> str:
        return spark_lock.clear_hint(key)

    # ------------------------------------------------------------------ statements

    def _sql(self, sql: str | exp.Expr) -> str:
        # checked: every model was checked for Spark (R400) before the run started.
        return sql if isinstance(sql, str) else render(sql, self.dialect, checked=True)

    def _run(self, sql: str | exp.Expr, params: Sequence[Any] | None = None) -> Any:
        if isinstance(sql, exp.Delete | exp.Update):
            with _STATE_WRITES:
                self._emulate_dml(sql)
            return None
        if isinstance(sql, exp.Create):
            sql = _spark_create(sql)
        if not self.settings.local and isinstance(sql, exp.Expr):
            self._refresh_state(sql)
        text = self._sql(sql)
        if self.statements is not None:
            self.statements.append(text)
        target = sql.this.find(exp.Table) if isinstance(sql, exp.Insert) else None
        writes_state = target is not None and target.text("db").lower() == "_rocky"
        try:
            with _STATE_WRITES if writes_state else nullcontext():
                return self.spark.sql(text, args=list(params)) if params else \
                    self.spark.sql(text)
        except Exception as exc:  # noqa: BLE001 - py4j, pyspark and grpc errors alike
            raise WarehouseError(first_line(exc)) from None

    def _refresh_state(self, sql: exp.Expr) -> None:
        """Spark Connect: other clients write the ``_rocky`` tables (locks, journal); a
        session caches a table's files, so it re-lists them before reading."""
        for table in sql.find_all(exp.Table):
            if table.text("db").lower() == "_rocky" and table.name:
                name = _qualified("_rocky", table.name)
                if table.name.lower() in self._known_state():
                    self._collect(self.spark.sql(f"REFRESH TABLE {name}"))

    def _known_state(self) -> set[str]:
        # The state tables that exist (REFRESH of a missing table is an error).
        if self._state_tables is None or len(self._state_tables) < 5:
            try:
                rows = self.spark.sql("SHOW TABLES IN `_rocky`").collect()
                self._state_tables = {r[1].lower() for r in rows}
            except Exception:  # noqa: BLE001 - no _rocky schema yet
                return set()
        return self._state_tables

    def _collect(self, df: Any) -> list[Any]:
        try:
            return df.collect() if df is not None else []
        except Exception as exc:  # noqa: BLE001
            raise WarehouseError(first_line(exc)) from None

    def execute(self, sql: str | exp.Expr, params: Sequence[Any] | None = None) -> None:
        self._collect(self._run(sql, params))

    def fetchall(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                 ) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._collect(self._run(sql, params))]

    def fetch_with_columns(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                           ) -> tuple[list[str], list[tuple[Any, ...]]]:
        df = self._run(sql, params)
        rows = [tuple(r) for r in self._collect(df)]
        return (list(df.columns) if df is not None else []), rows

    @contextmanager
    def _rows_view(self, rows: list[Any], schema: Any, prefix: str) -> Iterator[str]:
        """``rows`` (held by the driver) as a temporary view of this session, dropped after."""
        view = f"{prefix}_{uuid.uuid4().hex}"
        try:
            self.spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(view)
        except Exception as exc:  # noqa: BLE001 - py4j, pyspark and grpc errors alike
            raise WarehouseError(first_line(exc)) from None
        try:
            yield view
        finally:
            self.execute(f"DROP VIEW IF EXISTS {view}")

    def _emulate_dml(self, stmt: exp.Delete | exp.Update) -> None:
        """DELETE / UPDATE on a parquet table: the table's new rows are read to the driver,
        then written back over it (``INSERT OVERWRITE`` from those rows, or ``TRUNCATE``
        when none are left).

        Only rocky's own small state tables take these statements. Two statements where
        a copy table took four (copy, overwrite from the copy, two drops): Spark refuses to
        overwrite a table from a query that reads it, rows held by the driver are not a read.
        """
        target = stmt.this
        assert isinstance(target, exp.Table)
        schema, name = target.db, target.name
        where = stmt.args.get("where")
        cond = where.this if isinstance(where, exp.Where) else None
        hit = exp.func("COALESCE", cond.copy(), exp.false()) if cond is not None else exp.true()
        table = table_ref(schema, name)
        if isinstance(stmt, exp.Delete):
            query = exp.select(exp.Star()).from_(table).where(exp.not_(hit))
        else:
            sets = {e.this.name.lower(): e.expression for e in stmt.expressions
                    if isinstance(e, exp.EQ)}
            columns = [c for c, in self.fetchall(f"SHOW COLUMNS IN {_qualified(schema, name)}")]
            query = exp.select(*[
                exp.alias_(exp.If(this=hit.copy(), true=sets[c.lower()].copy(),
                                  false=exp.column(c, quoted=True)), c, quoted=True)
                if c.lower() in sets else exp.column(c, quoted=True)
                for c in columns
            ]).from_(table)
        frame = self._run(query)
        rows = self._collect(frame)
        if not rows:
            self.execute(f"TRUNCATE TABLE {_qualified(schema, name)}")
            return
        with self._rows_view(rows, frame.schema, "rocky_dml") as view:
            self.execute(exp.Insert(this=table, overwrite=True, expression=exp.select(
                exp.Star()).from_(exp.table_(view))))

    # ------------------------------------------------------------------ catalog

    def schemas(self) -> list[str]:
        return sorted(r[0] for r in self.fetchall("SHOW DATABASES"))

    def catalog(self, schemas: Sequence[str]) -> list[CatalogTable]:
        """Every table and view of ``schemas``: one catalog call per database."""
        existing = {s.lower(): s for s in self.schemas()}
        out: list[CatalogTable] = []
        for schema in dict.fromkeys(s.lower() for s in schemas):
            if schema in existing:
                out.extend(self._tables(existing[schema]))
        return out

    def tables(self, schema: str) -> list[CatalogTable]:
        return self.catalog([schema])

    def _tables(self, schema: str) -> list[CatalogTable]:
        """Every table and view of ``schema`` with its columns, in one catalog call.

        Spark prints nested types only as ``struct``/``array``/``map`` there; a table
        holding one is asked for its full schema (one more call for that table).
        """
        rows = self.fetchall(f"SHOW TABLE EXTENDED IN {_ident(schema)} LIKE '*'")
        out = []
        for namespace, name, temporary, info in rows:
            if temporary or not namespace:
                continue
            kind = "view" if re.search(r"^Type: VIEW$", info, re.MULTILINE) else "table"
            columns = _parse_tree(info)
            if columns is None:
                columns = self._schema_columns(schema, name)
            out.append(CatalogTable(schema, name, kind, tuple(columns)))
        return sorted(out, key=lambda t: t.name)

    def _schema_columns(self, schema: str, name: str) -> list[CatalogColumn]:
        try:
            fields = self.spark.table(f"{_ident(schema)}.{_ident(name)}").schema.fields
        except Exception as exc:  # noqa: BLE001
            raise WarehouseError(first_line(exc)) from None
        return [CatalogColumn(f.name, _normalize(f.dataType.simpleString()), True, i)
                for i, f in enumerate(fields, start=1)]

    def table(self, schema: str, name: str) -> CatalogTable | None:
        if name.lower() not in self.relations(schema):
            return None
        cols = self._schema_columns(schema, name)
        kind = self.relations(schema)[name.lower()]
        return CatalogTable(schema, name, kind, tuple(cols))

    def create_schema(self, schema: str) -> None:
        if schema.lower() not in self._made:
            self.execute(f"CREATE DATABASE IF NOT EXISTS {_ident(schema)}")
            self._made.add(schema.lower())

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None:
        self._made.discard(schema.lower())
        self.execute(f"DROP DATABASE IF EXISTS {_ident(schema)}{' CASCADE' if cascade else ''}")

    def drop_table(self, schema: str, name: str, kind: str = "TABLE") -> None:
        self.execute(f"DROP {kind.upper()} IF EXISTS {_qualified(schema, name)}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Spark has no multi-statement transactions: statements take effect one by one."""
        yield

    # ------------------------------------------------------------------ incremental

    def merge_rows(self, schema: str, target: str, staged: str | exp.Table,
                   key: Sequence[str], columns: Sequence[str]) -> None:
        """No MERGE on parquet: the stored rows whose key is not in the batch, plus the
        batch, are written as a new table which is then swapped in. A failure before the
        swap leaves the stored table as it was; the swap sets the stored table aside until
        the new one is in place, so a kill -9 anywhere loses neither (the next writing
        command restores or drops the set-aside copy)."""
        self._rebuild(schema, target, staged, key, columns)

    def delete_insert_rows(self, schema: str, target: str, staged: str | exp.Table,
                           key: Sequence[str], columns: Sequence[str]) -> None:
        self._rebuild(schema, target, staged, key, columns)

    def _rebuild(self, schema: str, target: str, staged: str | exp.Table,
                 key: Sequence[str], columns: Sequence[str]) -> None:
        if not isinstance(staged, str):  # no STAGING_SCHEMA: batches sit next to targets
            raise WarehouseError(f"Spark stages a batch next to its table, not at {staged.sql()}")
        stored = self.table(schema, target)
        assert stored is not None
        batch = {c.lower() for c in columns}
        kept = exp.select(*[exp.column(c.name, table="_t", quoted=True)
                            for c in stored.columns]).from_(_alias(schema, target, "_t"))
        kept = kept.where(exp.not_(_exists_in(schema, staged, key)))
        fresh = exp.select(*[
            exp.column(c.name, table="_s", quoted=True) if c.name.lower() in batch
            else exp.alias_(exp.cast(exp.null(), exp.DataType.build(_ddl_type(c.type), dialect="spark")),
                            c.name, quoted=True)
            for c in stored.columns]).from_(_alias(schema, staged, "_s"))
        tmp = target + "__rocky_tmp"
        self.drop_table(schema, tmp)
        self.execute(f"CREATE TABLE {_qualified(schema, tmp)} USING parquet AS "
                     f"{self._sql(exp.union(kept, fresh, distinct=False))}")
        self.swap_table(schema, tmp, target, existing_kind="table")

    # ------------------------------------------------------------------ objects

    def relations(self, schema: str) -> dict[str, str]:
        try:
            tables = self.fetchall(f"SHOW TABLES IN {_ident(schema)}")
        except WarehouseError as exc:
            if "SCHEMA_NOT_FOUND" in exc.message:
                return {}
            raise
        out = {r[1].lower(): "table" for r in tables if not r[2]}
        for r in self.fetchall(f"SHOW VIEWS IN {_ident(schema)}"):
            if not r[2]:
                out[r[1].lower()] = "view"
        return out

    def relations_matching(self, schema: str, text: str) -> list[str]:
        """Lower-case names of the tables and views of ``schema`` containing ``text``: one
        catalog call (``SHOW TABLES`` lists views too)."""
        pattern = "*" + re.sub(r"[^A-Za-z0-9_]", "", text) + "*"
        try:
            rows = self.fetchall(f"SHOW TABLES IN {_ident(schema)} LIKE '{pattern}'")
        except WarehouseError as exc:
            if "SCHEMA_NOT_FOUND" in exc.message:
                return []
            raise
        return [r[1].lower() for r in rows if not r[2]]

    def create_view(self, schema: str, name: str, query: exp.Query | str, *,
                    replace: bool = True) -> None:
        # WITH SCHEMA EVOLUTION: the view reports its upstream's current types.
        self.execute(f"CREATE {'OR REPLACE ' if replace else ''}VIEW "
                     f"{_qualified(schema, name)} WITH SCHEMA EVOLUTION AS {self._sql(query)}")

    def create_table_as(self, schema: str, name: str, query: exp.Query | str, *,
                        replace: bool = False) -> int | None:
        """Create ``schema.name`` from ``query``; with ``replace``, the old table is
        dropped only once the new one is complete (a failing query keeps it)."""
        target = name
        if replace and not name.endswith(_SCRATCH):
            target = name + "__rocky_new"
        if replace:
            try:
                # Usually a table (a scratch one): one statement, no catalog lookup.
                self.drop_table(schema, target)
            except WarehouseError:
                self.drop_relation(schema, target)
        self.execute(f"CREATE TABLE {_qualified(schema, target)} USING parquet AS "
                     f"{self._sql(query)}")
        if target != name:
            self.swap_table(schema, target, name)
        return None

    def swap_table(self, schema: str, tmp: str, name: str, *,
                   existing_kind: str | None | object = ...) -> None:
        """Crash-safe: the old object is set aside, not dropped, until the new table is in
        place (:mod:`rocky_engine.adapters.swap`)."""
        kind = self.relations(schema).get(name.lower()) if existing_kind is ... else existing_kind
        aside_swap(self, schema, tmp, name, None if kind is None else str(kind))

    def rename(self, schema: str, old: str, new: str, *, kind: str | None = None) -> None:
        kind = kind or self.relations(schema).get(old.lower())
        if kind is None:
            raise WarehouseError(f"cannot rename {schema}.{old}: it does not exist")
        self.execute(f"ALTER {kind.upper()} {_qualified(schema, old)} RENAME TO "
                     f"{_qualified(schema, new)}")
        if not self.settings.local and kind == "table":
            # Spark Connect: this session may hold a listing of the files a table of the
            # new name had before another client dropped it.
            self.execute(f"REFRESH TABLE {_qualified(schema, new)}")

    def drop_relation(self, schema: str, name: str, *, kind: str | None = None) -> None:
        kind = kind or self.relations(schema).get(name.lower())
        if kind is not None:
            self.drop_table(schema, name, kind.upper())

    def load_csv(self, schema: str, name: str, columns: Sequence[tuple[str, str]],
                 path: Path) -> int:
        """(Re)create ``schema.name`` from a CSV with a header row, with the given types.

        The file is read here (seeds are small) and handed to Spark as text; Spark casts
        (ANSI: a bad value fails) into a new table that then replaces the old one. An
        empty field is NULL. A bad value is reported with its line.
        """
        import csv

        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            rows = [(reader.line_num, *[v if v != "" else None for v in row])
                    for row in reader if row]
        names = [f"c{i}" for i in range(len(columns))]
        casts = [f"CAST({n} AS {_ddl_type(t)}) AS {_ident(c)}"
                 for n, (c, t) in zip(names, columns, strict=True)]
        tmp = name + _DML_SUFFIX
        with self._rows_view(rows, "__line INT, " + ", ".join(f"{n} STRING" for n in names),
                             "rocky_seed") as view:
            self.drop_table(schema, tmp)
            try:
                self.execute(f"CREATE TABLE {_qualified(schema, tmp)} USING parquet AS "
                             f"SELECT {', '.join(casts)} FROM {view} ORDER BY __line")
            except WarehouseError as exc:
                raise WarehouseError(self._bad_value(view, names, columns) or exc.message
                                     ) from None
            self.swap_table(schema, tmp, name)
        return len(rows)

    def _bad_value(self, view: str, names: list[str], columns: Sequence[tuple[str, str]]
                   ) -> str | None:
        """``line N: ...`` for the first value that does not convert to its column's type."""
        for n, (col, typ) in zip(names, columns, strict=True):
            found = self.fetchall(
                f"SELECT __line, {n} FROM {view} WHERE {n} IS NOT NULL AND "
                f"TRY_CAST({n} AS {_ddl_type(typ)}) IS NULL ORDER BY __line LIMIT 1")
            if found:
                line, value = found[0]
                return f"line {line}: {value!r} in column {col} is not a valid {typ}"
        return None

    def row_count(self, schema: str, name: str) -> int:
        (count,) = self.fetchall(f"SELECT COUNT(*) FROM {_qualified(schema, name)}")[0]
        return int(count)

    def close(self) -> None:
        """The session is the process's (a start costs seconds); it stops at exit."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spark_create(create: exp.Create) -> exp.Create:
    """Column constraints Spark's parquet tables do not take (PRIMARY KEY, NOT NULL) dropped."""
    schema = create.this
    if not isinstance(schema, exp.Schema):
        return create
    create = create.copy()
    for col in create.this.expressions:
        if isinstance(col, exp.ColumnDef):
            col.set("constraints", [])
    return create


def _ddl_type(canonical: str) -> str:
    """A type in rocky's spelling (DuckDB's) as Spark writes it in DDL."""
    return exp.DataType.build(canonical, dialect="duckdb").sql(dialect="spark")


def _normalize(spark_type: str) -> str:
    """A type as Spark reports it, in rocky's spelling (DuckDB's names)."""
    return normalize_type(spark_type, "spark")


def _parse_tree(info: str) -> list[CatalogColumn] | None:
    """Columns from the ``Schema:`` tree of SHOW TABLE EXTENDED; None for nested types."""
    _, _, tree = ("\n" + info).partition("\nSchema: root\n")
    columns: list[CatalogColumn] = []
    for line in tree.splitlines():
        if not line.strip():
            continue
        if line.startswith(" |    "):
            return None  # a nested type: its full name is not printed here
        m = _TREE_LINE.match(line)
        if m is None:
            return None
        name, typ, _ = m.groups()
        # NOT NULL is not kept on parquet tables: every column reads nullable.
        columns.append(CatalogColumn(name, _normalize(_TYPE_NAMES.get(typ, typ)), True,
                                     len(columns) + 1))
    return columns


@functools.lru_cache(maxsize=65536)
def _qualified(schema: str, name: str) -> str:
    return f"{_ident(schema)}.{_ident(name)}"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def settings_for(master: str | None, remote: str | None, conf: dict[str, str],
                 home: Path) -> SparkSettings:
    return SparkSettings(master=master, remote=remote, conf=dict(conf), home=home)


def _alias(schema: str, name: str, alias: str) -> exp.Table:
    table = table_ref(schema, name)
    table.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return table


def _exists_in(schema: str, staged: str, key: Sequence[str]) -> exp.Exists:
    """``EXISTS (SELECT 1 FROM staged AS _s WHERE _s.k = _t.k ...)`` for a stored row ``_t``."""
    conds = [exp.column(k, table="_s", quoted=True).eq(exp.column(k, table="_t", quoted=True))
             for k in key]
    return exp.Exists(this=exp.select(exp.Literal.number(1)).from_(
        _alias(schema, staged, "_s")).where(exp.and_(*conds)))
