"""Drift on Postgres: every case of fixtures/drift (the DuckDB suite) on a live server.

The loader's statements are written for DuckDB and transpiled by sqlglot; the catalog is
read through pg_catalog in one query for all declared schemas.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest
import sqlglot

from rocky_engine.context import Context
from tests.conftest import PG_DSN_ENV
from tests.drift.test_drift_cases import CASE_FILES, _impacted, _load, _signature


def pg_alter(*statements: str) -> None:
    with psycopg.connect(os.environ[PG_DSN_ENV], autocommit=True) as conn:
        for sql in statements:
            conn.execute(sqlglot.transpile(sql, read="duckdb", write="postgres")[0])


@pytest.fixture
def pg_known_shop(pg_seeded_shop: Path) -> Path:
    report = Context.load(pg_seeded_shop).drift()
    assert not report.drifted, report.to_json()
    return pg_seeded_shop


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_on_postgres(path: Path, pg_known_shop: Path) -> None:
    case = _load(path)
    pg_alter(*case.statements)
    report = Context.load(pg_known_shop).drift()
    got = [_signature(c) for c in report.changes]
    for want in case.expect:
        assert want in got, f"{want!r} not in {got}"
    if case.exactly:
        assert len(got) == len(case.expect), got
    for col in case.broken:
        assert col in _impacted(report, "broken"), (col, _impacted(report))
    for col in case.affected:
        assert col in _impacted(report, "affected"), (col, _impacted(report))
    for col in case.not_impacted:
        assert col not in _impacted(report), col
    if case.no_impact:
        assert report.impact == ()
    for col in case.ambiguous:
        table, _, column = col.rpartition(".")
        hits = [c for c in report.changes if c.table == table and c.column == column]
        assert hits and all(c.ambiguous for c in hits)


def test_introspection_is_one_catalog_query(pg_known_shop: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from rocky_engine.adapters.postgres import PostgresAdapter
    from rocky_engine.drift.introspect import introspect

    ctx = Context.load(pg_known_shop)
    with ctx.adapter() as adapter:
        assert isinstance(adapter, PostgresAdapter)
        seen: list[str] = []
        real = adapter._run

        def counting(sql, params=None):  # type: ignore[no-untyped-def]
            seen.append(adapter._sql(sql))
            return real(sql, params)

        monkeypatch.setattr(adapter, "_run", counting)
        live = introspect(ctx.project, adapter)
    assert set(live) == {"raw.customers", "raw.orders", "raw.payments"}
    assert len(seen) == 1 and "pg_catalog.pg_attribute" in seen[0]
    assert "information_schema" not in seen[0]
    assert live["raw.orders"].column("amount").type == "DECIMAL(10,2)"


def test_drift_cli_on_postgres_reports_a_rename(pg_known_shop: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    import json

    pg_alter("ALTER TABLE raw.orders RENAME COLUMN amount TO order_total")
    t0 = time.perf_counter()
    result = run_cli("drift", "--check", "--format", "json", "--project", str(pg_known_shop))
    assert time.perf_counter() - t0 < 30
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [(c["kind"], c["column"], c["new_column"]) for c in doc["changes"]] == [
        ("column_renamed", "amount", "order_total")]
    assert {"model": "stg_orders", "column": "amount", "status": "broken"} in [
        {k: i[k] for k in ("model", "column", "status")} for i in doc["impact"]]


def test_rename_under_built_views_is_still_reported(pg_known_shop: Path) -> None:
    """Postgres rewrites views silently on RENAME COLUMN: prod keeps answering, and
    drift still reports the rename and what no longer compiles."""
    assert Context.load(pg_known_shop).run().ok
    pg_alter("ALTER TABLE raw.orders RENAME COLUMN amount TO order_total")
    with psycopg.connect(os.environ[PG_DSN_ENV]) as conn:
        assert conn.execute("SELECT count(amount) FROM main.stg_orders").fetchone()[0] > 0
    report = Context.load(pg_known_shop).drift()
    assert [(c.kind, c.column, c.new_column) for c in report.changes] == [
        ("column_renamed", "amount", "order_total")]
    assert "stg_orders.amount" in {f"{i.model}.{i.column}" for i in report.impact
                                   if i.status == "broken"}


def test_a_large_table_is_profiled_from_one_repeatable_sample(pg_dsn: str) -> None:
    """Above five times ``sample_rows`` Postgres reads a TABLESAMPLE SYSTEM ... REPEATABLE
    page sample, drawn once (WITH ... AS MATERIALIZED) for every figure."""
    from rocky_engine.adapters.postgres import PostgresAdapter
    from rocky_engine.drift.profiling import profile_table

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA big")
        conn.execute("""CREATE TABLE big.events AS SELECT i AS id,
                        (ARRAY['placed', 'shipped', 'returned'])[1 + i % 3] AS status,
                        CASE WHEN i % 10 = 0 THEN NULL ELSE 'N-' || (i % 50) END AS code
                        FROM generate_series(1, 200000) AS i""")
    seen: list[str] = []
    with PostgresAdapter(pg_dsn) as adapter:
        real = adapter.fetchall

        def spy(sql, params=None):  # type: ignore[no-untyped-def]
            seen.append(sql if isinstance(sql, str) else sql.sql("postgres"))
            return real(sql, params)

        adapter.fetchall = spy  # type: ignore[method-assign]
        columns = ["id", "status", "code"]
        prints = profile_table(adapter, "big", "events", columns, keys={"id"},
                               sample_rows=2_000)
        again = profile_table(adapter, "big", "events", columns, keys={"id"},
                              sample_rows=2_000)
    assert any("TABLESAMPLE SYSTEM" in q and "REPEATABLE" in q and "AS MATERIALIZED" in q
               for q in seen), seen
    assert prints == again  # repeatable: an unchanged table gives the same fingerprints
    ids, status, code = prints["id"], prints["status"], prints["code"]
    assert ids.rows == 200_000 and 1_000 <= ids.sampled < 200_000
    assert ids.dup_rate == 0.0 and ids.distinct == ids.sampled  # one draw: every id once
    assert sorted(v for v, _ in status.top) == ["placed", "returned", "shipped"]
    assert status.distinct == 3 and sum(share for _, share in status.top) == 10_000
    assert abs(code.null_rate - 0.1) < 0.03 and code.shapes[0][0] == "A-9"
