"""Per-model driver: crash isolation, outputs, stale intent."""

from __future__ import annotations

from pathlib import Path

from tests.compiler.conftest import compile_dir


def test_internal_error_in_one_model_is_R199_and_others_compile(
        make_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rocky_engine.compiler import model as model_mod

    real = model_mod.check_types

    def boom(tree, site):  # type: ignore[no-untyped-def]
        if site.model == "bad":
            raise RuntimeError("kaboom")
        return real(tree, site)

    monkeypatch.setattr(model_mod, "check_types", boom)
    root: Path = make_project({"models/bad.sql": "SELECT order_id FROM stg_orders\n"})
    result = compile_dir(root, use_cache=False)
    assert [(d.code, d.model) for d in result.diagnostics] == [("R199", "bad")]
    assert "kaboom" in result.diagnostics[0].message
    assert result.models["stg_orders"].status == "ok"
    assert result.models["bad"].status == "error"


def test_bare_values_is_R109_with_a_rewrite_hint(make_project) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_project({"models/bad.sql": "VALUES (1, 'card'), (2, 'cash')\n"})
    result = compile_dir(root, use_cache=False)
    (d,) = result.diagnostics
    assert d.code == "R109" and "VALUES" in d.message and "AS t(a, b)" in (d.hint or "")


def test_query_nested_too_deeply_is_R124_not_a_crash(make_project) -> None:  # type: ignore[no-untyped-def]
    depth = 3000
    sql = "SELECT " + "(" * depth + "order_id" + ")" * depth + " AS x FROM stg_orders\n"
    root: Path = make_project({"models/deep.sql": sql})
    result = compile_dir(root, use_cache=False)
    codes = [(d.code, d.model) for d in result.diagnostics]
    assert codes == [("R124", "deep")]
    assert "internal" not in result.diagnostics[0].message
    assert result.models["stg_orders"].status == "ok"
