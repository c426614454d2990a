"""Repair validated in a local DuckDB sandbox holding a sample of a "remote" warehouse.

The sandbox is built only through the adapter interface, so these tests use a second
DuckDB file as the remote; tests/warehouses/ runs the same path against a real
PostgreSQL server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repair_helpers import alter_warehouse, prod_snapshot

from intent_agent.repair import repair_project
from intent_agent.repair import target as repair_target
from intent_agent.repair.changes import SchemaChange
from intent_agent.repair.sandbox import build_sandbox, sandbox_project
from intent_agent.repair.validate import validate_project
from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.compiler import compile_project
from rocky_engine.project import load_project

pytestmark = pytest.mark.slow  # each builds the shop, a sandbox and validates (3-12 s)

RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"
RETYPE = "ALTER TABLE raw.payments ALTER amount TYPE VARCHAR"
CHANGES = (SchemaChange("column_renamed", "raw.orders", column="amount",
                        new_column="total_amount"),
           SchemaChange("column_type_changed", "raw.payments", column="amount",
                        old_type="DECIMAL(10,2)", new_type="VARCHAR"))
REBUILD = ("stg_orders", "stg_payments", "order_payments", "customers", "daily_revenue")


@pytest.fixture
def as_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat the DuckDB warehouse as remote: validation goes to a sampled sandbox."""
    monkeypatch.setattr(repair_target, "samples_remote", lambda project: True)


def _sandbox(shop: Path, tmp_path: Path, rows: int):
    old = load_project(shop)
    with DuckDBAdapter(shop / "warehouse.duckdb", read_only=True) as remote:
        return build_sandbox(remote, old, compile_project(old, use_cache=False), CHANGES,
                             REBUILD, tmp_path / "box" / "sandbox.duckdb", sample_rows=rows)


def test_sandbox_holds_live_sample_and_pre_drift_baseline(shop_repo: Path,
                                                          tmp_path: Path) -> None:
    alter_warehouse(shop_repo, RENAME, RETYPE)
    sb = _sandbox(shop_repo, tmp_path, 25)
    tables = {t.table: t for t in sb.tables}
    # Every source table upstream of the affected models, cut at 25 rows.
    assert set(tables) == {"raw.orders", "raw.payments", "raw.customers"}
    assert all(t.rows == 25 and t.truncated for t in tables.values()) and sb.sampled
    assert set(sb.baseline) == set(REBUILD) | {"stg_customers"} and not sb.baseline_errors
    with DuckDBAdapter(sb.path, read_only=True) as box:
        orders = {c.name: c.type for c in box.table("raw", "orders").columns}
        assert "total_amount" in orders and "amount" not in orders  # the live shape
        assert {c.name: c.type for c in box.table("raw", "payments").columns}["amount"] \
            == "VARCHAR"
        with DuckDBAdapter(shop_repo / "warehouse.duckdb", read_only=True) as remote:
            live = remote.table("raw", "orders").columns
        assert [(c.name, c.type, c.nullable) for c in box.table("raw", "orders").columns] \
            == [(c.name, c.type, c.nullable) for c in live]
        assert not [s for s in box.schemas() if s.startswith("_rocky_live")]
        # The baseline: tables, built from the same rows in their declared shape.
        kinds = box.relations("main")
        assert {n: kinds[n] for n in sb.baseline} == dict.fromkeys(sb.baseline, "table")
        total = box.fetchall("SELECT sum(amount) FROM main.stg_orders")[0][0]
        live_total = box.fetchall("SELECT sum(total_amount) FROM raw.orders")[0][0]
        assert total == live_total and total is not None
        paid = box.fetchall("SELECT typeof(paid_amount) FROM main.stg_payments LIMIT 1")[0][0]
        assert paid.startswith("DECIMAL")


def test_sandbox_diff_catches_a_patch_that_changes_data(shop_repo: Path, tmp_path: Path) -> None:
    alter_warehouse(shop_repo, RENAME, RETYPE)
    sb = _sandbox(shop_repo, tmp_path, 1000)
    assert not sb.sampled
    patched = tmp_path / "patched"
    import shutil

    shutil.copytree(shop_repo, patched, ignore=shutil.ignore_patterns(".git", "warehouse*"))
    for name, old, new in (("stg_orders", "amount", "CAST(total_amount + 1 AS DECIMAL(10,2)) AS amount"),
                           ("stg_payments", "amount AS paid_amount",
                            "CAST(amount AS DECIMAL(10,2)) AS paid_amount")):
        path = patched / "models" / f"{name}.sql"
        path.write_text(path.read_text().replace(f"    {old}", f"    {new}", 1)
                        if f"    {old}" in path.read_text() else path.read_text())
    src = patched / "sources" / "raw.toml"
    src.write_text(src.read_text().replace('amount = "DECIMAL(10,2)"\n\n[tables.payments]',
                                           'total_amount = "DECIMAL(10,2)"\n\n[tables.payments]')
                   .replace('amount = "DECIMAL(10,2)"\npaid_at', 'amount = "VARCHAR"\npaid_at'))
    project = load_project(patched)
    assert "total_amount + 1 AS" in project.models["stg_orders"].sql
    v = validate_project(sandbox_project(project, sb.path), sb.path, "repair_t", REBUILD,
                         pure=True)
    assert v.step("compile").ok, v.errors
    assert v.step("build").ok and not v.ok
    assert any("outputs differ" in e for e in v.errors), v.errors


