"""[warehouse] type = "postgres": configuration, the missing driver, the dialect layer.

Each rewrite of the dialect layer is executed on both warehouses (DuckDB in process, the
test's PostgreSQL server) and must give the same rows.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
import sqlglot

from rocky_engine.adapters.dialect import DialectError, normalize_type, render
from rocky_engine.adapters.postgres import PostgresAdapter
from rocky_engine.context import Context
from tests.conftest import PG_DSN_ENV, invoke_cli


def _set_warehouse(root: Path, block: str) -> None:
    config = root / "rocky.toml"
    text = config.read_text()
    start = text.index("[warehouse]")
    end = text.find("\n[", start + 1)
    config.write_text(text[:start] + block + text[end:])


def test_dsn_with_password_is_refused_pointing_to_dsn_env(shop: Path) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\n'
                         'dsn = "postgresql://etl:s3cret@db:5432/analytics"\n')
    result = invoke_cli("compile", "--project", str(shop))
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "rocky.toml:" in lines[0] and "password" in lines[0] and "dsn_env" in lines[0]
    assert "s3cret" not in result.output


def test_key_value_dsn_with_password_is_refused_too(shop: Path) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\n'
                         'dsn = "host=db dbname=analytics user=etl password=x"\n')
    result = invoke_cli("compile", "--project", str(shop))
    assert result.exit_code == 2 and "dsn_env" in result.stderr


def test_duckdb_keys_on_a_postgres_warehouse_are_an_error(shop: Path) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\npath = "w.duckdb"\n')
    result = invoke_cli("compile", "--project", str(shop))
    assert result.exit_code == 2
    assert "unknown key `warehouse.path`" in result.stderr


def test_unknown_warehouse_type_lists_the_known_ones(shop: Path) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "oracle"\n')
    result = invoke_cli("compile", "--project", str(shop))
    assert result.exit_code == 2
    assert "'oracle'" in result.stderr and "postgres" in result.stderr


def test_without_psycopg_one_line_says_what_to_install(shop: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\ndsn = "host=/nonexistent"\n')
    code = ("import sys; sys.modules['psycopg'] = None; "
            "from rocky_engine.cli import main; main(['run', '--project', sys.argv[1]])")
    proc = subprocess.run([sys.executable, "-c", code, str(shop)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "pip install 'rocky-intent[postgres]'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_dsn_env_variable_is_a_config_error(shop: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\ndsn_env = "ROCKY_NO_SUCH_VAR"\n')
    monkeypatch.delenv("ROCKY_NO_SUCH_VAR", raising=False)
    result = invoke_cli("seed", "--project", str(shop))
    assert result.exit_code == 2
    assert "ROCKY_NO_SUCH_VAR" in result.stderr and "not set" in result.stderr


def test_libpq_environment_variables_are_honoured(pg_server, shop: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = pg_server.create_database()
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\nschema = "main"\n')
    monkeypatch.setenv("PGHOST", str(pg_server.base))
    monkeypatch.setenv("PGPORT", "5432")
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGDATABASE", db)
    result = invoke_cli("seed", "--project", str(shop))
    assert result.exit_code == 0, result.output
    with psycopg.connect(pg_server.dsn(db)) as conn:
        assert conn.execute("SELECT count(*) FROM raw.orders").fetchone()[0] > 0


# ---------------------------------------------------------------------------- compile --target


def test_compile_target_postgres_locates_what_cannot_be_expressed(shop: Path) -> None:
    (shop / "models" / "odd.sql").write_text(
        "SELECT customer_id,\n       {'a': 1} AS s,\n       list_aggregate([1, 2], 'sum') AS x\n"
        "FROM stg_customers\n")
    result = invoke_cli("compile", "--project", str(shop), "--target", "postgres",
                        "--format", "json")
    assert result.exit_code == 1
    import json

    doc = json.loads(result.stdout)
    r400 = [d for d in doc["diagnostics"] if d["code"] == "R400"]
    assert {(d["file"], d["line"]) for d in r400} == {("models/odd.sql", 2),
                                                      ("models/odd.sql", 3)}
    assert any("struct literal" in d["message"] and "postgres" in d["message"] for d in r400)
    assert any("list_aggregate" in d["message"] for d in r400)
    # The same project for its own warehouse (DuckDB) is fine.
    assert invoke_cli("compile", "--project", str(shop)).exit_code == 0


def test_a_postgres_project_compiles_against_its_target_without_a_server(
        shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_warehouse(shop, '[warehouse]\ntype = "postgres"\ndsn = "host=/nonexistent"\n')
    assert invoke_cli("compile", "--project", str(shop)).exit_code == 0
    (shop / "models" / "odd.sql").write_text("SELECT {'a': 1} AS s\n")
    result = invoke_cli("compile", "--project", str(shop))
    assert result.exit_code == 1 and "R400" in result.stdout


def test_run_refuses_before_touching_the_warehouse(pg_shop: Path) -> None:
    (pg_shop / "models" / "odd.sql").write_text("SELECT {'a': 1} AS s\n")
    result = invoke_cli("run", "--project", str(pg_shop))
    assert result.exit_code == 1
    assert "R400" in result.output
    with PostgresAdapter(_dsn()) as pg:
        assert "main" not in pg.schemas()


def _dsn() -> str:
    import os

    return os.environ[PG_DSN_ENV]


# ---------------------------------------------------------------------------- executed rewrites

_TABLE = ("CREATE TABLE t (a INTEGER, b VARCHAR, c INTEGER, d DATE, x DOUBLE)", [
    (1, "p", 3, "2024-03-05", 1.255), (2, "p", 1, "2024-03-20", 2.5),
    (3, "q", 2, "2024-04-01", 3.0), (4, "q", 5, "2024-04-02", None),
])

CASES = [
    "SELECT a, b FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) = 1 ORDER BY a DESC",
    ("SELECT a, ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) AS rn FROM t "
     "QUALIFY rn <= 1 ORDER BY c LIMIT 1"),
    "SELECT DATE_TRUNC('month', d) AS m, COUNT(*) AS n FROM t GROUP BY 1 ORDER BY 1",
    "SELECT a, ROUND(x, 1) AS r FROM t ORDER BY a",
    "SELECT a, c / 2 AS half, c // 2 AS idiv FROM t ORDER BY a",
    "SELECT b, STRING_AGG(CAST(a AS VARCHAR), ',' ORDER BY a) AS s FROM t GROUP BY b ORDER BY b",
]


def _normal(rows: list[tuple]) -> list[tuple]:
    def norm(v: object) -> object:
        if isinstance(v, float | Decimal):
            return round(float(v), 6)
        if hasattr(v, "isoformat"):
            return str(v)[:19]
        return v
    return [tuple(norm(v) for v in r) for r in rows]


@pytest.mark.parametrize("sql", CASES)
def test_rewrites_keep_duckdb_meaning_on_postgres(sql: str, pg_dsn: str) -> None:
    from rocky_engine.compiler.target import TargetModels  # noqa: F401 - same layer used by run

    duck = duckdb.connect()
    duck.execute(_TABLE[0])
    duck.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", _TABLE[1])
    expected = _normal(duck.execute(sql).fetchall())
    tree = _qualified(sql)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(render(sqlglot.parse_one(_TABLE[0], dialect="duckdb"), "postgres"))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s, %s)", _TABLE[1])
        got = _normal(conn.execute(render(tree, "postgres")).fetchall())
    assert got == expected, render(tree, "postgres")


def _qualified(sql: str) -> sqlglot.exp.Query:
    from rocky_engine.compiler.infer import infer_types
    from rocky_engine.compiler.ir import CompiledColumn
    from rocky_engine.compiler.parse import parse_model
    from rocky_engine.compiler.positions import Site

    site = Site("m", "m.sql", sql.replace("FROM t", "FROM raw.t"))
    tree, _ = parse_model(site, "duckdb")
    cols = [CompiledColumn("a", "INTEGER"), CompiledColumn("b", "VARCHAR"),
            CompiledColumn("c", "INTEGER"), CompiledColumn("d", "DATE"),
            CompiledColumn("x", "DOUBLE")]
    typed = infer_types(tree, site, {"raw.t": cols}, "duckdb")
    out = typed.tree
    for table in out.find_all(sqlglot.exp.Table):
        table.set("db", None)  # the test table lives in the default schema
    return out


def test_exclude_is_expanded_from_the_qualified_tree(pg_seeded_shop: Path) -> None:
    (pg_seeded_shop / "models" / "slim.sql").write_text(
        "SELECT * EXCLUDE (email, signup_date) FROM stg_customers\n")
    ctx = Context.load(pg_seeded_shop)
    result = ctx.run(["+slim"])
    assert result.ok, [m.error for m in result.models]
    with PostgresAdapter(_dsn()) as pg:
        table = pg.table("main", "slim")
        assert table is not None
        assert [c.name for c in table.columns] == ["customer_id", "customer_name",
                                                   "country_code"]


def test_unexpanded_exclude_is_refused_not_sent() -> None:
    tree = sqlglot.parse_one("SELECT * EXCLUDE (a) FROM t", dialect="duckdb")
    with pytest.raises(DialectError) as info:
        render(tree, "postgres")
    assert "EXCLUDE" in info.value.message


def test_introspected_types_are_normalised_to_rocky_names(pg_dsn: str) -> None:
    with PostgresAdapter(pg_dsn) as pg:
        pg.execute("CREATE SCHEMA raw")
        pg.execute("CREATE TABLE raw.t (a numeric(10,2), b character varying(20), c text, "
                   "d timestamp without time zone, e int4, f timestamptz, g double precision, "
                   "h boolean, i date, j bigint, k real, l smallint, m numeric, n char(2))")
        (table,) = pg.catalog(["raw"])
    assert [c.type for c in table.columns] == [
        "DECIMAL(10,2)", "VARCHAR", "VARCHAR", "TIMESTAMP", "INTEGER",
        "TIMESTAMP WITH TIME ZONE", "DOUBLE", "BOOLEAN", "DATE", "BIGINT", "FLOAT",
        "SMALLINT", "DECIMAL", "VARCHAR"]
    assert normalize_type("timestamp(3) without time zone", "postgres") == "TIMESTAMP"
