"""Type parity on Spark: the ``warehouse_type`` ``rocky compile`` reports for a Spark
project is the type Spark's own catalog gives the column.

Every model of the example project and of the valid-SQL test corpus
(``fixtures/compile/valid``) is created on Spark as a view over empty source tables of
the declared types (in DAG order, rendered by the dialect layer exactly as ``rocky run``
renders it) and its columns are read back from the catalog. Models Spark cannot express
are refused by the compile (R400) and listed in :data:`REFUSED`; columns rocky still
types differently from Spark are listed in :data:`KNOWN_DIFFERENCES` with both types, so
a fix (or a new difference) is noticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rocky_engine.adapters.spark import SparkAdapter, _ddl_type
from rocky_engine.compiler.target import TargetModels
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project

from .conftest import spark_toml

REPO = Path(__file__).resolve().parents[2]

# Models of the corpus the compile refuses for Spark (R400), with the construct.
REFUSED: dict[str, set[str]] = {
    "shop": set(),
    "valid": set(),
}

# (project, model, column) -> (rocky's warehouse_type, Spark's type).
KNOWN_DIFFERENCES: dict[tuple[str, str, str], tuple[str, str]] = {}


def _project(kind: str, tmp_path: Path) -> Path:
    root = tmp_path / kind
    if kind == "shop":
        init_project(root, example="shop")
    else:
        shutil.copytree(REPO / "fixtures" / "compile" / "valid", root)
    text = (root / "rocky.toml").read_text()
    head = text.split("[warehouse]")[0]
    (root / "rocky.toml").write_text(head.rstrip() + "\n\n" + spark_toml("pm"))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["shop", "valid"])
def test_warehouse_types_match_sparks_catalog(spark: SparkAdapter, kind: str,
                                              tmp_path: Path) -> None:
    ctx = Context.load(_project(kind, tmp_path))
    result = ctx.compile(use_cache=False)
    refused = {d.model for d in result.diagnostics if d.code == "R400"}
    assert refused == REFUSED[kind], [d.headline() for d in result.diagnostics
                                      if d.code == "R400"]
    assert not [d for d in result.errors if d.code != "R400"]
    for src in ctx.project.sources.values():
        spark.create_schema(src.schema)
        cols = ", ".join(f"`{c.name}` {_ddl_type(c.type)}" for c in src.columns)
        spark.execute(f"CREATE TABLE `{src.schema}`.`{src.name}` ({cols}) USING parquet")
    spark.create_schema("pm")
    models = TargetModels(ctx.project, result, "spark")
    targets = {n: ("pm", n) for n in result.order}
    built = []
    for name in result.order:
        if name in refused:
            continue
        spark.create_view("pm", name, models.bound(name, targets))
        built.append(name)
    assert built, "nothing was built"
    live = {t.name.lower(): {c.name: c.type for c in t.columns}
            for t in spark.catalog(["pm"])}
    differences = {}
    checked = 0
    for name in built:
        want = result.warehouse_types[name]
        for column, spark_type in live[name].items():
            checked += 1
            if want.get(column) != spark_type:
                differences[(kind, name, column)] = (want.get(column), spark_type)
    known = {k: v for k, v in KNOWN_DIFFERENCES.items() if k[0] == kind}
    assert differences == known
    assert checked >= (30 if kind == "shop" else 100)
