"""`rocky repair` on drift in values: a diagnosis offline, a validated patch with an LLM.

The shop's orders start arriving with a status it never had ('refunded'): the schema is
the same, `rocky drift` reports `column_values_changed` (new_values) on raw.orders.status.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply
from repair_helpers import alter_warehouse, git

from intent_agent.repair import repair_project
from rocky_engine.context import Context

pytestmark = pytest.mark.slow

REFUNDS = ("INSERT INTO raw.orders SELECT id + 1000, customer_id, order_date, 'refunded', "
           "amount FROM raw.orders WHERE id <= 40")
UNCHANGED = """-- Orders with a normalised status.
SELECT
    id AS order_id,
    customer_id,
    order_date,
    LOWER(status) AS status,
    amount
FROM raw.orders
"""
MAPPED = UNCHANGED.replace(
    "LOWER(status) AS status",
    "CASE WHEN LOWER(status) = 'refunded' THEN 'returned' ELSE LOWER(status) END AS status")


def _drifted(root: Path) -> None:
    before = Context.load(root).drift()  # records the last known values
    assert not before.drifted, before.to_json()
    alter_warehouse(root, REFUNDS)
    git(root, "status")  # the checkout is clean before the repair


def _reply(sql: str) -> FakeReply:
    body = {"status": "patched", "sql": sql, "explanation": "map the new status",
            "preserves": "One row per order with a normalised, lower-case status."}
    return FakeReply(content=json.dumps(body), prompt_tokens=800, completion_tokens=100)


def test_offline_is_a_diagnosis_with_the_evidence(shop_repo: Path) -> None:
    _drifted(shop_repo)
    result = repair_project(shop_repo)
    assert result.status == "needs_review" and result.exit_code == 1
    [change] = result.changes
    assert (change.kind, change.column, change.change) == (
        "column_values_changed", "status", "new_values")
    assert result.patches == () and result.commit is None
    [finding] = [f for f in result.findings if "values of raw.orders.status" in f.reason]
    assert "'refunded'" in finding.reason and "does not guess" in finding.reason
    body = Path(result.pr_body_path or "").read_text()
    assert "needs review" in body and "refunded" in body
    assert "test: accepted\\_values(status)" in body or "accepted" in body
    assert "new\\_values" in body or "new_values" in body
    assert git(shop_repo, "branch", "--list", "rocky/*") == ""  # nothing committed
    assert result.to_json()["changes"][0]["evidence"]


def test_llm_patch_must_pass_the_tests_on_the_drifted_values(shop_repo: Path) -> None:
    _drifted(shop_repo)
    config = shop_repo / "rocky.toml"
    with FakeOpenAIServer() as server:
        config.write_text(config.read_text().replace(
            'provider = "offline"   # offline | openai | fusion\nmax_rounds = 3',
            f'provider = "openai"\nmodel = "m1"\nbase_url = "{server.base_url}"\n'
            'max_rounds = 3\nmax_retries = 0\ntimeout = 10'))
        # Round 1 changes nothing: accepted_values fails on the drifted rows. Round 2 maps it.
        server.script("m1", _reply(UNCHANGED.replace("amount\n", "amount AS amount\n")),
                      _reply(MAPPED))
        result = repair_project(shop_repo, env={"OPENAI_API_KEY": "sk-test-not-a-secret"})
        prompts = [r.last_user for r in server.requests_for("m1")]
    assert result.status == "validated", [f.render() for f in result.findings]
    assert len(prompts) == 2
    # The evidence reached the model fenced as data, and round 2 saw the failing test.
    assert "refunded" in prompts[0] and "<<<DATA" in prompts[0]
    assert "accepted_values" in prompts[1]
    validation = result.to_json()["validation"]
    assert validation["tests"]["ok"] is True
    # Never called a pure change: the data diff is not required to be empty.
    assert "pure" not in validation["data_diff"]["summary"]
    sql = git(shop_repo, "show", f"{result.commit}:models/stg_orders.sql")
    assert "refunded" in sql
