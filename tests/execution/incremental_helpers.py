"""A small project with one incremental model over ``raw.events``, on a chosen warehouse.

Tests are parametrised by warehouse name; :func:`warehouses` lists the ones this machine
can run (DuckDB always; others when their adapter and fixture exist).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from rocky_engine.adapters.base import table_ref
from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.context import Context

T0 = datetime(2024, 1, 1)

MODEL_SQL = """SELECT id, customer, amount, amount * 2 AS doubled, updated_at
FROM raw.events
"""

SOURCES = """schema = "raw"

[tables.events.columns]
id = { type = "INTEGER", nullable = false }
customer = "VARCHAR"
amount = "INTEGER"
updated_at = "TIMESTAMP"
"""


def sidecar(strategy: str = "merge", *, key: str | None = '["id"]',
            watermark: str | None = "updated_at", lookback: str | None = None,
            on_schema_change: str = "fail") -> str:
    lines = ['materialized = "incremental"', "", "[intent]", 'purpose = "events"',
             'grain = ["id"]', "", "[incremental]", f'strategy = "{strategy}"']
    if key is not None:
        lines.append(f"unique_key = {key}")
    if watermark is not None:
        lines.append(f'watermark = "{watermark}"')
    if lookback is not None:
        lines.append(f'lookback = "{lookback}"')
    lines.append(f'on_schema_change = "{on_schema_change}"')
    return "\n".join(lines) + "\n"


class Warehouse:
    """One warehouse kind: writes the project's config and opens raw connections."""

    name = "duckdb"

    def __init__(self, root: Path) -> None:
        self.root = root

    def config(self) -> str:
        return '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\nschema = "main"\n'

    @contextmanager
    def connect(self) -> Iterator[Any]:
        adapter = DuckDBAdapter(self.root / "warehouse.duckdb")
        try:
            yield adapter
        finally:
            adapter.close()


class PostgresWarehouse(Warehouse):
    """A fresh database on the session's throwaway PostgreSQL server (``pg_dsn``)."""

    name = "postgres"
    DSN_ENV = "ROCKY_TEST_PG_DSN"

    def config(self) -> str:
        return f'[warehouse]\ntype = "postgres"\ndsn_env = "{self.DSN_ENV}"\nschema = "main"\n'

    @contextmanager
    def connect(self) -> Iterator[Any]:
        from rocky_engine.adapters.postgres import PostgresAdapter

        adapter = PostgresAdapter(os.environ[self.DSN_ENV])
        try:
            yield adapter
        finally:
            adapter.close()


class SparkWarehouse(Warehouse):
    """Spark local mode: the process's one session (tests/sparkfixtures.py), parquet tables."""

    name = "spark"
    settings: Any = None  # the session's SparkSettings, set by use_warehouse

    def config(self) -> str:
        return ('[warehouse]\ntype = "spark"\nmaster = "local[2]"\nschema = "main"\n'
                'conf = { "spark.sql.shuffle.partitions" = "1" }\n')

    @contextmanager
    def connect(self) -> Iterator[Any]:
        from rocky_engine.adapters.spark import SparkAdapter

        adapter = SparkAdapter(SparkWarehouse.settings)
        try:
            yield adapter
        finally:
            adapter.close()


WAREHOUSES: dict[str, type[Warehouse]] = {"duckdb": Warehouse, "postgres": PostgresWarehouse,
                                          "spark": SparkWarehouse}


def warehouses() -> list[str]:
    return list(WAREHOUSES)


def use_warehouse(request: Any, warehouse: str, monkeypatch: Any) -> None:
    """Per test: for postgres, a fresh database (the pg_dsn fixture; it skips, loudly, when
    no server binaries exist) named by the env variable the project's config reads."""
    if warehouse == "postgres":
        monkeypatch.setenv(PostgresWarehouse.DSN_ENV, request.getfixturevalue("pg_dsn"))
    if warehouse == "spark":
        from tests.sparkfixtures import drop_all_databases

        SparkWarehouse.settings = request.getfixturevalue("spark_settings")
        session = request.getfixturevalue("spark_session")
        request.addfinalizer(lambda: drop_all_databases(session))


class IncrProject:
    """``tmp/proj`` with ``models/events_inc.sql`` (+ sidecar) over ``raw.events``."""

    def __init__(self, tmp: Path, warehouse: str, sidecar_text: str,
                 model_sql: str = MODEL_SQL) -> None:
        self.root = tmp / "proj"
        (self.root / "models").mkdir(parents=True)
        (self.root / "sources").mkdir()
        self.wh = WAREHOUSES[warehouse](self.root)
        (self.root / "rocky.toml").write_text(
            '[project]\nname = "incr"\ndialect = "duckdb"\n\n' + self.wh.config())
        (self.root / "sources" / "raw.toml").write_text(SOURCES)
        self.write_model(model_sql, sidecar_text)
        with self.wh.connect() as a:
            a.create_schema("raw")
            a.drop_relation("raw", "events")
            a.execute(sqlglot.parse_one("CREATE TABLE raw.events (id INTEGER, customer VARCHAR, "
                                        "amount INTEGER, updated_at TIMESTAMP)"))

    def write_model(self, sql: str | None = None, sidecar_text: str | None = None) -> None:
        if sql is not None:
            (self.root / "models" / "events_inc.sql").write_text(sql)
        if sidecar_text is not None:
            (self.root / "models" / "events_inc.toml").write_text(sidecar_text)

    def ctx(self) -> Context:
        ctx = Context.load(self.root)
        ctx.lock_timeout = 5.0
        return ctx

    def run(self, **kw: Any) -> Any:
        result = self.ctx().run(["events_inc"], **kw)
        return result

    def sql(self, statement: str, params: list[Any] | None = None) -> None:
        with self.wh.connect() as a:
            a.execute(statement, params)

    def insert(self, rows: list[tuple[int, str, int, datetime]]) -> None:
        if not rows:
            return
        with self.wh.connect() as a:
            a.execute(exp.insert(exp.values([
                (i, c, amount, _ts(at)) for i, c, amount, at in rows]), "raw.events"))

    def update(self, id_: int, amount: int, updated_at: datetime) -> None:
        with self.wh.connect() as a:
            a.execute(exp.update(table_ref("raw", "events"),
                                 {"amount": exp.convert(amount), "updated_at": _ts(updated_at)},
                                 where=exp.column("id").eq(exp.convert(id_))))

    def rows(self, relation: str = "main.events_inc") -> list[tuple[Any, ...]]:
        with self.wh.connect() as a:
            return sorted(a.fetchall(f"SELECT * FROM {relation}"), key=repr)

    def expected(self) -> list[tuple[Any, ...]]:
        """What one full refresh would store: the model's SELECT over raw, now."""
        with self.wh.connect() as a:
            sql = (self.root / "models" / "events_inc.sql").read_text()
            return sorted(a.fetchall(sql), key=repr)

    def columns(self, relation: str = "events_inc", schema: str = "main") -> list[str]:
        with self.wh.connect() as a:
            table = a.table(schema, relation)
            return [c.name for c in table.columns] if table else []


def _ts(at: datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(at.isoformat(sep=" ")), "TIMESTAMP")


def ev(i: int, minutes: int, amount: int = 10, customer: str | None = None
       ) -> tuple[int, str, int, datetime]:
    return (i, customer or f"c{i % 7}", amount, T0 + timedelta(minutes=minutes))
