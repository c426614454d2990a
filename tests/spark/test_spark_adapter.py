"""The Spark adapter against a real local Spark: catalog, DML emulation, seeds, views, SQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlglot

from rocky_engine.adapters.spark import SparkAdapter, _parse_tree
from rocky_engine.adapters.spark_dialect import render
from rocky_engine.errors import WarehouseError
from rocky_engine.execution import state


def test_catalog_in_one_call_types_in_rockys_spelling(spark: SparkAdapter) -> None:
    spark.create_schema("raw")
    spark.execute("CREATE TABLE raw.t (id INT NOT NULL, amount DECIMAL(10,2), name STRING, "
                  "at TIMESTAMP_NTZ, big BIGINT, tags ARRAY<INT>, tz TIMESTAMP) USING parquet")
    spark.execute("CREATE TABLE raw.u (d DATE, f DOUBLE, b BOOLEAN) USING parquet")
    spark.create_view("raw", "v", "SELECT id, amount FROM raw.t")
    tables = {t.name: t for t in spark.catalog(["RAW", "nope"])}
    assert sorted(tables) == ["t", "u", "v"]
    assert tables["v"].kind == "view" and tables["t"].kind == "table"
    assert [(c.name, c.type) for c in tables["t"].columns] == [
        ("id", "INTEGER"), ("amount", "DECIMAL(10,2)"), ("name", "VARCHAR"),
        ("at", "TIMESTAMP"), ("big", "BIGINT"), ("tags", "INTEGER[]"),
        ("tz", "TIMESTAMP WITH TIME ZONE")]
    # NOT NULL is not kept by parquet tables: the catalog says nullable.
    assert tables["t"].columns[0].nullable is True
    assert [c.type for c in tables["u"].columns] == ["DATE", "DOUBLE", "BOOLEAN"]
    assert spark.relations("raw") == {"t": "table", "u": "table", "v": "view"}
    assert spark.relations("missing") == {} and spark.catalog(["missing"]) == []


def test_schema_tree_parser_refuses_nested_types() -> None:
    info = "Type: MANAGED\nSchema: root\n |-- id: integer (nullable = true)\n" \
           " |-- s: struct (nullable = true)\n |    |-- x: integer (nullable = true)\n"
    assert _parse_tree(info) is None
    flat = "Schema: root\n |-- id: long (nullable = true)\n |-- d: decimal(5,1) (nullable = true)\n"
    assert [(c.name, c.type) for c in _parse_tree(flat) or []] == [
        ("id", "BIGINT"), ("d", "DECIMAL(5,1)")]


def test_views_follow_an_upstream_type_change(spark: SparkAdapter) -> None:
    """Spark's default view mode would cast back to INT; rocky's views report BIGINT."""
    spark.create_schema("raw")
    spark.execute("CREATE TABLE raw.t (id INT) USING parquet")
    spark.create_view("raw", "v", "SELECT id FROM raw.t")
    spark.drop_table("raw", "t")
    spark.execute("CREATE TABLE raw.t (id BIGINT) USING parquet")
    spark.execute("INSERT INTO raw.t VALUES (3000000000)")
    assert spark.fetchall("SELECT id FROM raw.v") == [(3000000000,)]
    assert [c.type for c in spark.table("raw", "v").columns] == ["BIGINT"]


def test_delete_and_update_are_emulated_for_state_tables(spark: SparkAdapter) -> None:
    with state.writer_lock(spark, "run", target="main", selection="*", timeout=1) as ticket:
        holder = state.current_holder(spark)
        assert holder is not None and holder.run_id == ticket.run_id
        ticket.summary = {"success": 3}
    assert state.current_holder(spark) is None  # the DELETE took effect
    (record,) = state.run_history(spark)
    assert record.status == "success" and '"success": 3' in record.summary  # the UPDATE
    assert not any(n.endswith("__rocky_dml") for n in spark.relations("_rocky"))


def test_state_writes_from_two_threads_lose_nothing(spark: SparkAdapter) -> None:
    """`rocky run --threads` on a branch records each built model (a DELETE, read back and
    rewritten, then an INSERT) from its worker thread, on one Spark session: none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from rocky_engine.execution import branches

    state.ensure_state(spark)

    def record(i: int) -> None:
        on = spark if i % 2 else spark.clone()
        for j in range(3):
            branches.record_build(on, "f", f"m{i}_{j}", "table", "SELECT 1", "r1")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(record, range(2)))
    got = sorted(m.model for m in branches.built_models(spark, "f"))
    assert got == sorted(f"m{i}_{j}" for i in range(2) for j in range(3))
    assert not [v for v in spark.fetchall("SHOW VIEWS") if v[1].startswith("rocky_dml_")]


