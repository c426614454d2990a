"""PostgreSQL through psycopg 3 (``pip install 'rocky-intent[postgres]'``).

Statements are rendered for Postgres by the dialect layer (:mod:`.dialect`), from the
qualified tree the engine hands over. DDL is transactional, so a model's replacement and
its bookkeeping commit together, and ``promote`` swaps every prod object in one
transaction. Two Postgres rules the engine never sees:

- a table or view another view depends on cannot be dropped, nor a view re-created with
  other columns: the adapter drops it with its dependants and re-creates those in the
  same transaction (from ``view_sql`` when the engine knows a fresher definition, e.g.
  the dependant is a model; else from the stored definition);
- ``RENAME COLUMN`` silently rewrites dependent views: rocky never renames columns.

The writer lock is a session advisory lock (:meth:`try_advisory_lock`), released by the
server when the session ends, even after ``kill -9``.

    >>> with PostgresAdapter("host=/tmp dbname=analytics") as pg:     # doctest: +SKIP
    ...     pg.create_view("main", "v", sqlglot.parse_one("SELECT 1 AS one"))
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg import sql as pgsql
from sqlglot import exp

from rocky_engine.adapters import dialect as _dialect
from rocky_engine.adapters.base import CatalogColumn, CatalogTable, table_ref
from rocky_engine.adapters.incremental import IncrementalSQL
from rocky_engine.errors import WarehouseError

_KINDS = {"r": "table", "p": "table", "f": "table", "v": "view", "m": "view"}
# sqlstates of a CREATE OR REPLACE VIEW that changes the view's columns, or of a name
# held by another kind of object: drop and re-create instead.
_REPLACE_REFUSED = {"42P16", "0A000", "42809"}


class PostgresError(WarehouseError):
    """A statement Postgres refused; ``sqlstate`` is its SQLSTATE code."""

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class _Dependant:
    schema: str
    name: str
    kind: str  # "v" | "m"
    definition: str


class PostgresAdapter(IncrementalSQL):
    dialect = "postgres"
    # No table clones: a branch starts from a copy of prod's table (CREATE TABLE AS).
    CLONE_KIND = "copy"
    MERGE_METHOD = "merge"  # MERGE INTO: PostgreSQL 15+
    SUPPORTS_TRANSACTIONAL_DDL = True
    SUPPORTS_ZERO_COPY_VIEWS = True
    SINGLE_WRITER_PROCESS = False
    SUPPORTS_ADVISORY_LOCK = True
    # Drift profiling of large tables: a repeatable page sample (TABLESAMPLE SYSTEM ...
    # REPEATABLE), drawn once per table into a WITH ... AS MATERIALIZED (PostgreSQL 12+).
    SAMPLE_METHOD = "SYSTEM"
    MATERIALIZED_CTE = True

    def __init__(self, dsn: str = "", *, connect_timeout: float = 10,
                 describe: str | None = None) -> None:
        self.describe = describe or _describe(dsn)
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        extra: dict[str, Any] = {}
        # The DSN's (or PGCONNECT_TIMEOUT's) own timeout wins; else ours, never forever.
        if "connect_timeout" not in dsn and not os.environ.get("PGCONNECT_TIMEOUT"):
            extra["connect_timeout"] = max(1, int(connect_timeout))
        if "application_name" not in dsn and not os.environ.get("PGAPPNAME"):
            extra["application_name"] = "rocky"
        try:
            self.conn = psycopg.connect(dsn, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise _connect_error(exc, self.describe) from None
        self._tx_depth = 0
        # (schema, name) lower-case -> views dropped with it, to re-create in this transaction
        self._pending: dict[tuple[str, str], list[_Dependant]] = {}
        # Set by the engine: fresh SQL for a dependant view (a model), else None.
        self.view_sql: Callable[[str, str], exp.Query | str | None] | None = None

    # ------------------------------------------------------------------ statements

    def _sql(self, sql: str | exp.Expr) -> str:
        return sql if isinstance(sql, str) else _dialect.render(sql, self.dialect)

    def _run(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
             ) -> psycopg.Cursor[Any]:
        text = self._sql(sql)
        try:
            return self.conn.execute(text, params)
        except psycopg.Error as exc:
            raise _statement_error(exc) from exc

    def execute(self, sql: str | exp.Expr, params: Sequence[Any] | None = None) -> None:
        self._run(sql, params)

    def fetchall(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                 ) -> list[tuple[Any, ...]]:
        cur = self._run(sql, params)
        return cur.fetchall() if cur.description else []

    def fetch_with_columns(self, sql: str | exp.Expr, params: Sequence[Any] | None = None
                           ) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self._run(sql, params)
        if not cur.description:
            return [], []
        return [d.name for d in cur.description], cur.fetchall()

    # ------------------------------------------------------------------ catalog

    def schemas(self) -> list[str]:
        rows = self.fetchall(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' "
            "AND nspname <> 'information_schema' ORDER BY 1")
        return [r[0] for r in rows]

    def catalog(self, schemas: Sequence[str]) -> list[CatalogTable]:
        """Every table and view of ``schemas`` (matched case-insensitively), in ONE query."""
        if not schemas:
            return []
        rows = self.fetchall(_CATALOG_SQL, [[s.lower() for s in schemas]])
        out: list[CatalogTable] = []
        current: tuple[str, str] | None = None
        cols: list[CatalogColumn] = []
        meta: tuple[str, str | None] = ("table", None)

        def flush() -> None:
            if current is not None:
                out.append(CatalogTable(current[0], current[1], meta[0], tuple(cols), meta[1]))

        for schema, name, kind, col, typ, nullable, ccomment, tcomment in rows:
            if (schema, name) != current:
                flush()
                current, cols, meta = (schema, name), [], (_KINDS.get(kind, "table"), tcomment)
            if col is not None:
                cols.append(CatalogColumn(col, _dialect.normalize_type(typ, self.dialect),
                                          bool(nullable), len(cols) + 1, ccomment))
        flush()
        return out

    def tables(self, schema: str) -> list[CatalogTable]:
        return self.catalog([schema])

    def table(self, schema: str, name: str) -> CatalogTable | None:
        return next((t for t in self.catalog([schema]) if t.name.lower() == name.lower()),
                    None)

    def create_schema(self, schema: str) -> None:
        # Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
        # database even when the schema is already there.
        if self.fetchall("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s",
                         [schema]):
            return
        try:
            self.execute(exp.Create(this=exp.Table(this=exp.to_identifier(schema, quoted=True)),
                                    kind="SCHEMA", exists=True))
        except PostgresError as exc:
            if exc.sqlstate == "42501":
                raise PostgresError(
                    f"cannot create schema {schema}: {exc.message}", sqlstate=exc.sqlstate,
                    hint=f"grant the role CREATE on the database, or have an administrator "
                         f"create schema {schema} and grant it to the role") from None
            raise

    def drop_schema(self, schema: str, *, cascade: bool = True) -> None:
        self.execute(exp.Drop(tables=[exp.Table(this=exp.to_identifier(schema, quoted=True))],
                              kind="SCHEMA", exists=True, cascade=cascade))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; re-entrant (an inner ``transaction()`` joins the outer one)."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        self._tx_depth = 1
        self._pending.clear()
        try:
            with self.conn.transaction():
                yield
                self._settle_pending()
        except psycopg.Error as exc:  # the COMMIT itself
            raise WarehouseError(f"commit failed: {_first_line(exc)}") from exc
        finally:
            self._tx_depth = 0
            self._pending.clear()

    # ------------------------------------------------------------------ locks

    def try_advisory_lock(self, key: str) -> bool:
        """Take the session-level advisory lock ``key`` if free; never waits."""
        (got,) = self.fetchall("SELECT pg_try_advisory_lock(%s)", [_lock_key(key)])[0]
        return bool(got)

    def advisory_unlock(self, key: str) -> None:
        self.fetchall("SELECT pg_advisory_unlock(%s)", [_lock_key(key)])

    # ------------------------------------------------------------------ objects

    def relations(self, schema: str) -> dict[str, str]:
        rows = self.fetchall(
            "SELECT lower(c.relname), c.relkind FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r','p','f','v','m')", [schema])
        return {name: _KINDS[kind] for name, kind in rows}

    def _kind(self, schema: str, name: str) -> str | None:
        rows = self.fetchall(
            "SELECT c.relkind FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND lower(c.relname) = lower(%s) "
            "AND c.relkind IN ('r','p','f','v','m')", [schema, name])
        return _KINDS[rows[0][0]] if rows else None

    def create_view(self, schema: str, name: str, query: exp.Query | str, *,
                    replace: bool = True) -> None:
        body = self._sql(query)
        target = _qualified(schema, name)
        if not replace:
            self._script(schema, name, f"CREATE VIEW {target} AS {body}", drop=False)
            return
        in_tx = self._tx_depth > 0
        first = f"CREATE OR REPLACE VIEW {target} AS {body}"
        try:
            # One round trip in the usual case; a savepoint keeps a caller's transaction
            # usable when Postgres refuses the in-place replacement.
            self.execute(f"SAVEPOINT rocky_view; {first}" if in_tx else first)
        except PostgresError as exc:
            if exc.sqlstate not in _REPLACE_REFUSED:
                raise
            if in_tx:
                self.execute("ROLLBACK TO SAVEPOINT rocky_view")
            self._script(schema, name, f"CREATE VIEW {target} AS {body}", drop=True)
            return
        if self._pending.get((schema.lower(), name.lower())):
            self._script(schema, name, None, drop=False)

    def create_table_as(self, schema: str, name: str, query: exp.Query | str, *,
                        replace: bool = False) -> int | None:
        body = self._sql(query)
        cur = self._script(schema, name, f"CREATE TABLE {_qualified(schema, name)} AS {body}",
                           drop=replace)
        rows = cur.rowcount if cur is not None else None
        return rows if rows is not None and rows >= 0 else None

    def _script(self, schema: str, name: str, create: str | None, *,
                drop: bool) -> psycopg.Cursor[Any] | None:
        """Drop ``schema.name`` (and the views depending on it) if ``drop``, run
        ``create``, re-create those views: ONE message, so one implicit transaction
        outside an explicit one. Returns the cursor positioned on ``create``'s result."""
        key = (schema.lower(), name.lower())
        if drop and create is not None and create.startswith("CREATE TABLE") \
                and not self._pending.get(key):
            # The usual case, in one round trip: a table nothing depends on (or none).
            # Anything else (a view there, views reading it) takes the catalog path.
            fast = f"DROP TABLE IF EXISTS {_qualified(schema, name)};\n{create}"
            in_tx = self._tx_depth > 0
            try:
                cur = self._run(f"SAVEPOINT rocky_fast;\n{fast}" if in_tx else fast)
            except PostgresError as exc:
                if exc.sqlstate not in ("2BP01", "42809"):
                    raise
                if in_tx:
                    self.execute("ROLLBACK TO SAVEPOINT rocky_fast")
            else:
                for _ in range(2 if in_tx else 1):
                    cur.nextset()
                return cur
        deps = list(self._pending.pop(key, []))
        statements: list[str] = []
        if drop:
            kind, found = self._drop_info(schema, name)
            if kind is not None:
                word = {"v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
                statements.append(f"DROP {word} {_qualified(schema, name)}"
                                  + (" CASCADE" if found else ""))
                deps += found
        at = len(statements)
        if create is not None:
            statements.append(create)
        recreate: list[tuple[_Dependant, str]] = []
        seen: set[tuple[str, str]] = set()
        for dep in deps:
            if (dep.schema, dep.name) not in seen:
                seen.add((dep.schema, dep.name))
                recreate.append((dep, self._recreate(dep)))
        statements += [sql for _, sql in recreate]
        if not statements:
            return None
        in_tx = self._tx_depth > 0
        try:
            # A savepoint keeps the caller's transaction usable for the diagnosis below.
            cur = self._run(("SAVEPOINT rocky_script;\n" if in_tx and recreate else "")
                            + ";\n".join(statements))
        except PostgresError as exc:
            if not recreate:
                raise
            if in_tx:
                self.execute("ROLLBACK TO SAVEPOINT rocky_script")
            culprit = self._failing_dependant(statements[:len(statements) - len(recreate)],
                                              recreate)
            names = f"view {culprit.schema}.{culprit.name} depends" if culprit else \
                "views depend"
            raise PostgresError(
                f"cannot replace {schema}.{name}: {names} on it and would not work with its "
                f"new shape ({exc.message})", sqlstate=exc.sqlstate,
                hint="change or drop the dependent view first; nothing was changed",
            ) from None
        for _ in range(at + (1 if in_tx and recreate else 0)):
            cur.nextset()
        return cur

    def _failing_dependant(self, head: list[str], recreate: list[tuple[_Dependant, str]]
                           ) -> _Dependant | None:
        """Which dependant view cannot be re-created (the error path only: everything
        is rolled back afterwards)."""
        try:
            with self.transaction():
                self.execute("SAVEPOINT rocky_diag")
                try:
                    if head:
                        self.execute(";\n".join(head))
                    for dep, sql in recreate:
                        try:
                            self.execute(sql)
                        except PostgresError:
                            return dep
                    return None
                finally:
                    self.execute("ROLLBACK TO SAVEPOINT rocky_diag")
        except WarehouseError:
            return None

    def _recreate(self, dep: _Dependant) -> str:
        fresh = self.view_sql(dep.schema, dep.name) if self.view_sql else None
        body = self._sql(fresh) if fresh is not None else dep.definition.rstrip().rstrip(";")
        word = "MATERIALIZED VIEW" if dep.kind == "m" else "VIEW"
        return f"CREATE {word} {_qualified(dep.schema, dep.name)} AS {body}"

    def _drop_info(self, schema: str, name: str) -> tuple[str | None, list[_Dependant]]:
        """The relkind of ``schema.name`` (None: absent) and the views depending on it."""
        rows = self.fetchall(_DROP_INFO_SQL, [schema, name])
        if not rows:
            return None, []
        return rows[0][0], [_Dependant(*r[1:]) for r in rows if r[1] is not None]

    def swap_table(self, schema: str, tmp: str, name: str, *,
                   existing_kind: str | None | object = ...) -> None:
        with self.transaction():
            self.drop_relation(schema, name)
            self.rename(schema, tmp, name, kind="table")

    def rename(self, schema: str, old: str, new: str, *, kind: str | None = None) -> None:
        kind = kind or self._kind(schema, old)
        if kind is None:
            raise WarehouseError(f"cannot rename {schema}.{old}: it does not exist")
        statement = self._sql(exp.Alter(this=table_ref(schema, old), kind=kind.upper(),
                                        actions=[exp.AlterRename(this=exp.Table(
                                            this=exp.to_identifier(new, quoted=True)))]))
        self._script(schema, new, statement, drop=False)

    def drop_relation(self, schema: str, name: str, *, kind: str | None = None) -> None:
        """Drop ``schema.name`` if it exists. Views depending on it are dropped too and
        re-created when an object of that name is created again in the same transaction;
        a transaction that ends without doing so fails (and rolls back), and outside a
        transaction such a drop is refused."""
        found_kind, deps = self._drop_info(schema, name)
        if found_kind is None:
            return
        word = {"v": "VIEW", "m": "MATERIALIZED VIEW"}.get(found_kind, "TABLE")
        if deps and not self._tx_depth:
            self._pending[(schema.lower(), name.lower())] = deps
            self._settle_pending()
        self.execute(f"DROP {word} {_qualified(schema, name)}" + (" CASCADE" if deps else ""))
        if deps:
            self._pending.setdefault((schema.lower(), name.lower()), []).extend(deps)

    def _restore(self, schema: str, name: str) -> None:
        """Re-create the views dropped with ``schema.name`` (nearest first)."""
        self._script(schema, name, None, drop=False)

    def _settle_pending(self) -> None:
        if self._pending:
            (schema, name), deps = next(iter(self._pending.items()))
            self._pending.clear()
            names = ", ".join(f"{d.schema}.{d.name}" for d in deps)
            raise WarehouseError(f"cannot drop {schema}.{name}: view(s) {names} depend on it",
                                 hint="drop or change the dependent views first; "
                                      "nothing was changed")

    def row_count(self, schema: str, name: str) -> int:
        (count,) = self.fetchall(exp.select(exp.Count(this=exp.Star()))
                                 .from_(table_ref(schema, name)))[0]
        return int(count)

    def load_csv(self, schema: str, name: str, columns: Sequence[tuple[str, str]],
                 path: Path) -> int:
        """(Re)create ``schema.name`` with ``columns`` (rocky type names) and COPY the CSV
        (header row, UTF-8) into it; a bad value raises with its line in the message."""
        text = path.read_bytes().decode("utf-8-sig")
        cols = ", ".join(f"{_ident(c)} {_dialect.type_sql(t, self.dialect)}"
                         for c, t in columns)
        with self.transaction():
            self.drop_relation(schema, name)
            self.execute(f"CREATE TABLE {_qualified(schema, name)} ({cols})")
            copy_sql = pgsql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                pgsql.Identifier(schema, name),
                pgsql.SQL(", ").join(pgsql.Identifier(c) for c, _ in columns))
            try:
                with self.conn.cursor() as cur:
                    with cur.copy(copy_sql) as copy:
                        copy.write(text)
                    rows = cur.rowcount
            except psycopg.Error as exc:
                context = getattr(exc.diag, "context", None) or ""
                where = context.splitlines()[0] if context else ""
                raise PostgresError(f"{_first_line(exc)}" + (f" ({where})" if where else ""),
                                    sqlstate=exc.sqlstate) from None
            self._restore(schema, name)
        return int(rows)

    def close(self) -> None:
        self.conn.close()

    def view_dependants(self) -> dict[tuple[str, str], set[tuple[str, str]]]:
        """``(schema, name)`` -> the views reading it directly (lower-case), whole database.

        Replacing a relation drops and re-creates these (and theirs): ``rocky run
        --threads`` never runs two builds whose dependants meet.
        """
        out: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for src_schema, src, dep_schema, dep in self.fetchall(_VIEW_EDGES_SQL):
            out.setdefault((src_schema.lower(), src.lower()), set()).add(
                (dep_schema.lower(), dep.lower()))
        return out

    def clone(self) -> PostgresAdapter:
        """A new session on the same server and database (one per ``--threads`` worker)."""
        twin = PostgresAdapter(self._dsn, connect_timeout=self._connect_timeout,
                               describe=self.describe)
        twin.view_sql = self.view_sql
        return twin

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CATALOG_SQL = """
SELECT n.nspname, c.relname, c.relkind, a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       cd.description, td.description
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_description cd
       ON cd.objoid = c.oid AND cd.classoid = 'pg_catalog.pg_class'::regclass
      AND cd.objsubid = a.attnum
LEFT JOIN pg_catalog.pg_description td
       ON td.objoid = c.oid AND td.classoid = 'pg_catalog.pg_class'::regclass
      AND td.objsubid = 0
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND lower(n.nspname) = ANY(%s)
ORDER BY n.nspname, c.relname, a.attnum
"""

