"""Fixtures for the hostile-input, fault and security suites (helpers: hardening_helpers)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/ (the shared fakes), the repair helpers and this folder's helpers on sys.path;
# pytest runs with --import-mode=importlib, which does not add them.
_TESTS = Path(__file__).resolve().parents[1]
for _p in (str(_TESTS), str(_TESTS / "agent" / "repair"), str(Path(__file__).resolve().parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from hardening_helpers import add_canary, canary_alive, listing

from rocky_engine.context import Context


@pytest.fixture
def sandbox(tmp_path: Path, _seeded_template: Path) -> Iterator[Path]:
    """A seeded shop at ``<tmp>/box/shop`` with a canary; asserts ``<tmp>/box`` holds only it.

    The parent folder check catches any write outside the project (``../x``), and the
    canary any injected statement.
    """
    box = tmp_path / "box"
    box.mkdir()
    (box / "bystander.txt").write_text("must not change\n")
    root = box / "shop"
    shutil.copytree(_seeded_template, root)
    add_canary(root)
    before = {k: v for k, v in listing(box).items() if not k.startswith("shop/")}
    yield root
    after = {k: v for k, v in listing(box).items() if not k.startswith("shop/")}
    assert after == before, f"files written outside the project: {set(after) ^ set(before)}"
    assert canary_alive(root), "the canary table was dropped or changed"


@pytest.fixture(scope="session")
def _built_hardening_template(tmp_path_factory: pytest.TempPathFactory,
                              _seeded_template: Path) -> Path:
    root = tmp_path_factory.mktemp("hard-built") / "shop"
    shutil.copytree(_seeded_template, root)
    result = Context.load(root).run()
    assert result.ok
    return root


@pytest.fixture
def built_box(tmp_path: Path, _built_hardening_template: Path) -> Path:
    """The seeded shop with every model built (prod), at ``<tmp>/shop``."""
    root = tmp_path / "shop"
    shutil.copytree(_built_hardening_template, root)
    return root
