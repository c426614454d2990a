"""``rocky compile --target``: constructs the warehouse's dialect cannot express (R400)."""

from __future__ import annotations

from pathlib import Path

from rocky_engine.context import Context


def test_r400_is_located_and_names_construct_and_warehouse(shop: Path) -> None:
    (shop / "models" / "odd.sql").write_text(
        "SELECT customer_id,\n  {'k': 1} AS s\nFROM stg_customers\n")
    result = Context.load(shop).compile(target="postgres")
    (d,) = [d for d in result.diagnostics if d.code == "R400"]
    assert (d.file, d.line) == ("models/odd.sql", 2) and 3 <= d.col <= 10  # inside {...}
    assert "struct literal" in d.message and "postgres" in d.message
    assert not result.ok and result.models["odd"].status == "error"
    # The models' own dialect has nothing to report.
    assert Context.load(shop).compile().ok


def test_a_percentage_sample_carries_to_postgres_a_row_count_does_not() -> None:
    """DuckDB's ``USING SAMPLE 10%`` (SYSTEM) is Postgres' ``TABLESAMPLE SYSTEM (10)``;
    ``USING SAMPLE 10 ROWS`` (reservoir) has no Postgres equivalent: R400."""
    import sqlglot

    from rocky_engine.adapters.dialect import render, unsupported

    def refused(sql: str) -> list[str]:
        return [u.construct for u in unsupported(sqlglot.parse_one(sql, read="duckdb"),
                                                 "postgres")]

    assert refused("SELECT * FROM t USING SAMPLE 10%") == []
    assert refused("SELECT * FROM t TABLESAMPLE BERNOULLI (5 PERCENT) REPEATABLE (3)") == []
    assert render(sqlglot.parse_one("SELECT * FROM t USING SAMPLE 10%", read="duckdb"),
                  "postgres") == "SELECT * FROM t TABLESAMPLE SYSTEM (10)"
    for sql in ("SELECT * FROM t USING SAMPLE 10 ROWS",
                "SELECT * FROM t USING SAMPLE reservoir(10%)"):
        (construct,) = refused(sql)
        assert "SAMPLE" in construct, construct


def test_a_percentage_sample_carries_to_spark_with_its_seed() -> None:
    """Spark reads ``TABLESAMPLE (p PERCENT) REPEATABLE (seed)`` (sqlglot writes ``SEED``)."""
    import sqlglot

    from rocky_engine.adapters.dialect import render, unsupported

    tree = sqlglot.parse_one("SELECT * FROM t TABLESAMPLE SYSTEM (5 PERCENT) REPEATABLE (3)",
                             read="duckdb")
    assert unsupported(tree, "spark") == []
    assert render(tree, "spark") == "SELECT * FROM t TABLESAMPLE (5 PERCENT) REPEATABLE (3)"
    (finding,) = unsupported(sqlglot.parse_one("SELECT * FROM t USING SAMPLE 10 ROWS",
                                               read="duckdb"), "spark")
    assert "SAMPLE" in finding.construct
