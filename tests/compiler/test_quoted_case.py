"""Output column names keep the case DuckDB keeps: compile reports what the warehouse will have.

DuckDB matches identifiers case-insensitively (quoted or not) but stores names as written:
``SELECT 1 AS "MiXeD", 2 AS Foo`` makes columns ``MiXeD`` and ``Foo``, and a reference
``mixed`` to a stored ``MiXeD`` outputs ``MiXeD``. Every case below runs the same SQL in an
in-memory DuckDB and compares the column names with what ``compile`` reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rocky_engine.compiler import CompileResult, compile_project
from rocky_engine.compiler.ir import CompiledColumn, schema_fingerprint
from rocky_engine.project import load_project

Cli = Callable[..., Any]

SOURCE = '''schema = "raw"
[tables.t.columns]
"CustID" = { type = "INTEGER", nullable = false }
amount = "INTEGER"
"DROP" = "VARCHAR"
'''
SOURCE_DDL = 'CREATE TABLE raw.t ("CustID" INTEGER NOT NULL, amount INTEGER, "DROP" VARCHAR)'
UPSTREAM = 'SELECT 1 AS "MiXeD", 2 AS Foo, 3 AS plain, \'x\' AS "Sp ace", NULL::INT AS "Maybe"'

# One downstream model per case; each reads `up` (the model above) and/or raw.t.
CASES = {
    "quoted_aliases": 'SELECT 1 AS "MiXeD", 2 AS "DROP"',
    "unquoted_aliases": "SELECT 1 AS Foo, 2 AS bar, 3 AS BAZ",
    "star": "SELECT * FROM up",
    "qualified_star": "SELECT up.* FROM up",
    "refs_any_case": 'SELECT mixed, "MiXeD" AS again, foo, "FOO" AS f2, PLAIN FROM up',
    "table_alias_refs": 'SELECT u.MIXED, u."foo" FROM up AS u',
    "source_star": "SELECT * FROM raw.t",
    "source_refs": 'SELECT custid, "drop", AMOUNT FROM raw.t',
    "cte_star": 'WITH c AS (SELECT "MiXeD" AS "Inner", foo FROM up) SELECT * FROM c',
    "cte_column_list": 'WITH c("A1", b2) AS (SELECT mixed, foo FROM up) SELECT * FROM c',
    "cte_partial_list": 'WITH c("A1") AS (SELECT mixed, foo FROM up) SELECT a1, FOO FROM c',
    "derived_column_list": 'SELECT * FROM (SELECT mixed, Foo FROM up) AS s("X", Y)',
    "table_column_list": 'SELECT * FROM up AS u("R1")',
    "values_column_list": 'SELECT * FROM (VALUES (1, 2)) AS v("MiXeD", Foo)',
    "exclude": 'SELECT * EXCLUDE ("MIXED") FROM up',
    "replace": "SELECT * REPLACE (foo + 1 AS FOO) FROM up",
    "rename": 'SELECT * RENAME (foo AS "BIG") FROM up',
    "union_left_names": "SELECT mixed FROM up UNION ALL SELECT 1 AS other",
    "union_alias_left": 'SELECT 1 AS "Left" UNION ALL SELECT mixed FROM up',
    "union_column_list": 'SELECT * FROM (SELECT 1 AS a UNION ALL SELECT 2) AS s("Z")',
    "join": "SELECT a.mixed, b.custid FROM up AS a JOIN raw.t AS b ON a.foo = b.custid",
    "join_star": "SELECT * FROM up AS a JOIN raw.t AS b ON a.foo = b.custid",
    "group": 'SELECT mixed, COUNT(*) AS "N" FROM up GROUP BY mixed',
    "lateral": 'SELECT x.* FROM up, LATERAL (SELECT up.mixed AS "Lat") AS x',
    "unnest": 'SELECT u.* FROM UNNEST([1, 2]) AS u("Val")',
    "nested_ctes": "WITH a AS (SELECT * FROM up), b AS (SELECT * FROM a) SELECT mixed, foo FROM b",
    "space_in_name": 'SELECT "Sp ace", "sp ACE" AS "Sp2" FROM up',
    "alias_respelled": "SELECT MIXED AS MIXED, foo AS foo FROM up",
}


def _write(root: Path, models: dict[str, str], dialect: str = "duckdb") -> Path:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(f'[project]\nname = "case"\ndialect = "{dialect}"\n')
    (root / "sources" / "raw.toml").write_text(SOURCE)
    for name, sql in models.items():
        (root / "models" / f"{name}.sql").write_text(sql)
    return root


def _compile(root: Path, **kwargs: Any) -> CompileResult:
    return compile_project(load_project(root), **kwargs)


def _names(result: CompileResult, model: str) -> list[str]:
    return [c.name for c in result.models[model].columns]


def _errors(result: CompileResult, model: str | None = None) -> list[str]:
    diags = result.errors if model is None else [
        d for d in result.diagnostics_for(model) if d in result.errors]
    return [f"{d.code} {d.message}" for d in diags]


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA raw")
    conn.execute(SOURCE_DDL)
    conn.execute(f"CREATE VIEW up AS {UPSTREAM}")
    return conn


def _duck_names(conn: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0] for d in conn.execute(f"SELECT * FROM ({sql}) LIMIT 0").description]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompileResult:
    root = _write(tmp_path_factory.mktemp("case") / "p", {"up": UPSTREAM, **CASES})
    return _compile(root, use_cache=False)


def test_upstream_names_match_duckdb(compiled: CompileResult,
                                     duck: duckdb.DuckDBPyConnection) -> None:
    assert _errors(compiled) == []
    assert _names(compiled, "up") == _duck_names(duck, UPSTREAM) \
        == ["MiXeD", "Foo", "plain", "Sp ace", "Maybe"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_names_match_duckdb(compiled: CompileResult, duck: duckdb.DuckDBPyConnection,
                                   case: str) -> None:
    # Every reference spelling resolves (no R104), and the names are DuckDB's, exactly.
    assert _errors(compiled, case) == []
    assert _names(compiled, case) == _duck_names(duck, CASES[case])


def test_the_reported_case_is_what_a_run_materialises(tmp_path: Path, run_cli: Cli) -> None:
    root = _write(tmp_path / "p", {"up": UPSTREAM, "down": "SELECT * FROM up",
                                   "refs": 'SELECT mixed, "MAYBE" FROM up'})
    (root / "rocky.toml").write_text((root / "rocky.toml").read_text()
                                     + '\n[warehouse]\ntype = "duckdb"\npath = "w.duckdb"\n')
    conn = duckdb.connect(str(root / "w.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute(SOURCE_DDL)
    conn.close()
    res = run_cli("run", "--project", str(root))
    assert res.exit_code == 0, res.output
    out = run_cli("compile", "--project", str(root), "--format", "json")
    reported = {m["name"]: [c["name"] for c in m["columns"]]
                for m in json.loads(out.stdout)["models"]}
    conn = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        for model in ("up", "down", "refs"):
            stored = [r[0] for r in conn.execute(f"DESCRIBE main.{model}").fetchall()]
            assert reported[model] == stored, model
    finally:
        conn.close()
    assert reported["refs"] == ["MiXeD", "Maybe"]


def test_nullability_follows_a_mixed_case_column(compiled: CompileResult) -> None:
    cols = {c.name: c for c in compiled.models["source_refs"].columns}
    assert cols["CustID"].nullable is False  # declared NOT NULL as "CustID", read as custid
    assert cols["amount"].nullable is None or cols["amount"].nullable is True
    star = {c.name: c.nullable for c in compiled.models["star"].columns}
    assert star["Maybe"] is True and star["MiXeD"] is False


# ------------------------------------------------------------------ duplicates (R107)

def test_names_differing_only_in_case_are_duplicates_as_in_duckdb(
        tmp_path: Path, duck: duckdb.DuckDBPyConnection) -> None:
    sql = 'SELECT 1 AS "a", 2 AS "A"'
    # DuckDB treats them as one name: a stored relation renames the second one.
    duck.execute(f"CREATE OR REPLACE VIEW dup_check AS {sql}")
    assert _duck_names(duck, "SELECT * FROM dup_check") == ["a", "A_1"]
    result = _compile(_write(tmp_path / "p", {"dup": sql}), use_cache=False)
    (err,) = result.errors
    assert err.code == "R107" and '"A"' in err.message and "columns 1 and 2" in err.message


def test_a_star_and_a_respelled_alias_collide(tmp_path: Path) -> None:
    result = _compile(_write(tmp_path / "p", {"up": UPSTREAM,
                                              "m": 'SELECT *, 9 AS "MIXED" FROM up'}),
                      use_cache=False)
    assert [d.code for d in result.errors] == ["R107"]


# ------------------------------------------------------------------ contracts

@pytest.mark.parametrize("key", ['"MiXeD"', "mixed", '"MIXED"'])
def test_contract_on_a_mixed_case_column_matches_any_spelling(tmp_path: Path, key: str) -> None:
    root = _write(tmp_path / "p", {"up": UPSTREAM, "m": "SELECT * FROM up"})
    (root / "models" / "m.toml").write_text(
        f'[columns.{key}]\ntype = "VARCHAR"\nnullable = false\n'
        '[columns."Maybe"]\nnullable = false\n')
    result = _compile(root, use_cache=False)
    found = sorted((d.code, d.message) for d in result.diagnostics if d.code.startswith("R12"))
    assert found == [
        ("R121", 'column "MiXeD" is INTEGER but its contract says VARCHAR'),
        ("R122", 'column "Maybe" is declared non-null but can be NULL'),
    ]


def test_contract_that_matches_passes_and_a_missing_one_is_R120(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", {"up": UPSTREAM})
    (root / "models" / "up.toml").write_text(
        '[columns.mixed]\ntype = "INTEGER"\nnullable = false\n'
        '[columns."MiXeD2"]\ntype = "INTEGER"\n')
    result = _compile(root, use_cache=False)
    assert [(d.code, d.message) for d in result.errors] == [
        ("R120", 'contract names column "MiXeD2" but the model does not produce it')]


# ------------------------------------------------------------------ lineage, cache, CLI

def test_lineage_resolves_any_spelling_of_a_mixed_case_column(tmp_path: Path,
                                                              run_cli: Cli) -> None:
    _write(tmp_path / "p", {"q": 'SELECT 1 AS "MiXeD", 2 AS "DROP"',
                            "star": "SELECT * FROM q",
                            "refs": 'SELECT mixed AS a, "MiXeD" AS b FROM q'})
    root = str(tmp_path / "p")
    for spelling in ("q.MiXeD", "q.mixed", "Q.MIXED"):
        lin = run_cli("lineage", spelling, "--downstream", "--project", root, "--format", "json")
        assert lin.exit_code == 0, lin.output
        doc = json.loads(lin.stdout)
        assert doc["root"] == spelling
        # Node ids stay lower-case (DESIGN: ids are matched case-insensitively).
        assert {(e["from"], e["to"], e["kind"]) for e in doc["edges"]} == {
            ("q.mixed", "star.mixed", "copy"), ("q.mixed", "refs.a", "copy"),
            ("q.mixed", "refs.b", "copy")}
    up = run_cli("lineage", "star.MiXeD", "--project", root, "--format", "json")
    assert up.exit_code == 0, up.output
    assert "q.mixed" in {n["id"] for n in json.loads(up.stdout)["nodes"]}


def test_compile_json_reports_the_written_case(tmp_path: Path, run_cli: Cli) -> None:
    root = _write(tmp_path / "p", {"q": 'SELECT 1 AS "MiXeD", 2 AS "DROP", 3 AS lower_one',
                                   "star": "SELECT * FROM q"})
    out = run_cli("compile", "--project", str(root), "--format", "json")
    assert out.exit_code == 0, out.output
    models = {m["name"]: m for m in json.loads(out.stdout)["models"]}
    for name in ("q", "star"):
        assert [c["name"] for c in models[name]["columns"]] == ["MiXeD", "DROP", "lower_one"]


def test_a_case_only_edit_reaches_dependents_through_the_cache(tmp_path: Path) -> None:
    root = _write(tmp_path / "p", {"q": 'SELECT 1 AS "MiXeD"', "star": "SELECT * FROM q"})
    assert _names(_compile(root), "star") == ["MiXeD"]
    (root / "models" / "q.sql").write_text('SELECT 1 AS "MIXED"')
    warm = _compile(root)
    assert _names(warm, "q") == _names(warm, "star") == ["MIXED"]
    assert not warm.models["star"].from_cache


def test_schema_fingerprint_sees_case() -> None:
    assert schema_fingerprint((CompiledColumn("MiXeD", "INTEGER", False),)) != \
        schema_fingerprint((CompiledColumn("mixed", "INTEGER", False),))


def test_lower_case_projects_are_unchanged(tmp_path: Path) -> None:
    # The common case takes the fast path: qualify's folded names are already right.
    root = _write(tmp_path / "p", {"a": "SELECT 1 AS x, 2 AS y",
                                   "b": "SELECT x, y AS z FROM a"})
    result = _compile(root, use_cache=False)
    assert _names(result, "a") == ["x", "y"] and _names(result, "b") == ["x", "z"]


def test_other_dialects_keep_their_own_folding(tmp_path: Path) -> None:
    # Only DuckDB's rules are modelled; postgres folds unquoted names and keeps quoted ones,
    # which is what sqlglot's qualify already does for it.
    root = _write(tmp_path / "p", {"m": 'SELECT 1 AS "MiXeD", 2 AS Foo'}, dialect="postgres")
    result = _compile(root, use_cache=False)
    assert _names(result, "m") == ["MiXeD", "foo"]
