"""rocky in Dagster, with the real `dagster` package: assets, checks, the drift sensor."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from rocky_engine.context import Context
from rocky_engine.errors import RockyError
from rocky_engine.integrations.dagster import (
    DRIFT_TAG,
    check_name,
    drift_fingerprint,
    rocky_definitions,
)

REPO = Path(__file__).resolve().parents[2]
MODELS = ["stg_customers", "stg_orders", "stg_payments", "order_payments", "customers",
          "daily_revenue", "payment_log"]


def _alter(root: Path, *statements: str) -> None:
    """Change the live upstream tables, as an upstream loader would."""
    with Context.load(root).adapter() as adapter:
        for sql in statements:
            adapter.execute(sql)


def _relations(root: Path, schema: str = "main") -> dict[str, str]:
    with Context.load(root).adapter(read_only=True) as adapter:
        return adapter.relations(schema)


def _materialize(defs: dg.Definitions, selection: list[str] | None = None,
                 instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    keys = [dg.AssetKey(n) for n in selection] if selection is not None else None
    return dg.materialize([*defs.assets, *defs.asset_checks], selection=keys,
                          instance=instance or dg.DagsterInstance.ephemeral(),
                          raise_on_error=False)


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    return {e.asset_key.to_user_string(): {k: v.value for k, v in
                                           e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


# ------------------------------------------------------------------------ the asset graph


def _meta(node: object, key: str) -> object:
    """A spec's metadata value, whether Dagster keeps it raw or wrapped."""
    value = node.metadata[key]  # type: ignore[attr-defined]
    return value.value if isinstance(value, dg.MetadataValue) else value


def test_asset_graph_and_metadata_match_compile_and_lineage(shop: Path) -> None:
    defs = rocky_definitions(shop)
    graph = defs.resolve_asset_graph()
    ctx = Context.load(shop)
    compiled = ctx.compile()
    project = ctx.project
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == set(compiled.models) | {s.replace(".", "/") for s in project.sources}
    for name, cm in compiled.models.items():
        node = graph.get(dg.AssetKey(name))
        assert node.is_materializable
        parents = {k.to_user_string() for k in node.parent_keys}
        assert parents == set(cm.depends_on) | {s.replace(".", "/") for s in cm.sources}
        intent = project.models[name].sidecar.intent
        assert intent is not None and node.description.startswith(intent.purpose)
        for rule in intent.rules:
            assert f"- {rule}" in node.description
        schema = _meta(node, "dagster/column_schema")
        assert [(c.name, c.type) for c in schema.columns] == \
            [(c.name, c.type) for c in cm.columns]
        assert _meta(node, "dagster/table_name") == f"main.{name}"
        # Column lineage: each column's direct value-flow inputs, as `rocky lineage` has them.
        lineage = _meta(node, "dagster/column_lineage")
        got = {(col, d.asset_key.to_user_string(), d.column_name)
               for col, deps in lineage.deps_by_column.items() for d in deps}
        result = ctx.lineage(name, depth=1, value_only=True)
        want = set()
        for e in result.edges:
            rel, _, col = e.source.rpartition(".")
            want.add((e.target.rpartition(".")[2], rel.replace(".", "/"), col))
        assert got == want and got
    # Sources are external assets with their declared columns.
    orders = graph.get(dg.AssetKey(["raw", "orders"]))
    assert not orders.is_materializable
    declared = project.sources["raw.orders"].columns
    assert [(c.name, c.type) for c in _meta(orders, "dagster/column_schema").columns] \
        == [(c.name, c.type) for c in declared]
    # A known column-level fact: customers.lifetime_revenue is summed from order_payments.amount.
    cust = _meta(graph.get(dg.AssetKey("customers")), "dagster/column_lineage")
    assert [(d.asset_key, d.column_name) for d in cust.deps_by_column["lifetime_revenue"]] == \
        [(dg.AssetKey("order_payments"), "amount")]
    # Every data test and unit test is a check on its model.
    check_keys = {k.to_user_string() for k in graph.asset_check_keys}
    n_tests = sum(len(m.sidecar.tests) + len(m.sidecar.unit_tests)
                  for m in project.models.values())
    assert len(check_keys) == n_tests
    assert "customers:unit_returned_orders_are_not_revenue" in check_keys
    assert "stg_customers:unique_customer_id" in check_keys
    # Jobs and the sensor.
    assert defs.resolve_job_def("shop_build") is not None
    assert defs.resolve_sensor_def("shop_drift").job_name == "shop_repair"


