"""seed, run, test, branches and promote on a live PostgreSQL server."""

from __future__ import annotations

import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rocky_engine.adapters.postgres import PostgresAdapter
from rocky_engine.context import Context
from rocky_engine.errors import LockTimeout, ProblemError
from rocky_engine.execution import api, state
from tests.conftest import PG_DSN_ENV, invoke_cli


def _dsn() -> str:
    return os.environ[PG_DSN_ENV]


def _q(sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _ctx(root: Path) -> Context:
    ctx = Context.load(root)
    ctx.lock_timeout = 2.0
    return ctx


def _write(root: Path, name: str, sql: str, sidecar: str | None = None) -> None:
    (root / "models" / f"{name}.sql").write_text(sql)
    if sidecar is not None:
        (root / "models" / f"{name}.toml").write_text(sidecar)


def _double_revenue(root: Path) -> None:
    path = root / "models" / "customers.sql"
    sql = path.read_text()
    old = "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue"
    assert old in sql
    path.write_text(sql.replace(old, "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"))


@pytest.fixture
def pg_built_shop(pg_seeded_shop: Path) -> Path:
    result = _ctx(pg_seeded_shop).run()
    assert result.ok, [m.error for m in result.models]
    return pg_seeded_shop


def test_seed_run_test_through_the_cli(pg_shop: Path) -> None:
    seeded = invoke_cli("seed", "--project", str(pg_shop))
    assert seeded.exit_code == 0, seeded.output
    assert "into the postgres warehouse" in seeded.stdout
    assert _q("SELECT count(*) FROM raw.orders")[0][0] > 0
    ran = invoke_cli("run", "--project", str(pg_shop), "--format", "json")
    assert ran.exit_code == 0, ran.output
    doc = json.loads(ran.stdout)
    statuses = {m["name"]: (m["status"], m["materialized"]) for m in doc["models"]}
    assert statuses["customers"] == ("success", "table")
    assert statuses["daily_revenue"] == ("success", "view")
    kinds = dict(_q("SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE table_schema = 'main'"))
    assert kinds["customers"] == "BASE TABLE" and kinds["stg_orders"] == "VIEW"
    tested = invoke_cli("test", "--project", str(pg_shop), "--format", "json")
    assert tested.exit_code == 0, tested.output
    results = json.loads(tested.stdout)["tests"]
    assert any(r["kind"] == "unit" and r["status"] == "pass" for r in results)
    assert all(r["status"] == "pass" for r in results)
    history = _q("SELECT command, status FROM _rocky.runs ORDER BY started_at")
    assert history and all(s == "success" for _, s in history)


def test_same_rows_as_duckdb(pg_built_shop: Path, built_shop_duckdb: Path) -> None:
    import duckdb

    duck = duckdb.connect(str(built_shop_duckdb / "warehouse.duckdb"), read_only=True)
    for model in ("customers", "order_payments", "daily_revenue"):
        want = sorted(map(_norm, duck.execute(f"SELECT * FROM main.{model}").fetchall()))
        got = sorted(map(_norm, _q(f"SELECT * FROM main.{model}")))
        assert got == want, model
    duck.close()


@pytest.fixture
def built_shop_duckdb(tmp_path: Path, _seeded_template: Path) -> Path:
    import shutil

    root = tmp_path / "duck"
    shutil.copytree(_seeded_template, root)
    assert Context.load(root).run().ok
    return root


def _norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(float(v), 6) if isinstance(v, float | Decimal) else v for v in row)


def test_failing_unit_and_data_tests_fail_on_postgres(pg_built_shop: Path) -> None:
    _write(pg_built_shop, "bad", "SELECT customer_id, lifetime_revenue FROM customers",
           '[[tests]]\ntype = "expression"\nexpression = "lifetime_revenue < 0"\n'
           '[[unit_tests]]\nname = "wrong"\n'
           'given = { customers = [{ customer_id = 1, lifetime_revenue = 5 }] }\n'
           'expect = [{ customer_id = 1, lifetime_revenue = 6 }]\n')
    ctx = _ctx(pg_built_shop)
    assert ctx.run(["bad"]).ok
    report = ctx.test(["bad"])
    assert {r.kind: r.status for r in report.results} == {"expression": "fail",
                                                         "unit": "fail"}


# ---------------------------------------------------------------------------- branches


