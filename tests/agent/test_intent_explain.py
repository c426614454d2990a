"""`rocky explain`: offline structure and intent checks, and the LLM path via the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer
from intent_helpers import SECRET, canned, use_openai

from intent_agent.explain import explain_model
from intent_agent.providers import OfflineProvider, ScriptedProvider
from rocky_engine.errors import UsageError
from rocky_engine.project import load_project


def test_offline_explain_customers(shop: Path) -> None:
    e = explain_model(load_project(shop), "customers", OfflineProvider())
    assert e.provider == "offline" and e.typed
    assert e.grain == ["customer_id"] and e.grain_status == "inherited"
    assert "stg_customers" in e.grain_reason
    assert e.reads == ["stg_customers", "order_payments"]
    cols = {c.name: c for c in e.columns}
    assert cols["customer_id"].origins == ["raw.customers.id"]
    assert cols["customer_id"].type == "INTEGER" and cols["customer_id"].kind == "copy"
    assert cols["lifetime_revenue"].kind == "aggregate"  # COALESCE over a SUM in a CTE
    assert "raw.orders.amount" in cols["lifetime_revenue"].origins
    assert cols["revenue_rank_in_country"].kind == "window"
    assert e.filters == ["WHERE status = 'completed' (in completed)"]
    assert e.joins == ["left join per_customer on c.customer_id = p.customer_id"]
    assert "SUM(amount)" in e.aggregations
    statuses = {r.rule: r.status for r in e.rules}
    assert statuses["only orders with status 'completed' count toward revenue"] == "consistent"
    assert statuses["lifetime_revenue is never negative"] == "testable"
    assert e.mismatches == []
    assert e.prompt is None  # no LLM, no prompt


@pytest.mark.parametrize("model,status", [
    ("daily_revenue", "guaranteed"),      # GROUP BY order_date
    ("order_payments", "inherited"),      # stg_orders' grain, join on paid's GROUP BY key
    ("stg_orders", "unverified"),         # a source declares no grain; a unique test covers it
])
def test_grain_status_of_each_example_model(shop: Path, model: str, status: str) -> None:
    e = explain_model(load_project(shop), model, OfflineProvider())
    assert e.grain_status == status
    assert not [m for m in e.mismatches if m.kind == "grain"]


def _write(root: Path, name: str, sql: str, sidecar: str) -> None:
    (root / "models" / f"{name}.sql").write_text(sql, encoding="utf-8")
    (root / "models" / f"{name}.toml").write_text(sidecar, encoding="utf-8")


def test_grain_that_a_join_breaks_is_a_mismatch(shop: Path) -> None:
    _write(shop, "customer_orders",
           "SELECT c.customer_id, o.order_id FROM stg_customers AS c "
           "JOIN stg_orders AS o ON o.customer_id = c.customer_id\n",
           '[intent]\npurpose = "One row per customer."\ngrain = ["customer_id"]\n')
    e = explain_model(load_project(shop), "customer_orders", OfflineProvider())
    assert e.grain_status == "not_guaranteed"
    (grain,) = [m for m in e.mismatches if m.kind == "grain"]
    assert "stg_orders" in grain.message and "not on a unique key" in grain.message


def test_group_by_finer_than_grain_is_a_mismatch(shop: Path) -> None:
    _write(shop, "by_day", "SELECT order_date, status, COUNT(*) AS n FROM stg_orders "
                           "GROUP BY order_date, status\n",
           '[intent]\npurpose = "Orders per day."\ngrain = ["order_date"]\n')
    e = explain_model(load_project(shop), "by_day", OfflineProvider())
    assert e.grain_status == "not_guaranteed" and "finer" in e.grain_reason


def test_grain_column_missing_from_output(shop: Path) -> None:
    _write(shop, "m", "SELECT order_id FROM stg_orders\n",
           '[intent]\npurpose = "x"\ngrain = ["order_key"]\n\n[columns.ghost]\nintent = "gone"\n')
    e = explain_model(load_project(shop), "m", OfflineProvider())
    kinds = {m.kind for m in e.mismatches}
    assert e.grain_status == "invalid" and {"grain", "contract_column_missing"} <= kinds


def test_rule_contradicted_by_a_filter(shop: Path) -> None:
    _write(shop, "returns", "SELECT order_id, amount FROM stg_orders WHERE status = 'returned'\n",
           '[intent]\npurpose = "Completed orders."\ngrain = ["order_id"]\n'
           'rules = ["only orders with status \'completed\' count"]\n')
    e = explain_model(load_project(shop), "returns", OfflineProvider())
    (rule,) = [m for m in e.mismatches if m.kind == "rule"]
    assert "filters status to 'returned', not 'completed'" in rule.message


def test_rule_not_enforced_and_untested_grain(shop: Path) -> None:
    _write(shop, "all_orders", "SELECT order_id, amount FROM stg_orders\n",
           '[intent]\npurpose = "Completed orders."\ngrain = ["order_id"]\n'
           'rules = ["only orders with status \'completed\' count"]\n')
    e = explain_model(load_project(shop), "all_orders", OfflineProvider())
    kinds = {m.kind: m for m in e.mismatches}
    assert "no filter on status" in kinds["rule"].message
    # stg_orders declares the grain, so it is inherited, not untested.
    assert e.grain_status == "inherited" and "grain_untested" not in kinds


def test_column_intent_that_disagrees_with_lineage(shop: Path) -> None:
    sidecar = shop / "models" / "stg_customers.toml"
    sidecar.write_text(sidecar.read_text().replace('intent = "customer key, from raw.customers.id"',
                                                   'intent = "customer key, from raw.orders.id"'))
    e = explain_model(load_project(shop), "stg_customers", OfflineProvider())
    (m,) = [m for m in e.mismatches if m.kind == "column_origin"]
    assert "raw.orders.id" in m.message and "raw.customers.id" in m.message


def test_model_without_intent(shop: Path) -> None:
    (shop / "models" / "bare.sql").write_text("SELECT 1 AS x\n")
    e = explain_model(load_project(shop), "bare", OfflineProvider())
    assert e.grain_status == "undeclared" and [m.kind for m in e.mismatches] == ["no_intent"]


def test_unknown_model_suggests_a_name(shop: Path) -> None:
    with pytest.raises(UsageError, match="no model named `customer`") as info:
        explain_model(load_project(shop), "customer", OfflineProvider())
    assert "customers" in (info.value.hint or "")


def test_llm_explain_adds_prose_and_keeps_the_facts(shop: Path) -> None:
    llm = ScriptedProvider("m", [canned("explain_customers").content])
    e = explain_model(load_project(shop), "customers", llm)
    assert e.summary.startswith("customers has one row per customer")
    assert e.business_rules[0] == "Only completed orders count toward revenue."
    assert e.grain_status == "inherited"  # the structure is still rocky's, not the model's
    assert e.prompt["chars"] > 1000 and 200 < e.prompt["estimated_tokens"] < e.prompt["chars"]
    request = llm.requests[0]
    assert request.task == "explain" and "<<<DATA sql models/customers.sql" in request.user


def test_smuggled_sql_is_removed_from_an_explanation(shop: Path) -> None:
    llm = ScriptedProvider("m", [canned("explain_smuggled_sql").content])
    e = explain_model(load_project(shop), "customers", llm)
    text = json.dumps(e.model_dump())
    for bad in ("DROP TABLE", "ATTACH", "DELETE FROM", "INSTALL httpfs", "LOAD httpfs"):
        assert bad not in text, bad
    assert "[removed: SQL statement]" in e.summary
    assert any(m.kind == "unsafe_reply" for m in e.mismatches)
    assert any("removed" in n for n in e.notes)


def test_cli_explain_text_and_json(shop: Path, run_cli) -> None:
    r = run_cli("explain", "customers", "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert "grain: (customer_id)  inherited" in r.stdout
    assert "customer_id              INTEGER        copy      <- raw.customers.id" in r.stdout
    r = run_cli("explain", "customers", "--project", str(shop), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {"model", "summary", "grain", "grain_status", "columns", "filters", "joins",
            "aggregations", "rules", "mismatches"} <= set(doc)
    r = run_cli("explain", "nope", "--project", str(shop))
    assert r.exit_code == 2 and "no model named `nope`" in r.stderr


def test_cli_explain_with_openai_provider_reports_prompt_size(
        shop: Path, run_cli, fake_llm: FakeOpenAIServer, llm_env: str) -> None:
    use_openai(shop, fake_llm)
    fake_llm.script("fake-1", canned("explain_customers"))
    r = run_cli("explain", "customers", "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert "customers has one row per customer" in r.stdout
    assert "prompt:" in r.stderr and "tokens" in r.stderr
    assert SECRET not in r.output
    sent = fake_llm.requests[0]
    assert SECRET not in json.dumps(sent.body)  # the key is a header, never prompt text
    r = run_cli("explain", "customers", "--project", str(shop), "--offline")
    assert r.exit_code == 0 and len(fake_llm.requests) == 1


def test_cli_explain_missing_key_is_a_config_error(shop: Path, run_cli,
                                                   fake_llm: FakeOpenAIServer) -> None:
    use_openai(shop, fake_llm)
    r = run_cli("explain", "customers", "--project", str(shop))
    assert r.exit_code == 2 and "ROCKY_TEST_LLM_KEY is not set" in r.stderr


def test_cli_explain_neutralises_sql_smuggled_by_the_server(
        shop: Path, run_cli, fake_llm: FakeOpenAIServer, llm_env: str) -> None:
    use_openai(shop, fake_llm)
    fake_llm.script("fake-1", canned("explain_smuggled_sql"))
    r = run_cli("explain", "customers", "--project", str(shop), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert "DROP TABLE" not in r.stdout and "ATTACH" not in r.stdout
    assert "[removed: SQL statement]" in doc["summary"]
    assert doc["prompt"]["prompt_tokens"] == 11 and doc["prompt"]["attempts"] == 1


def test_select_star_inherits_the_upstream_grain(shop: Path) -> None:
    _write(shop, "orders_copy", "SELECT * FROM stg_orders\n",
           '[intent]\npurpose = "A copy."\ngrain = ["order_id"]\n')
    e = explain_model(load_project(shop), "orders_copy", OfflineProvider())
    assert e.grain_status == "inherited"
    assert [c.name for c in e.columns][:2] == ["order_id", "customer_id"]  # star expanded
    assert {c.kind for c in e.columns} == {"copy"}


def test_a_model_that_does_not_compile_is_still_explained(shop: Path) -> None:
    sql = shop / "models" / "stg_customers.sql"
    sql.write_text(sql.read_text().replace("TRIM(full_name)", "TRIM(full_nam)"))
    e = explain_model(load_project(shop), "stg_customers", OfflineProvider())
    assert not e.typed
    cols = {c.name: c for c in e.columns}
    assert cols["customer_id"].sources == ["raw.customers.id"]  # read off the SQL
    assert cols["customer_name"].type is None
