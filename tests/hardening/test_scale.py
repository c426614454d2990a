"""Huge models and deep DAGs: no recursion limit, no hang, a result or a clear error.

A 1,500-level chain of models and a 3,000-column model through compile, lineage (every
format) and run. Each test carries its own timeout so a hang fails instead of stalling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hardening_helpers import assert_clean, tally

Cli = Callable[..., Any]
DEPTH = 1500
WIDTH = 3000

CONFIG = """[project]
name = "big"
dialect = "duckdb"

[warehouse]
type = "duckdb"
path = "warehouse.duckdb"
schema = "main"
"""


def _project(root: Path, source_columns: dict[str, str]) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(CONFIG)
    cols = "\n".join(f'{name} = "{kind}"' for name, kind in source_columns.items())
    (root / "sources" / "raw.toml").write_text(f'schema = "raw"\n[tables.t.columns]\n{cols}\n')
    return root


def _chain(root: Path, depth: int) -> Path:
    _project(root, {"id": "INTEGER", "v": "VARCHAR"})
    models = root / "models"
    (models / "m0000.sql").write_text("SELECT id, v FROM raw.t")
    for i in range(1, depth):
        (models / f"m{i:04d}.sql").write_text(f"SELECT id + 1 AS id, v FROM m{i - 1:04d}")
    return root


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _chain(tmp_path_factory.mktemp("deep") / "p", DEPTH)


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _project(tmp_path_factory.mktemp("wide") / "p",
                    {f"c{i:04d}": ("INTEGER" if i % 2 else "VARCHAR") for i in range(WIDTH)})
    cols = ",\n    ".join(
        f"c{i:04d} + 1 AS n{i:04d}" if i % 2 else f"UPPER(c{i:04d}) AS n{i:04d}"
        for i in range(WIDTH))
    (root / "models" / "wide.sql").write_text(f"SELECT\n    {cols}\nFROM raw.t\n")
    (root / "models" / "narrow.sql").write_text("SELECT n0001, n2999 FROM wide")
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        conn.execute("CREATE SCHEMA raw")
        conn.execute("CREATE TABLE raw.t AS SELECT " + ", ".join(
            f"{i}::INTEGER AS c{i:04d}" if i % 2 else f"'s{i}' AS c{i:04d}"
            for i in range(WIDTH)))
    finally:
        conn.close()
    return root


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_deep_dag_compiles(deep: Path, run_cli: Cli) -> None:
    res = run_cli("compile", "--project", str(deep), "--format", "json")
    assert_clean(res, (0,), category="scale", case=f"compile {DEPTH}-level chain")
    data = json.loads(res.stdout)
    assert len(data["models"]) == DEPTH
    assert all(c["type"] == "INTEGER" for m in data["models"] for c in m["columns"]
               if c["name"] == "id")


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("args", [
    ("m1499.id", "--format", "json"),
    ("raw.t.id", "--downstream", "--format", "json"),
    ("m1499.id", "--format", "mermaid"),
    ("m1499", "--format", "dot"),
])
def test_deep_dag_lineage(deep: Path, run_cli: Cli, args: tuple[str, ...]) -> None:
    res = run_cli("lineage", *args, "--project", str(deep))
    assert_clean(res, (0,), category="scale", case=f"lineage {' '.join(args)} on the chain")
    if "json" in args:
        data = json.loads(res.stdout)
        assert len(data["edges"]) == DEPTH  # one hop per level, plus the source
        assert not data["incomplete"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_deep_dag_lineage_text(deep: Path, run_cli: Cli) -> None:
    res = run_cli("lineage", "m1499.id", "--project", str(deep))
    assert_clean(res, (0,), category="scale", case="lineage text on the chain")
    assert "raw.t.id" in res.stdout


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_deep_view_chain_runs_or_fails_clearly(tmp_path: Path, run_cli: Cli) -> None:
    # DuckDB caps expression depth at 1,000: a chain of 520 views nests past it. rocky
    # must report the failing model and skip its dependents, not crash.
    root = _chain(tmp_path / "p", 520)
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute("CREATE TABLE raw.t AS SELECT range::INTEGER AS id, 'x' AS v FROM range(3)")
    conn.close()
    res = run_cli("run", "--project", str(root), "--format", "json")
    assert_clean(res, (0, 1), category="scale", case="run a 520-view chain")
    if res.exit_code == 1:
        assert "expression depth" in res.output


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_wide_model_compiles_runs_and_traces(wide: Path, run_cli: Cli) -> None:
    res = run_cli("compile", "--project", str(wide), "--format", "json")
    assert_clean(res, (0,), category="scale", case=f"compile a {WIDTH}-column model")
    model = next(m for m in json.loads(res.stdout)["models"] if m["name"] == "wide")
    assert len(model["columns"]) == WIDTH
    assert {c["type"] for c in model["columns"]} == {"INTEGER", "VARCHAR"}
    run = run_cli("run", "--project", str(wide))
    assert_clean(run, (0,), category="scale", case=f"run a {WIDTH}-column model")
    lin = run_cli("lineage", "narrow.n2999", "--project", str(wide), "--format", "json")
    assert_clean(lin, (0,), category="scale", case="lineage through a wide model")
    assert "raw.t.c2999" in {n["id"] for n in json.loads(lin.stdout)["nodes"]}
    down = run_cli("lineage", "raw.t", "--downstream", "--project", str(wide), "--format", "json")
    assert_clean(down, (0, 2), category="scale", case="downstream of a wide source")


def _nested(tmp_path: Path, run_cli: Cli) -> tuple[Any, list[dict[str, Any]]]:
    root = _project(tmp_path / "p", {"id": "INTEGER"})
    expr = "(" * 3000 + "id" + ")" * 3000
    (root / "models" / "nested.sql").write_text(f"SELECT {expr} AS x FROM raw.t")
    (root / "models" / "joins.sql").write_text("SELECT s.x FROM (SELECT 1 AS x) AS s " + " ".join(
        f"JOIN (SELECT 1 AS y{i}) AS j{i} ON TRUE" for i in range(300)))
    res = run_cli("compile", "--project", str(root), "--format", "json")
    return res, json.loads(res.stdout)["diagnostics"] if res.stdout.startswith("{") else []


@pytest.mark.timeout(120)
def test_deeply_nested_expression_is_contained_to_its_model(tmp_path: Path,
                                                            run_cli: Cli) -> None:
    res, diags = _nested(tmp_path, run_cli)
    ok = res.exit_code == 1 and "Traceback" not in res.output and "R999" not in res.output
    tally("scale", "3,000 nested parentheses", ok)
    assert ok, res.output[-2000:]
    # One located error for that model; the 300-join model next to it compiles.
    assert [d["file"] for d in diags if d["severity"] == "error"] == ["models/nested.sql"]


@pytest.mark.timeout(120)
def test_deeply_nested_expression_has_a_proper_diagnostic(tmp_path: Path,
                                                          run_cli: Cli) -> None:
    _, diags = _nested(tmp_path, run_cli)
    assert "internal" not in diags[0]["message"], diags[0]
