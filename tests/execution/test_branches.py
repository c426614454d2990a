from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import UsageError
from rocky_engine.execution import api
from rocky_engine.execution.branches import validate_branch_name
from rocky_engine.execution.state import current_holder, run_history

from .conftest import make_ctx, snapshot, write_model

DOUBLE = "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"


def _double_revenue(root: Path) -> None:
    sql = (root / "models" / "customers.sql").read_text()
    assert "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue" in sql
    write_model(root, "customers", sql.replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue", DOUBLE))


@pytest.mark.parametrize("bad", ["Fix", "a-b", "x;drop", "", "a" * 41, "a b", "é"])
def test_invalid_branch_names(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_branch_name(bad)


def test_invalid_name_rejected_before_any_sql(shop: Path, run_cli) -> None:
    r = run_cli("branch", "create", "x;drop", "--project", str(shop))
    assert r.exit_code == 2 and "invalid branch name" in r.output
    r = run_cli("run", "--branch", "UP", "--project", str(shop))
    assert r.exit_code == 2
    assert not (shop / "warehouse.duckdb").exists()  # the warehouse was never opened


def test_branch_isolation_and_reads(built_shop: Path) -> None:
    prod = snapshot(built_shop)
    ctx = make_ctx(built_shop)
    info = ctx.branch_create("dev")
    assert info.schema == "main__dev" and info.built == ()
    assert snapshot(built_shop) == prod
    # Every model is there as a zero-copy view over prod.
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert set(a.relations("main__dev").values()) == {"view"}
        assert len(a.relations("main__dev")) == 7
    _double_revenue(built_shop)
    result = make_ctx(built_shop).run(["customers"], branch="dev")
    assert result.ok and result.schema == "main__dev"
    assert snapshot(built_shop) == prod
    branch = snapshot(built_shop, "main__dev")
    assert branch["customers"][0] == "table"
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        (p,) = a.fetchall("SELECT sum(lifetime_revenue) FROM main.customers")[0]
        (b,) = a.fetchall("SELECT sum(lifetime_revenue) FROM main__dev.customers")[0]
    assert b == 2 * p and p > 0
    diff = make_ctx(built_shop).branch_diff("dev")
    assert snapshot(built_shop) == prod
    assert [m.model for m in diff.models] == ["customers"]
    report = make_ctx(built_shop).test(branch="dev")
    # Doubling revenue breaks the customers unit test, and only that.
    assert [(r.model, r.kind) for r in report.failures()] == [("customers", "unit")]
    assert snapshot(built_shop) == prod
    assert [b.name for b in make_ctx(built_shop).branch_list()] == ["dev"]
    make_ctx(built_shop).branch_drop("dev")
    assert snapshot(built_shop) == prod
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert "main__dev" not in a.schemas()
    assert make_ctx(built_shop).branch_list() == []


def test_branch_run_reads_branch_upstreams(built_shop: Path) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("up")
    # Change an upstream view on the branch; the downstream table built on the branch
    # must read the branch version, and prod must not see it.
    sql = (built_shop / "models" / "stg_orders.sql").read_text()
    write_model(built_shop, "stg_orders", sql.replace("FROM raw.orders",
                                                      "FROM raw.orders WHERE id <= 10"))
    result = make_ctx(built_shop).run(["stg_orders+"], branch="up")
    assert result.ok
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert a.row_count("main__up", "order_payments") == 10
        assert a.row_count("main", "order_payments") == 160
    diff = make_ctx(built_shop).branch_diff("up")
    op = diff.model("order_payments")
    assert op.key == ("order_id",) and op.only_in_prod == 150 and op.only_in_branch == 0
    assert len(op.sample_only_in_prod.rows) == 5


def test_diff_keyed_changes_schema_and_samples(built_shop: Path, run_cli) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("d")
    sql = (built_shop / "models" / "customers.sql").read_text().replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue",
        "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue, 1 AS extra")
    write_model(built_shop, "customers", sql)
    assert make_ctx(built_shop).run(["customers"], branch="d").ok
    diff = make_ctx(built_shop).branch_diff("d")
    cust = diff.model("customers")
    assert cust.status == "changed" and cust.key == ("customer_id",)
    assert cust.prod_rows == cust.branch_rows == 40
    assert cust.only_in_prod == cust.only_in_branch == 0
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        (nonzero,) = a.fetchall("SELECT count(*) FROM main.customers "
                                "WHERE lifetime_revenue <> 0")[0]
    assert cust.changed == nonzero > 0
    assert [(c.column, c.change) for c in cust.schema_changes] == [("extra", "added")]
    sample = cust.sample_changed
    assert "customer_id" in sample.columns and "prod.lifetime_revenue" in sample.columns
    row = dict(zip(sample.columns, sample.rows[0]))
    assert row["branch.lifetime_revenue"] == 2 * row["prod.lifetime_revenue"]
    r = run_cli("branch", "diff", "d", "--project", str(built_shop), "--format", "json")
    assert r.exit_code == 0
    payload = json.loads(r.stdout)
    assert payload["has_changes"] and payload["models"][0]["changed"] == nonzero
    assert payload["models"][0]["samples"]["changed"]


def test_diff_without_grain_is_full_row(built_shop: Path) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("g")
    side = built_shop / "models" / "daily_revenue.toml"
    side.write_text(side.read_text().replace('grain = ["order_date"]\n', ""))
    sql = (built_shop / "models" / "daily_revenue.sql").read_text()
    write_model(built_shop, "daily_revenue", sql.replace("WHERE status = 'completed'",
                                                         "WHERE status = 'returned'"))
    assert make_ctx(built_shop).run(["daily_revenue"], branch="g").ok
    d = make_ctx(built_shop).branch_diff("g").model("daily_revenue")
    assert d.key == () and d.changed == 0 and d.status == "changed"
    assert d.only_in_prod == d.prod_rows and d.only_in_branch == d.branch_rows


def test_promote_replaces_prod(built_shop: Path, run_cli) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("p")
    _double_revenue(built_shop)
    sql = (built_shop / "models" / "stg_customers.sql").read_text()
    write_model(built_shop, "stg_customers", sql.replace("UPPER(country)", "LOWER(country)"))
    assert make_ctx(built_shop).run(["stg_customers", "customers"], branch="p").ok
    before = snapshot(built_shop)
    r = run_cli("branch", "promote", "p", "--project", str(built_shop))
    assert r.exit_code == 0, r.output
    after = snapshot(built_shop)
    assert after["customers"] == snapshot(built_shop, "main__p")["customers"]
    assert after["customers"] != before["customers"]
    # The promoted view reads prod, not the branch.
    assert "main__p" not in after["stg_customers"][1]
    assert after["order_payments"] == before["order_payments"]
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert a.fetchall("SELECT DISTINCT country_code = lower(country_code) "
                          "FROM main.stg_customers") == [(True,)]
    # Dropping the branch afterwards leaves the promoted prod alone.
    assert run_cli("branch", "drop", "p", "--project", str(built_shop)).exit_code == 0
    assert snapshot(built_shop) == after


def test_promoted_view_reads_prod_after_branch_drop(built_shop: Path) -> None:
    make_ctx(built_shop).branch_create("v")
    sql = (built_shop / "models" / "daily_revenue.sql").read_text()
    write_model(built_shop, "daily_revenue", sql.replace(
        "COUNT(DISTINCT customer_id) AS buyers,",
        "COUNT(DISTINCT customer_id) AS buyers, COUNT(*) AS completed_orders,"))
    assert make_ctx(built_shop).run(["daily_revenue"], branch="v").ok
    make_ctx(built_shop).branch_promote("v")
    make_ctx(built_shop).branch_drop("v")
    prod = snapshot(built_shop)  # reads every prod object, views included
    kind, view_sql, rows = prod["daily_revenue"]
    assert kind == "view" and "main__v" not in view_sql and "completed_orders" in view_sql
    assert rows


def test_promote_is_atomic_under_injected_failure(built_shop: Path) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("f")
    _double_revenue(built_shop)
    sql = (built_shop / "models" / "stg_customers.sql").read_text()
    write_model(built_shop, "stg_customers", sql.replace("UPPER(country)", "LOWER(country)"))
    assert make_ctx(built_shop).run(["stg_customers", "order_payments", "customers"],
                                    branch="f").ok
    before = snapshot(built_shop)
    seen: list[str] = []

    def fault(model: str) -> None:
        seen.append(model)
        if len(seen) == 2:
            raise RuntimeError("injected failure halfway through promote")

    with pytest.raises(RuntimeError, match="injected"):
        api.branch_promote(make_ctx(built_shop), "f", after_each=fault)
    assert len(seen) == 2
    assert snapshot(built_shop) == before
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert current_holder(a) is None  # the lock was released
        assert run_history(a)[0].command == "branch promote"
        assert run_history(a)[0].status == "error"
    # And a clean promote afterwards works.
    make_ctx(built_shop).branch_promote("f")
    assert snapshot(built_shop) != before


def test_promote_and_diff_errors(built_shop: Path, run_cli) -> None:
    r = run_cli("branch", "diff", "nope", "--project", str(built_shop))
    assert r.exit_code == 2 and "rocky branch create nope" in r.output
    make_ctx(built_shop).branch_create("empty")
    r = run_cli("branch", "promote", "empty", "--project", str(built_shop))
    assert r.exit_code == 1 and "nothing to promote" in r.output
    r = run_cli("branch", "create", "empty", "--project", str(built_shop))
    assert r.exit_code == 2 and "already exists" in r.output
    r = run_cli("run", "--branch", "ghost", "--project", str(built_shop))
    assert r.exit_code == 2 and "no branch named 'ghost'" in r.output


def test_sandboxed_branch_validation(built_shop: Path) -> None:
    """The agent's path: a patched copy of the project, the original warehouse, sandboxed."""
    copy = built_shop.parent / "patched"
    shutil.copytree(built_shop, copy, ignore=shutil.ignore_patterns("*.duckdb*"))
    _double_revenue(copy)
    prod = snapshot(built_shop)
    ctx = make_ctx(copy, warehouse_path=built_shop / "warehouse.duckdb")
    ctx.branch_create("agent", sandboxed=True)
    result = ctx.run(["customers+"], branch="agent", sandboxed=True)
    assert result.ok
    report = ctx.test(["customers"], branch="agent", sandboxed=True)
    assert [r.kind for r in report.failures()] == ["unit"]  # the intent check catches it
    assert all(r.status == "pass" for r in report.results if r.kind != "unit")
    diff = ctx.branch_diff("agent", sandboxed=True)
    assert diff.model("customers").changed > 0
    assert snapshot(built_shop) == prod
    assert not (copy / "warehouse.duckdb").exists()


def test_branch_over_prod_broken_by_drift(built_shop: Path) -> None:
    """Upstream drift breaks prod views; a branch is still created and the fix built."""
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        a.execute("ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount")
    info = make_ctx(built_shop).branch_create("fix")
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        passthrough = set(a.relations("main__fix"))
    # The stg_orders view does not bind any more: it is left out (the rest reads tables).
    assert "stg_orders" not in passthrough
    assert {"stg_customers", "customers", "order_payments", "daily_revenue"} <= passthrough
    assert info.schema == "main__fix"
    sql = (built_shop / "models" / "stg_orders.sql").read_text()
    write_model(built_shop, "stg_orders", sql.replace("    amount", "    total_amount AS amount"))
    (built_shop / "sources" / "raw.toml").write_text(
        (built_shop / "sources" / "raw.toml").read_text().replace(
            'amount = "DECIMAL(10,2)"\n\n[tables.payments]',
            'total_amount = "DECIMAL(10,2)"\n\n[tables.payments]'))
    result = make_ctx(built_shop).run(["stg_orders+"], branch="fix")
    assert result.ok, result.summary()
    diff = make_ctx(built_shop).branch_diff("fix", ["order_payments", "customers"])
    assert {m.model: m.status for m in diff.models} == {
        "order_payments": "unchanged", "customers": "unchanged"}
