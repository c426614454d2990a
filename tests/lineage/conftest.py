"""Lineage test fixtures and the ``--update-golden`` switch.

    .venv/bin/pytest tests/lineage --update-golden   # rewrite fixtures/lineage/golden/*
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lineage.corpus import ExtractedProject, extract_project

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "lineage" / "project"
GOLDEN = REPO / "fixtures" / "lineage" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption("--update-golden", action="store_true", default=False,
                         help="Rewrite golden files instead of comparing.")
    except ValueError:
        pass  # registered once in tests/conftest.py


@pytest.fixture(scope="session")
def corpus() -> ExtractedProject:
    return extract_project(CORPUS)


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(name, text)``: compare with fixtures/lineage/golden/<name>, or rewrite it."""
    update = bool(request.config.getoption("--update-golden", default=False))

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}: run pytest tests/lineage --update-golden"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name} differs from its golden file"

    return check
