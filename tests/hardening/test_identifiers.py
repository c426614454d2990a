"""Hostile identifiers and path traversal: models, columns, branches, schemas, selectors.

Names with quotes, semicolons, unicode, reserved words and great length either get a clear
error naming the file (exit 2), or work end to end with the exact name kept. The
``sandbox`` fixture proves afterwards that the canary table survived and nothing was
written next to the project.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hardening_helpers import assert_clean, listing, relations

Cli = Callable[..., Any]
DROP = "DROP TABLE vault.canary_keep"
LONG = "m" * 120


def _columns(root: Path, relation: str) -> list[str]:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return [d[0] for d in conn.execute(f'SELECT * FROM main."{relation}" LIMIT 0').description]
    finally:
        conn.close()


# ------------------------------------------------------------------ model names

BAD_MODEL_NAMES = ["my model", "café", "a;b", 'a"b', "a'b", "1abc",
                   "x;" + DROP.replace(" ", "_"), "a-b", "$x", "a.b", "\u202eevil"]


def test_model_names_that_are_not_identifiers(sandbox: Path, run_cli: Cli) -> None:
    before = relations(sandbox)
    for name in BAD_MODEL_NAMES:
        path = sandbox / "models" / f"{name}.sql"
        path.write_text("SELECT 1 AS x")
        res = run_cli("run", "--project", str(sandbox))
        assert_clean(res, (2,), category="identifiers", case=f"model {name!r}")
        assert "R003" in res.output and "not a plain identifier" in res.output, name
        assert f"models/{name}.sql" in res.output
        path.unlink()
    assert relations(sandbox) == before  # refused before any SQL


@pytest.mark.parametrize("name", ["select", "order", "from", "group", "Upper", LONG, "_", "t__x"])
def test_model_names_that_are_reserved_or_long_work(sandbox: Path, run_cli: Cli,
                                                     name: str) -> None:
    (sandbox / "models" / f"{name}.sql").write_text("SELECT 1 AS x")
    (sandbox / "models" / "reader.sql").write_text(f'SELECT x FROM "{name.lower()}"')
    res = run_cli("run", "--project", str(sandbox))
    assert_clean(res, (0,), category="identifiers", case=f"model {name!r}")
    assert ("main", name.lower()) in relations(sandbox)
    lin = run_cli("lineage", "reader.x", "--project", str(sandbox), "--format", "json")
    assert_clean(lin, (0,))
    assert f"{name.lower()}.x" in {n["id"] for n in json.loads(lin.stdout)["nodes"]}


# ------------------------------------------------------------------ column names

HOSTILE_COLUMNS = ['a"b', "c;DROP TABLE vault.canary_keep;--", "é ü", "select", "from",
                   "c" * 300, "x'y", "tab\there", "MiXeD", "🦀"]


def test_hostile_output_columns_are_kept_exactly(sandbox: Path, run_cli: Cli) -> None:
    select = ", ".join(f'{i} AS "{c.replace(chr(34), chr(34) * 2)}"'
                       for i, c in enumerate(HOSTILE_COLUMNS))
    (sandbox / "models" / "q.sql").write_text(f"SELECT {select}")
    res = run_cli("run", "--project", str(sandbox), "--select", "q")
    assert_clean(res, (0,), category="identifiers", case="hostile output columns")
    # DuckDB folds nothing inside quotes: the names arrive exactly as written.
    assert _columns(sandbox, "q") == HOSTILE_COLUMNS
    out = run_cli("compile", "--project", str(sandbox), "--format", "json")
    model = next(m for m in json.loads(out.stdout)["models"] if m["name"] == "q")
    assert [c["name"] for c in model["columns"]] == HOSTILE_COLUMNS
    # (a name holding a dot cannot be named as MODEL.COLUMN; those are read from compile)
    for col in ('a"b', "é ü", "select", "x'y", "🦀"):
        lin = run_cli("lineage", f"q.{col}", "--project", str(sandbox), "--format", "json")
        assert_clean(lin, (0,))
        assert json.loads(lin.stdout)["root"] == f"q.{col}"


def test_compile_keeps_the_case_of_quoted_output_columns(shop: Path, run_cli: Cli) -> None:
    (shop / "models" / "q.sql").write_text('SELECT 1 AS "MiXeD", 2 AS "DROP"')
    out = run_cli("compile", "--project", str(shop), "--format", "json")
    model = next(m for m in json.loads(out.stdout)["models"] if m["name"] == "q")
    assert [c["name"] for c in model["columns"]] == ["MiXeD", "DROP"]
    lin = run_cli("lineage", "q.MiXeD", "--project", str(shop), "--format", "json")
    assert lin.exit_code == 0, lin.output


def test_duplicate_columns_differing_in_case_are_a_clear_error(sandbox: Path,
                                                               run_cli: Cli) -> None:
    (sandbox / "models" / "dup.sql").write_text('SELECT 1 AS "a", 2 AS "A"')
    res = run_cli("compile", "--project", str(sandbox))
    assert_clean(res, (0, 1), category="identifiers", case="columns differing in case")


# ------------------------------------------------------------------ sources

@pytest.mark.parametrize("schema,table", [
    ('ev"il; DROP TABLE vault.canary_keep; --', "t"),
    ("../outside", "t"),
    ("raw", "t'1"),
    ("raw", "a b"),
    ("raw", "../../etc/passwd"),
    ("é", "t"),
])
def test_source_schemas_and_tables_that_are_not_identifiers(sandbox: Path, run_cli: Cli,
                                                            schema: str, table: str) -> None:
    (sandbox / "sources" / "evil.toml").write_text(
        f'schema = {json.dumps(schema)}\n[tables.{json.dumps(table)}.columns]\nid = "INTEGER"\n')
    for command in ("compile", "seed", "drift", "run"):
        res = run_cli(command, "--project", str(sandbox))
        assert_clean(res, (2,), category="identifiers", case=f"source {schema}.{table}")
        assert "sources/evil.toml" in res.output and "R003" in res.output


def test_reserved_source_names_work_end_to_end(sandbox: Path, run_cli: Cli) -> None:
    (sandbox / "sources" / "sel.toml").write_text(
        'schema = "select"\n[tables."order".columns]\n"from" = "INTEGER"\n"group" = "VARCHAR"\n')
    (sandbox / "seeds" / "select").mkdir()
    (sandbox / "seeds" / "select" / "order.csv").write_text("from,group\n1,a\n2,b\n")
    (sandbox / "models" / "m.sql").write_text('SELECT "from", "group" FROM "select"."order"')
    for command in ("seed", "run"):
        assert_clean(run_cli(command, "--project", str(sandbox)), (0,),
                     category="identifiers", case=f"reserved source names: {command}")
    assert _columns(sandbox, "m") == ["from", "group"]
    lin = run_cli("lineage", "m.from", "--project", str(sandbox), "--format", "json")
    assert "select.order.from" in {n["id"] for n in json.loads(lin.stdout)["nodes"]}
    drift = run_cli("drift", "--check", "--project", str(sandbox))
    assert_clean(drift, (0,), category="identifiers", case="reserved source names: drift")


def test_source_column_with_a_semicolon(sandbox: Path, run_cli: Cli) -> None:
    (sandbox / "sources" / "odd.toml").write_text(
        'schema = "odd"\n[tables.t.columns]\n"a;b" = "INTEGER"\n')
    (sandbox / "seeds" / "odd").mkdir()
    (sandbox / "seeds" / "odd" / "t.csv").write_text('"a;b"\n1\n')
    (sandbox / "models" / "m.sql").write_text('SELECT "a;b" FROM odd.t')
    assert_clean(run_cli("seed", "--project", str(sandbox)), (0,))
    res = run_cli("run", "--project", str(sandbox))
    assert_clean(res, (0,), category="identifiers", case="source column a;b")
    assert _columns(sandbox, "m") == ["a;b"]


# ------------------------------------------------------------------ branches

BAD_BRANCHES = ["../evil", "x; DROP TABLE vault.canary_keep", "é", "a" * 41, "", "A", "a-b",
                "a b", 'main"; --', "../../../tmp/x", "select;", "\x00"]


@pytest.mark.parametrize("verb", ["create", "diff", "promote", "drop"])
def test_hostile_branch_names(sandbox: Path, run_cli: Cli, verb: str) -> None:
    before = relations(sandbox)
    for name in BAD_BRANCHES:
        res = run_cli("branch", verb, name, "--project", str(sandbox))
        assert_clean(res, (2,), category="identifiers", case=f"branch {verb} {name!r}")
        assert "invalid branch name" in res.output, name
    res = run_cli("run", "--branch", "../evil", "--project", str(sandbox))
    assert_clean(res, (2,), category="identifiers", case="run --branch ../evil")
    assert relations(sandbox) == before


@pytest.mark.parametrize("name", ["select", "x" * 40, "_", "0"])
def test_edge_branch_names_that_are_valid(built_box: Path, run_cli: Cli, name: str) -> None:
    sandbox = built_box
    for args in (("branch", "create", name), ("run", "--branch", name, "--select", "stg_orders+"),
                 ("branch", "diff", name), ("branch", "drop", name)):
        res = run_cli(*args, "--project", str(sandbox))
        assert_clean(res, (0,), category="identifiers", case=f"branch {name!r}: {args[1]}")


# ------------------------------------------------------------------ path traversal

TRAVERSALS = ["../../etc/passwd", "../outside", "/etc/passwd", "customers/../../../evil",
              "..", "models/../customers", "customers\x00"]


@pytest.mark.parametrize("command", [
    ("lineage",), ("explain",), ("gen-tests", "--write"), ("intent", "confirm"),
    ("run", "--select"), ("test", "--select"),
])
def test_model_arguments_that_try_path_traversal(sandbox: Path, run_cli: Cli,
                                                 command: tuple[str, ...]) -> None:
    before = listing(sandbox)
    for target in TRAVERSALS:
        # gen-tests takes MODEL before its flag; the others take the target last.
        args = (command[0], target, command[1]) if command[0] == "gen-tests" \
            else (*command, target)
        res = run_cli(*args, "--project", str(sandbox))
        assert_clean(res, (2,), category="traversal", case=f"{' '.join(command)} {target!r}")
    after = listing(sandbox)
    changed = {k for k in set(before) | set(after)
               if before.get(k) != after.get(k) and not k.startswith(("target/", "warehouse"))}
    assert not changed, changed


def test_symlinked_sidecar_pointing_outside_is_not_written_through(sandbox: Path,
                                                                   run_cli: Cli) -> None:
    outside = sandbox.parent / "bystander.txt"
    original = outside.read_bytes()
    sidecar = sandbox / "models" / "customers.toml"
    sidecar.unlink()
    sidecar.symlink_to(outside)
    res = run_cli("intent", "confirm", "customers", "--project", str(sandbox))
    assert_clean(res, (0, 1, 2), category="traversal", case="symlinked sidecar")
    assert outside.read_bytes() == original


def test_model_folder_symlink_loop_is_a_clear_result(sandbox: Path, run_cli: Cli) -> None:
    (sandbox / "models" / "loop").symlink_to(sandbox / "models")
    res = run_cli("compile", "--project", str(sandbox))
    assert_clean(res, (0, 1, 2), category="traversal", case="symlink loop in models/")


# ------------------------------------------------------------------ warehouse schema

def _set_schema(root: Path, schema: str) -> None:
    config = root / "rocky.toml"
    config.write_text(config.read_text().replace('schema = "main"', f"schema = {json.dumps(schema)}"))


def _branch_story(run_cli: Cli, root: Path, case: str) -> None:
    for args in (("run",), ("branch", "create", "fix"),
                 ("run", "--branch", "fix", "--select", "stg_orders+"),
                 ("branch", "promote", "fix"), ("branch", "drop", "fix")):
        res = run_cli(*args, "--project", str(root))
        assert_clean(res, (0,), category="identifiers", case=f"{case}: {' '.join(args)}")


@pytest.mark.parametrize("schema", ["select", "s" * 100, "_x"])
def test_reserved_and_long_warehouse_schemas_work(sandbox: Path, run_cli: Cli,
                                                  schema: str) -> None:
    _set_schema(sandbox, schema)
    _branch_story(run_cli, sandbox, f"warehouse schema {schema[:12]!r}")
    assert (schema, "customers") in relations(sandbox)


def test_hostile_warehouse_schema_is_refused(sandbox: Path, run_cli: Cli) -> None:
    _set_schema(sandbox, 'main"; DROP TABLE vault.canary_keep; --')
    for command in ("compile", "run", "seed", "drift"):
        res = run_cli(command, "--project", str(sandbox))
        assert_clean(res, (2,), category="identifiers", case=f"hostile warehouse schema: {command}")
        assert "rocky.toml" in res.output and "plain identifier" in res.output


def test_mixed_case_warehouse_schema_branch_story(sandbox: Path, run_cli: Cli) -> None:
    _set_schema(sandbox, "Main")
    _branch_story(run_cli, sandbox, "warehouse schema 'Main'")


# ------------------------------------------------------------------ drift --accept

def test_drift_accept_with_hostile_live_names(sandbox: Path, run_cli: Cli) -> None:
    conn = duckdb.connect(str(sandbox / "warehouse.duckdb"))
    try:
        # A column name that tries to break out of its TOML key, and one with SQL in it.
        conn.execute('ALTER TABLE raw.orders ADD COLUMN "evil"" = 1\n[tables.pwn]\nx = ""INTEGER" '
                     "VARCHAR")
        conn.execute('ALTER TABLE raw.orders ADD COLUMN "é;DROP TABLE vault.canary_keep;--" INTEGER')
        conn.execute('CREATE TABLE raw."new""tbl" (id INTEGER)')
    finally:
        conn.close()
    sources = sandbox / "sources" / "raw.toml"
    old = sources.read_text()
    # A live table whose name the loader would refuse: refused before anything is written.
    res = run_cli("drift", "--accept", "--yes", "--project", str(sandbox))
    assert_clean(res, (2,), category="identifiers", case="drift --accept: table new\"tbl")
    assert "not a plain identifier" in res.output and sources.read_text() == old
    conn = duckdb.connect(str(sandbox / "warehouse.duckdb"))
    conn.execute('DROP TABLE raw."new""tbl"')
    conn.close()
    # Hostile column names are written as quoted keys: valid TOML, no new table smuggled in.
    res = run_cli("drift", "--accept", "--yes", "--project", str(sandbox))
    assert_clean(res, (0,), category="identifiers", case="drift --accept: hostile column names")
    spec = tomllib.loads(sources.read_text())
    assert "pwn" not in spec["tables"]
    assert 'evil" = 1\n[tables.pwn]\nx = "INTEGER' in spec["tables"]["orders"]["columns"]
    check = run_cli("drift", "--check", "--project", str(sandbox))
    assert_clean(check, (0,), category="identifiers", case="drift --check after accept")
    assert_clean(run_cli("run", "--project", str(sandbox)), (0,))
