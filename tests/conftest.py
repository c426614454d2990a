"""Shared fixtures: the example shop project, fresh per test."""

from __future__ import annotations

import shutil
import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rocky_engine.context import Context
from rocky_engine.scaffold import init_project

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    # One switch for every golden-file suite (compiler, lineage, prompts, repairs).
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite golden files instead of comparing them.")


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "shop"
    init_project(root, example="shop")
    Context.load(root).seed()
    return root


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A fresh copy of the example project, not yet seeded."""
    root = tmp_path / "shop"
    init_project(root, example="shop")
    return root


@pytest.fixture
def seeded_shop(tmp_path: Path, _seeded_template: Path) -> Path:
    """A fresh copy of the example project whose warehouse holds the seeds (raw.*)."""
    root = tmp_path / "shop"
    shutil.copytree(_seeded_template, root)
    return root


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """Run the real ``main`` in-process (error rendering and exit codes included)."""
    from rocky_engine.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    return invoke_cli
