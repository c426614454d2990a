"""Helpers shared by the intent-layer tests (imported as ``intent_helpers``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes.openai_server import FakeOpenAIServer, FakeReply

REPO = Path(__file__).resolve().parents[2]
LLM_FIXTURES = REPO / "fixtures" / "llm"
KEY_ENV = "ROCKY_TEST_LLM_KEY"
SECRET = "sk-test-do-not-leak-7f3a"


def reply(payload: Any, **kw: Any) -> FakeReply:
    """A 200 reply whose content is ``payload`` as JSON (or the string itself)."""
    return FakeReply(content=payload if isinstance(payload, str) else json.dumps(payload), **kw)


def canned(name: str) -> FakeReply:
    """A reply stored in fixtures/llm/<name>.json."""
    return FakeReply(content=(LLM_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def use_openai(root: Path, server: FakeOpenAIServer, *, model: str = "fake-1",
               extra: str = "") -> None:
    """Point the project's [agent] at the fake server."""
    config = root / "rocky.toml"
    text = config.read_text(encoding="utf-8")
    head, _, _ = text.partition("[agent]")
    config.write_text(
        head + "[agent]\n"
        f'provider = "openai"\nmodel = "{model}"\nbase_url = "{server.base_url}"\n'
        f'api_key_env = "{KEY_ENV}"\ntimeout = 5\nmax_retries = 1\n' + extra,
        encoding="utf-8")
