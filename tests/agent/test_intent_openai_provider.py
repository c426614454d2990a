"""The OpenAI-compatible provider against a fake server, through the real ``openai`` SDK."""

from __future__ import annotations

import time

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply
from intent_helpers import KEY_ENV, SECRET, reply
from pydantic import BaseModel

from intent_agent.providers import LLMError, LLMRequest, OpenAIProvider, make_provider
from rocky_engine.config import AgentConfig, FusionConfig
from rocky_engine.errors import ConfigError

REQ = LLMRequest(task="explain", system="You explain.", user="Explain the model.")


class Answer(BaseModel):
    summary: str
    score: int = 0


def provider(server: FakeOpenAIServer, model: str = "m1", **kw) -> OpenAIProvider:
    sleeps: list[float] = []
    kw.setdefault("sleep", sleeps.append)
    p = OpenAIProvider(model=model, api_key=SECRET, base_url=server.base_url,
                       timeout=kw.pop("timeout", 5), max_retries=kw.pop("max_retries", 2), **kw)
    p.sleeps = sleeps  # type: ignore[attr-defined]
    return p


def test_structured_reply_uses_json_schema_and_records_usage(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", reply({"summary": "ok", "score": 3}, prompt_tokens=120,
                                completion_tokens=30, cost=0.0042))
    result = provider(fake_llm).complete(REQ, Answer)
    assert result.value == Answer(summary="ok", score=3)
    assert (result.prompt_tokens, result.completion_tokens, result.cost) == (120, 30, 0.0042)
    assert result.attempts == 1 and result.model == "m1" and result.latency_s > 0
    sent = fake_llm.requests[0]
    assert sent.response_format == "json_schema"
    schema = sent.body["response_format"]["json_schema"]
    assert schema["name"] == "Answer" and "summary" in schema["schema"]["properties"]
    assert [m["role"] for m in sent.body["messages"]] == ["system", "user"]


