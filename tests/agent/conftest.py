"""Fixtures for the intent layer: a built example project, the fake LLM server, goldens.

    .venv/bin/pytest tests/agent --update-golden   # rewrite fixtures/llm/golden/*

(the switch is registered once in tests/conftest.py; ``ROCKY_UPDATE_GOLDEN=1`` also works.)
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ -> `fakes`
sys.path.insert(0, str(Path(__file__).resolve().parent))  # -> `intent_helpers`

from fakes.openai_server import FakeOpenAIServer
from intent_helpers import KEY_ENV, LLM_FIXTURES, SECRET

from rocky_engine.context import Context


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden", default=False)) or \
        os.environ.get("ROCKY_UPDATE_GOLDEN") == "1"


@pytest.fixture
def golden(update_golden: bool) -> Callable[[str, str], None]:
    """``golden(name, text)``: compare with fixtures/llm/golden/<name> (or rewrite it)."""

    def check(name: str, text: str) -> None:
        path = LLM_FIXTURES / "golden" / name
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}: run pytest tests/agent --update-golden"
        assert text == path.read_text(encoding="utf-8"), (
            f"{name} differs from its golden file; if the change is intended, run "
            "pytest tests/agent --update-golden and review the diff")

    return check


@pytest.fixture(scope="session")
def _built_template(tmp_path_factory: pytest.TempPathFactory, _seeded_template: Path) -> Path:
    root = tmp_path_factory.mktemp("built") / "shop"
    shutil.copytree(_seeded_template, root)
    result = Context.load(root).run()
    assert result.ok, result
    return root


@pytest.fixture
def built_shop(tmp_path: Path, _built_template: Path) -> Path:
    """The example project, seeded and with every model built into the warehouse."""
    root = tmp_path / "shop"
    shutil.copytree(_built_template, root)
    return root


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET
