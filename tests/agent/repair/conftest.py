"""Fixtures for the repair tests: a fake GitHub API, a shop project in git with prod built."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared fakes live in tests/fakes; pytest 9 does not put tests/ on sys.path by itself.
_TESTS = str(Path(__file__).resolve().parents[2])
for _path in (_TESTS, str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from fakes.github_api import FakeGitHub
from repair_helpers import git, make_repo

from rocky_engine.context import Context


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token="ghs_secret_token_123", repo="acme/shop") as gh:
        yield gh


@pytest.fixture(scope="session")
def _built_shop_template(tmp_path_factory: pytest.TempPathFactory, _seeded_template: Path) -> Path:
    root = tmp_path_factory.mktemp("repair-template") / "shop"
    shutil.copytree(_seeded_template, root)
    result = Context.load(root).run()
    assert result.ok, result.summary()
    make_repo(root)
    return root


@pytest.fixture
def shop_repo(tmp_path: Path, _built_shop_template: Path) -> Path:
    """The example shop in a git repo (branch main, a bare `origin`), prod built."""
    root = tmp_path / "shop"
    shutil.copytree(_built_shop_template, root)
    origin = tmp_path / "origin.git"
    import subprocess

    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return root
