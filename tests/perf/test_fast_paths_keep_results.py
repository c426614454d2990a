"""The compile fast paths (pre-normalized schemas, no query STRUCT types unless a table is
read as a column, shared scopes, lateral pre-check) give the same results as before."""

from __future__ import annotations

import pickle

import pytest

from rocky_engine.compiler.ir import CompiledColumn, LazyTuple, ModelJob
from rocky_engine.compiler.model import compile_model

UP = {"raw.t": (CompiledColumn("id", "INTEGER", False),
                CompiledColumn("Amount", "DECIMAL(10,2)", True))}


@pytest.mark.parametrize("sql,columns,codes", [
    ("SELECT s FROM (SELECT 1 AS a, 'x' AS b) AS s",
     [("s", "STRUCT(a INTEGER,b VARCHAR)", None)], []),
    ("SELECT t, id FROM raw.t AS t",
     [("t", "STRUCT(id INTEGER,amount DECIMAL(10,2))", None), ("id", "INTEGER", False)], []),
    ("SELECT ID, AMOUNT * 2 AS dbl, (SELECT 1 AS z) AS sub FROM RAW.T",
     [("id", "INTEGER", False), ("dbl", "DECIMAL(18,2)", True), ("sub", "INTEGER", True)], []),
    ("SELECT x.id FROM raw.t AS x, LATERAL (SELECT x.id + 1 AS y) AS l",
     [("id", "INTEGER", False)], []),
    ("SELECT l.y FROM raw.t AS x, LATERAL (SELECT x.id + 1 AS y) AS l",
     [("y", "INTEGER", None)], []),
    ("SELECT SUM(amount) AS s, ROUND(amount, 1) AS r FROM raw.t GROUP BY amount",
     [("s", "DECIMAL(38,2)", True), ("r", "DECIMAL(10,1)", True)], []),
    ("SELECT amont FROM raw.t", [], ["R104"]),
])
def test_types_and_diagnostics(sql: str, columns: list[tuple[str, str, bool | None]],
                               codes: list[str]) -> None:
    outcome = compile_model(ModelJob("m", "models/m.sql", sql, "duckdb", UP))
    assert [tuple(c) for c in outcome.columns] == columns
    assert [d.code for d in outcome.diagnostics] == codes


def test_encoded_results_travel_and_decode_unchanged() -> None:
    items = (CompiledColumn("a", "INTEGER", True), CompiledColumn("b", "VARCHAR", None))
    lazy = LazyTuple.encode(items)
    back = pickle.loads(pickle.dumps(lazy))
    assert isinstance(back, LazyTuple) and back.blob == lazy.blob
    assert back == items and tuple(back) == items
    decoded = pickle.loads(pickle.dumps(back))  # decoded ones travel as a plain tuple
    assert decoded == items
