"""``rocky repair`` on Spark: validated in the local DuckDB sandbox (a sample of the live
upstream tables) by default, or on a Spark branch database (``validate_on =
"warehouse"``); prod is never written either way.

The sandbox way (a rename and a retype) runs end to end through Spark Connect
(tests/spark/connect_e2e.py); it is the same adapter code as local mode, so it is not run
twice.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from intent_agent.repair import repair_project
from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project

from .conftest import to_spark

_REPAIR = str(Path(__file__).resolve().parents[1] / "agent" / "repair")
if _REPAIR not in sys.path:
    sys.path.insert(0, _REPAIR)

from repair_helpers import git, make_repo

pytestmark = pytest.mark.slow


def _snapshot(spark: SparkAdapter, schema: str = "main") -> dict[str, object]:
    """Every relation of ``schema``: kind and view text, or a digest of its rows."""
    out: dict[str, object] = {}
    for name, kind in sorted(spark.relations(schema).items()):
        if kind == "view":
            # The view's SQL (a view WITH SCHEMA EVOLUTION re-records its column types
            # when read after an upstream change: Spark's metadata, not a write).
            (meta,) = spark.fetchall(f"DESCRIBE TABLE EXTENDED `{schema}`.`{name}` AS JSON")[0]
            out[name] = ("view", json.loads(meta)["view_text"])
        else:
            rows = spark.fetchall(f"SELECT * FROM `{schema}`.`{name}`")
            out[name] = ("table", len(rows),
                         hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest())
    return out


def _recreate(spark: SparkAdapter, table: str, select: str) -> None:
    """Change an upstream table the way Spark allows: recreate it with the new shape."""
    spark.execute(f"CREATE TABLE raw.{table}__new USING parquet AS {select}")
    spark.drop_table("raw", table)
    spark.rename("raw", f"{table}__new", table, kind="table")


@pytest.mark.parametrize("validate_on", ["warehouse"])
def test_repair_rename_and_retype_on_spark(spark: SparkAdapter, tmp_path: Path,
                                           validate_on: str) -> None:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    to_spark(root)
    config = root / "rocky.toml"
    config.write_text(config.read_text().replace(
        "[agent]", f'[agent]\nvalidate_on = "{validate_on}"'))
    (root / ".gitignore").write_text(".rocky/\ntarget/\n")
    ctx = Context.load(root)
    ctx.seed()
    assert ctx.run().ok
    make_repo(root)
    columns = [c for (c,) in spark.fetchall("SHOW COLUMNS IN raw.payments")]
    _recreate(spark, "orders", "SELECT id, customer_id, order_date, status, "
                               "amount AS total_amount FROM raw.orders")
    _recreate(spark, "payments", "SELECT " + ", ".join(
        "CAST(amount AS STRING) AS amount" if c == "amount" else c for c in columns)
        + " FROM raw.payments")
    prod = _snapshot(spark)
    schemas = set(spark.schemas())
    result = repair_project(root, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    assert sorted(p.path for p in result.patches) == [
        "models/stg_orders.sql", "models/stg_payments.sql", "sources/raw.toml"]
    v = result.validation.to_json()
    assert v["ok"] and all(v[s]["ok"] for s in ("compile", "build", "tests", "data_diff"))
    assert "total_amount AS amount" in git(root, "show", f"{result.commit}:models/stg_orders.sql")
    if validate_on == "sandbox":
        assert v["where"] == "sandbox"
        assert {t["table"] for t in v["sandbox"]["tables"]} >= {"raw.orders", "raw.payments"}
        diff = {m["model"]: m for m in v["data_diff"]["models"]}
        assert {diff[n]["status"] for n in ("stg_orders", "customers")} == {"unchanged"}
        assert set(spark.schemas()) == schemas  # nothing created on Spark
    else:
        assert v["where"] == "warehouse branch"
        assert any(s.startswith("main__repair_") for s in spark.schemas())
    assert _snapshot(spark) == prod  # prod never written
