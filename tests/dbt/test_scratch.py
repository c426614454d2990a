"""The scratch DuckDB that answers what dbt macros ask the warehouse while compiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocky_engine.importers.dbt._dbt_install import find_dbt_macros
from rocky_engine.importers.dbt._scratch import ScratchCatalog, ScratchError


def test_constant_queries_run_and_anything_else_is_refused(tmp_path: Path) -> None:
    cat = ScratchCatalog("dev")
    cols, rows = cat.constant_query(
        "select date_diff('day', cast('2024-01-01' as date), cast('2024-01-10' as date)) as n")
    assert (cols, rows) == (["n"], [(9,)])
    # A CTE is not a table.
    assert cat.constant_query("with t as (select 2 as x) select x from t")[1] == [(2,)]
    for sql, why in [
        ("select count(*) from main.orders", "it queries main.orders"),
        ("select current_date", "depends on when it runs"),
        ("select now()", "depends on when it runs"),
        ("select random()", "depends on when it runs"),
        ("select 1; select 2", "more than one statement"),
        ("create table x as select 1", "it queries"),
        ("select from where", "does not parse"),
    ]:
        with pytest.raises(ScratchError, match=why):
            cat.constant_query(sql)
    # Even a table function reading a file gets nowhere: the connection is sandboxed.
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(ScratchError, match="could not run it alone"):
        cat.constant_query(f"select * from read_csv('{secret}')")


def test_seeds_and_views_give_their_columns_in_order(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("Id,name,Born\n1,ann,2000-01-02\n")
    cat = ScratchCatalog("dev")
    try:
        cat.add_seed("main", "people", [("Id", "INTEGER"), ("name", "VARCHAR"),
                                        ("Born", "DATE")], csv)
        assert cat.has("MAIN", "People")
        assert cat.columns("main", "people") == ["Id", "name", "Born"]
        cat.add_view("mart", "p2", 'select "Born", name as who from "dev"."main"."people"')
        assert cat.columns("mart", "p2") == ["Born", "who"]
        with pytest.raises(ScratchError, match="does not bind"):
            cat.add_view("mart", "bad", "select nope from main.people")
    finally:
        cat.close()


def test_finds_the_macros_of_a_dbt_installation(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.99" / "site-packages"
    (site / "dbt" / "include" / "global_project" / "macros").mkdir(parents=True)
    (site / "dbt" / "include" / "duckdb" / "macros").mkdir(parents=True)
    (site / "dbt_core-1.11.16.dist-info").mkdir()
    exe = tmp_path / "venv" / "bin" / "dbt"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    found = find_dbt_macros("duckdb", str(exe))
    assert found is not None and found.version == "1.11.16"
    assert [f.parent.name for f in found.folders] == ["duckdb", "global_project"]
    assert find_dbt_macros("postgres", str(exe)).folders[0].parent.name == "global_project"  # type: ignore[union-attr]
    assert find_dbt_macros("duckdb", str(tmp_path / "nowhere" / "dbt")) is None
