"""--verify's comparison on hand-made warehouses: equal, different rows, different types."""

from __future__ import annotations

from pathlib import Path

import duckdb

from rocky_engine.context import Context
from rocky_engine.importers.dbt._build import BuiltProject
from rocky_engine.importers.dbt._report import ImportReport, ModelReport
from rocky_engine.importers.dbt._verify import _compare

MODELS = {
    "same": "SELECT 1 AS id, 'a' AS v UNION ALL SELECT 2, 'b'",
    "rows": "SELECT 1 AS id, 'a' AS v UNION ALL SELECT 3, 'c'",
    "types": "SELECT 1 AS id",
    "dupes": "SELECT 1 AS id UNION ALL SELECT 1",
}
DBT = {
    "same": "SELECT 2 AS id, 'b' AS v UNION ALL SELECT 1, 'a'",  # other order: still equal
    "rows": "SELECT 1 AS id, 'a' AS v UNION ALL SELECT 2, 'b'",
    "types": "SELECT 1::BIGINT AS id",
    "dupes": "SELECT 1 AS id",                                   # EXCEPT ALL counts rows
}


def test_compare(tmp_path: Path) -> None:
    root = tmp_path / "rocky"
    (root / "models").mkdir(parents=True)
    (root / "rocky.toml").write_text('[project]\nname = "v"\n')
    for name, sql in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql)
        (root / "models" / f"{name}.toml").write_text('materialized = "table"\n')
    ctx = Context.load(root)
    assert ctx.run().ok
    dbt_db = tmp_path / "dbt.duckdb"
    con = duckdb.connect(str(dbt_db))
    for name, sql in DBT.items():
        con.execute(f"CREATE TABLE main.{name} AS {sql}")
    con.close()
    models = [ModelReport(n, "imported", f"models/{n}.sql", rocky_file=f"models/{n}.sql")
              for n in [*MODELS, "gone"]]
    models.append(ModelReport("refused_one", "refused", "models/r.sql"))
    report = ImportReport(str(root), "manifest", "dbt", models, 0, [])
    relations = {n: ("main", n) for n in MODELS}
    relations["gone"] = ("main", "gone")
    _compare(report, BuiltProject(), relations, set(MODELS) | {"refused_one"},
             {}, ctx, dbt_db)
    by = {m.name: m for m in report.models}
    assert (by["same"].verify, by["same"].verify_detail) == ("equal", "2 rows")
    assert by["rows"].verify == "differs"
    assert "1 row(s) only in dbt, 1 only in rocky" in by["rows"].verify_detail
    assert "(2, 'b')" in by["rows"].verify_detail and "(3, 'c')" in by["rows"].verify_detail
    assert by["types"].verify == "differs" and "id BIGINT" in by["types"].verify_detail
    assert by["dupes"].verify == "differs"
    assert (by["gone"].verify, by["gone"].verify_detail) == ("not_run", "dbt did not build it")
    assert by["refused_one"].verify == "not_run"
    assert report.ok is False
