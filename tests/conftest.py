"""Shared fixtures: the example shop project, fresh per test."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rocky_engine.context import Context
from rocky_engine.scaffold import init_project
from tests.pgserver import pg_dsn, pg_server  # noqa: F401 - fixtures for every test area
from tests.sparkfixtures import spark_session, spark_settings  # noqa: F401 - likewise

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    # One switch for every golden-file suite (compiler, lineage, prompts, repairs).
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite golden files instead of comparing them.")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``first`` (each takes a worker for a minute or more) run before the
    rest: started last, one of them would leave the other worker idle at the end."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)


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


PG_DSN_ENV = "ROCKY_TEST_PG_DSN"


def use_postgres(root: Path, dsn: str, monkeypatch: pytest.MonkeyPatch,
                 schema: str = "main") -> Path:
    """Point the project at ``[warehouse] type = "postgres"`` (DSN in an env variable)."""
    config = root / "rocky.toml"
    text = config.read_text()
    start = text.index("[warehouse]")
    end = text.find("\n[", start + 1)
    block = (f'[warehouse]\ntype = "postgres"\ndsn_env = "{PG_DSN_ENV}"\n'
             f'schema = "{schema}"\n')
    config.write_text(text[:start] + block + (text[end:] if end != -1 else ""))
    monkeypatch.setenv(PG_DSN_ENV, dsn)
    return root


@pytest.fixture
def pg_shop(tmp_path: Path, pg_dsn: str,  # noqa: F811 - the fixture, by name
            monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project on a fresh Postgres database, not yet seeded."""
    root = tmp_path / "shop"
    init_project(root, example="shop")
    return use_postgres(root, pg_dsn, monkeypatch)


@pytest.fixture
def pg_seeded_shop(pg_shop: Path) -> Path:
    Context.load(pg_shop).seed()
    return pg_shop


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
