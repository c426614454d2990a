"""The fake OpenAI-compatible server itself (other test folders reuse it)."""

from __future__ import annotations

import openai
import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply


def test_scripts_per_model_and_records_requests() -> None:
    with FakeOpenAIServer(default=FakeReply(content="default")) as s:
        s.script("a", FakeReply(content="a1"), FakeReply(content="a2"))
        client = openai.OpenAI(base_url=s.base_url, api_key="k", max_retries=0)

        def ask(model: str) -> str:
            r = client.chat.completions.create(model=model, messages=[
                {"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}])
            return r.choices[0].message.content or ""

        assert [ask("a"), ask("b"), ask("a"), ask("a")] == ["a1", "default", "a2", "default"]
        assert [r.model for r in s.requests] == ["a", "b", "a", "a"]
        assert s.requests[0].system == "sys" and s.requests[0].last_user == "hi"
        assert s.requests[0].path == "/v1/chat/completions"


def test_status_codes_headers_and_unscripted_models() -> None:
    with FakeOpenAIServer() as s:
        s.script("a", FakeReply(status=429, headers={"Retry-After": "3"}, content="slow down"))
        client = openai.OpenAI(base_url=s.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="a", messages=[{"role": "user", "content": "x"}])
        assert info.value.response.headers["retry-after"] == "3"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="z", messages=[{"role": "user", "content": "x"}])


def test_refuses_json_schema_like_llama_cpp() -> None:
    with FakeOpenAIServer(refuse_json_schema=True, default=FakeReply(content="{}")) as s:
        client = openai.OpenAI(base_url=s.base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(
                model="a", messages=[{"role": "user", "content": "x"}],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "x", "schema": {"type": "object"}}})
        r = client.chat.completions.create(model="a", messages=[{"role": "user", "content": "x"}],
                                           response_format={"type": "json_object"})
        assert r.choices[0].message.content == "{}"
