"""``rocky lineage`` end to end (real compiler, real CLI) on the shop and the corpus."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.context import Context
from tests.conftest import CliResult
from tests.lineage.conftest import CORPUS
from tests.lineage.corpus import ExtractedProject

Run = Callable[..., CliResult]


def test_text_tree_shows_kinds_and_expressions(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "customers.lifetime_revenue", "--project", str(shop))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "customers.lifetime_revenue  (upstream)"
    assert "aggregate  order_payments.amount  ·  SUM(completed.amount)" in r.stdout
    assert "copy       raw.orders.amount" in r.stdout
    assert "filter     order_payments.status  ·  WHERE order_payments.status = 'completed'" in r.stdout


def test_json_downstream_of_a_source_column(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "raw.orders.amount", "--downstream", "--project", str(shop),
                "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["root"] == "raw.orders.amount" and doc["direction"] == "downstream"
    ids = {n["id"] for n in doc["nodes"]}
    assert {"stg_orders.amount", "order_payments.amount", "order_payments.balance_due",
            "customers.lifetime_revenue", "daily_revenue.revenue"} <= ids
    edge = {"from": "raw.orders.amount", "to": "stg_orders.amount", "kind": "copy"}
    assert any({k: e[k] for k in ("from", "to", "kind")} == edge for e in doc["edges"])


def test_value_only_and_depth(shop: Path, run_cli: Run) -> None:
    full = json.loads(run_cli("lineage", "customers.lifetime_revenue", "--project", str(shop),
                              "--format", "json").stdout)
    value = json.loads(run_cli("lineage", "customers.lifetime_revenue", "--value-only",
                               "--project", str(shop), "--format", "json").stdout)
    one = json.loads(run_cli("lineage", "customers.lifetime_revenue", "--depth", "1",
                             "--project", str(shop), "--format", "json").stdout)
    assert {e["kind"] for e in full["edges"]} >= {"aggregate", "copy", "filter", "join"}
    assert {e["kind"] for e in value["edges"]} <= {"copy", "cast", "transform", "aggregate",
                                                    "window"}
    assert [e["from"] for e in value["edges"]] == [
        "order_payments.amount", "stg_orders.amount", "raw.orders.amount"]
    assert all(e["to"] == "customers.lifetime_revenue" for e in one["edges"])


def test_model_root_lists_every_column(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "stg_orders", "--project", str(shop))
    assert r.exit_code == 0, r.output
    for col in ("order_id", "customer_id", "order_date", "status", "amount"):
        assert f"stg_orders.{col}  (upstream)" in r.stdout
    assert "transform  raw.orders.status  ·  LOWER(orders.status)" in r.stdout


def test_dot_format(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "order_payments.balance_due", "--format", "dot", "--project",
                str(shop))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("digraph lineage {") and r.stdout.rstrip().endswith("}")
    assert '"stg_orders.amount" -> "order_payments.balance_due" [label="transform"' in r.stdout
    assert "style=dashed" in r.stdout  # the join is an influence edge


def test_mermaid_format(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "raw.orders.status", "--downstream", "--format", "mermaid",
                "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("flowchart LR")
    assert '["raw.orders"]' in r.stdout and "-.->|filter|" in r.stdout and "-->|transform|" in r.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["lineage", "custmers.lifetime_revenue"], "did you mean `customers.lifetime_revenue`?"),
    (["lineage", "customers.lifetime_revnue"], "did you mean `customers.lifetime_revenue`?"),
    (["lineage", "raw.order.amount"], "did you mean `raw.orders.amount`?"),
    (["lineage", "zzz"], "unknown model or column `zzz`"),
    (["lineage", "customers", "--depth", "-1"], "-1"),
    (["lineage", "customers", "--format", "svg"], "svg"),
    (["lineage"], "Missing argument"),
])
def test_usage_errors_exit_2(shop: Path, run_cli: Run, args: list[str], needle: str) -> None:
    r = run_cli(*args, "--project", str(shop))
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output


def test_unknown_column_as_json_error(shop: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "customers.nope", "--format", "json", "--project", str(shop))
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert "no column `nope`" in err["message"] and err["hint"].startswith("its columns:")


def test_not_a_project_is_exit_2(tmp_path: Path, run_cli: Run) -> None:
    r = run_cli("lineage", "customers", "--project", str(tmp_path))
    assert r.exit_code == 2 and "rocky.toml" in r.output


def test_warm_query_reads_the_index_without_compiling(shop: Path, run_cli: Run,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("lineage", "customers", "--project", str(shop)).exit_code == 0
    assert (shop / "target" / "lineage.idx").is_file()

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("compiled although the index was fresh")

    monkeypatch.setattr("rocky_engine.compiler.compile_project", boom)
    r = run_cli("lineage", "customers.lifetime_revenue", "--project", str(shop))
    assert r.exit_code == 0, r.output
    monkeypatch.undo()
    # An edit makes the index stale: the new column is found after a recompile.
    model = shop / "models" / "stg_orders.sql"
    model.write_text(model.read_text().replace("amount\n", "amount,\n    amount * 2 AS double_amount\n"))
    r = run_cli("lineage", "stg_orders.double_amount", "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert "transform  raw.orders.amount" in r.stdout


def test_context_api(shop: Path) -> None:
    ctx = Context.load(shop)
    result = ctx.lineage("raw.customers.country", direction="downstream", value_only=True)
    assert set(result.nodes) == {"raw.customers.country", "stg_customers.country_code",
                                 "customers.country_code", "customers.revenue_rank_in_country"}


def test_compiler_hands_lineage_the_same_trees(tmp_path: Path,
                                               corpus: ExtractedProject) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    from rocky_engine.compiler import compile_project

    result = compile_project(Context.load(root).project)
    assert result.ok, [d.headline() for d in result.diagnostics]
    for name, edges in corpus.edges.items():
        compiled = {(e.kind, e.source, e.target) for e in result.models[name].lineage}
        assert compiled == {(e.kind, e.source, e.target) for e in edges}, name


def test_broken_model_is_reported_as_incomplete(shop: Path, run_cli: Run) -> None:
    model = shop / "models" / "daily_revenue.sql"
    model.write_text(model.read_text().replace("SUM(amount) AS revenue", "SUM(amout) AS revenue"))
    r = run_cli("lineage", "raw.orders.amount", "--downstream", "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert "customers.lifetime_revenue" in r.stdout
    assert "daily_revenue did not compile" in r.stderr
    doc = json.loads(run_cli("lineage", "daily_revenue", "--format", "json", "--project",
                             str(shop)).stdout)
    assert doc["incomplete"] == ["daily_revenue"]


def test_unwritable_index_still_answers(shop: Path, run_cli: Run,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError("read-only checkout")

    monkeypatch.setattr("rocky_engine.lineage.store.save_graph", refuse)
    r = run_cli("lineage", "stg_orders.amount", "--project", str(shop))
    assert r.exit_code == 0, r.output
    assert "copy       raw.orders.amount" in r.stdout
    assert "lineage index not written" in r.output