def test_branch_create_run_diff_promote_drop(pg_built_shop: Path) -> None:
    (prod_rev,) = _q("SELECT sum(lifetime_revenue) FROM main.customers")[0]
    create = invoke_cli("branch", "create", "dev", "--project", str(pg_built_shop))
    assert create.exit_code == 0, create.output
    kinds = dict(_q("SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE table_schema = 'main__dev'"))
    assert len(kinds) == 7 and set(kinds.values()) == {"VIEW"}
    _double_revenue(pg_built_shop)
    ran = invoke_cli("run", "--branch", "dev", "--select", "customers",
                     "--project", str(pg_built_shop))
    assert ran.exit_code == 0, ran.output
    assert _q("SELECT sum(lifetime_revenue) FROM main.customers")[0][0] == prod_rev
    assert _q("SELECT sum(lifetime_revenue) FROM main__dev.customers")[0][0] == 2 * prod_rev
    diff = invoke_cli("branch", "diff", "dev", "--format", "json",
                      "--project", str(pg_built_shop))
    assert diff.exit_code in (0, 1), diff.output
    doc = json.loads(diff.stdout)
    (model,) = [m for m in doc["models"] if m["model"] == "customers"]
    assert model["status"] == "changed" and model["changed"] > 0
    promote = invoke_cli("branch", "promote", "dev", "--project", str(pg_built_shop))
    assert promote.exit_code == 0, promote.output
    assert _q("SELECT sum(lifetime_revenue) FROM main.customers")[0][0] == 2 * prod_rev
    drop = invoke_cli("branch", "drop", "dev", "--project", str(pg_built_shop))
    assert drop.exit_code == 0, drop.output
    assert not _q("SELECT 1 FROM pg_namespace WHERE nspname = 'main__dev'")
    assert _q("SELECT sum(lifetime_revenue) FROM main.customers")[0][0] == 2 * prod_rev


