"""Fast unit tests: change records, fingerprints, the offline drafter, the LLM rounds, the
PR body (escaping, Mermaid), with plain values and the in-memory scripted provider."""

from __future__ import annotations

import json

import pytest

from intent_agent.providers.scripted import ScriptedProvider
from intent_agent.repair.changes import SchemaChange, fingerprint, from_drift
from intent_agent.repair.llm import draft_with_llm
from intent_agent.repair.offline import CastCheck, draft_model
from intent_agent.repair.plan import ColumnShape, ModelContext, TableShape
from intent_agent.repair.pr_body import (
    PatchView,
    code,
    md,
    mermaid_blast_radius,
    render_body,
    render_title,
)

SQL = "-- orders\nSELECT id AS order_id, amount, note FROM raw.orders\n"


def _ctx(*changes: SchemaChange, sql: str = SQL) -> ModelContext:
    shape = TableShape("raw.orders", (ColumnShape("id", "INTEGER"),
                                      ColumnShape("amount", "DECIMAL(10,2)"),
                                      ColumnShape("note", "VARCHAR", description="free text")))
    return ModelContext("stg_orders", "models/stg_orders.sql", sql, "One row per order.",
                        ("order_id",), ("amount is never negative",), {}, changes, (shape,),
                        (shape,), (), (), ())


def _safe(*_: str) -> CastCheck:
    return CastCheck(rows=10, failures=0, lossy=0)


def test_fingerprint_is_stable_and_order_free() -> None:
    a = SchemaChange("column_renamed", "raw.orders", column="amount", new_column="total")
    b = SchemaChange("column_added", "raw.orders", column="coupon", new_type="VARCHAR")
    assert fingerprint([a, b]) == fingerprint([b, a])
    assert fingerprint([a]) != fingerprint([a, b])
    assert len(fingerprint([a])) == 12


def test_from_drift_reads_objects_and_dicts() -> None:
    class Cand:
        name = "amount_net"

    class Change:
        kind, table, column, new_column = "column_renamed", "raw.orders", "amount", None
        ambiguous, candidates = True, (Cand(),)

    got = from_drift(Change())
    assert got.ambiguous and got.candidates == ("amount_net",)
    assert from_drift({"kind": "table_renamed", "table": "raw.a", "new_table": "raw.b"}
                      ).describe() == "raw.a renamed to raw.b"


def test_offline_draft_model_combines_changes() -> None:
    changes = (SchemaChange("column_renamed", "raw.orders", column="amount", new_column="total"),
               SchemaChange("column_type_changed", "raw.orders", column="amount",
                            old_type="DECIMAL(10,2)", new_type="VARCHAR"))
    patch, findings = draft_model(_ctx(*changes), cast_check=_safe, uses=lambda m, c: [])
    assert findings == []
    assert patch is not None
    assert patch.new_sql == ("-- orders\nSELECT id AS order_id, CAST(total AS DECIMAL(10, 2)) "
                             "AS amount, note FROM raw.orders\n")
    assert patch.preserves[0] == "One row per order."


def test_offline_unsafe_cast_and_used_drop_need_review() -> None:
    retype = SchemaChange("column_type_changed", "raw.orders", column="amount",
                          old_type="DECIMAL(10,2)", new_type="VARCHAR")
    patch, findings = draft_model(_ctx(retype), cast_check=lambda *a: CastCheck(10, 2, 0),
                                  uses=lambda m, c: [])
    assert patch is None and "2 of 10 values do not convert" in findings[0].reason
    drop = SchemaChange("column_removed", "raw.orders", column="note")
    patch, findings = draft_model(_ctx(drop), cast_check=_safe,
                                  uses=lambda m, c: ["marts.notes"])
    assert patch is None and "marts.notes" in findings[0].reason
    patch, findings = draft_model(_ctx(drop), cast_check=_safe, uses=lambda m, c: [])
    assert patch is not None and patch.dropped_outputs == ("note",)


def _reply(sql: str, status: str = "patched") -> str:
    return json.dumps({"status": status, "sql": sql, "explanation": "x", "preserves": "p"})


