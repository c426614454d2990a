"""`rocky repair` with an incremental model: the drift plan "keep the stored table" is
validated by refreshing the model on the branch and requiring prod's stored rows."""

from __future__ import annotations

from pathlib import Path

from repair_helpers import alter_warehouse, git, prod_snapshot

from intent_agent.repair import repair_project
from rocky_engine.context import Context

SQL = "SELECT id AS order_id, customer_id, order_date, amount FROM raw.orders\n"
SIDECAR = """materialized = "incremental"

[intent]
purpose = "Orders, kept incrementally."
grain = ["order_id"]

[incremental]
unique_key = ["order_id"]
watermark = "order_date"
"""
RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"


def _grown_incrementally(root: Path) -> None:
    """orders_inc in prod, built first from part of raw.orders, then grown by a run."""
    (root / "models" / "orders_inc.sql").write_text(SQL)
    (root / "models" / "orders_inc.toml").write_text(SIDECAR)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "orders_inc")
    alter_warehouse(root, "CREATE TABLE raw.orders_later AS SELECT * FROM raw.orders "
                          "WHERE order_date > (SELECT max(order_date) - 10 FROM raw.orders)",
                    "DELETE FROM raw.orders WHERE id IN (SELECT id FROM raw.orders_later)")
    assert Context.load(root).run(["orders_inc"]).ok
    alter_warehouse(root, "INSERT INTO raw.orders SELECT * FROM raw.orders_later",
                    "DROP TABLE raw.orders_later")
    grown = Context.load(root).run(["orders_inc"]).models[0]
    assert grown.mode == "incremental" and grown.inserted > 0


def test_rename_keeps_the_stored_table_proven_on_the_branch(shop_repo: Path) -> None:
    _grown_incrementally(shop_repo)
    alter_warehouse(shop_repo, RENAME)
    prod = prod_snapshot(shop_repo)
    result = repair_project(shop_repo, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    assert "models/orders_inc.sql" in [p.path for p in result.patches]
    diff = {d.model: d for d in result.validation.diff}
    assert diff["orders_inc"].status == "unchanged"
    assert "equals prod's stored table" in diff["orders_inc"].note
    assert prod_snapshot(shop_repo) == prod  # prod never written


def test_a_stored_table_that_a_refresh_would_change_is_not_kept(shop_repo: Path) -> None:
    _grown_incrementally(shop_repo)
    # A late order below the stored watermark (and no lookback): prod's table never got it,
    # so a refresh differs from what prod stores and "keep" does not hold.
    alter_warehouse(shop_repo, "INSERT INTO raw.orders VALUES (9001, 1, DATE '2000-01-01', "
                               "'completed', 5.00)", RENAME)
    prod = prod_snapshot(shop_repo)
    result = repair_project(shop_repo, env={})
    assert result.status != "validated"
    errors = " ".join(result.validation.errors) if result.validation else ""
    assert "orders_inc: incremental model refreshed on the branch differs" in errors
    assert "--full-refresh" in errors
    assert prod_snapshot(shop_repo) == prod
