"""Detection details beyond the fixture cases: evidence, notes, state, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.context import Context
from rocky_engine.drift import fingerprints
from rocky_engine.errors import WarehouseError

from .conftest import alter, drift


def test_a_fresh_seed_has_no_drift_and_records_fingerprints(seeded_shop: Path) -> None:
    report = drift(seeded_shop)
    assert not report.drifted and report.impact == () and report.to_json()["changes"] == []
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as adapter:
        stored = fingerprints.load(adapter)
    assert ("raw", "orders", "amount") in stored
    assert stored[("raw", "orders", "amount")].rows == 160


def test_record_false_and_read_values_false_store_nothing(seeded_shop: Path) -> None:
    drift(seeded_shop, record=False)
    drift(seeded_shop, read_values=False)
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as adapter:
        assert fingerprints.load(adapter) == {}


def test_rename_without_stored_values_says_what_it_was_judged_on(seeded_shop: Path) -> None:
    alter(seeded_shop, "ALTER TABLE raw.orders RENAME COLUMN status TO order_status")
    report = drift(seeded_shop)
    (change,) = report.changes
    assert change.kind == "column_renamed" and change.new_column == "order_status"
    assert change.confidence is not None and 0.55 <= change.confidence < 0.9
    assert any("no earlier values" in e for e in change.evidence)
    assert any("no earlier value fingerprints" in n for n in report.notes)


def test_rename_with_stored_values_is_confident(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN status TO state")
    (change,) = drift(known_shop).changes
    assert change.kind == "column_renamed" and change.confidence is not None
    assert change.confidence >= 0.9
    assert any("identical" in e for e in change.evidence)


def test_fingerprints_of_a_drifted_table_are_kept_until_it_matches_again(known_shop: Path
                                                                          ) -> None:
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    drift(known_shop)
    drift(known_shop)  # a second look still has the old values to compare with
    (change,) = drift(known_shop).changes
    assert change.confidence is not None and change.confidence >= 0.9


def test_nullability_tightening_in_the_catalog(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.customers ALTER COLUMN country SET NOT NULL")
    report = drift(known_shop)
    (change,) = report.changes
    assert (change.kind, change.change, change.nullable_from, change.nullable_to) == (
        "column_nullability_changed", "tightening", True, False)
    assert report.impact == ()


def test_declared_not_null_without_nulls_is_not_drift(known_shop: Path) -> None:
    # Seeded tables carry no NOT NULL in the catalog; the data honours the declaration.
    with DuckDBAdapter(known_shop / "warehouse.duckdb") as adapter:
        col = adapter.table("raw", "orders").columns[0]  # type: ignore[union-attr]
    assert col.name == "id" and col.nullable
    assert not drift(known_shop).drifted


def test_an_empty_source_schema_is_explained(known_shop: Path) -> None:
    alter(known_shop, "DROP SCHEMA raw CASCADE")
    report = drift(known_shop)
    assert {c.kind for c in report.changes} == {"table_removed"}
    assert any("holds no tables" in n for n in report.notes)


def test_missing_warehouse_is_a_warehouse_error(shop: Path) -> None:
    with pytest.raises(WarehouseError) as err:
        Context.load(shop).drift()
    assert "rocky seed" in (err.value.hint or "")


def test_json_shape_is_the_contract(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    data = drift(known_shop).to_json()
    assert set(data) >= {"changes", "impact"}
    for change in data["changes"]:
        assert set(change) >= {"kind", "table", "column", "new_column", "new_table",
                               "old_type", "new_type"}
    assert data["changes"][0]["table"] == "raw.orders"
    for item in data["impact"]:
        assert set(item) >= {"model", "column", "status"}
        assert item["status"] in ("broken", "affected")


def test_dropping_a_column_no_model_reads_has_no_impact(known_shop: Path) -> None:
    source = known_shop / "sources" / "raw.toml"
    source.write_text(source.read_text().replace(
        'amount = "DECIMAL(10,2)"\n\n[tables.payments]',
        'amount = "DECIMAL(10,2)"\nnote = "VARCHAR"           # free text, unused\n\n'
        '[tables.payments]'))
    alter(known_shop, "ALTER TABLE raw.orders ADD COLUMN note VARCHAR")
    assert not drift(known_shop).drifted
    alter(known_shop, "ALTER TABLE raw.orders DROP COLUMN note")
    report = drift(known_shop)
    assert [(c.kind, c.column) for c in report.changes] == [("column_removed", "note")]
    assert report.impact == ()


def test_a_safe_widening_changes_no_values(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.orders ALTER COLUMN customer_id TYPE BIGINT")
    report = drift(known_shop)
    assert report.impact and not report.broken
    assert all("values unchanged" in i.reason for i in report.impact)


def test_a_narrowing_says_values_may_change(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.payments ALTER COLUMN paid_at TYPE DATE")
    report = drift(known_shop)
    assert report.impact and not report.broken
    assert all("may change its values" in i.reason for i in report.impact)
    agg = next(i for i in report.impact if i.column == "last_paid_date")
    assert agg.path == ("raw.payments.paid_at", "stg_payments.paid_date",
                        "order_payments.last_paid_date")
