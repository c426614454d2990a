"""The reported case end to end: a retyped column used in arithmetic is broken, not affected."""

from __future__ import annotations

from pathlib import Path

import duckdb

from rocky_engine.context import Context


def _project(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "cents"\ndialect = "duckdb"\n\n'
        '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n\n[tables.orders.columns]\nid = "INTEGER"\n'
        'amount_cents = "INTEGER"\nstatus = "VARCHAR"\n')
    (root / "models" / "stg_orders.sql").write_text(
        "SELECT id AS order_id, amount_cents / 100.0 AS amount, status FROM raw.orders\n")
    (root / "models" / "revenue.sql").write_text(
        "SELECT status, SUM(amount) AS revenue FROM stg_orders GROUP BY status\n")
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.orders "
                 "(id INTEGER, amount_cents VARCHAR, status VARCHAR)")
    conn.close()


def test_retyped_to_varchar_and_divided_is_broken(tmp_path: Path) -> None:
    _project(tmp_path)
    report = Context.load(tmp_path).drift(read_values=False, record=False)
    [change] = report.changes
    assert (change.kind, change.column, change.change) == (
        "column_type_changed", "amount_cents", "narrowing")
    got = {(i.model, i.column): i for i in report.impact}
    assert got[("stg_orders", "amount")].status == "broken"
    assert got[("revenue", "revenue")].status == "broken"
    item = got[("stg_orders", "amount")]
    assert item.diagnostic is not None and item.diagnostic.code == "R111"
    assert [s.node for s in item.diagnostic.subjects] == ["raw.orders.amount_cents"]
    assert item.causes == (change,)
    assert item.to_json()["caused_by"] == [change.ref()]
    # Columns of the failing model that the change does not reach are not listed as fine:
    # the model cannot be built, so every listed column of it is broken.
    assert all(i.status == "broken" for i in report.impact)