# A relation's kind and the views (and materialized views) that depend on it, directly
# or through other views, with their definitions; nearest first, so re-creating in
# order works. No row: the relation does not exist; one row of NULLs after the kind:
# nothing depends on it.
_DROP_INFO_SQL = """
WITH RECURSIVE target AS (
    SELECT c.oid, c.relkind FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND lower(c.relname) = lower(%s)
      AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
), deps(oid, depth) AS (
    SELECT r.ev_class, 1
    FROM target t
    JOIN pg_catalog.pg_depend d
      ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class <> d.refobjid
    UNION
    SELECT r.ev_class, deps.depth + 1
    FROM deps
    JOIN pg_catalog.pg_depend d
      ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = deps.oid
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class <> d.refobjid
      AND deps.depth < 100
)
SELECT t.relkind, n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid)
FROM target t
LEFT JOIN (SELECT oid, max(depth) AS depth FROM deps GROUP BY oid) x ON true
LEFT JOIN pg_catalog.pg_class c ON c.oid = x.oid
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY x.depth, n.nspname, c.relname
"""


# Every view -> relation-it-reads edge outside the system schemas, in one query.
_VIEW_EDGES_SQL = """
SELECT DISTINCT sn.nspname, s.relname, vn.nspname, v.relname
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_catalog.pg_class s ON s.oid = d.refobjid
JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
  AND d.refclassid = 'pg_catalog.pg_class'::regclass
  AND r.ev_class <> d.refobjid
  AND vn.nspname !~ '^pg_' AND vn.nspname <> 'information_schema'
"""


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="postgres")


