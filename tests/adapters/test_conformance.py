"""The adapter conformance suite: what "an adapter works" means, for every backend.

Each test gets a fresh empty warehouse of each backend (``tests/adapters/conftest.py``)
and talks to it only through the :class:`~rocky_engine.adapters.base.WarehouseAdapter`
interface, with SQL built as sqlglot expressions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.errors import LockTimeout, WarehouseError
from rocky_engine.execution import branches, state

from .conftest import Backend, backends_with


def _select(sql: str) -> exp.Query:
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    assert isinstance(tree, exp.Query)
    return tree


def _rows(adapter: WarehouseAdapter, schema: str, name: str) -> list[tuple[Any, ...]]:
    return sorted(adapter.fetchall(exp.select(exp.Star()).from_(table_ref(schema, name))),
                  key=repr)


def _table(adapter: WarehouseAdapter, schema: str, name: str, sql: str) -> None:
    adapter.create_schema(schema)
    adapter.create_table_as(schema, name, _select(sql), replace=True)


# ---------------------------------------------------------------------------- types

TYPES = [
    ("i", "INTEGER", "CAST(7 AS INTEGER)", 7),
    ("bi", "BIGINT", "CAST(9007199254740993 AS BIGINT)", 9007199254740993),
    ("si", "SMALLINT", "CAST(-3 AS SMALLINT)", -3),
    ("d", "DOUBLE", "CAST(0.25 AS DOUBLE)", 0.25),
    ("dec", "DECIMAL(10,2)", "CAST('12.34' AS DECIMAL(10,2))", Decimal("12.34")),
    ("v", "VARCHAR", "CAST('héllo \"x\"' AS VARCHAR)", 'héllo "x"'),
    ("b", "BOOLEAN", "CAST(TRUE AS BOOLEAN)", True),
    ("dt", "DATE", "CAST('2024-02-29' AS DATE)", dt.date(2024, 2, 29)),
    ("ts", "TIMESTAMP", "CAST('2024-02-29 13:14:15' AS TIMESTAMP)",
     dt.datetime(2024, 2, 29, 13, 14, 15)),
    ("n", "VARCHAR", "CAST(NULL AS VARCHAR)", None),
]


def test_types_round_trip(adapter: WarehouseAdapter) -> None:
    select = ", ".join(f"{expr} AS {name}" for name, _, expr, _ in TYPES)
    _table(adapter, "s", "t", f"SELECT {select}")
    table = adapter.table("s", "t")
    assert table is not None and table.kind == "table"
    assert [(c.name, c.type) for c in table.columns] == [(n, t) for n, t, _, _ in TYPES]
    assert [c.ordinal for c in table.columns] == list(range(1, len(TYPES) + 1))
    (row,) = adapter.fetchall(exp.select(exp.Star()).from_(table_ref("s", "t")))
    assert list(row) == [value for _, _, _, value in TYPES]


def test_load_csv_with_declared_types(adapter: WarehouseAdapter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "t.csv"
    csv.write_text("id,amount,day,note\n1,2.50,2024-01-02,a\n2,,2024-01-03,\"b, c\"\n",
                   encoding="utf-8")
    adapter.create_schema("raw")
    n = adapter.load_csv("raw", "t", [("id", "INTEGER"), ("amount", "DECIMAL(10,2)"),
                                      ("day", "DATE"), ("note", "VARCHAR")], csv)
    assert n == 2
    assert _rows(adapter, "raw", "t") == [
        (1, Decimal("2.50"), dt.date(2024, 1, 2), "a"), (2, None, dt.date(2024, 1, 3), "b, c")]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,amount,day,note\n1,2.50,2024-01-02,a\n2,zz,2024-01-03,b\n")
    with pytest.raises(WarehouseError) as info, adapter.transaction():
        adapter.load_csv("raw", "t", [("id", "INTEGER"), ("amount", "DECIMAL(10,2)"),
                                      ("day", "DATE"), ("note", "VARCHAR")], bad)
    assert "zz" in info.value.message or "line" in info.value.message.lower()
    assert len(_rows(adapter, "raw", "t")) == 2  # the failed load replaced nothing


# ---------------------------------------------------------------------------- objects


def test_create_and_replace_view_and_table(adapter: WarehouseAdapter) -> None:
    _table(adapter, "s", "base", "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'")
    adapter.create_view("s", "v", _select('SELECT a FROM "s"."base"'))
    assert adapter.relations("s") == {"base": "table", "v": "view"}
    # Replaced with other columns (Postgres: not possible in place; the adapter copes).
    adapter.create_view("s", "v", _select('SELECT b, a * 10 AS a10 FROM "s"."base"'),
                        replace=True)
    view = adapter.table("s", "v")
    assert view is not None and view.kind == "view"
    assert [c.name for c in view.columns] == ["b", "a10"]
    rows = adapter.create_table_as("s", "base", _select("SELECT 3 AS a, 'z' AS b"),
                                   replace=True)
    assert rows in (1, None)
    assert adapter.row_count("s", "base") == 1
    assert _rows(adapter, "s", "v") == [("z", 30)]  # the view still reads the new table
    adapter.drop_relation("s", "v")
    adapter.drop_relation("s", "v")  # absent: a no-op
    assert adapter.relations("s") == {"base": "table"}


def test_table_replaced_under_a_view_with_other_columns(adapter: WarehouseAdapter) -> None:
    _table(adapter, "s", "base", "SELECT 1 AS a, 2 AS b")
    adapter.create_view("s", "v", _select('SELECT a FROM "s"."base"'))
    with adapter.transaction():
        adapter.create_table_as("s", "base", _select("SELECT 5 AS a, 'new' AS c"),
                                replace=True)
    assert _rows(adapter, "s", "v") == [(5,)]


def test_atomic_replace_on_failure(adapter: WarehouseAdapter) -> None:
    _table(adapter, "s", "t", "SELECT 1 AS a UNION ALL SELECT 2")
    with pytest.raises(WarehouseError):
        adapter.create_table_as("s", "t", _select("SELECT CAST('nope' AS INTEGER) AS a"),
                                replace=True)
    assert _rows(adapter, "s", "t") == [(1,), (2,)]
    with pytest.raises(WarehouseError):
        adapter.create_view("s", "t", _select('SELECT missing FROM "s"."t"'), replace=True)
    assert adapter.relations("s") == {"t": "table"}


def test_swap_table_and_rename(adapter: WarehouseAdapter) -> None:
    _table(adapter, "s", "t", "SELECT 1 AS a")
    _table(adapter, "s", "t__tmp", "SELECT 2 AS a")
    adapter.swap_table("s", "t__tmp", "t")
    assert adapter.relations("s") == {"t": "table"}
    assert _rows(adapter, "s", "t") == [(2,)]
    adapter.rename("s", "t", "u")
    assert adapter.relations("s") == {"u": "table"}


# ---------------------------------------------------------------------------- transactions


@pytest.mark.parametrize("backend", backends_with(transactions=True), indirect=True)
def test_transaction_rolls_back_everything(adapter: WarehouseAdapter) -> None:
    _table(adapter, "s", "keep", "SELECT 1 AS a")
    with pytest.raises(RuntimeError), adapter.transaction():
        adapter.create_table_as("s", "t1", _select("SELECT 1 AS a"))
        with adapter.transaction():  # joins the outer one
            adapter.create_view("s", "v1", _select('SELECT a FROM "s"."keep"'))
        adapter.create_table_as("s", "keep", _select("SELECT 99 AS a"), replace=True)
        raise RuntimeError("boom")
    assert adapter.relations("s") == {"keep": "table"}
    assert _rows(adapter, "s", "keep") == [(1,)]
    with adapter.transaction():
        adapter.create_table_as("s", "t1", _select("SELECT 1 AS a"))
    assert "t1" in adapter.relations("s")


def test_promote_replaces_prod_in_one_transaction(adapter: WarehouseAdapter) -> None:
    _table(adapter, "main", "a", "SELECT 1 AS x")
    _table(adapter, "main", "b", "SELECT 1 AS y")
    adapter.create_view("main", "c", _select('SELECT x FROM "main"."a"'))
    branches.create_branch(adapter, "main", "dev", ["a", "b", "c"], timeout=2)
    for name, sql in (("a", "SELECT 2 AS x"), ("b", "SELECT 2 AS y")):
        adapter.create_table_as("main__dev", name, _select(sql), replace=True)
        branches.record_build(adapter, "dev", name, "table", "", "r1")
    assert _rows(adapter, "main", "a") == [(1,)]  # branch writes are isolated

    def fail_after_a(model: str) -> None:
        if model == "a":
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        branches.promote_branch(adapter, "main", "dev", timeout=2, after_each=fail_after_a)
    if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
        # No transactions: the journaled promote is finished by the next writer instead
        # of rolled back (every copy was complete when it failed).
        with state.writer_lock(adapter, "run", target="main", selection="*",
                               timeout=2) as ticket:
            assert [r.action for r in ticket.promotes] == ["rolled_forward"]
        assert _rows(adapter, "main", "a") == [(2,)] and _rows(adapter, "main", "b") == [(2,)]
        assert _rows(adapter, "main", "c") == [(2,)]
        _table(adapter, "main", "a", "SELECT 1 AS x")
        _table(adapter, "main", "b", "SELECT 1 AS y")
    assert _rows(adapter, "main", "a") == [(1,)] and _rows(adapter, "main", "b") == [(1,)]
    result = branches.promote_branch(adapter, "main", "dev", timeout=2)
    assert [m.model for m in result.promoted] == ["a", "b"]
    assert _rows(adapter, "main", "a") == [(2,)] and _rows(adapter, "main", "b") == [(2,)]
    assert _rows(adapter, "main", "c") == [(2,)]


# ---------------------------------------------------------------------------- catalog


def test_introspection_of_several_schemas_in_one_call(adapter: WarehouseAdapter) -> None:
    _table(adapter, "raw", "orders", "SELECT 1 AS id, CAST(2.5 AS DECIMAL(10,2)) AS amount")
    _table(adapter, "raw", "people", "SELECT 'x' AS name")
    _table(adapter, "other", "t", "SELECT 1 AS z")
    adapter.create_view("raw", "v", _select('SELECT id FROM "raw"."orders"'))
    tables = {(t.schema, t.name): t for t in adapter.catalog(["raw", "OTHER", "missing"])}
    assert set(tables) == {("raw", "orders"), ("raw", "people"), ("raw", "v"), ("other", "t")}
    assert tables[("raw", "v")].kind == "view"
    assert [(c.name, c.type) for c in tables[("raw", "orders")].columns] == [
        ("id", "INTEGER"), ("amount", "DECIMAL(10,2)")]
    assert "raw" in adapter.schemas() and "other" in adapter.schemas()
    assert adapter.table("raw", "nope") is None


HOSTILE_SCHEMA = 'we"ird sch;--'
HOSTILE_TABLE = "Sel ect'); DROP TABLE x;--"
HOSTILE_COLUMN = 'a"b c'


@pytest.mark.parametrize("backend", backends_with(any_identifier=True), indirect=True)
def test_identifier_quoting_with_hostile_names(adapter: WarehouseAdapter) -> None:
    adapter.create_schema(HOSTILE_SCHEMA)
    query = exp.select(exp.alias_(exp.Literal.number(1), exp.to_identifier(HOSTILE_COLUMN,
                                                                           quoted=True)))
    adapter.create_table_as(HOSTILE_SCHEMA, HOSTILE_TABLE, query)
    adapter.create_view(HOSTILE_SCHEMA, HOSTILE_TABLE + "_v",
                        exp.select(exp.Star()).from_(table_ref(HOSTILE_SCHEMA, HOSTILE_TABLE)))
    assert HOSTILE_SCHEMA in adapter.schemas()
    kinds = adapter.relations(HOSTILE_SCHEMA)
    assert kinds == {HOSTILE_TABLE.lower(): "table", HOSTILE_TABLE.lower() + "_v": "view"}
    (table,) = [t for t in adapter.catalog([HOSTILE_SCHEMA]) if t.kind == "table"]
    assert [c.name for c in table.columns] == [HOSTILE_COLUMN]
    assert adapter.row_count(HOSTILE_SCHEMA, HOSTILE_TABLE + "_v") == 1
    adapter.drop_relation(HOSTILE_SCHEMA, HOSTILE_TABLE + "_v")
    adapter.drop_schema(HOSTILE_SCHEMA)
    assert HOSTILE_SCHEMA not in adapter.schemas()


# ---------------------------------------------------------------------------- locks


def test_writer_lock_excludes_a_second_writer(backend: Backend) -> None:
    first = backend.open()
    try:
        with state.writer_lock(first, "run", target="main", selection="*") as ticket:
            second = backend.open()
            try:
                with pytest.raises(LockTimeout) as info:
                    state.acquire_lock(second, "other", "run", timeout=0.3)
                assert f"PID {os.getpid()}" in info.value.message
            finally:
                second.close()
            ticket.status = "success"
        # Released: the next writer goes straight in.
        with state.writer_lock(first, "run", target="main", selection="*", timeout=0.3):
            pass
        history = state.run_history(first)
        assert [r.status for r in history] == ["success", "success"]
    finally:
        first.close()


KILLED = """
import json, sys, time
from pydantic import TypeAdapter
from rocky_engine.adapters.factory import OpenOptions, open_config
from rocky_engine.config import WarehouseConfig
from rocky_engine.execution import state
import sqlglot
from pathlib import Path

