"""`rocky import dbt` on a real dbt project compiled by a real dbt: the manifest path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rocky_engine.context import Context
from tests.conftest import invoke_cli

EXPECTED_STATUS = {
    "stg_customers": "imported", "stg_orders": "imported",
    "stg_payments": "imported",       # ephemeral: inlined, no rocky model
    "orders": "partial",              # a `where`-filtered test is not imported
    "customers": "imported", "countries": "imported",
    "order_facts": "partial",         # incremental -> table (until rocky has incremental)
    "status_counts": "imported",      # run_query at compile time: the manifest has its SQL
    "big_orders": "refused",          # a Python model
}

# The first test to need dbt installs it (a minute or two on a fresh machine).
pytestmark = pytest.mark.timeout(1200)


def _import(*args: str) -> tuple[int, dict]:
    res = invoke_cli("import", "dbt", *args, "--format", "json")
    assert res.stdout, res.stderr
    return res.exit_code, json.loads(res.stdout)


def test_manifest_path_imports_every_construct(shop_compiled: Path, tmp_path: Path) -> None:
    dest = tmp_path / "rocky_shop"
    code, out = _import(str(shop_compiled), str(dest))
    assert code == 1  # the Python model is refused
    assert out["path"] == "manifest" and out["dest"] == str(dest) and out["ok"] is False
    status = {m["name"]: m["status"] for m in out["models"]}
    if status["order_facts"] == "imported":  # rocky gained incremental models (merged main)
        EXPECTED_STATUS["order_facts"] = "imported"
    assert status == EXPECTED_STATUS
    by = {m["name"]: m for m in out["models"]}
    assert "python model" in by["big_orders"]["notes"][0]
    assert by["big_orders"]["file"] == "models/marts/big_orders.py"
    assert any("ephemeral" in n and "inlined" in n for n in by["stg_payments"]["notes"])
    assert any("where" in n for n in by["orders"]["notes"])
    assert out["tests"]["imported"] == 13  # 12 generic tests + 1 unit test
    reasons = {s["test"]: s["reason"] for s in out["tests"]["skipped"]}
    assert len(reasons) == 4
    assert any("singular" in r for r in reasons.values())
    assert sum("a test on a source" in r for r in reasons.values()) == 2

    # What maps where.
    assert (dest / "MIGRATION.md").read_text().startswith("# Migration from dbt")
    assert sorted(p.name for p in (dest / "seeds" / "raw").iterdir()) == [
        "country_codes.csv", "raw_customers.csv", "raw_orders.csv", "raw_payments.csv"]
    raw = (dest / "sources" / "raw.toml").read_text()
    assert 'amount = "DECIMAL(10,2)"' in raw            # seed column_types config
    assert 'id = {type = "INTEGER", description = "Customer key."}' in raw  # yml description
    customers_sql = (dest / "models" / "marts" / "customers.sql").read_text()
    assert "FROM stg_customers" in customers_sql and "FROM orders" in customers_sql
    assert "'eu' AS region" in customers_sql            # env_var default
    orders_sql = (dest / "models" / "marts" / "orders.sql").read_text()
    assert "__dbt__cte__stg_payments" in orders_sql and "FROM raw.raw_payments" in orders_sql
    assert "FROM raw.country_codes" in (dest / "models" / "marts" / "countries.sql").read_text()
    assert not (dest / "models" / "staging" / "stg_payments.sql").exists()
    side = (dest / "models" / "marts" / "customers.toml").read_text()
    assert 'purpose = "One row per customer with lifetime value' in side
    assert 'grain = ["customer_id"]' in side
    assert '[columns.lifetime_value]\nintent = "Sum of order amounts in dollars."' in side
    assert 'expression = "lifetime_value >= 0"' in side
    assert 'name = "returned_orders_do_not_count"' in side
    orders_side = (dest / "models" / "marts" / "orders.toml").read_text()
    for needle in ('type = "relationships"', 'to = "customers"', ('columns = ["order_id", '
                   '"customer_id"]'), 'expression = "amount >= 0"', 'severity = "warn"'):
        assert needle in orders_side
    facts = (dest / "models" / "marts" / "order_facts.toml").read_text()
    assert 'materialized = "incremental"' in facts and 'unique_key = ["order_id"]' in facts

    # The result is a rocky project that compiles, builds and passes its tests.
    ctx = Context.load(dest)
    result = ctx.compile()
    assert result.ok, [d.headline() for d in result.diagnostics]
    ctx.seed()
    run = ctx.run()
    assert run.ok, run.summary()
    report = ctx.test()
    assert all(r.status == "pass" for r in report.results), [
        (r.model, r.name, r.status, r.message) for r in report.results if r.status != "pass"]


def test_text_report_and_migration_md(shop_compiled: Path, tmp_path: Path) -> None:
    res = invoke_cli("import", "dbt", str(shop_compiled), str(tmp_path / "out"))
    assert res.exit_code == 1
    assert "models: 6 imported, 2 partial, 1 refused" in res.stdout or \
        "models: 7 imported, 1 partial, 1 refused" in res.stdout
    assert "refused  big_orders" in res.stdout and "models/marts/big_orders.py:1" in res.stdout
    assert "next:" in res.stdout
    md = (tmp_path / "out" / "MIGRATION.md").read_text()
    assert "| `big_orders` | refused |" in md and "## Tests not imported" in md


def test_default_dest_and_force(shop_compiled: Path) -> None:
    code, out = _import(str(shop_compiled))
    assert out["dest"] == str(shop_compiled / "rocky")
    assert (shop_compiled / "rocky" / "rocky.toml").is_file()
    res = invoke_cli("import", "dbt", str(shop_compiled))
    assert res.exit_code == 2 and "exists and is not empty" in res.stderr
    code, out = _import(str(shop_compiled), "--force")
    assert code == 1 and (shop_compiled / "rocky" / "MIGRATION.md").is_file()


def test_incremental_compiled_as_incremental_run_is_refused(shop_compiled: Path,
                                                            tmp_path: Path) -> None:
    # A manifest compiled while the table exists and without --full-refresh holds the
    # incremental query reading {{ this }}: refused with what to do.
    path = shop_compiled / "target" / "manifest.json"
    data = json.loads(path.read_text())
    node = data["nodes"]["model.shop.order_facts"]
    node["compiled_code"] += f" where order_date > (select max(order_date) from {node['relation_name']})"
    path.write_text(json.dumps(data))
    _, out = _import(str(shop_compiled), str(tmp_path / "o"))
    facts = next(m for m in out["models"] if m["name"] == "order_facts")
    assert facts["status"] == "refused" and "--full-refresh" in facts["notes"][0]


def test_parse_only_manifest_falls_back_to_jinja(shop_compiled: Path, tmp_path: Path) -> None:
    path = shop_compiled / "target" / "manifest.json"
    data = json.loads(path.read_text())
    for node in data["nodes"].values():
        node.pop("compiled_code", None)
        node["compiled"] = False
    path.write_text(json.dumps(data))
    _, out = _import(str(shop_compiled), str(tmp_path / "o"))
    assert out["path"] == "jinja"
    assert any("dbt parse" in n for n in out["notes"])


def test_unsupported_manifest_version_exit_2(shop_compiled: Path, tmp_path: Path) -> None:
    path = shop_compiled / "target" / "manifest.json"
    data = json.loads(path.read_text())
    data["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v11.json"
    data["metadata"]["dbt_version"] = "1.7.4"
    path.write_text(json.dumps(data))
    dest = tmp_path / "o"
    res = invoke_cli("import", "dbt", str(shop_compiled), str(dest))
    assert res.exit_code == 2
    assert "target/manifest.json: error" in res.stderr and "v11 (dbt 1.7.4)" in res.stderr
    assert "Traceback" not in res.output and not dest.exists()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["manifest", "jinja"])
def test_verify_every_imported_model_equal(shop_compiled: Path, tmp_path: Path, dbt_exe: Path,
                                           path: str) -> None:
    extra = ["--jinja"] if path == "jinja" else []
    code, out = _import(str(shop_compiled), str(tmp_path / "v"), "--verify", "--dbt",
                        str(dbt_exe), *extra)
    assert out["path"] == path
    verify = {m["name"]: m["verify"] for m in out["models"]}
    built = [m["name"] for m in out["models"] if m["rocky_file"]]
    assert built and all(verify[n] == "equal" for n in built), [
        (m["name"], m["verify"], m["verify_detail"]) for m in out["models"]]
    assert verify["big_orders"] == "not_run" and verify["stg_payments"] == "not_run"
    assert code == 1  # the refused Python model, not a difference
