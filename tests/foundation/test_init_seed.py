from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rocky_engine import ProjectLoadError, UsageError, load_project
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project


def test_init_skeleton_loads(tmp_path: Path, run_cli) -> None:
    result = run_cli("init", str(tmp_path / "new_proj"))
    assert result.exit_code == 0, result.output
    project = load_project(tmp_path / "new_proj")
    assert project.name == "new_proj"
    assert project.models == {}
    assert (tmp_path / "new_proj" / ".gitignore").read_text().count("duckdb") >= 1


def test_init_refuses_non_empty_folder(tmp_path: Path, run_cli) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_init_unknown_example(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        init_project(tmp_path / "x", example="nope")


def test_seed_loads_declared_types(shop: Path) -> None:
    results = Context.load(shop).seed()
    assert {r.table for r in results} == {"raw.customers", "raw.orders", "raw.payments"}
    con = duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True)
    try:
        types = dict(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema='raw' AND table_name='orders'").fetchall())
    finally:
        con.close()
    assert types == {"id": "INTEGER", "customer_id": "INTEGER", "order_date": "DATE",
                     "status": "VARCHAR", "amount": "DECIMAL(10,2)"}


def test_seed_is_idempotent(shop: Path) -> None:
    Context.load(shop).seed()
    results = Context.load(shop).seed()
    assert {r.table: r.rows for r in results}["raw.orders"] == 160


def test_seed_refuses_header_mismatch(shop: Path, run_cli) -> None:
    csv = shop / "seeds" / "raw" / "orders.csv"
    lines = csv.read_text().splitlines()
    lines[0] = lines[0].replace("amount", "total")
    csv.write_text("\n".join(lines) + "\n")
    result = run_cli("seed", "--project", str(shop))
    assert result.exit_code == 2
    assert "seeds/raw/orders.csv:1" in result.stderr
    assert "missing amount" in result.stderr and "undeclared total" in result.stderr
    # nothing half-loaded: the refusal happens before any table is written
    assert not (shop / "warehouse.duckdb").exists()


def test_seed_refuses_bad_value_and_keeps_previous_data(shop: Path, run_cli) -> None:
    Context.load(shop).seed()
    csv = shop / "seeds" / "raw" / "payments.csv"
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "lots")
    csv.write_text("\n".join(lines) + "\n")
    result = run_cli("seed", "--project", str(shop))
    assert result.exit_code == 2
    assert "seeds/raw/payments.csv" in result.stderr and "raw.payments" in result.stderr
    con = duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT COUNT(*) FROM raw.payments").fetchall() == [(177,)]
    finally:
        con.close()


def test_seed_for_undeclared_table(shop: Path) -> None:
    (shop / "seeds" / "raw" / "refunds.csv").write_text("id\n1\n")
    with pytest.raises(ProjectLoadError, match="not a declared source table"):
        Context.load(shop).seed()
