"""``rocky compile``: the example shop compiles clean; JSON contract; text output; exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rocky_engine.context import Context

UDF = {"models/udf.sql": "SELECT order_id, my_udf(amount) AS scored FROM stg_orders\n"}
BROKEN = {"models/bad.sql": "SELECT order_id,\n       amout\nFROM stg_orders\n"}


def test_shop_compiles_clean_with_every_type_known(shop: Path) -> None:
    result = Context.load(shop).compile()
    assert result.ok and result.diagnostics == []
    assert result.order.index("stg_orders") < result.order.index("order_payments") \
        < result.order.index("customers")
    for model in result.models.values():
        assert model.status == "ok" and model.columns
        assert model.unknown_columns == (), model.name
    customers = result.models["customers"]
    assert [(c.name, c.type) for c in customers.columns][:2] == [
        ("customer_id", "INTEGER"), ("customer_name", "VARCHAR")]
    assert customers.depends_on == ("order_payments", "stg_customers") or \
        set(customers.depends_on) == {"order_payments", "stg_customers"}
    assert result.models["stg_orders"].sources == ("raw.orders",)
    assert result.dag.upstream("customers") >= {"stg_orders", "order_payments"}
    assert "daily_revenue" in result.dag.downstream("stg_orders")


def test_json_output_follows_the_contract(shop: Path, run_cli: Callable[..., object]) -> None:
    out = run_cli("compile", "--project", str(shop), "--format", "json")
    assert out.exit_code == 0, out.output  # type: ignore[attr-defined]
    doc = json.loads(out.stdout)  # type: ignore[attr-defined]
    assert {"ok", "models", "diagnostics"} <= set(doc) and doc["ok"] is True
    model = doc["models"][0]
    assert {"name", "path", "columns"} <= set(model)
    assert {"name", "type"} <= set(model["columns"][0])
    assert doc["diagnostics"] == []


def test_errors_exit_1_with_json_diagnostics(make_project: Callable[..., Path],
                                             run_cli: Callable[..., object]) -> None:
    root = make_project(BROKEN)
    out = run_cli("compile", "--format", "json", "--project", str(root))
    assert out.exit_code == 1  # type: ignore[attr-defined]
    doc = json.loads(out.stdout)  # type: ignore[attr-defined]
    assert doc["ok"] is False
    (d,) = doc["diagnostics"]
    assert {k: d[k] for k in ("code", "severity", "file", "line", "col")} == {
        "code": "R104", "severity": "error", "file": "models/bad.sql", "line": 2, "col": 8}
    assert "amout" in d["message"] and d["hint"] == 'did you mean "amount"?'
    bad = next(m for m in doc["models"] if m["name"] == "bad")
    assert bad["status"] == "error"


def test_text_output_groups_by_file_with_snippet_and_summary(
        make_project: Callable[..., Path], run_cli: Callable[..., object]) -> None:
    root = make_project(BROKEN)
    out = run_cli("compile", "--project", str(root))
    text = out.stdout  # type: ignore[attr-defined]
    assert out.exit_code == 1  # type: ignore[attr-defined]
    assert "── models/bad.sql" in text
    assert "models/bad.sql:2:8: error[R104]" in text
    assert "    2 |        amout\n" in text and "^^^^^" in text
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("3 models, ") and "1 error" in summary and "cached" in summary


def test_unknown_types_are_counted_and_strict_fails(make_project: Callable[..., Path],
                                                   run_cli: Callable[..., object]) -> None:
    root = make_project(UDF)
    loose = run_cli("compile", "--project", str(root))
    assert loose.exit_code == 0  # type: ignore[attr-defined]
    assert "(1 unknown types)" in loose.stdout  # type: ignore[attr-defined]
    assert "unknown types: udf.scored" in loose.stdout  # type: ignore[attr-defined]
    strict = run_cli("compile", "--strict", "--project", str(root), "--format", "json")
    assert strict.exit_code == 1  # type: ignore[attr-defined]
    doc = json.loads(strict.stdout)  # type: ignore[attr-defined]
    assert [(d["code"], d["severity"]) for d in doc["diagnostics"]] == [("W130", "error")]
    assert doc["stats"]["unknown_types"] == 1


def test_project_option_before_the_subcommand_and_no_cache(
        make_project: Callable[..., Path], run_cli: Callable[..., object]) -> None:
    root = make_project()
    out = run_cli("--project", str(root), "compile", "--no-cache")
    assert out.exit_code == 0  # type: ignore[attr-defined]
    assert not (root / "target" / "rocky_compile.cache").exists()


def test_loader_error_exits_2(tmp_path: Path, run_cli: Callable[..., object]) -> None:
    (tmp_path / "rocky.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("SELECT 1; SELECT 2\n")
    out = run_cli("compile", "--project", str(tmp_path))
    assert out.exit_code == 2  # type: ignore[attr-defined]
    assert "holds 2 statements" in out.stderr  # type: ignore[attr-defined]


def test_help_has_an_example(run_cli: Callable[..., object]) -> None:
    out = run_cli("compile", "--help")
    assert "Example:" in out.stdout and "rocky compile" in out.stdout  # type: ignore[attr-defined]