def test_check_names_are_dagster_names() -> None:
    assert check_name("relationships(customer_id -> stg_customers.customer_id)",
                      "relationships") == "relationships_customer_id_stg_customers_customer_id"
    assert check_name("expression(total >= 0)", "expression") == "expression_total_0"
    assert check_name("Refunds are excluded!", "unit") == "unit_refunds_are_excluded"


def test_key_prefix_and_group(shop: Path) -> None:
    defs = rocky_definitions(shop, key_prefix=["analytics"], group_name="shop_dw")
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["analytics", "stg_orders"]))
    assert {k.to_user_string() for k in node.parent_keys} == {"analytics/raw/orders"}
    assert node.group_name == "shop_dw"


def test_not_a_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RockyError) as info:
        rocky_definitions(tmp_path / "nowhere")
    assert "rocky.toml" in info.value.render()


# ------------------------------------------------------------------------ materialising


def test_materialize_all_reports_each_model_and_runs_checks(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop)
    result = _materialize(defs)
    assert result.success
    got = _materialized(result)
    assert sorted(got) == sorted(MODELS)
    with Context.load(seeded_shop).adapter(read_only=True) as adapter:
        for name, meta in got.items():
            assert meta["rocky/seconds"] >= 0
            assert meta["dagster/table_name"] == f"main.{name}"
            if Context.load(seeded_shop).project.models[name].materialized == "table":
                (count,), = adapter.fetchall(f'SELECT count(*) FROM "main"."{name}"')
                assert meta["dagster/row_count"] == count > 0
    assert got["customers"]["dagster/row_count"] == 40
    checks = _checks(result)
    assert checks and all(c.passed for c in checks.values())
    assert checks["daily_revenue:row_count_min_1"].metadata["failing_rows"].value == 0


def test_the_build_job_builds_every_model_and_runs_every_check(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop, build_schedule="0 6 * * *")
    assert defs.resolve_schedule_def("shop_build_schedule").cron_schedule == "0 6 * * *"
    result = defs.resolve_job_def("shop_build").execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert sorted(_materialized(result)) == sorted(MODELS)
    project = Context.load(seeded_shop).project
    assert len(_checks(result)) == sum(len(m.sidecar.tests) + len(m.sidecar.unit_tests)
                                       for m in project.models.values())


def test_materialize_a_selection_builds_exactly_it(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop)
    result = _materialize(defs, ['stg_orders', 'stg_payments', 'order_payments'])
    assert result.success
    assert set(_materialized(result)) == {"stg_orders", "stg_payments", "order_payments"}
    assert set(_relations(seeded_shop)) == {"stg_orders", "stg_payments", "order_payments"}
    # Only the checks of the selected models ran.
    assert {k.split(":")[0] for k in _checks(result)} == {"stg_orders", "stg_payments",
                                                          "order_payments"}


def test_a_failing_model_fails_with_the_warehouse_message_and_skips_dependants(
        seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop)
    _alter(seeded_shop, "DROP TABLE raw.payments")  # the upstream loader lost a table
    result = _materialize(defs, ['stg_customers', 'stg_payments', 'order_payments', 'customers'])
    assert not result.success
    assert set(_materialized(result)) == {"stg_customers"}
    assert set(_relations(seeded_shop)) == {"stg_customers"}
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1
    info = failures[0].step_failure_data.user_failure_data
    assert "stg_payments" in info.description and "payments" in info.description.lower()
    failed = info.metadata["rocky/failed"].value
    assert list(failed) == ["stg_payments"]
    warehouse_message = Context.load(seeded_shop).run(["stg_payments"]).models[0].error
    assert warehouse_message and failed["stg_payments"] == warehouse_message
    skipped = info.metadata["rocky/skipped"].value
    assert skipped == {"order_payments": "stg_payments", "customers": "stg_payments"}


