"""The run's fast path: references spliced into the model's own text, scans cached."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import ProblemError
from rocky_engine.execution import refcache, refs
from rocky_engine.execution.plan import build_plan
from rocky_engine.execution.refcache import CACHE_FILE, RefCache
from rocky_engine.execution.refs import bind, bound_sql, parse_model_sql
from rocky_engine.project import load_project

from .conftest import make_ctx, write_model

MODELS = {"stg_orders", "stg", "Mixed"}
TARGETS = {"stg_orders": ("main__b", "stg_orders"), "stg": ("main__b", "stg"),
           "mixed": ("main__b", "mixed")}

# Each must mean the same spliced as generated from the bound tree.
CASES = [
    "SELECT id FROM stg_orders",
    "select o.id from STG_ORDERS o where o.id > 1",
    "SELECT stg_orders.id FROM stg_orders JOIN stg AS s ON s.id = stg_orders.id",
    "WITH stg AS (SELECT * FROM stg_orders) SELECT stg.id FROM stg",  # CTE shadows model
    'SELECT id FROM "stg_orders" ;',
    "SELECT id FROM stg_orders -- trailing comment",
    ("-- leading comment\nSELECT id FROM stg_orders /* inline */ WHERE id IN "
     "(SELECT id FROM stg) ORDER BY id"),
    "SELECT a.id FROM stg_orders a, raw.orders r WHERE a.id = r.id",
    'SELECT id FROM "Mixed"',
    "SELECT id FROM stg_orders UNION ALL SELECT id FROM stg",
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for schema in ("main__b", "raw"):
        c.execute(f"CREATE SCHEMA {schema}")
    for name in ("stg_orders", "stg", "mixed"):
        c.execute(f"CREATE TABLE main__b.{name} AS SELECT range AS id FROM range(5)")
    c.execute("CREATE TABLE raw.orders AS SELECT range AS id FROM range(3)")
    return c


@pytest.mark.parametrize("sql", CASES)
def test_spliced_text_means_what_the_bound_tree_means(sql: str,
                                                      con: duckdb.DuckDBPyConnection) -> None:
    names = {n.lower() for n in MODELS}
    parsed = parse_model_sql("m", sql, "duckdb", names, {"raw"})
    spliced = bound_sql(parsed, TARGETS, "duckdb")
    assert spliced is not None
    generated = bind(parsed.tree, TARGETS).sql("duckdb")
    assert '"main__b".' in spliced and ";" not in spliced
    assert sorted(con.execute(spliced).fetchall()) == sorted(con.execute(generated).fetchall())
    # Nothing but the bare references changed: the user's text survives around them.
    assert sql.startswith(spliced.split('"main__b"')[0])


def test_splice_keeps_alias_and_adds_one_when_missing() -> None:
    parsed = parse_model_sql("m", "SELECT x.id FROM stg x JOIN stg_orders ON true", "duckdb",
                             {"stg", "stg_orders"}, set())
    out = bound_sql(parsed, {"stg": ("p", "stg"), "stg_orders": ("p", "stg_orders")}, "duckdb")
    assert out == 'SELECT x.id FROM "p"."stg" x JOIN "p"."stg_orders" AS stg_orders ON true'


def test_no_splice_across_dialects_or_statements() -> None:
    parsed = parse_model_sql("m", "SELECT id FROM stg", "postgres", {"stg"}, set())
    assert bound_sql(parsed, {"stg": ("p", "stg")}, "duckdb") is None
    # ...and the tree still binds it for the warehouse's dialect.
    assert '"p"."stg"' in bind(parsed.tree, {"stg": ("p", "stg")}).sql("duckdb")
    with pytest.raises(ProblemError):  # a model is one SELECT; nothing to splice
        parse_model_sql("m", "SELECT id FROM stg; SELECT 2", "duckdb", {"stg"}, set())


def test_untargeted_references_are_left_alone() -> None:
    parsed = parse_model_sql("m", "SELECT id FROM stg", "duckdb", {"stg"}, set())
    assert bound_sql(parsed, {}, "duckdb") == "SELECT id FROM stg"


def test_adapter_builds_from_text_and_from_expressions(tmp_path: Path) -> None:
    parsed = parse_model_sql("m", "SELECT 1 AS a", "duckdb", set(), set())
    with DuckDBAdapter(tmp_path / "w.duckdb") as a:
        a.create_schema("s")
        assert a.create_table_as("s", "t1", "SELECT 1 AS a UNION ALL SELECT 2") == 2
        assert a.create_table_as("s", "t2", parsed.tree) == 1
        a.create_view("s", "v", 'SELECT a FROM "s"."t1"')
        assert a.relations("s") == {"t1": "table", "t2": "table", "v": "view"}
        with pytest.raises(Exception):  # noqa: B017 - no replace: DuckDB refuses
            a.create_table_as("s", "t1", "SELECT 3 AS a")
        assert a.row_count("s", "t1") == 2


def _wide_project(root: Path, n: int) -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "rocky.toml").write_text('[project]\nname = "wide"\ndialect = "duckdb"\n')
    for i in range(n):
        sql = "SELECT 1 AS id" if i == 0 else f"SELECT id FROM m{(i - 1) // 2:03d}"
        (root / "models" / f"m{i:03d}.sql").write_text(sql + "\n")


def test_cache_file_is_written_for_big_projects_and_reused(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    _wide_project(tmp_path, refcache.MIN_MODELS)
    first = build_plan(load_project(tmp_path))
    assert (tmp_path / CACHE_FILE).is_file()

    def no_parse(*a: object, **k: object) -> None:
        raise AssertionError("a warm plan must not parse")

    monkeypatch.setattr(refcache, "scan_sql", no_parse)
    warm = build_plan(load_project(tmp_path))
    assert warm.selected == first.selected
    assert {n: p.model_refs for n, p in warm.parsed.items()} == \
        {n: p.model_refs for n, p in first.parsed.items()}
    # An edited model is a new key: parsed again, never served stale.
    monkeypatch.undo()
    (tmp_path / "models" / "m010.sql").write_text("SELECT id FROM m001 JOIN m002 USING (id)\n")
    edited = build_plan(load_project(tmp_path))
    assert edited.parsed["m010"].model_refs == {"m001", "m002"}


def test_small_projects_keep_no_cache_file(shop: Path) -> None:
    build_plan(load_project(shop))
    assert not (shop / CACHE_FILE).exists()


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    _wide_project(tmp_path, refcache.MIN_MODELS)
    (tmp_path / CACHE_FILE).parent.mkdir(parents=True)
    (tmp_path / CACHE_FILE).write_bytes(b"not a pickle")
    assert len(build_plan(load_project(tmp_path)).selected) == refcache.MIN_MODELS
    assert RefCache.for_project(tmp_path, refcache.MIN_MODELS).path is not None


def test_run_builds_a_model_with_comments_and_semicolon(built_shop: Path) -> None:
    write_model(built_shop, "note", "-- a note kept in the view\n"
                "SELECT customer_id FROM stg_customers ;\n")
    assert make_ctx(built_shop).run(["note"]).ok
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        (text,) = a.fetchall("SELECT sql FROM duckdb_views() WHERE view_name = 'note'")[0]
        assert "main.stg_customers" in text  # bound to prod (DuckDB re-renders view SQL)
        assert a.row_count("main", "note") == a.row_count("main", "stg_customers")


def test_a_warm_run_parses_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _wide_project(tmp_path, refcache.MIN_MODELS + 10)
    (tmp_path / "models" / "m001.toml").write_text('materialized = "table"\n')
    assert make_ctx(tmp_path).run().ok  # cold: parses, fills the cache

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a warm run must not parse or generate model SQL")

    monkeypatch.setattr(refs, "_parse", refuse)
    monkeypatch.setattr(refs.ParsedModel, "tree", property(refuse))
    result = make_ctx(tmp_path).run()
    assert result.ok and result.count("success") == refcache.MIN_MODELS + 10
    assert result.model("m001").rows == 1 and result.model("m003").materialized == "view"
