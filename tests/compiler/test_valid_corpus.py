"""The valid complex-SQL corpus compiles with zero diagnostics and every type known —
and the types agree with what DuckDB itself says when the models are created as views."""

from __future__ import annotations

import duckdb
import pytest

from rocky_engine.compiler import CompileResult
from rocky_engine.compiler.types import category_of, normalize
from tests.compiler.conftest import CORPUS, compile_dir

VALID = CORPUS / "valid"


@pytest.fixture(scope="module")
def valid() -> CompileResult:
    return compile_dir(VALID, use_cache=False)


def test_valid_corpus_has_no_diagnostics(valid: CompileResult) -> None:
    assert [d.headline() for d in valid.diagnostics] == []
    assert valid.ok
    assert all(m.status == "ok" for m in valid.models.values())


def test_valid_corpus_types_are_all_known(valid: CompileResult) -> None:
    unknown = [f"{m.name}.{c}" for m in valid.models.values() for c in m.unknown_columns]
    assert unknown == []
    assert valid.stats.unknown_types == 0
    assert len(valid.models) >= 18 and valid.stats.columns >= 100


def test_valid_corpus_covers_the_features_the_issue_names() -> None:
    sql = "\n".join(p.read_text().upper() for p in (VALID / "models").glob("*.sql"))
    for feature in ("WITH ", " OVER (", "CASE", "(SELECT", "UNION", "SELECT *", "EXCLUDE",
                    "DATE_TRUNC", "LATERAL", "INTERSECT", "EXCEPT", "QUALIFY", "UNNEST"):
        assert feature in sql, feature


def _duckdb_schemas(result: CompileResult) -> dict[str, list[tuple[str, str]]]:
    from rocky_engine.project import load_project

    project = load_project(VALID)
    con = duckdb.connect()
    for schema in project.source_schemas:
        con.execute(f"CREATE SCHEMA {schema}")
    for table in project.sources.values():
        cols = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
        con.execute(f"CREATE TABLE {table.schema}.{table.name} ({cols})")
    out = {}
    for name in result.order:
        con.execute(f"CREATE VIEW {name} AS {project.models[name].sql}")
        out[name] = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall()]
    return out


def test_valid_corpus_types_match_duckdb(valid: CompileResult) -> None:
    actual = _duckdb_schemas(valid)
    exact = total = 0
    wrong_kind = []
    for name, cols in actual.items():
        ours = valid.models[name].columns
        assert [c.name.lower() for c in ours] == [c[0].lower() for c in cols], name
        for mine, (col, theirs) in zip(ours, cols):
            total += 1
            exact += normalize(theirs) == mine.type
            if category_of(mine.type) != category_of(normalize(theirs)):
                wrong_kind.append(f"{name}.{col}: rocky {mine.type}, duckdb {theirs}")
    # Every type is DuckDB's exactly, DECIMAL precision and integer width included
    # (tests/compiler/test_type_parity.py covers the rules expression by expression).
    assert wrong_kind == []
    assert exact == total, f"only {exact}/{total} types match DuckDB exactly"
