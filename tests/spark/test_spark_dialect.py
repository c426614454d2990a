"""The Spark dialect layer and Spark types at compile time (no Spark started: fast).

What Spark itself says about the same SQL is checked in test_spark_adapter.py (QUALIFY
order) and test_spark_type_parity.py (types against Spark's catalog).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from rocky_engine.adapters.dialect import render, unsupported
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project


def _spark(sql: str) -> str:
    return render(sqlglot.parse_one(sql, read="duckdb"), "spark")


def test_qualify_is_kept_with_its_outer_order_by() -> None:
    out = _spark("SELECT id, RANK() OVER (ORDER BY v) AS r FROM t QUALIFY r = 1 ORDER BY id")
    assert "QUALIFY r = 1 ORDER BY id" in out and "FROM t" in out and "_t" not in out


def test_correlated_derived_table_is_spelled_lateral() -> None:
    tree = sqlglot.parse_one("SELECT o.id, x.d FROM t AS o, (SELECT o.a * 2 AS d) AS x",
                             read="duckdb")
    assert "LATERAL (SELECT o.a * 2 AS d) AS x" in render(tree, "spark")
    plain = sqlglot.parse_one("SELECT x.d FROM (SELECT a AS d FROM t) AS x", read="duckdb")
    assert "LATERAL" not in render(plain, "spark")


@pytest.mark.parametrize(("sql", "construct"), [
    ("SELECT list_sum(x) AS s FROM t", "function list_sum()"),
    ("SELECT * EXCLUDE (a) FROM t", "SELECT * EXCLUDE/REPLACE (unexpanded)"),
    ("SELECT CAST(a AS HUGEINT) AS h FROM t", "type INT128"),
    ("SELECT CAST(a AS JSON) AS j FROM t", "type JSON"),
])
def test_what_spark_cannot_run_is_refused(sql: str, construct: str) -> None:
    found = [u.construct for u in unsupported(sqlglot.parse_one(sql, read="duckdb"), "spark")]
    assert found and found[0].replace("HUGEINT", "INT128") == construct


def test_compile_reports_sparks_types_for_the_example(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    text = (root / "rocky.toml").read_text()
    (root / "rocky.toml").write_text(text.replace(
        'type = "duckdb"\npath = "warehouse.duckdb"\n', 'type = "spark"\n'))
    result = Context.load(root).compile()
    assert result.ok
    cols = {m["name"]: {c["name"]: (c["type"], c.get("warehouse_type")) for c in m["columns"]}
            for m in result.to_json()["models"]}  # type: ignore[union-attr]
    # Spark's own DESCRIBE of these (test_spark_type_parity.py checks every column).
    assert cols["order_payments"]["total_paid"] == ("DECIMAL(38,2)", "DECIMAL(20,2)")
    assert cols["order_payments"]["balance_due"] == ("DECIMAL(38,2)", "DECIMAL(21,2)")
    assert cols["customers"]["revenue_rank_in_country"] == ("BIGINT", "INTEGER")
    assert cols["daily_revenue"]["revenue_7d"] == ("DECIMAL(38,2)", "DECIMAL(30,2)")
    assert cols["stg_orders"]["amount"] == ("DECIMAL(10,2)", "DECIMAL(10,2)")
