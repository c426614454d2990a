"""A whole project on Spark local mode: seed, run, test, branches, promote, drift.

The example project runs unchanged (only ``[warehouse]`` differs) on DuckDB, Postgres and
Spark, and every model holds the same rows on the three.
"""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import pytest

from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.context import Context
from rocky_engine.execution import api, state
from rocky_engine.scaffold import init_project
from tests.conftest import use_postgres

from .conftest import to_spark

MODELS = ("stg_customers", "stg_orders", "stg_payments", "order_payments", "customers",
          "daily_revenue")


def _value(v: Any) -> Any:
    # DECIMAL(38,2) on DuckDB is DECIMAL(20,2) on Spark (same value); an AVG is a DOUBLE
    # on DuckDB and a DECIMAL on Spark: compare numbers as numbers.
    if isinstance(v, decimal.Decimal | float) and not isinstance(v, bool):
        return round(float(v), 6)
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None)
    return v


def _rows(ctx: Context, model: str) -> list[tuple[Any, ...]]:
    schema = ctx.project.config.warehouse.schema_
    with ctx.adapter() as a:
        _, rows = a.fetch_with_columns(f"SELECT * FROM {schema}.{model}")
    return sorted((tuple(_value(v) for v in r) for r in rows), key=repr)


def _spark_shop(tmp_path: Path) -> Context:
    root = tmp_path / "spark_shop"
    init_project(root, example="shop")
    ctx = Context.load(to_spark(root))
    ctx.lock_timeout = 5
    return ctx


@pytest.mark.slow
def test_example_project_same_rows_on_duckdb_postgres_and_spark(
        spark: SparkAdapter, seeded_shop: Path, pg_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    duck = Context.load(seeded_shop)
    pg_root = tmp_path / "pg_shop"
    init_project(pg_root, example="shop")
    pg = Context.load(use_postgres(pg_root, pg_dsn, monkeypatch))
    pg.seed()
    sp = _spark_shop(tmp_path)
    seeded = sp.seed()
    assert sorted(r.table for r in seeded) == ["raw.customers", "raw.orders", "raw.payments"]
    for ctx in (duck, pg, sp):
        result = ctx.run()
        assert result.ok, result.summary()
    report = sp.test()
    assert report.ok, [(r.name, r.status, r.message) for r in report.results
                       if r.status != "pass"]
    for model in MODELS:
        want = _rows(duck, model)
        assert want, model
        assert _rows(pg, model) == want, f"{model}: Postgres differs from DuckDB"
        assert _rows(sp, model) == want, f"{model}: Spark differs from DuckDB"


@pytest.mark.slow
def test_branches_promote_and_drift_on_spark(spark: SparkAdapter, tmp_path: Path) -> None:
    ctx = _spark_shop(tmp_path)
    root = ctx.project.root
    ctx.seed()
    assert ctx.run().ok
    before = _rows(ctx, "customers")
    ctx.branch_create("f")
    assert [b.name for b in ctx.branch_list()] == ["f"]
    sql = (root / "models" / "customers.sql").read_text()
    (root / "models" / "customers.sql").write_text(sql.replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue",
        "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"))
    ctx = Context.load(root)
    ctx.lock_timeout = 5
    assert ctx.run(["customers", "daily_revenue"], branch="f").ok
    assert _rows(ctx, "customers") == before  # prod untouched by the branch build
    diff = ctx.branch_diff("f")
    assert "customers" in {m.model for m in diff.models if m.status != "unchanged"}

    # A promote interrupted after its copies were made is finished by the next command.
    def crash(label: str) -> None:
        if label == "dropped:customers":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.branch_promote(ctx, "f", step=crash)
    assert "customers" not in spark.relations("main")  # half promoted at this moment
    with ctx.adapter() as a, state.writer_lock(a, "run", target="main", selection="*",
                                               timeout=5) as ticket:
        assert [r.action for r in ticket.promotes] == ["rolled_forward"]
    doubled = _rows(ctx, "customers")
    assert doubled != before and len(doubled) == len(before)
    assert not any(n.endswith("__rocky_promote") for n in spark.relations("main"))

    # Drift: Spark cannot retype or rename a parquet column: the table is recreated.
    spark.execute("CREATE TABLE raw.orders_new USING parquet AS SELECT id, customer_id, "
                  "order_date, status AS order_status, CAST(amount AS DOUBLE) AS amount "
                  "FROM raw.orders")
    spark.drop_table("raw", "orders")
    spark.rename("raw", "orders_new", "orders", kind="table")
    report = ctx.drift(read_values=True, record=False)
    kinds = {(c.kind, c.column) for c in report.changes}
    assert ("column_type_changed", "amount") in kinds
    assert ("column_renamed", "status") in kinds
    # Parquet keeps no NOT NULL: nullability is never reported as drift.
    assert all("null" not in c.kind for c in report.changes)
    assert {i.model for i in report.impact if i.status == "broken"} >= {"stg_orders"}


