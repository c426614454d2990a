"""Drift and incremental models: can the stored table be kept, or must it be refreshed?"""

from __future__ import annotations

import json
from pathlib import Path

from rocky_engine.context import Context

from .conftest import alter, drift

SIDECAR = """materialized = "incremental"

[intent]
purpose = "Orders, kept incrementally."
grain = ["order_id"]

[incremental]
unique_key = ["order_id"]
watermark = "order_date"
on_schema_change = "{osc}"
"""


def _with_incremental(root: Path, sql: str, osc: str = "fail") -> None:
    (root / "models" / "orders_inc.sql").write_text(sql)
    (root / "models" / "orders_inc.toml").write_text(SIDECAR.format(osc=osc))
    assert Context.load(root).run(["orders_inc"]).ok


def test_rename_keeps_the_stored_table(known_shop: Path) -> None:
    _with_incremental(known_shop, "SELECT id AS order_id, customer_id, order_date, amount "
                                  "FROM raw.orders\n")
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO order_amount")
    report = drift(known_shop)
    assert [c.kind for c in report.changes] == ["column_renamed"]
    (plan,) = report.incremental
    assert (plan.model, plan.action) == ("orders_inc", "keep")
    assert "rocky repair refreshes it on the branch" in plan.reason
    out = report.to_json()["incremental"][0]
    assert out["action"] == "keep" and out["next_run"].startswith("rocky run keeps")


def test_added_column_is_appended_and_fail_stops_the_run(known_shop: Path) -> None:
    _with_incremental(known_shop, "SELECT id AS order_id, * EXCLUDE (id) FROM raw.orders\n")
    alter(known_shop, "ALTER TABLE raw.orders ADD COLUMN channel VARCHAR DEFAULT 'web'")
    report = drift(known_shop)
    (plan,) = report.incremental
    assert (plan.action, plan.columns) == ("append_new_columns", ("channel",))
    assert "on_schema_change = \"fail\"" in plan.next_run and "--full-refresh" in plan.next_run
    # What the plan says a plain run does: it stops, naming the column; the table is kept.
    result = Context.load(known_shop).run(["orders_inc"])
    assert not result.ok and "added channel" in result.models[0].error


def test_added_column_with_append_new_columns(known_shop: Path) -> None:
    _with_incremental(known_shop, "SELECT id AS order_id, * EXCLUDE (id) FROM raw.orders\n",
                      osc="append_new_columns")
    alter(known_shop, "ALTER TABLE raw.orders ADD COLUMN channel VARCHAR DEFAULT 'web'")
    (plan,) = drift(known_shop).incremental
    assert plan.action == "append_new_columns" and "adds channel" in plan.next_run
    # The declared source follows the live one (as `rocky drift --accept` would), then a
    # plain run adds the column to the stored table and keeps every stored row.
    Context.load(known_shop).drift_accept()
    result = Context.load(known_shop).run(["orders_inc"])
    m = result.models[0]
    assert result.ok and m.mode == "incremental" and "channel" in (m.note or "")


def test_narrowing_type_change_needs_a_full_refresh(known_shop: Path) -> None:
    _with_incremental(known_shop, "SELECT id AS order_id, customer_id, order_date, "
                                  "amount * 2 AS doubled FROM raw.orders\n")
    alter(known_shop, "ALTER TABLE raw.orders ALTER COLUMN amount TYPE DECIMAL(6,1)")
    report = drift(known_shop)
    (plan,) = report.incremental
    assert plan.action == "full_refresh" and "doubled" in plan.columns
    assert "--full-refresh --select orders_inc" in plan.next_run


def test_models_that_are_not_incremental_get_no_plan(known_shop: Path, run_cli) -> None:
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO order_amount")
    assert drift(known_shop).incremental == ()
    r = run_cli("drift", "--project", str(known_shop), "--format", "json")
    assert json.loads(r.stdout)["incremental"] == []