config = TypeAdapter(WarehouseConfig).validate_python(json.loads(sys.argv[1]))
adapter = open_config(config, OpenOptions(Path(sys.argv[2])))
lock = state.writer_lock(adapter, "run", target="main", selection="*")
ticket = lock.__enter__()  # held (and never released) until the kill
with adapter.transaction():
    adapter.create_table_as("main", "t", sqlglot.parse_one("SELECT 666 AS a"), replace=True)
    adapter.create_table_as("main", "u", sqlglot.parse_one("SELECT 666 AS a"), replace=True)
    print("inside", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends_with(transactions=True), indirect=True)
def test_kill_9_recovery(backend: Backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Killed inside a transaction. Without transactions (Spark): a killed promote is tested
    # in tests/spark/test_spark_connect.py and at every step in test_promote_journal.py.
    a = backend.open()
    _table(a, "main", "t", "SELECT 1 AS a")
    a.close()
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(backend.config),
                             str(backend.root)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **backend.env})
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "inside"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=20) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 20
    while True:  # the server may take a moment to notice the dead session
        try:
            a = backend.open()
            break
        except WarehouseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        assert _rows(a, "main", "t") == [(1,)]
        assert "u" not in a.relations("main")
        recovered = state.acquire_lock(a, "next", "run", timeout=10)
        assert recovered is not None and recovered.command == "run"
        state.release_lock(a, "next")
    finally:
        a.close()


