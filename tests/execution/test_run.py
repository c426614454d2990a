from __future__ import annotations

import json
from pathlib import Path

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.execution.state import run_history

from .conftest import make_ctx, snapshot, write_model

ALL = ["stg_customers", "stg_orders", "stg_payments", "order_payments", "payment_log",
       "customers", "daily_revenue"]


def test_full_run_builds_views_and_tables(seeded_shop: Path) -> None:
    result = make_ctx(seeded_shop).run()
    assert result.ok and result.count("success") == 7
    assert list(result.selected) == [n for n in result.selected if n in ALL]
    assert result.selected.index("stg_orders") < result.selected.index("order_payments") \
        < result.selected.index("customers")
    assert result.model("customers").rows == 40 and result.model("order_payments").rows == 160
    assert result.model("stg_orders").rows is None  # views are not executed to count
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        kinds = a.relations("main")
        assert {n: kinds[n] for n in ALL} == {
            "stg_customers": "view", "stg_orders": "view", "stg_payments": "view",
            "order_payments": "table", "payment_log": "table", "customers": "table",
            "daily_revenue": "view"}
        assert not [n for n in kinds if n.endswith("__rocky_tmp")]
        assert a.row_count("main", "daily_revenue") > 0
        history = run_history(a)
    assert history[0].status == "success" and history[0].command == "run"
    assert history[0].run_id == result.run_id and history[0].who


def test_select_semantics(seeded_shop: Path) -> None:
    ctx = make_ctx(seeded_shop)
    assert ctx.run(["+customers"]).selected == (
        "stg_customers", "stg_orders", "stg_payments", "order_payments", "customers")
    assert ctx.run(["stg_payments+"]).selected == (
        "stg_payments", "order_payments", "payment_log", "customers", "daily_revenue")
    assert ctx.run(["stg_customers", "daily_revenue"]).selected == (
        "stg_customers", "daily_revenue")
    only = ctx.run(["stg_customers"])
    assert [m.name for m in only.models] == ["stg_customers"]


def test_select_builds_only_selection(seeded_shop: Path) -> None:
    make_ctx(seeded_shop).run(["+order_payments"])
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        kinds = a.relations("main")
    assert "order_payments" in kinds and "customers" not in kinds \
        and "daily_revenue" not in kinds


def test_cli_run_json_and_progress(seeded_shop: Path, run_cli) -> None:
    r = run_cli("run", "--project", str(seeded_shop), "--format", "json", "-s", "+customers")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["ok"] is True and payload["counts"]["success"] == 5
    assert {m["name"]: m["materialized"] for m in payload["models"]}["customers"] == "table"
    assert set(payload["models"][0]) >= {"name", "materialized", "status", "seconds", "rows",
                                         "error"}
    r = run_cli("run", "--project", str(seeded_shop))
    assert r.exit_code == 0
    # one progress line per model: name, materialization, time, rows
    lines = [ln for ln in r.stderr.splitlines() if ln.strip().startswith("OK")]
    assert len(lines) == 7
    assert any("customers" in ln and "table" in ln and "40 rows" in ln for ln in lines)
    assert any("payment_log" in ln and "incremental" in ln for ln in lines)
    assert "7 ok, 0 failed, 0 skipped" in r.stdout


def test_unknown_selector_is_usage_error(seeded_shop: Path, run_cli) -> None:
    r = run_cli("run", "--project", str(seeded_shop), "-s", "custmers")
    assert r.exit_code == 2 and "did you mean 'customers'" in r.output


def test_compile_errors_refuse_to_run(seeded_shop: Path, run_cli) -> None:
    write_model(seeded_shop, "stg_orders",
                "SELECT id AS order_id, customer_id, order_date, LOWER(stauts) AS status, amount "
                "FROM raw.orders")
    r = run_cli("run", "--project", str(seeded_shop))
    assert r.exit_code == 1
    assert "stauts" in r.output and "nothing was run" in r.output
    r = run_cli("run", "--project", str(seeded_shop), "--format", "json")
    payload = json.loads(r.stdout)
    assert payload["ok"] is False and payload["models"] == [] and payload["diagnostics"]
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        assert "stg_orders" not in a.relations("main")


def _break_order_payments(root: Path) -> None:
    # Compiles (a CAST is well-typed) but fails when the table is built.
    sql = (root / "models" / "order_payments.sql").read_text()
    write_model(root, "order_payments", sql.replace(
        "o.status,", "o.status, CAST(o.status AS INTEGER) AS status_code,"))


def test_runtime_failure_skips_dependents_only(built_shop: Path, run_cli) -> None:
    before = snapshot(built_shop)
    _break_order_payments(built_shop)
    result = make_ctx(built_shop).run()
    assert not result.ok
    by = {m.name: m for m in result.models}
    assert by["order_payments"].status == "error"
    assert "Conversion Error" in (by["order_payments"].error or "")
    assert by["customers"].status == "skipped" and by["daily_revenue"].status == "skipped"
    assert by["customers"].skipped_because == "order_payments"
    assert {by[n].status for n in ("stg_customers", "stg_orders", "stg_payments")} == {
        "success"}
    # The failed rebuild left the previous table (and everything else) intact.
    after = snapshot(built_shop)
    assert after["order_payments"] == before["order_payments"]
    assert after == before
    r = run_cli("run", "--project", str(built_shop))
    assert r.exit_code == 1
    assert "order_payments failed: Conversion Error" in r.output


def test_table_to_view_and_back(built_shop: Path) -> None:
    side = built_shop / "models" / "customers.toml"
    side.write_text(side.read_text().replace('materialized = "table"', 'materialized = "view"'))
    assert make_ctx(built_shop).run(["customers"]).ok
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert a.relations("main")["customers"] == "view"
    side.write_text(side.read_text().replace('materialized = "view"', 'materialized = "table"'))
    assert make_ctx(built_shop).run(["customers"]).ok
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert a.relations("main")["customers"] == "table"
        assert a.row_count("main", "customers") == 40