def _qualified(schema: str, name: str) -> str:
    return table_ref(schema, name).sql(dialect="postgres")


def _lock_key(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"rocky:{key}".encode()).digest()[:8], "big",
                          signed=True)


def _first_line(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = (primary or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _statement_error(exc: psycopg.Error) -> PostgresError:
    diag = getattr(exc, "diag", None)
    hint = getattr(diag, "message_hint", None) if diag is not None else None
    if hint is None and exc.sqlstate == "42501":  # insufficient privilege
        hint = ("grant the role that privilege (docs/warehouses.md, \"Permissions the role "
                "needs\"), or run rocky as a role that has it")
    return PostgresError(_first_line(exc), sqlstate=exc.sqlstate, hint=hint)


def _describe(dsn: str) -> str:
    """Where a DSN points, for messages (never the password)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "the configured server"
    host = str(info.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(info.get("port") or os.environ.get("PGPORT") or "5432")
    db = str(info.get("dbname") or os.environ.get("PGDATABASE") or "")
    user = str(info.get("user") or os.environ.get("PGUSER") or "")
    where = f"{host}:{port}" if not host.startswith("/") else f"socket {host} port {port}"
    return f"{user + '@' if user else ''}{where}{'/' + db if db else ''}"


def _connect_error(exc: psycopg.Error, where: str) -> WarehouseError:
    text = str(exc)
    low = text.lower()
    # libpq puts the reason after the last "failed: "; keep one line.
    reason = " ".join(text.split("failed: ")[-1].split())
    for prefix in ("FATAL: ", "ERROR: "):
        reason = reason.removeprefix(prefix)
    reason = reason.split(" Is the server running")[0].strip().rstrip(".")
    if "password authentication failed" in low:
        return WarehouseError(f"cannot connect to PostgreSQL at {where}: wrong password or "
                              "user (password authentication failed)",
                              hint="set PGPASSWORD (or ~/.pgpass) for this user, or the "
                                   "variable named by dsn_env")
    if "no password supplied" in low:
        return WarehouseError(f"cannot connect to PostgreSQL at {where}: the server wants a "
                              "password and none was given",
                              hint="set PGPASSWORD (or ~/.pgpass); never write it in rocky.toml")
    if "database" in low and "does not exist" in low:
        return WarehouseError(f"cannot connect to PostgreSQL at {where}: {reason}",
                              hint="create the database (createdb) or fix dbname in the DSN")
    if "role" in low and "does not exist" in low:
        return WarehouseError(f"cannot connect to PostgreSQL at {where}: {reason}",
                              hint="fix the user in the DSN (or PGUSER)")
    return WarehouseError(f"cannot reach PostgreSQL at {where}: {reason}",
                          hint="check that the server runs and the host/port/socket in the "
                               "DSN (or PGHOST/PGPORT) are right")
