"""Fixtures for `rocky import dbt`: a real dbt (pinned, own virtualenv) and compiled projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.dbt.dbt_env import dbt_executable, run_dbt

SHOP = FIXTURES / "dbt" / "shop"
# What a local `dbt run` in the fixture folder leaves behind: never part of a copy.
_LOCAL = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal", "rocky")


@pytest.fixture(scope="session")
def dbt_exe() -> Path:
    """The pinned dbt; a test that needs it and cannot install it fails (never skips)."""
    try:
        return dbt_executable()
    except Exception as exc:  # noqa: BLE001 - any failure to get dbt fails the test
        pytest.fail(f"dbt is required for this test and could not be installed: {exc}")


def dbt_ok(args: list[str], project: Path) -> None:
    done = run_dbt(args, project)
    if done.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed in {project} (exit {done.returncode}):\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def _shop_compiled(tmp_path_factory: pytest.TempPathFactory, dbt_exe: Path) -> Path:
    root = tmp_path_factory.mktemp("dbt") / "shop"
    shutil.copytree(SHOP, root, ignore=_LOCAL)
    # status_counts reads the warehouse while compiling (run_query): it needs the tables, as
    # a user's `dbt compile` against their warehouse has them. --full-refresh: the
    # incremental model's full-build query.
    dbt_ok(["seed"], root)
    dbt_ok(["run"], root)
    dbt_ok(["compile", "--full-refresh"], root)
    return root


@pytest.fixture
def shop_compiled(tmp_path: Path, _shop_compiled: Path) -> Path:
    """A fresh copy of the shop dbt project with target/manifest.json from `dbt compile`."""
    root = tmp_path / "shop"
    shutil.copytree(_shop_compiled, root, ignore=shutil.ignore_patterns("*.duckdb", "logs"))
    return root


@pytest.fixture
def shop_source(tmp_path: Path) -> Path:
    """A fresh copy of the shop dbt project, never compiled (no target/)."""
    root = tmp_path / "shop_src"
    shutil.copytree(SHOP, root, ignore=_LOCAL)
    return root
