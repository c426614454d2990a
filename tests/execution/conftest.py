"""Helpers for the execution tests: contexts with short lock waits, prod snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.context import Context


def make_ctx(root: Path, **kw: Any) -> Context:
    ctx = Context.load(root, **kw)
    ctx.lock_timeout = 1.0
    return ctx


def snapshot(root: Path, schema: str = "main") -> dict[str, Any]:
    """Every relation of ``schema``: kind, view SQL, and all rows (sorted)."""
    with DuckDBAdapter(root / "warehouse.duckdb") as a:
        out: dict[str, Any] = {}
        views = dict(a.fetchall(
            "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = ?", [schema]))
        for name, kind in sorted(a.relations(schema).items()):
            rows = a.fetchall(f'SELECT * FROM "{schema}"."{name}"')
            out[name] = (kind, views.get(name), sorted(map(repr, rows)))
        return out


def write_model(root: Path, name: str, sql: str, sidecar: str | None = None) -> None:
    (root / "models" / f"{name}.sql").write_text(sql)
    if sidecar is not None:
        (root / "models" / f"{name}.toml").write_text(sidecar)


@pytest.fixture
def built_shop(seeded_shop: Path) -> Path:
    """The seeded example with every model built into prod."""
    result = make_ctx(seeded_shop).run()
    assert result.ok, result.summary()
    return seeded_shop