def test_llm_rounds_feed_back_errors_and_stop_at_first_valid() -> None:
    good = "SELECT id AS order_id, total AS amount, note FROM raw.orders"
    provider = ScriptedProvider("m1", [_reply("DELETE FROM raw.orders"),
                                       _reply(good.replace("total", "ttl")), _reply(good)])
    checked: list[str] = []

    def check(sql: str) -> list[str]:
        checked.append(sql)
        return [] if "total" in sql else ['column "ttl" not found']

    change = SchemaChange("column_renamed", "raw.orders", column="amount", new_column="total")
    out = draft_with_llm(provider, _ctx(change), check=check, max_rounds=3,
                         available=["raw.orders"])
    assert out.patch is not None and out.rounds == 3
    assert len(checked) == 2  # the destructive reply was never handed to check()
    assert out.attempts[0].refused
    assert "refused" in provider.requests[1].user and "DELETE" in provider.requests[1].user
    assert 'column "ttl" not found' in provider.requests[2].user
    assert out.patch.new_sql.endswith("\n") and out.patch.drafted_by == "m1"


def test_llm_exhausts_rounds() -> None:
    provider = ScriptedProvider("m1", [_reply("SELECT 1 AS order_id")])
    out = draft_with_llm(provider, _ctx(), check=lambda sql: ["tests failed"], max_rounds=2,
                         available=["raw.orders"])
    assert out.patch is None and out.exhausted and len(provider.requests) == 2


def test_prompt_fences_warehouse_text() -> None:
    provider = ScriptedProvider("m1", [_reply("", status="needs_review")])
    draft_with_llm(provider, _ctx(), check=lambda sql: [], max_rounds=1, available=["raw.orders"])
    user = provider.requests[0].user
    free_text = user.index("free text")
    assert user.rfind("<<<DATA", 0, free_text) > user.rfind("DATA>>>", 0, free_text)


def test_markdown_escaping_and_fences() -> None:
    assert md("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert md("a|b\nc") == "a\\|b c"
    assert code("x`y") == "``x`y``"
    body = render_body(
        repair_id="abc", changes=[SchemaChange("column_renamed", "raw.orders", column="<b>x</b>",
                                               new_column="y")],
        patches=[PatchView("models/a.sql", "--- a\n+++ b\n+```\n", "a", ("did it",),
                           ("keep *grain*",))],
        validation=None, mermaid="", provider="offline", models=[], stats=[])
    assert "<b>" not in body and "&lt;b&gt;" in body
    assert "````diff" in body  # a fence longer than the backticks inside the diff
    assert "\\*grain\\*" in body


def test_mermaid_labels_are_quoted() -> None:
    text = mermaid_blast_radius([('raw.t."x"', "m.y|z", "copy")], ['raw.t."x"'])
    assert '#quot;' in text and "#124;" in text and ":::changed" in text
    assert mermaid_blast_radius([], []) == ""


def test_title() -> None:
    changes = [SchemaChange("column_removed", "raw.b", column="x"),
               SchemaChange("column_removed", "raw.a", column="y")]
    assert render_title(changes, ["m"]) == ("rocky: repair upstream drift in raw.a, raw.b "
                                            "(1 model patched)")


def test_public_api_is_pinned() -> None:
    from intent_agent import repair

    assert sorted(repair.__all__) == [
        "CannotRewrite", "FilePatch", "Finding", "ModelPatch", "Patch", "RepairResult",
        "SchemaChange", "UnsafePatch", "Validation", "fingerprint", "from_drift",
        "repair_project",
    ]
    for name in repair.__all__:
        assert getattr(repair, name) is not None


def test_repair_json_contract_shape() -> None:
    from intent_agent.repair import RepairResult

    data = RepairResult("no_drift").to_json()
    assert list(data)[:6] == ["status", "branch", "commit", "pr_url", "patches", "validation"]
    assert RepairResult("no_drift").exit_code == 0
    assert RepairResult("validated", publish_error="boom").exit_code == 1
    assert RepairResult("needs_review").exit_code == RepairResult("failed").exit_code == 1


@pytest.mark.parametrize("module", [
    "intent_agent.repair.changes", "intent_agent.repair.rewrite", "intent_agent.repair.safety",
    "intent_agent.repair.pr_body", "intent_agent.repair.validate", "intent_agent.gitops",
    "intent_agent.github", "intent_agent.watch",
])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_swapped_columns_need_review() -> None:
    swap = (SchemaChange("column_renamed", "raw.orders", column="amount", new_column="note"),
            SchemaChange("column_renamed", "raw.orders", column="note", new_column="amount"))
    patch, findings = draft_model(_ctx(*swap), cast_check=_safe, uses=lambda m, c: [])
    assert patch is None and "chained renames" in findings[0].reason
