"""A built site of the example shop (run, tested, drifted) and a browser per module."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import invoke_cli
from tests.site.browser import PageErrors, chromium

REPO = Path(__file__).resolve().parents[2]
DRIFT_CASE = REPO / "fixtures" / "drift" / "combined.sql"


def artefacts() -> Path:
    """Where screenshots go: $ROCKY_TEST_ARTEFACTS or target/test-artefacts/docs."""
    folder = Path(os.environ.get("ROCKY_TEST_ARTEFACTS", REPO / "target" / "test-artefacts"))
    folder = folder / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cli_json(root: Path, *args: str) -> dict[str, Any]:
    result = invoke_cli(*args, "--project", str(root), "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def apply_drift(root: Path, script: Path = DRIFT_CASE) -> None:
    statements = [s for s in (
        "\n".join(line for line in chunk.splitlines() if not line.startswith("--")).strip()
        for chunk in script.read_text(encoding="utf-8").split(";")) if s]
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def shop_site(tmp_path_factory: pytest.TempPathFactory, _seeded_template: Path) -> Path:
    """The seeded shop after `rocky run`, `rocky test`, an upstream change, `rocky drift`
    and `rocky docs` (the site is under target/docs)."""
    root = tmp_path_factory.mktemp("site") / "shop"
    shutil.copytree(_seeded_template, root)
    assert invoke_cli("run", "--project", str(root)).exit_code == 0
    assert invoke_cli("test", "--project", str(root)).exit_code == 0
    assert invoke_cli("drift", "--project", str(root)).exit_code == 0  # fingerprints
    apply_drift(root)
    assert invoke_cli("drift", "--project", str(root)).exit_code == 0
    result = invoke_cli("docs", "--project", str(root))
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


class Tab:
    """A page of the site with its console errors; ``shot(name)`` saves a screenshot."""

    def __init__(self, context: Any, site: Path) -> None:
        self.page = context.new_page()
        self.errors = PageErrors(self.page)
        self.site = site

    def open(self, route: str = "", ready: str = "") -> Any:
        self.page.goto(f"file://{self.site / 'index.html'}{route}")
        if ready:
            self.page.wait_for_selector(f"body[data-view={ready}]", timeout=15_000)
        return self.page

    def shot(self, name: str) -> Path:
        path = artefacts() / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def tab(browser: Any, shop_site: Path) -> Iterator[Tab]:
    t = Tab(browser, shop_site / "target" / "docs")
    yield t
    errors = list(t.errors.messages)
    t.page.close()
    assert not errors, f"console errors: {errors}"