def test_cost_is_none_when_server_does_not_report_it(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", reply({"summary": "ok"}))
    assert provider(fake_llm).complete(REQ, Answer).cost is None


def test_server_refusing_json_schema_falls_back_to_json_object() -> None:
    with FakeOpenAIServer(refuse_json_schema=True) as server:
        server.script("m1", reply({"summary": "fallback"}))
        p = provider(server)
        result = p.complete(REQ, Answer)
        assert result.value.summary == "fallback"
        assert [r.response_format for r in server.requests] == ["json_schema", "json_object"]
        # The schema travels in the system prompt once the server cannot enforce it.
        assert '"summary"' in server.requests[1].system
        assert any("refused response_format json_schema" in n for n in result.notes)
        # The provider remembers: the next call starts with json_object.
        server.script("m1", reply({"summary": "again"}))
        p.complete(REQ, Answer)
        assert server.requests[-1].response_format == "json_object"


def test_server_refusing_every_format_gets_plain_text(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", FakeReply(status=400, content="no json_schema"),
                    FakeReply(status=400, content="no json_object"),
                    reply('Sure! ```json\n{"summary": "plain"}\n```'.replace("Sure! ", "")))
    result = provider(fake_llm).complete(REQ, Answer)
    assert result.value.summary == "plain"
    assert [r.response_format for r in fake_llm.requests] == ["json_schema", "json_object", None]


def test_malformed_json_gets_one_repair_retry(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", reply('{"summary": "unterminated'), reply({"summary": "fixed"}))
    result = provider(fake_llm).complete(REQ, Answer)
    assert result.value.summary == "fixed" and result.attempts == 2
    repair = fake_llm.requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"summary": "unterminated'}
    assert "not a valid Answer" in repair[-1]["content"]
    assert result.prompt_tokens == 22  # both calls counted


def test_wrong_shape_twice_is_an_llm_error(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", reply({"text": "no summary"}), reply({"score": "not a number"}))
    with pytest.raises(LLMError, match="invalid Answer twice"):
        provider(fake_llm).complete(REQ, Answer)
    assert len(fake_llm.requests) == 2


def test_429_then_success_honours_retry_after(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", FakeReply(status=429, headers={"Retry-After": "7"}),
                    FakeReply(status=503, headers={"Retry-After": "0.25"}),
                    reply({"summary": "after the storm"}))
    p = provider(fake_llm)
    result = p.complete(REQ, Answer)
    assert result.value.summary == "after the storm" and result.attempts == 3
    assert p.sleeps == [7.0, 0.25]  # type: ignore[attr-defined]


def test_retry_after_really_waits(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", FakeReply(status=429, headers={"Retry-After": "0.3"}),
                    reply({"summary": "ok"}))
    p = OpenAIProvider(model="m1", api_key=SECRET, base_url=fake_llm.base_url, timeout=5)
    started = time.monotonic()
    p.complete(REQ, Answer)
    assert time.monotonic() - started >= 0.3


def test_retries_are_bounded(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.default = FakeReply(status=500, content="boom")
    with pytest.raises(LLMError, match="HTTP 500 after 3 attempt"):
        provider(fake_llm, max_retries=2).complete(REQ, Answer)
    assert len(fake_llm.requests) == 3


def test_timeout_is_an_llm_error(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.default = FakeReply(content='{"summary": "late"}', delay=1.5)
    with pytest.raises(LLMError, match="timed out after 0.3s") as info:
        provider(fake_llm, timeout=0.3, max_retries=1).complete(REQ, Answer)
    assert "raise [agent] timeout" in (info.value.hint or "")
    assert len(fake_llm.requests) == 2


def test_timeout_then_success(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", FakeReply(content='{"summary": "late"}', delay=1.0),
                    reply({"summary": "on time"}))
    result = provider(fake_llm, timeout=0.3, max_retries=1).complete(REQ, Answer)
    assert result.value.summary == "on time"


def test_refusal_is_an_llm_error(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", FakeReply(content="", refusal="I can't help with that"))
    with pytest.raises(LLMError, match="refused"):
        provider(fake_llm).complete(REQ, Answer)


def test_headers_and_extra_body_reach_the_server(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("m1", reply({"summary": "ok"}))
    p = provider(fake_llm, headers={"HTTP-Referer": "https://rocky.dev", "X-Title": "rocky"},
                 extra_body={"provider": {"order": ["deepinfra"]}, "transforms": []})
    p.complete(REQ, Answer)
    sent = fake_llm.requests[0]
    assert sent.headers["http-referer"] == "https://rocky.dev"
    assert sent.headers["x-title"] == "rocky"
    assert sent.body["provider"] == {"order": ["deepinfra"]} and sent.body["transforms"] == []
    assert sent.headers["authorization"] == f"Bearer {SECRET}"


def test_rejected_key_is_a_config_error_without_the_key(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.default = FakeReply(status=401, content=f"bad key {SECRET}")
    with pytest.raises(ConfigError) as info:
        provider(fake_llm, api_key_env=KEY_ENV).complete(REQ, Answer)
    rendered = info.value.render()
    assert KEY_ENV in rendered and SECRET not in rendered


def test_key_never_in_errors_or_prompts(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.default = FakeReply(status=500, content="oops")
    with pytest.raises(LLMError) as info:
        provider(fake_llm, max_retries=0).complete(REQ, Answer)
    assert SECRET not in info.value.render()
    assert all(SECRET not in str(r.body) for r in fake_llm.requests)


def test_make_provider_reads_the_key_from_the_named_env_var(fake_llm: FakeOpenAIServer) -> None:
    config = AgentConfig(provider="openai", model="m1", base_url=fake_llm.base_url,
                         api_key_env=KEY_ENV, headers={"X-Title": "rocky"})
    with pytest.raises(ConfigError, match=f"environment variable {KEY_ENV} is not set"):
        make_provider(config, env={})
    p = make_provider(config, env={KEY_ENV: SECRET})
    fake_llm.script("m1", reply({"summary": "ok"}))
    assert p.complete(REQ, Answer).value.summary == "ok"
    assert fake_llm.requests[0].headers["x-title"] == "rocky"


def test_make_provider_config_errors() -> None:
    assert make_provider(AgentConfig()).name == "offline"
    with pytest.raises(ConfigError, match="needs `model`"):
        make_provider(AgentConfig(provider="openai"), env={"OPENAI_API_KEY": "x"})
    with pytest.raises(ConfigError, match=r"\[agent.fusion\]"):
        make_provider(AgentConfig(provider="fusion"), env={"OPENAI_API_KEY": "x"})
    fusion = make_provider(AgentConfig(provider="fusion", fusion=FusionConfig(
        models=["a", "b"], judge="a", mode="merge")), env={"OPENAI_API_KEY": "x"})
    assert fusion.name == "fusion" and fusion.mode == "merge"  # type: ignore[attr-defined]
