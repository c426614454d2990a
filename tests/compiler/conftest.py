"""Compiler test fixtures and the ``--update-golden`` switch.

    .venv/bin/pytest tests/compiler --update-golden   # rewrite fixtures/compile/broken/*/expected.txt

(``ROCKY_UPDATE_GOLDEN=1`` does the same when another folder's conftest owns the option.)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.compiler import CompileResult, compile_project
from rocky_engine.project import load_project

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "compile"


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption("--update-golden", action="store_true", default=False,
                         help="Rewrite golden files instead of comparing.")
    except ValueError:
        pass  # already registered by another test folder's conftest


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden", default=False)) or \
        os.environ.get("ROCKY_UPDATE_GOLDEN") == "1"


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """A copy of fixtures/compile/base plus extra files: ``make_project({"models/x.sql": ...})``."""

    def make(files: dict[str, str] | None = None, overlay: Path | None = None) -> Path:
        root = tmp_path / "proj"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(CORPUS / "base", root)
        if overlay is not None:
            shutil.copytree(overlay, root, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("expected.txt"))
        for rel, text in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make


def compile_dir(root: Path, **kwargs: object) -> CompileResult:
    return compile_project(load_project(root), **kwargs)  # type: ignore[arg-type]
