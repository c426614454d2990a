"""The intent layer's public surface: pinned names, light imports, registered commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from intent_agent import providers


def test_providers_all_is_pinned() -> None:
    assert providers.__all__ == [
        "Candidate", "FusionProvider", "FusionRecord", "JudgeCall", "LLMError", "LLMRequest",
        "LLMResult", "OfflineProvider", "OfflineUnsupported", "OpenAIProvider", "Provider",
        "ScriptedProvider", "Validator", "Verdict", "estimate_tokens", "is_offline",
        "make_provider",
    ]
    for name in providers.__all__:
        assert getattr(providers, name) is not None


def test_importing_the_commands_loads_no_llm_sdk() -> None:
    """`rocky --help` loads the entry points; the openai SDK (~2 s) waits for a real call."""
    code = ("import sys, intent_agent.cli, intent_agent.providers, intent_agent.explain, "
            "intent_agent.gen_tests; print('openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_commands_are_registered(run_cli) -> None:
    r = run_cli("--help")
    for name in ("explain", "gen-tests", "intent"):
        assert name in r.stdout
    r = run_cli("intent", "--help")
    assert r.exit_code == 0 and "confirm" in r.stdout


def test_demo_steps_run_on_a_built_project(built_shop, capsys) -> None:
    from intent_agent.intent_demo_steps import intent_steps
    from rocky_engine.context import Context

    ctx = Context.load(built_shop)
    for _title, step in intent_steps():
        step(ctx)
    out = capsys.readouterr().out
    assert "grain: (customer_id)  inherited" in out
    assert "wrote 2 test(s) to models/order_payments.toml" in out


@pytest.mark.parametrize("module", [
    "intent_agent.providers", "intent_agent.providers.base", "intent_agent.providers.scripted",
    "intent_agent.providers.offline", "intent_agent.providers.factory", "intent_agent.safety", "intent_agent.rules",
    "intent_agent.prompting",
])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_offline_provider_never_completes_free_text() -> None:
    from pydantic import BaseModel

    class Anything(BaseModel):
        text: str

    with pytest.raises(providers.OfflineUnsupported, match="cannot complete the `explain`"):
        providers.OfflineProvider().complete(providers.LLMRequest("explain", "s", "u"), Anything)
    scripted = providers.ScriptedProvider("m", ['{"nope": 1}'])
    with pytest.raises(providers.LLMError, match="invalid Anything"):
        scripted.complete(providers.LLMRequest("explain", "s", "u"), Anything)