def test_repair_validates_in_the_sandbox_not_the_warehouse(shop_repo: Path, run_cli,
                                                           as_remote: None) -> None:
    alter_warehouse(shop_repo, RENAME, RETYPE)
    prod = prod_snapshot(shop_repo)
    with DuckDBAdapter(shop_repo / "warehouse.duckdb", read_only=True) as a:
        schemas = set(a.schemas())
    result = repair_project(shop_repo, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    v = result.validation.to_json()
    assert v["where"] == "sandbox" and v["ok"]
    assert {t["table"] for t in v["sandbox"]["tables"]} == {"raw.orders", "raw.payments",
                                                            "raw.customers"}
    diff = {m["model"]: m for m in v["data_diff"]["models"]}
    # Views are compared too (the baseline is tables), and a rename + cast back is equal.
    assert {diff[n]["status"] for n in REBUILD} == {"unchanged"}
    assert Path(v["sandbox"]["path"]).is_file()
    # Nothing was created in the warehouse: no branch schema, prod untouched.
    with DuckDBAdapter(shop_repo / "warehouse.duckdb", read_only=True) as a:
        assert set(a.schemas()) == schemas
    assert prod_snapshot(shop_repo) == prod


def test_sampled_sandbox_still_validates(shop_repo: Path, as_remote: None) -> None:
    toml = shop_repo / "rocky.toml"
    toml.write_text(toml.read_text().replace("[agent]", "[agent]\nsample_rows = 20"))
    alter_warehouse(shop_repo, RENAME, RETYPE)
    result = repair_project(shop_repo, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    v = result.validation.to_json()
    assert all(t["rows"] == 20 and t["truncated"] for t in v["sandbox"]["tables"])
    assert v["sandbox"]["sample_rows"] == 20
    body = Path(result.pr_body_path).read_text()
    assert "local DuckDB sandbox" in body and "at most 20 rows each" in body
    assert "sampled: raw.customers, raw.orders, raw.payments" in body


def test_unsafe_retype_is_caught_on_the_sample(shop_repo: Path, as_remote: None) -> None:
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders ALTER amount TYPE VARCHAR",
                    "UPDATE raw.orders SET amount = 'n/a' WHERE id = 1")
    prod = prod_snapshot(shop_repo)
    result = repair_project(shop_repo, env={})
    assert result.status == "needs_review"
    assert any("not safe" in f.render() for f in result.findings)
    assert prod_snapshot(shop_repo) == prod


def test_bad_agent_config_is_a_usage_error(shop_repo: Path, run_cli) -> None:
    toml = shop_repo / "rocky.toml"
    base = toml.read_text()
    for bad, needle in (('validate_on = "prod"', "validate_on"), ("sample_rows = 0", "sample_rows")):
        toml.write_text(base.replace("[agent]", f"[agent]\n{bad}"))
        r = run_cli("repair", "--project", str(shop_repo), "--format", "json")
        assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output
    toml.write_text(base)
    r = run_cli("repair", "--project", str(shop_repo), "--format", "json")
    assert json.loads(r.stdout)["status"] == "no_drift"


def test_llm_candidates_are_validated_in_the_sandbox(shop_repo: Path, as_remote: None) -> None:
    from fakes.openai_server import FakeOpenAIServer
    from test_repair_llm import GOOD, _reply, _use_llm

    alter_warehouse(shop_repo, RENAME)
    wrong = GOOD.replace("total_amount AS amount",
                         "CAST(total_amount * 2 AS DECIMAL(10,2)) AS amount")
    with FakeOpenAIServer() as server:
        env = _use_llm(shop_repo, server)
        server.script("m1", _reply(wrong), _reply(GOOD))
        result = repair_project(shop_repo, env=env)
        prompts = [r.last_user for r in server.requests_for("m1")]
    assert result.status == "validated", [f.render() for f in result.findings]
    # The first candidate built but changed data: the sandbox's diff sent it back.
    assert len(prompts) == 2 and "outputs differ" in prompts[1]
    assert result.validation.where == "sandbox"


def test_tables_a_patch_newly_reads_are_copied_on_demand(shop_repo: Path,
                                                        tmp_path: Path) -> None:
    from intent_agent.repair.sandbox import add_live_tables

    alter_warehouse(shop_repo, RENAME)
    old = load_project(shop_repo)
    with DuckDBAdapter(shop_repo / "warehouse.duckdb", read_only=True) as remote:
        sb = build_sandbox(remote, old, compile_project(old, use_cache=False), CHANGES[:1],
                           ["stg_orders"], tmp_path / "sandbox.duckdb", sample_rows=30)
        assert [t.table for t in sb.tables] == ["raw.orders"]
        more = add_live_tables(remote, sb, ["raw.payments", "raw.orders", "raw.nope"],
                               "duckdb")
        assert add_live_tables(remote, more, ["raw.payments"], "duckdb") is more
    assert [(t.table, t.rows) for t in more.tables] == [("raw.orders", 30),
                                                        ("raw.payments", 30)]
    with DuckDBAdapter(sb.path, read_only=True) as box:
        assert box.row_count("raw", "payments") == 30
        assert not [s for s in box.schemas() if s.startswith("_rocky_live")]
