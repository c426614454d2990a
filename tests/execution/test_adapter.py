from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import WarehouseError

from .conftest import make_ctx, snapshot, write_model


def _q(sql: str) -> exp.Query:
    import sqlglot

    tree = sqlglot.parse_one(sql, dialect="duckdb")
    assert isinstance(tree, exp.Query)
    return tree


def test_object_methods() -> None:
    a = DuckDBAdapter(":memory:")
    assert isinstance(a, WarehouseAdapter)
    a.create_schema("s")
    assert a.create_table_as("s", "t", _q("SELECT range AS x FROM range(3)")) == 3
    a.create_view("s", "v", _q('SELECT x FROM "s"."t"'))
    assert a.relations("s") == {"t": "table", "v": "view"}
    a.create_table_as("s", "t__tmp", _q("SELECT 1 AS x, 2 AS y"))
    a.swap_table("s", "t__tmp", "t")
    assert a.relations("s") == {"t": "table", "v": "view"}
    assert a.row_count("s", "t") == 1
    a.create_table_as("s", "v_tmp", _q("SELECT 5 AS x"))
    a.swap_table("s", "v_tmp", "v", existing_kind="view")  # a view replaced by a table
    assert a.relations("s") == {"t": "table", "v": "table"}
    a.rename("s", "v", "w")
    a.drop_relation("s", "w")
    a.drop_relation("s", "never_existed")
    assert a.relations("s") == {"t": "table"}
    with pytest.raises(WarehouseError):
        a.rename("s", "nope", "x")


def test_transaction_is_reentrant_and_rolls_back() -> None:
    a = DuckDBAdapter(":memory:")
    a.create_schema("s")
    with a.transaction(), a.transaction():
        a.create_view("s", "a", _q("SELECT 1 AS x"))
    assert "a" in a.relations("s")
    with pytest.raises(WarehouseError), a.transaction():
        a.create_view("s", "b", _q("SELECT 1 AS x"))
        with a.transaction():
            a.execute("SELECT * FROM no_such_table")
    assert "b" not in a.relations("s")
    with a.transaction():  # usable again afterwards
        a.create_view("s", "c", _q("SELECT 1 AS x"))
    assert "c" in a.relations("s")


def test_tmp_and_swap_path_without_transactional_ddl(built_shop: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Adapters without transactional DDL build ``__rocky_tmp`` and swap it in."""
    monkeypatch.setattr(DuckDBAdapter, "SUPPORTS_TRANSACTIONAL_DDL", False)
    before = snapshot(built_shop)
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:  # as left by a killed run
        a.create_table_as("main", "customers__rocky_tmp", _q("SELECT 1 AS junk"))
    assert make_ctx(built_shop).run().ok
    assert snapshot(built_shop) == before  # same data, no leftover temporary table
    sql = (built_shop / "models" / "order_payments.sql").read_text()
    write_model(built_shop, "order_payments",
                sql.replace("o.status,", "o.status, CAST(o.status AS INTEGER) AS code,"))
    result = make_ctx(built_shop).run(["order_payments"])
    assert result.model("order_payments").status == "error"
    assert snapshot(built_shop) == before
