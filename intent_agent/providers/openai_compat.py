"""Any OpenAI-compatible endpoint through the ``openai`` SDK's Chat Completions.

OpenAI, OpenRouter, Ollama, vLLM and llama.cpp's server all speak it, with different
support for structured output, so the reply format degrades step by step and the
provider remembers what the server accepted::

    json_schema (strict, from the pydantic schema)
      └─ refused with 400/422 → json_object + the schema in the system prompt
           └─ refused → plain text + the schema in the system prompt

Whatever the format, the reply is validated with pydantic; an invalid reply gets one
repair retry that sends the validation error back. 429 and 5xx are retried a bounded
number of times, honouring ``Retry-After``; timeouts too. Tokens (and cost, when the
server reports ``usage.cost`` as OpenRouter does) are summed over every call made.

    >>> p = OpenAIProvider(model="gpt-4.1-mini", api_key="sk-test")   # doctest: +SKIP
    >>> p.complete(request, Explanation).value                          # doctest: +SKIP

The key lives only in the SDK client: it is never logged, never put in a prompt and never
part of an error message.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from intent_agent.providers.base import LLMError, LLMRequest, LLMResult, T, Validator
from rocky_engine.errors import ConfigError

_FORMATS = ("json_schema", "json_object", "text")
# What servers answer to a response_format they do not support (llama.cpp: 400, vLLM: 400,
# some proxies: 422 or 501). Not 404: that is an unknown model, not an unknown format.
_REFUSED = {400, 422, 501}
_RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


class OpenAIProvider:
    """One model on one OpenAI-compatible endpoint."""

    def __init__(self, *, model: str, api_key: str, base_url: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3,
                 headers: Mapping[str, str] | None = None,
                 extra_body: Mapping[str, Any] | None = None,
                 api_key_env: str = "OPENAI_API_KEY",
                 sleep: Callable[[float], None] = time.sleep,
                 max_retry_wait: float = 60.0) -> None:
        import openai

        self.name = model
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.extra_body = dict(extra_body or {})
        self.api_key_env = api_key_env
        self.format = _FORMATS[0]
        self._sleep = sleep
        self._max_wait = max_retry_wait
        # The SDK's own retries are off: ours are bounded, logged per call and honour
        # Retry-After the same way for every server.
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout,
                                     max_retries=0, default_headers=dict(headers or {}))

    # ------------------------------------------------------------------ public

    def complete(self, request: LLMRequest, schema: type[T], *,
                 validate: Validator | None = None) -> LLMResult[T]:
        started = time.monotonic()
        usage = _Usage()
        notes: list[str] = []
        messages = [{"role": "system", "content": request.system},
                    {"role": "user", "content": request.user}]
        raw = self._chat(messages, schema, usage, notes)
        try:
            value = _parse(raw, schema)
        except ValueError as first:
            notes.append(f"invalid reply, repair retry: {first}")
            repair = messages + [
                {"role": "assistant", "content": raw},
                {"role": "user", "content": (
                    f"Your reply was not a valid {schema.__name__} JSON object: {first}. "
                    "Reply again with only the corrected JSON object, no prose.")},
            ]
            raw = self._chat(repair, schema, usage, notes)
            try:
                value = _parse(raw, schema)
            except ValueError as second:
                raise LLMError(
                    f"model {self.model} returned an invalid {schema.__name__} twice: {second}",
                    hint="try a stronger model, or use the offline provider",
                ) from None
        verdict = validate(value) if validate is not None else None
        return LLMResult(
            value=value, raw=raw, model=self.model, prompt_tokens=usage.prompt,
            completion_tokens=usage.completion, cost=usage.cost, attempts=usage.attempts,
            latency_s=time.monotonic() - started, verdict=verdict, notes=tuple(notes),
        )

    # ------------------------------------------------------------------ one chat turn

    def _chat(self, messages: list[dict[str, str]], schema: type[BaseModel], usage: _Usage,
              notes: list[str]) -> str:
        import openai

        retries = 0
        while True:
            kwargs = self._format_kwargs(messages, schema)
            usage.attempts += 1
            try:
                response = self._client.chat.completions.create(**kwargs)
            except openai.APITimeoutError:
                if retries >= self.max_retries:
                    raise LLMError(
                        f"model {self.model} timed out after {self.timeout:g}s "
                        f"({usage.attempts} attempt(s))",
                        hint="raise [agent] timeout in rocky.toml, or try again later",
                    ) from None
                retries += 1
                notes.append("timeout, retrying")
                self._sleep(self._backoff(retries, None))
                continue
            except openai.APIConnectionError as exc:
                if retries >= self.max_retries:
                    raise LLMError(f"cannot reach the LLM endpoint: {type(exc).__name__}",
                                   hint="check [agent] base_url and the network") from None
                retries += 1
                self._sleep(self._backoff(retries, None))
                continue
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in (401, 403):
                    raise ConfigError(
                        f"the LLM endpoint rejected the API key (HTTP {status})",
                        hint=f"check the key in the environment variable {self.api_key_env}",
                    ) from None
                if status in _REFUSED and self.format != "text":
                    refused = self.format
                    self.format = _FORMATS[_FORMATS.index(self.format) + 1]
                    notes.append(f"server refused response_format {refused}; using {self.format}")
                    continue
                if status in _RETRYABLE and retries < self.max_retries:
                    retries += 1
                    wait = self._backoff(retries, exc.response.headers.get("retry-after"))
                    notes.append(f"HTTP {status}, retrying in {wait:g}s")
                    self._sleep(wait)
                    continue
                raise LLMError(
                    f"model {self.model} failed with HTTP {status} after {usage.attempts} "
                    f"attempt(s): {_short(exc.message)}",
                    hint="check [agent] model and base_url, or try again later",
                ) from None
            except (ValueError, TypeError, AttributeError) as exc:
                # A 200 whose body is not a chat completion (an HTML error page from a proxy,
                # truncated JSON): the SDK fails while decoding it. Not retryable.
                raise LLMError(
                    f"the LLM endpoint answered with something that is not a chat completion "
                    f"({type(exc).__name__})",
                    hint="check [agent] base_url points at an OpenAI-compatible /v1 endpoint",
                ) from None
            usage.add(response)
            if not response.choices:
                raise LLMError(f"model {self.model} returned no choices")
            message = response.choices[0].message
            if getattr(message, "refusal", None):
                raise LLMError(f"model {self.model} refused: {_short(str(message.refusal))}")
            return message.content or ""

    def _format_kwargs(self, messages: list[dict[str, str]],
                       schema: type[BaseModel]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        if self.format == "json_schema":
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema.__name__, "schema": schema.model_json_schema(), "strict": False}}
            return kwargs
        # Without a schema-enforcing format, the schema travels in the system prompt.
        instruction = ("\n\nReply with only one JSON object that validates against this JSON "
                       "schema, no prose and no code fences:\n"
                       + json.dumps(schema.model_json_schema(), sort_keys=True))
        kwargs["messages"] = ([{"role": "system", "content": messages[0]["content"] + instruction}]
                              + messages[1:])
        if self.format == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def _backoff(self, retry: int, retry_after: str | None) -> float:
        wait = _retry_after_seconds(retry_after)
        if wait is None:
            wait = 0.5 * 2 ** (retry - 1)
        return max(0.0, min(wait, self._max_wait))


class _Usage:
    def __init__(self) -> None:
        self.prompt = 0
        self.completion = 0
        self.cost: float | None = None
        self.attempts = 0

    def add(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        if usage is None:
            return
        self.prompt += int(getattr(usage, "prompt_tokens", 0) or 0)
        self.completion += int(getattr(usage, "completion_tokens", 0) or 0)
        extra = getattr(usage, "model_extra", None) or {}
        # OpenRouter reports `usage.cost`; some proxies say `total_cost`.
        for key in ("cost", "total_cost"):
            value = extra.get(key, getattr(usage, key, None))
            if isinstance(value, (int, float)):
                self.cost = (self.cost or 0.0) + float(value)
                break


def _parse(raw: str, schema: type[T]) -> T:
    """Validate a reply; code fences some models add around JSON are tolerated."""
    text = raw.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    if not text:
        raise ValueError("the reply is empty")
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{where + ': ' if where else ''}{err['msg']}") from None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` is delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
