"""Conformance: the incremental methods every adapter has (rocky_engine.adapters.incremental).

A staged batch applied to a stored table by merge, delete+insert and append; new columns;
a branch's copy of a table; and all of it undone by a rolled-back transaction.
"""

from __future__ import annotations

import pytest
from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.errors import WarehouseError

from .conftest import backends_with

COLS = ["id", "v", "note"]


def _setup(a: WarehouseAdapter) -> None:
    a.create_schema("inc")
    a.create_table_as("inc", "t", "SELECT * FROM (VALUES (1, 10, 'a'), (2, 20, 'b')) "
                                  "AS s(id, v, note)", replace=True)
    a.create_table_as("inc", "b", "SELECT * FROM (VALUES (2, 21, 'b'), (3, 30, 'c')) "
                                  "AS s(id, v, note)", replace=True)


def _rows(a: WarehouseAdapter, name: str = "t", schema: str = "inc") -> list[tuple[object, ...]]:
    return sorted(a.fetchall(exp.select(*COLS).from_(table_ref(schema, name))))


def test_merge_rows(adapter: WarehouseAdapter) -> None:
    _setup(adapter)
    adapter.merge_rows("inc", "t", "b", ["id"], COLS)
    assert _rows(adapter) == [(1, 10, "a"), (2, 21, "b"), (3, 30, "c")]


def test_delete_insert_rows(adapter: WarehouseAdapter) -> None:
    _setup(adapter)
    adapter.delete_insert_rows("inc", "t", "b", ["id"], COLS)
    assert _rows(adapter) == [(1, 10, "a"), (2, 21, "b"), (3, 30, "c")]


def test_insert_rows_with_and_without_a_key(adapter: WarehouseAdapter) -> None:
    _setup(adapter)
    adapter.insert_rows("inc", "t", "b", COLS, skip_stored_key=["id"])
    assert _rows(adapter) == [(1, 10, "a"), (2, 20, "b"), (3, 30, "c")]
    adapter.insert_rows("inc", "t", "b", COLS)
    assert len(_rows(adapter)) == 5


def test_add_columns_and_clone(adapter: WarehouseAdapter) -> None:
    _setup(adapter)
    adapter.add_columns("inc", "t", [("extra", exp.DataType.build("VARCHAR"))])
    table = adapter.table("inc", "t")
    assert table is not None and [c.name for c in table.columns][-1] == "extra"
    assert adapter.fetchall("SELECT count(*) FROM inc.t WHERE extra IS NULL")[0][0] == 2
    adapter.create_schema("inc__b")
    kind = adapter.clone_table("inc", "t", "inc__b")
    assert kind == adapter.CLONE_KIND and kind in ("copy", "zero-copy")
    assert _rows(adapter, "t", "inc__b") == _rows(adapter)
    adapter.create_table_as("inc__b", "b", exp.select(exp.Star()).from_(table_ref("inc", "b")))
    adapter.merge_rows("inc__b", "t", "b", ["id"], COLS)
    assert len(_rows(adapter, "t", "inc__b")) == 3
    assert _rows(adapter) == [(1, 10, "a"), (2, 20, "b")]  # the original is untouched


# Without transactions (Spark) a merge is built aside and swapped in: the test above and
# tests/spark/test_spark_kill.py.
@pytest.mark.parametrize("backend", backends_with(transactions=True), indirect=True)
def test_a_failed_transaction_undoes_the_merge(adapter: WarehouseAdapter) -> None:
    _setup(adapter)
    with pytest.raises(WarehouseError), adapter.transaction():
        adapter.merge_rows("inc", "t", "b", ["id"], COLS)
        adapter.execute("SELECT CAST('x' AS INTEGER)")
    assert _rows(adapter) == [(1, 10, "a"), (2, 20, "b")]
