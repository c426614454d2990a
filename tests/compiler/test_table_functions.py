"""VALUES lists and table functions in FROM: column names and types as DuckDB has them.

Each case is compiled as a one-model job and ``CREATE VIEW``-ed in an in-memory DuckDB with
the same upstream table; names and (normalized) types must match, with no diagnostic at
all (no W130 unknown type, W132 no name, R104 unknown column).

    .venv/bin/pytest tests/compiler/test_table_functions.py -q
"""

from __future__ import annotations

import doctest
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from rocky_engine.compiler import table_functions
from rocky_engine.compiler.ir import CompiledColumn, ModelJob
from rocky_engine.compiler.model import compile_model
from rocky_engine.compiler.types import normalize

UPSTREAM = {"raw.t": (CompiledColumn("id", "INTEGER", False),
                      CompiledColumn("xs", "INTEGER[]", True),
                      CompiledColumn("day", "DATE", True))}

CASES: tuple[str, ...] = (
    # -- VALUES: DuckDB names the columns col0, col1, ...; an alias list renames a prefix
    "SELECT * FROM (VALUES (1, 2)) AS v",
    "SELECT * FROM (VALUES (1, 2))",
    "SELECT v.col0 FROM (VALUES (1, 2)) AS v",
    "SELECT col1 FROM (VALUES (1, 'a'), (2, 'b')) AS v",
    "SELECT * FROM (VALUES (1, 'a')) AS v(x)",
    "SELECT * FROM (VALUES (1, 'a')) AS v(x, y)",
    'SELECT * FROM (VALUES (1, 2)) AS t("A")',
    "SELECT * FROM (VALUES (1), (2.5)) AS v",
    "WITH v AS (VALUES (1, 2.5)) SELECT * FROM v",
    "WITH v AS (VALUES (1, 2)) SELECT col1 FROM v",
    "SELECT t.id, v.col1 FROM raw.t JOIN (VALUES (1, 'x')) AS v ON v.col0 = t.id",
    # -- range / generate_series: one BIGINT (or TIMESTAMP) column named after the function
    "SELECT * FROM range(3)",
    "SELECT * FROM range(1, 10, 2)",
    "SELECT * FROM generate_series(1, 3)",
    "SELECT * FROM Range(3)",
    "SELECT range FROM range(3)",
    "SELECT range.range FROM range(3)",
    "SELECT * FROM range(3::TINYINT)",
    "SELECT * FROM range(NULL)",
    "SELECT * FROM range(DATE '2020-01-01', DATE '2020-02-01', INTERVAL 1 DAY)",
    ("SELECT * FROM generate_series(TIMESTAMP '2020-01-01', TIMESTAMP '2020-01-02', "
     "INTERVAL 1 HOUR)"),
    "SELECT * FROM range(TIMESTAMPTZ '2020-01-01', TIMESTAMPTZ '2020-02-01', INTERVAL 1 DAY)",
    "SELECT range(3) AS x",
    # -- aliases: AS t(n) names the column n; AS t alone names it t (t.range still binds)
    "SELECT * FROM range(3) AS t(n)",
    "SELECT t.n FROM range(3) AS t(n)",
    "SELECT n + 1 AS m FROM range(3) AS t(n)",
    "SELECT * FROM range(3) AS t(a, b)",
    "SELECT * FROM range(3) t",
    "SELECT * FROM RANGE(3) AS T",
    "SELECT t.* FROM range(3) t",
    "SELECT t.range, t.t FROM range(3) t",
    "SELECT range, t FROM range(3) t",
    "SELECT t.range + 1 AS x FROM range(3) t",
    "SELECT * FROM range(3) t WHERE t.range > 1",
    "SELECT * FROM range(3) a, range(4) b",
    "SELECT * FROM raw.t JOIN range(3) ON TRUE",
    "SELECT * FROM range(3) JOIN generate_series(1, 2) ON TRUE",
    "SELECT * FROM raw.t, range(t.id) AS r(n)",
    "SELECT x FROM (SELECT * FROM range(3)) AS s(x)",
    "SELECT * FROM range(3) WITH ORDINALITY",
    # -- unnest in FROM: one column named unnest, of the list's element type
    "SELECT * FROM unnest([1, 2])",
    "SELECT * FROM unnest(['a', 'b'])",
    "SELECT * FROM unnest([[1], [2]])",
    "SELECT * FROM unnest([{'a': 1}])",
    "SELECT * FROM unnest([1, 2]) u",
    "SELECT u.unnest FROM unnest([1, 2]) u",
    "SELECT unnest FROM unnest([1]) u",
    "SELECT * FROM unnest([1, 2]) AS u(x)",
    "SELECT * FROM raw.t, unnest(t.xs) AS u(x)",
    "SELECT t.id, u.x * 2 AS y FROM raw.t, unnest(t.xs) AS u(x)",
    "SELECT * FROM raw.t, unnest([t.day]) AS u",
    "SELECT * FROM unnest([1, 2]) WITH ORDINALITY",
    "SELECT * FROM unnest([1, 2]) WITH ORDINALITY AS u",
    "SELECT * FROM unnest([1, 2]) WITH ORDINALITY AS u(a)",
    "SELECT * FROM unnest([1, 2]) WITH ORDINALITY AS u(a, b)",
)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA raw")
    conn.execute("CREATE TABLE raw.t (id INTEGER NOT NULL, xs INTEGER[], day DATE)")
    return conn