# ---------------------------------------------------------------------------- branches


def test_branch_isolation(adapter: WarehouseAdapter) -> None:
    _table(adapter, "main", "m1", "SELECT 1 AS a")
    _table(adapter, "main", "m2", "SELECT 2 AS b")
    info = branches.create_branch(adapter, "main", "dev", ["m1", "m2"], timeout=2)
    assert info.schema == "main__dev"
    assert adapter.relations("main__dev") == {"m1": "view", "m2": "view"}  # zero copy
    adapter.create_table_as("main__dev", "m1", _select("SELECT 10 AS a"), replace=True)
    assert _rows(adapter, "main__dev", "m1") == [(10,)]
    assert _rows(adapter, "main", "m1") == [(1,)]
    _table(adapter, "main", "m2", "SELECT 3 AS b")  # prod moves on: the branch sees it
    assert _rows(adapter, "main__dev", "m2") == [(3,)]
    assert [b.name for b in branches.list_branches(adapter, "main")] == ["dev"]
    branches.drop_branch(adapter, "main", "dev", timeout=2)
    assert "main__dev" not in adapter.schemas()
    assert _rows(adapter, "main", "m1") == [(1,)]


# ---------------------------------------------------------------------------- clones


def test_clone_is_an_independent_connection_to_the_same_warehouse(
        adapter: WarehouseAdapter) -> None:
    """``rocky run --threads`` builds on clones: same data, own transactions, own close."""
    import threading

    _table(adapter, "main", "t", "SELECT 1 AS a")
    one, two = adapter.clone(), adapter.clone()
    try:
        assert _rows(one, "main", "t") == [(1,)]
        # A clone's open transaction is its own: the others do not see it before commit
        # (a warehouse without transactions, Spark, shows each statement at once).
        with one.transaction():
            one.create_table_as("main", "u", _select("SELECT 2 AS b"), replace=True)
            if adapter.SUPPORTS_TRANSACTIONAL_DDL:
                assert "u" not in two.relations("main")
        assert _rows(two, "main", "u") == [(2,)]
        # Builds on two clones at once, from two threads.
        errors: list[BaseException] = []

        def build(conn: WarehouseAdapter, name: str) -> None:
            try:
                with conn.transaction():
                    conn.create_table_as("main", name, _select("SELECT 3 AS c"), replace=True)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=build, args=(c, n))
                   for c, n in ((one, "p1"), (two, "p2"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert {"p1", "p2"} <= set(adapter.relations("main"))
    finally:
        one.close()
        two.close()
    assert _rows(adapter, "main", "p2") == [(3,)]  # closing clones left the adapter open


def test_sandbox_copies_a_sample_through_the_interface(adapter: WarehouseAdapter,
                                                       tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The repair sandbox reads any adapter through table() and fetchall() only."""
    from intent_agent.repair.sandbox import Sandbox, add_live_tables

    _table(adapter, "raw", "events", "SELECT CAST(x AS INTEGER) AS id, CAST(x * 1.5 AS "
           "DECIMAL(10,2)) AS amount, CAST('e' || x AS VARCHAR) AS label, "
           "CAST('2024-01-01' AS DATE) + CAST(x AS INTEGER) AS day "
           "FROM (VALUES (1), (2), (3), (4), (5)) AS v(x)")
    box = Sandbox(tmp_path / "sandbox.duckdb", (), (), sample_rows=3)
    box.path.parent.mkdir(parents=True, exist_ok=True)
    got = add_live_tables(adapter, box, ["raw.events"], "duckdb")
    assert [(t.table, t.rows, t.truncated) for t in got.tables] == [("raw.events", 3, True)]
    from rocky_engine.adapters.duckdb import DuckDBAdapter

    with DuckDBAdapter(box.path, read_only=True) as local:
        live = adapter.table("raw", "events")
        copied = local.table("raw", "events")
        assert live is not None and copied is not None
        assert [(c.name, c.type) for c in copied.columns] == \
            [(c.name, c.type) for c in live.columns]
        rows = local.fetchall("SELECT id, amount, label, day FROM raw.events ORDER BY id")
    assert len(rows) == 3 and all(isinstance(r[1], Decimal) for r in rows)
    assert {r[0] for r in rows} <= {1, 2, 3, 4, 5}
