"""Per-model driver: crash isolation, outputs, stale intent."""

from __future__ import annotations

from pathlib import Path

from tests.compiler.conftest import compile_dir


def test_internal_error_in_one_model_is_R199_and_others_compile(
        make_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rocky_engine.compiler import model as model_mod

    real = model_mod.check_types

    def boom(tree, site, tracer=None):  # type: ignore[no-untyped-def]
        if site.model == "bad":
            raise RuntimeError("kaboom")
        return real(tree, site, tracer)

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


def _w132(sql: str, upstream: dict | None = None) -> list[tuple[int, int, str]]:  # type: ignore[type-arg]
    from rocky_engine.compiler.ir import CompiledColumn, ModelJob
    from rocky_engine.compiler.model import compile_model

    cols = (CompiledColumn("id", "INTEGER", False), CompiledColumn("name", "VARCHAR", True))
    outcome = compile_model(ModelJob("m", "models/m.sql", sql, "duckdb",
                                     upstream if upstream is not None else {"raw.t": cols}))
    return [(d.line, d.col, d.message) for d in outcome.diagnostics if d.code == "W132"]


def test_an_unnamed_output_expression_is_W132_naming_the_expression() -> None:
    found = _w132("SELECT id,\n       count(*), upper(name)\nFROM raw.t GROUP BY id, name")
    assert [(line, col) for line, col, _ in found] == [(2, 8), (2, 18)]
    assert "`COUNT(*)`" in found[0][2] and "`UPPER(name)`" in found[1][2]
    # DuckDB really names such a column after the expression, not _col_1.
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t (id INTEGER, name VARCHAR)")
    con.execute("CREATE VIEW v AS SELECT id, count(*), upper(name) FROM t GROUP BY id, name")
    assert [r[0] for r in con.execute("DESCRIBE v").fetchall()] == [
        "id", "count_star()", 'upper("name")']


def test_named_outputs_and_names_really_called_col_n_are_not_W132() -> None:
    from rocky_engine.compiler.ir import CompiledColumn

    assert _w132("SELECT count(*) AS n, id, upper(name) AS u FROM raw.t GROUP BY id, name") == []
    assert _w132("SELECT 1 AS _col_0, id FROM raw.t") == []  # the author chose that name
    upstream = {"raw.t": (CompiledColumn("_col_1", "INTEGER", True),)}
    assert _w132("SELECT * FROM raw.t", upstream) == []  # an upstream column of that name


def test_an_unnamed_expression_surfacing_through_star_is_W132() -> None:
    assert len(_w132("WITH a AS (SELECT id + 1 FROM raw.t) SELECT * FROM a")) == 1