def _compile(sql: str) -> tuple[list[tuple[str, str]], list[str]]:
    outcome = compile_model(ModelJob("m", "models/m.sql", sql, "duckdb", UPSTREAM))
    return ([(c.name, normalize(c.type)) for c in outcome.columns],
            [d.code for d in outcome.diagnostics])


def _describe(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    conn.execute(f"CREATE OR REPLACE VIEW probe AS {sql}")
    return [(row[0], normalize(row[1])) for row in conn.execute("DESCRIBE probe").fetchall()]


def test_cases_are_unique() -> None:
    assert len(set(CASES)) == len(CASES)


def test_docstring_examples() -> None:
    result = doctest.testmod(table_functions)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("sql", CASES)
def test_names_and_types_match_duckdb(duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    columns, codes = _compile(sql)
    assert codes == []
    assert all(c[0] != "*" for c in columns)
    assert columns == _describe(duck, sql)


def test_unnest_in_select_still_has_no_name(duck: duckdb.DuckDBPyConnection) -> None:
    # DuckDB names it `unnest(list_value(1, 2))`: W132 asks for an alias, as before.
    sql = "SELECT unnest([1, 2])"
    columns, codes = _compile(sql)
    assert codes == ["W132"]
    assert _describe(duck, sql) == [("unnest(list_value(1, 2))", "INTEGER")]
    assert columns[0][1] == "INTEGER"


@pytest.mark.parametrize("sql, name", [
    ("SELECT * FROM raw.t AS t, unnest(t.x) AS u(y)", "y"),
    ("SELECT * FROM raw.t AS t, unnest(t.x)", "unnest"),
    ("SELECT * FROM range(t.x) AS r JOIN raw.t AS t ON TRUE", "r"),
])
def test_untypeable_table_function_stays_reported(sql: str, name: str) -> None:
    # The upstream column's type is unknown: the column is named, its type reported (W130).
    upstream = {"raw.t": (CompiledColumn("x", "UNKNOWN", True),)}
    outcome = compile_model(ModelJob("m", "models/m.sql", sql, "duckdb", upstream))
    names = [c.name for c in outcome.columns]
    assert "*" not in names and name in names
    assert any(d.code == "W130" and f'"{name}"' in d.message for d in outcome.diagnostics)


def test_wrong_alias_column_is_still_unknown() -> None:
    # DuckDB: Table "t" does not have a column named "range" (the alias list renamed it).
    _, codes = _compile("SELECT t.range FROM range(3) t(n)")
    assert codes == ["R104"]


MODELS = {
    "models/series.sql": "SELECT t.n, v.col1 AS label\n"
                         "FROM range(3) AS t(n)\n"
                         "JOIN (VALUES (0, 'zero'), (1, 'one')) AS v ON v.col0 = t.n\n",
    "models/exploded.sql": "SELECT o.order_id, u.unnest AS k\n"
                           "FROM stg_orders AS o, unnest([o.order_id, o.customer_id]) AS u\n",
    "models/plain.sql": "SELECT * FROM generate_series(1, 3)\n",
}


def test_compile_and_lineage_of_such_models(make_project: Callable[..., Path],
                                            run_cli: Callable[..., object]) -> None:
    root = make_project(MODELS)
    r = run_cli("compile", "--project", str(root), "--format", "json")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    for target in ("series.label", "series.n", "exploded.k", "plain.generate_series"):
        r = run_cli("lineage", target, "--project", str(root), "--format", "json")
        assert r.exit_code == 0, (target, r.output)  # type: ignore[attr-defined]
        json.loads(r.stdout)  # type: ignore[attr-defined]
    r = run_cli("lineage", "exploded.k", "--project", str(root), "--format", "json")
    assert "stg_orders.order_id" in r.stdout  # type: ignore[attr-defined]
