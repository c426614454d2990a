"""Drift fixtures: a seeded shop whose value fingerprints were recorded, and helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from rocky_engine.context import Context
from rocky_engine.drift import DriftReport

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "fixtures" / "drift"


def alter(root: Path, *statements: str) -> None:
    """Change the live warehouse the way an upstream loader would."""
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def drift(root: Path, **kwargs: object) -> DriftReport:
    return Context.load(root).drift(**kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def _known_template(tmp_path_factory: pytest.TempPathFactory, _seeded_template: Path) -> Path:
    root = tmp_path_factory.mktemp("known") / "shop"
    shutil.copytree(_seeded_template, root)
    report = drift(root)
    assert not report.drifted, report.to_json()
    return root


@pytest.fixture
def known_shop(tmp_path: Path, _known_template: Path) -> Path:
    """The seeded shop after one clean `rocky drift`, so last known values are stored."""
    root = tmp_path / "shop"
    shutil.copytree(_known_template, root)
    return root