def test_compile_errors_build_nothing(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop)
    (seeded_shop / "models" / "stg_orders.sql").write_text("SELECT amout FROM raw.orders\n")
    result = _materialize(defs, ['stg_customers'])
    assert not result.success
    assert _materialized(result) == {}
    failure = next(e for e in result.all_events
                   if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "compile error" in failure.step_failure_data.user_failure_data.description
    assert _relations(seeded_shop) == {}


def test_a_broken_config_fails_the_step_with_its_message(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop)
    toml = seeded_shop / "rocky.toml"
    toml.write_text(toml.read_text() + "\nbogus_key = 1\n")
    result = _materialize(defs, ["stg_customers"])
    assert not result.success
    failure = next(e for e in result.all_events
                   if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    description = failure.step_failure_data.user_failure_data.description
    assert "rocky.toml" in description and "bogus_key" in description
    assert "Traceback" not in description


# ------------------------------------------------------------------------ asset checks


def test_checks_fail_with_failing_rows_and_examples(seeded_shop: Path) -> None:
    # A unit test whose expectation is wrong, and a duplicate customer upstream.
    sidecar = seeded_shop / "models" / "customers.toml"
    sidecar.write_text(sidecar.read_text().replace("lifetime_revenue = 10 }",
                                                   "lifetime_revenue = 11 }"))
    defs = rocky_definitions(seeded_shop)
    _alter(seeded_shop, "INSERT INTO raw.customers SELECT * FROM raw.customers WHERE id = 7")
    result = _materialize(defs)
    checks = _checks(result)
    unique = checks["stg_customers:unique_customer_id"]
    assert not unique.passed
    assert unique.metadata["failing_rows"].value == 2  # both rows of the duplicated key
    assert unique.metadata["examples"].value == [{"customer_id": 7, "n": 2}]
    assert checks["stg_customers:not_null_customer_id"].passed
    unit = checks["customers:unit_returned_orders_are_not_revenue"]
    assert not unit.passed and unit.metadata["rocky/status"].value == "fail"
    assert unit.metadata["failing_rows"].value >= 1
    # The same outcome `rocky test` reports.
    report = Context.load(seeded_shop).test(["stg_customers", "customers"])
    failing = {(r.model, r.name) for r in report.failures()}
    assert failing == {("stg_customers", "unique(customer_id)"),
                       ("customers", "returned orders are not revenue"),
                       ("customers", "unique(customer_id)")}
    assert not checks["customers:unique_customer_id"].passed


# ------------------------------------------------------------------------ the drift sensor


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("shop_drift")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor.evaluate_tick(context)


def test_sensor_requests_one_repair_per_new_drift(seeded_shop: Path) -> None:
    Context.load(seeded_shop).run()
    defs = rocky_definitions(seeded_shop)
    instance = dg.DagsterInstance.ephemeral()
    first = _tick(defs, instance, None)
    assert first.run_requests == [] and "no drift" in (first.skip_message or "")
    _alter(seeded_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    second = _tick(defs, instance, first.cursor)
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    key = drift_fingerprint(Context.load(seeded_shop).drift(read_values=False, record=False))
    assert request.run_key == key and request.tags[DRIFT_TAG] == key
    assert request.job_name in (None, "shop_repair")
    third = _tick(defs, instance, second.cursor)
    assert third.run_requests == [] and "already" in (third.skip_message or "")
    # Another drift on top is a new one: exactly one more request.
    _alter(seeded_shop, "ALTER TABLE raw.orders ADD COLUMN coupon VARCHAR")
    fourth = _tick(defs, instance, third.cursor)
    assert len(fourth.run_requests) == 1 and fourth.run_requests[0].run_key != key


def test_without_a_repair_job_the_sensor_reports_and_skips(seeded_shop: Path) -> None:
    defs = rocky_definitions(seeded_shop, repair=False)
    assert not defs.resolve_sensor_def("shop_drift").has_jobs
    assert [j.name for j in defs.jobs] == ["shop_build"]
    _alter(seeded_shop, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    tick = _tick(defs, dg.DagsterInstance.ephemeral(), None)
    assert tick.run_requests == []
    assert "raw.orders.amount renamed to total" in tick.skip_message
    assert "no repair job" in tick.skip_message


# ------------------------------------------------------------------------ Dagster's own tooling


@pytest.mark.slow
def test_dagster_definitions_validate_loads_the_example(shop: Path) -> None:
    env = {**os.environ, "ROCKY_PROJECT_DIR": str(shop), "DAGSTER_HOME": str(shop / ".dg"),
           "DAGSTER_DISABLE_TELEMETRY": "1"}
    (shop / ".dg").mkdir()
    dagster = Path(sys.executable).parent / "dagster"
    started = time.perf_counter()
    proc = subprocess.run([str(dagster), "definitions", "validate", "-f",
                           str(REPO / "examples" / "dagster" / "definitions.py")],
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr
    assert time.perf_counter() - started < 180
    # A wrong project directory: validation fails, naming the problem.
    env["ROCKY_PROJECT_DIR"] = str(shop.parent / "nowhere")
    bad = subprocess.run([str(dagster), "definitions", "validate", "-f",
                          str(REPO / "examples" / "dagster" / "definitions.py")],
                         env=env, capture_output=True, text=True, timeout=180, check=False)
    assert bad.returncode != 0
    assert "rocky.toml" in bad.stdout + bad.stderr
