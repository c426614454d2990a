"""The Dagster integration on PostgreSQL: the same definitions, nothing DuckDB-specific."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from rocky_engine.context import Context
from rocky_engine.integrations.dagster import rocky_definitions


def test_materialise_check_and_sense_drift_on_postgres(pg_seeded_shop: Path) -> None:
    root = pg_seeded_shop
    defs = rocky_definitions(root)
    graph = defs.resolve_asset_graph()
    assert "postgres" in graph.get(dg.AssetKey("customers")).kinds
    result = dg.materialize([*defs.assets, *defs.asset_checks],
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    events = {e.asset_key.to_user_string(): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert len(events) == len(Context.load(root).project.models)
    assert events["customers"]["dagster/row_count"].value == 40
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)

    # A failing model on Postgres: the warehouse's message, dependants not built.
    with Context.load(root).adapter() as adapter:
        adapter.execute("ALTER TABLE raw.payments RENAME TO payments_old")
    failed = dg.materialize(list(defs.assets), selection=[dg.AssetKey("stg_payments"),
                                                          dg.AssetKey("order_payments")],
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not failed.success and failed.get_asset_materialization_events() == []
    failure = next(e for e in failed.all_events
                   if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    data = failure.step_failure_data.user_failure_data
    assert "payments" in data.metadata["rocky/failed"].value["stg_payments"]
    assert data.metadata["rocky/skipped"].value == {"order_payments": "stg_payments"}

    # The drift sensor on Postgres: one request for the new drift, none again.
    sensor = defs.resolve_sensor_def("shop_drift")
    instance = dg.DagsterInstance.ephemeral()
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(tick.run_requests) == 1
    again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs,
                                                         cursor=tick.cursor))
    assert again.run_requests == []
