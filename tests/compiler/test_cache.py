"""The compile cache: warm compiles parse nothing, edits recompile only what they must,
and no change of any input (SQL, file name, deletion, sources, contracts) is ever stale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rocky_engine.compiler import CompileResult, compile_project
from rocky_engine.compiler.cache import CACHE_FILE
from rocky_engine.project import SourceColumn, SourceTable, load_project
from tests.compiler.conftest import compile_dir

MODELS = {
    "models/mid.sql": "SELECT order_id, customer_id, amount FROM stg_orders\n",
    "models/mart.sql": "SELECT customer_id, SUM(amount) AS revenue FROM mid GROUP BY customer_id\n",
    "models/wide.sql": "SELECT * FROM mid\n",
}


def _summary(result: CompileResult) -> dict[str, object]:
    return {
        "models": {n: (m.status, m.columns, m.depends_on, m.sources, m.lineage)
                   for n, m in result.models.items()},
        "diagnostics": result.diagnostics,
        "order": result.order,
    }


def _cold(root: Path) -> CompileResult:
    return compile_dir(root, use_cache=False)


def test_warm_compile_parses_nothing_and_is_identical(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    cold = compile_dir(root)
    assert cold.stats.cache_hits == 0 and cold.stats.recompiled == 5
    assert (root / CACHE_FILE).is_file()
    warm = compile_dir(root)
    assert warm.stats.parsed == 0 and warm.stats.recompiled == 0
    assert warm.stats.cache_hits == 5
    assert _summary(warm) == _summary(cold)
    assert all(m.from_cache for m in warm.models.values())


def test_edit_without_schema_change_recompiles_only_that_model(
        make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root)
    (root / "models/mid.sql").write_text(
        "-- a comment\nSELECT order_id, customer_id, amount FROM stg_orders WHERE amount > 0\n")
    warm = compile_dir(root)
    assert warm.stats.parsed == 1 and warm.stats.recompiled == 1
    assert not warm.models["mid"].from_cache
    assert warm.models["mart"].from_cache and warm.models["wide"].from_cache
    assert _summary(warm) == _summary(_cold(root))


def test_edit_with_schema_change_recompiles_dependents(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root)
    (root / "models/mid.sql").write_text(
        "SELECT order_id, customer_id, amount, status FROM stg_orders\n")
    warm = compile_dir(root)
    assert warm.stats.recompiled == 3  # mid, mart, wide
    assert [c.name for c in warm.models["wide"].columns] == [
        "order_id", "customer_id", "amount", "status"]
    assert _summary(warm) == _summary(_cold(root))


def test_edit_that_breaks_a_dependent_is_reported(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    assert compile_dir(root).ok
    (root / "models/mid.sql").write_text("SELECT order_id, customer_id FROM stg_orders\n")
    warm = compile_dir(root)
    assert not warm.ok
    assert [d.code for d in warm.diagnostics_for("mart")] == ["R104"]
    assert _summary(warm) == _summary(_cold(root))


def test_renamed_model_is_not_stale(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root)
    (root / "models/mid.sql").rename(root / "models/middle.sql")
    warm = compile_dir(root)
    assert "mid" not in warm.models and warm.models["middle"].status == "ok"
    assert [d.code for d in warm.diagnostics_for("mart")] == ["R102"]
    assert _summary(warm) == _summary(_cold(root))


def test_moved_model_reports_its_new_path(make_project: Callable[..., Path]) -> None:
    root = make_project({"models/bad.sql": "SELECT amout FROM stg_orders\n"})
    compile_dir(root)
    (root / "models/sub").mkdir()
    (root / "models/bad.sql").rename(root / "models/sub/bad.sql")
    warm = compile_dir(root)
    assert [d.file for d in warm.diagnostics] == ["models/sub/bad.sql"]


def test_deleted_model_is_not_stale(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root)
    (root / "models/mid.sql").unlink()
    warm = compile_dir(root)
    assert "mid" not in warm.models
    assert {d.code for d in warm.diagnostics} == {"R102"}
    assert _summary(warm) == _summary(_cold(root))


def test_changed_source_is_not_stale(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root)
    raw = root / "sources/raw.toml"
    raw.write_text(raw.read_text().replace('amount = "DECIMAL(10,2)"', 'amount = "VARCHAR"', 1))
    warm = compile_dir(root)
    assert warm.models["mid"].column("amount").type == "VARCHAR"  # type: ignore[union-attr]
    assert [d.code for d in warm.diagnostics_for("mart")] == ["R112"]
    assert _summary(warm) == _summary(_cold(root))


def test_sources_override_does_not_leak_into_the_cache(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    project = load_project(root)
    declared = compile_project(project)
    live = dict(project.sources)
    orders = live["raw.orders"]
    live["raw.orders"] = SourceTable(
        orders.schema, orders.name,
        tuple(c for c in orders.columns if c.name != "amount")
        + (SourceColumn("amount_usd", "DECIMAL(12,2)"),), orders.file)
    drifted = compile_project(project, sources=live)
    assert not drifted.ok
    assert [d.code for d in drifted.diagnostics_for("stg_orders")] == ["R104"]
    again = compile_project(project)
    assert _summary(again) == _summary(declared) and again.ok


def test_contract_change_is_not_stale(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    assert compile_dir(root).ok
    (root / "models/mart.toml").write_text('[columns.revenue]\ntype = "INTEGER"\n')
    warm = compile_dir(root)
    assert [d.code for d in warm.diagnostics] == ["R121"]
    (root / "models/mart.toml").write_text('# moved down\n\n[columns.nope]\ntype = "INTEGER"\n')
    warm = compile_dir(root)
    assert [(d.code, d.line) for d in warm.diagnostics] == [("R120", 3)]


def test_corrupt_cache_is_ignored(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    cold = compile_dir(root)
    (root / CACHE_FILE).write_bytes(b"not a pickle")
    warm = compile_dir(root)
    assert warm.stats.cache_hits == 0 and _summary(warm) == _summary(cold)
    assert compile_dir(root).stats.cache_hits == 5  # rewritten


def test_strict_is_applied_after_the_cache(make_project: Callable[..., Path]) -> None:
    root = make_project({"models/udf.sql": "SELECT my_udf(amount) AS x FROM stg_orders\n"})
    loose = compile_dir(root)
    assert loose.ok and [d.severity.value for d in loose.diagnostics] == ["warning"]
    strict = compile_dir(root, strict=True)
    assert not strict.ok and [d.severity.value for d in strict.diagnostics] == ["error"]
    assert strict.models["udf"].status == "error"
    assert compile_dir(root).ok


def test_no_cache_leaves_no_file(make_project: Callable[..., Path]) -> None:
    root = make_project(MODELS)
    compile_dir(root, use_cache=False)
    assert not (root / CACHE_FILE).exists()