def test_a_spark_error_is_one_line_naming_the_model(spark: SparkAdapter, tmp_path: Path) -> None:
    from tests.conftest import invoke_cli

    ctx = _spark_shop(tmp_path)
    root = ctx.project.root
    ctx.seed()
    # Compiles (a constant cast is not checked), fails on Spark (ANSI cast).
    (root / "models" / "bad_cast.sql").write_text(
        "SELECT order_id, CAST('abc' AS INTEGER) AS n FROM stg_orders\n")
    (root / "models" / "bad_cast.toml").write_text('materialized = "table"\n')
    r = invoke_cli("run", "--select", "+bad_cast", "--project", str(root))
    assert r.exit_code == 1, r.output
    (line,) = [x for x in r.output.splitlines() if "ERROR" in x]
    assert "bad_cast" in line and "CAST_INVALID_INPUT" in line
    assert "Traceback" not in r.output and "at org.apache" not in r.output
    assert "bad_cast" not in spark.relations("main")


@pytest.mark.slow
def test_run_with_two_threads_on_spark(spark: SparkAdapter, tmp_path: Path) -> None:
    """``--threads 2`` on one Spark session: the rows of one thread, and a failed model
    skips only its dependants."""
    from rocky_engine.execution.state import current_holder, run_history

    ctx = _spark_shop(tmp_path)
    root = ctx.project.root
    ctx.seed()
    one = ctx.run(threads=1)
    assert one.ok, one.summary()
    want = {m: _rows(ctx, m) for m in MODELS}
    two = Context.load(root).run(threads=2)
    assert two.ok, [(m.name, m.error) for m in two.models if m.error]
    assert [(m.name, m.status) for m in two.models] == [(m.name, m.status) for m in one.models]
    assert {m: _rows(ctx, m) for m in MODELS} == want

    sql = (root / "models" / "order_payments.sql").read_text()
    (root / "models" / "order_payments.sql").write_text(sql.replace(
        "o.status,", "o.status, CAST(o.status AS INTEGER) AS status_code,"))
    failed = Context.load(root).run(threads=2)
    by = {m.name: m for m in failed.models}
    assert not failed.ok and by["order_payments"].status == "error"
    assert "CAST_INVALID_INPUT" in (by["order_payments"].error or "")
    assert by["customers"].status == "skipped" and by["daily_revenue"].status == "skipped"
    assert {by[n].status for n in ("stg_customers", "stg_orders", "stg_payments")} == {"success"}
    assert [m.name for m in failed.models] == list(failed.selected)
    assert {m: _rows(ctx, m) for m in MODELS} == want  # the failed rebuild kept prod intact
    assert not [n for n in spark.relations("main") if "__rocky_" in n]
    assert current_holder(spark) is None and run_history(spark)[0].status == "error"