def test_load_csv_types_and_bad_value_line(spark: SparkAdapter, tmp_path: Path) -> None:
    spark.create_schema("raw")
    good = tmp_path / "t.csv"
    good.write_text("id,amount,at,name\n1,2.50,2024-01-02 03:04:05,a\n2,,2024-01-03,\n")
    cols = [("id", "INTEGER"), ("amount", "DECIMAL(10,2)"), ("at", "TIMESTAMP"),
            ("name", "VARCHAR")]
    assert spark.load_csv("raw", "t", cols, good) == 2
    rows = spark.fetchall("SELECT id, CAST(amount AS STRING), CAST(at AS STRING), name "
                          "FROM raw.t ORDER BY id")
    assert rows == [(1, "2.50", "2024-01-02 03:04:05", "a"), (2, None, "2024-01-03 00:00:00",
                                                               None)]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,amount,at,name\n1,2.5,2024-01-02,a\n2,x7,2024-01-02,b\n")
    with pytest.raises(WarehouseError, match=r"line 3: 'x7' in column amount"):
        spark.load_csv("raw", "t", cols, bad)
    assert spark.row_count("raw", "t") == 2  # the old table is intact


def test_qualify_keeps_the_outer_order_by_on_spark(spark: SparkAdapter) -> None:
    sql = ("SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC) AS rn "
           "FROM (VALUES (1, 10), (1, 20), (2, 5), (3, 7), (3, 1)) AS t(g, v) "
           "QUALIFY rn = 1 ORDER BY v DESC")
    text = render(sqlglot.parse_one(sql, read="duckdb"))
    assert "QUALIFY" in text
    assert spark.fetchall(text) == [(1, 20, 1), (3, 7, 1), (2, 5, 1)]


def test_a_spark_error_is_one_line(spark: SparkAdapter) -> None:
    with pytest.raises(WarehouseError) as info:
        spark.execute("SELECT nope FROM (SELECT 1 AS id)")
    assert "\n" not in info.value.message and "UNRESOLVED_COLUMN" in info.value.message


def test_create_table_as_replace_and_swap(spark: SparkAdapter) -> None:
    spark.create_schema("m")
    spark.create_table_as("m", "x", "SELECT 1 AS a")
    spark.create_table_as("m", "x", "SELECT 2 AS a, 'b' AS b", replace=True)
    assert spark.fetchall("SELECT * FROM m.x") == [(2, "b")]
    spark.create_table_as("m", "x__tmp", "SELECT 3 AS a")
    spark.swap_table("m", "x__tmp", "x")
    assert spark.fetchall("SELECT * FROM m.x") == [(3,)] and "x__tmp" not in spark.relations("m")
    spark.create_view("m", "v", "SELECT 1 AS one")
    spark.create_table_as("m", "v", "SELECT 2 AS two", replace=True)
    assert spark.relations("m")["v"] == "table"


def test_session_start_prints_nothing(tmp_path: Path) -> None:
    """A fresh process: starting Spark and failing a query leave stdout/stderr empty."""
    code = textwrap.dedent(f"""
        from pathlib import Path
        from rocky_engine.adapters.spark import SparkAdapter, SparkSettings
        from rocky_engine.errors import WarehouseError
        a = SparkAdapter(SparkSettings(master="local[1]", home=Path({str(tmp_path)!r})))
        a.execute("CREATE DATABASE IF NOT EXISTS q")
        try:
            a.execute("SELECT nope")
        except WarehouseError:
            pass
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "ok\n" and proc.stderr == ""
    assert (tmp_path / "metastore_db").is_dir() and (tmp_path / "spark.log").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["derby.log", "log4j2.properties", "metastore_db", "rocky.lock", "spark.log", "tmp",
         "warehouse"])


def test_a_large_table_is_profiled_from_a_repeatable_row_sample(spark: SparkAdapter) -> None:
    """Drift fingerprints of a table above five times ``sample_rows``: Spark's row sample
    with a seed (``REPEATABLE``), the same figures on a second read."""
    from rocky_engine.drift.profiling import profile_table

    spark.execute("CREATE DATABASE IF NOT EXISTS big")
    spark.execute("CREATE TABLE big.events USING parquet AS SELECT id, "
                  "element_at(array('placed', 'shipped', 'returned'), CAST(id % 3 AS INT) + 1) "
                  "AS status FROM range(60000)")
    seen: list[str] = []
    real = spark.fetchall

    def spy(sql, params=None):  # type: ignore[no-untyped-def]
        seen.append(sql if isinstance(sql, str) else spark._sql(sql))
        return real(sql, params)

    spark.fetchall = spy  # type: ignore[method-assign]
    try:
        prints = profile_table(spark, "big", "events", ["id", "status"], keys={"id"},
                               sample_rows=1_000)
        again = profile_table(spark, "big", "events", ["id", "status"], keys={"id"},
                              sample_rows=1_000)
    finally:
        del spark.fetchall
    assert any("TABLESAMPLE" in q and "REPEATABLE" in q for q in seen), seen
    assert prints == again
    assert prints["id"].rows == 60_000 and 500 < prints["id"].sampled < 2_000
    assert prints["id"].dup_rate == 0.0 and prints["id"].distinct == prints["id"].sampled
    assert sorted(v for v, _ in prints["status"].top) == ["placed", "returned", "shipped"]