def test_promote_is_atomic_for_a_concurrent_reader(pg_built_shop: Path) -> None:
    """A reader polling prod during promote sees the old or the new prod, never a mix
    (customers and its copy both doubled or neither) and never an error."""
    _write(pg_built_shop, "customers_copy", "SELECT customer_id, lifetime_revenue FROM customers",
           'materialized = "table"\n')
    assert _ctx(pg_built_shop).run(["customers_copy"]).ok
    (old,) = _q("SELECT sum(lifetime_revenue) FROM main.customers")[0]
    ctx = _ctx(pg_built_shop)
    ctx.branch_create("dev")
    _double_revenue(pg_built_shop)
    assert _ctx(pg_built_shop).run(["customers+"], branch="dev").ok
    seen: list[tuple[Any, Any]] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(_dsn(), autocommit=True) as conn:
            while not stop.is_set():
                try:
                    seen.append(conn.execute(
                        "SELECT (SELECT sum(lifetime_revenue) FROM main.customers), "
                        "(SELECT sum(lifetime_revenue) FROM main.customers_copy)").fetchone())
                except psycopg.Error as exc:
                    errors.append(str(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        time.sleep(0.2)
        api.branch_promote(_ctx(pg_built_shop), "dev",
                           after_each=lambda model: time.sleep(0.3))
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    assert set(seen) <= {(old, old), (2 * old, 2 * old)}
    assert (old, old) in seen and (2 * old, 2 * old) in seen


def test_promote_failure_rolls_everything_back(pg_built_shop: Path) -> None:
    before = _q("SELECT * FROM main.customers ORDER BY 1")
    ctx = _ctx(pg_built_shop)
    ctx.branch_create("dev")
    _double_revenue(pg_built_shop)
    assert _ctx(pg_built_shop).run(["customers", "daily_revenue"], branch="dev").ok

    def boom(model: str) -> None:
        if model == "daily_revenue":
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        api.branch_promote(_ctx(pg_built_shop), "dev", after_each=boom)
    assert _q("SELECT * FROM main.customers ORDER BY 1") == before
    assert not _q("SELECT 1 FROM _rocky.lock")


# ---------------------------------------------------------------------------- dependants


def test_replacing_a_table_keeps_the_views_that_read_it(pg_built_shop: Path) -> None:
    # daily_revenue (a view) reads order_payments (a table): Postgres refuses to drop it.
    before = _q("SELECT * FROM main.daily_revenue ORDER BY 1")
    path = pg_built_shop / "models" / "order_payments.sql"
    path.write_text(path.read_text().replace("o.amount - COALESCE(p.total_paid, 0) AS balance_due",
                                             "o.amount AS balance_due, 1 AS extra"))
    result = _ctx(pg_built_shop).run(["order_payments"])
    assert result.ok, [m.error for m in result.models]
    assert _q("SELECT * FROM main.daily_revenue ORDER BY 1") == before
    cols = [r[0] for r in _q("SELECT column_name FROM information_schema.columns WHERE "
                             "table_schema = 'main' AND table_name = 'order_payments'")]
    assert "extra" in cols


def test_a_view_changing_its_columns_rebuilds_its_dependants(pg_built_shop: Path) -> None:
    # A view over a view: CREATE OR REPLACE VIEW cannot drop or retype columns.
    _write(pg_built_shop, "orders_small", "SELECT order_id, status FROM stg_orders")
    assert _ctx(pg_built_shop).run(["orders_small"]).ok
    path = pg_built_shop / "models" / "stg_orders.sql"
    path.write_text("SELECT id AS order_id, 7 AS batch, customer_id, order_date,\n"
                    "       LOWER(status) AS status, amount\nFROM raw.orders\n")
    result = _ctx(pg_built_shop).run(["stg_orders"])
    assert result.ok, [m.error for m in result.models]
    cols = [r[0] for r in _q("SELECT column_name FROM information_schema.columns WHERE "
                             "table_schema = 'main' AND table_name = 'stg_orders' "
                             "ORDER BY ordinal_position")]
    assert cols == ["order_id", "batch", "customer_id", "order_date", "status", "amount"]
    assert _q("SELECT count(*) FROM main.orders_small")[0][0] > 0


def test_a_foreign_view_that_would_break_fails_the_build_cleanly(pg_built_shop: Path) -> None:
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        conn.execute("CREATE VIEW main.report AS SELECT balance_due FROM main.order_payments")
    before = _q("SELECT * FROM main.order_payments ORDER BY 1")
    path = pg_built_shop / "models" / "order_payments.sql"
    path.write_text(path.read_text().replace(
        ",\n    o.amount - COALESCE(p.total_paid, 0) AS balance_due", ""))
    result = _ctx(pg_built_shop).run(["order_payments"])
    (run,) = result.models
    assert run.status == "error"
    assert "view main.report depends" in (run.error or "")
    assert _q("SELECT * FROM main.order_payments ORDER BY 1") == before
    assert _q("SELECT count(*) FROM main.report")[0][0] == len(before)


# ---------------------------------------------------------------------------- locks


def test_second_writer_waits_then_times_out_naming_the_holder(pg_built_shop: Path) -> None:
    ctx = _ctx(pg_built_shop)
    with ctx.adapter() as first, \
            state.writer_lock(first, "run", target="main", selection="*"), \
            ctx.adapter() as second:
        t0 = time.perf_counter()
        with pytest.raises(LockTimeout) as info:
            state.acquire_lock(second, "x", "run", timeout=0.5)
        assert time.perf_counter() - t0 >= 0.5
        assert f"PID {os.getpid()}" in info.value.message
    # Released: the next writer goes straight in.
    assert _ctx(pg_built_shop).run(["stg_orders"]).ok


def test_promote_without_builds_is_a_problem(pg_built_shop: Path) -> None:
    ctx = _ctx(pg_built_shop)
    ctx.branch_create("empty")
    with pytest.raises(ProblemError):
        ctx.branch_promote("empty")


def test_adapter_is_the_postgres_one(pg_built_shop: Path) -> None:
    with _ctx(pg_built_shop).adapter() as adapter:
        assert isinstance(adapter, PostgresAdapter)
        assert adapter.SUPPORTS_ADVISORY_LOCK


KILL_SCRIPT = """
import sys, time
from rocky_engine.adapters.postgres import PostgresAdapter
from rocky_engine.context import Context

real = PostgresAdapter._script

def slow_script(self, schema, name, create, *, drop):
    if name != "customers" or create is None:
        return real(self, schema, name, create, drop=drop)
    with self.transaction():
        cur = real(self, schema, name, create, drop=drop)
        print("inside customers", flush=True)  # new table created, not committed
        time.sleep(120)
    return cur

PostgresAdapter._script = slow_script
Context.load(sys.argv[1]).run()
"""


@pytest.mark.slow
def test_kill_9_mid_build_leaves_prod_consistent(pg_built_shop: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    before = {m: _q(f"SELECT * FROM main.{m} ORDER BY 1")
              for m in ("customers", "order_payments", "daily_revenue")}
    _double_revenue(pg_built_shop)
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(pg_built_shop)],
                            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.strip() == "inside customers":
                break
        else:
            pytest.fail("the run never reached customers")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    # The server rolled the open transaction back: prod is exactly as before.
    for model, rows in before.items():
        assert _q(f"SELECT * FROM main.{model} ORDER BY 1") == rows, model
    assert _q("SELECT status FROM _rocky.runs ORDER BY started_at DESC LIMIT 1") == [
        ("running",)]
    # The advisory lock died with the session: the next run goes ahead and recovers.
    result = _ctx(pg_built_shop).run()
    assert result.ok and result.recovered_from is not None
    statuses = [s for (s,) in _q("SELECT status FROM _rocky.runs ORDER BY started_at")]
    assert "interrupted" in statuses and statuses[-1] == "success"
    (new,) = _q("SELECT sum(lifetime_revenue) FROM main.customers")[0]
    assert new == 2 * sum(r[4] for r in before["customers"])
