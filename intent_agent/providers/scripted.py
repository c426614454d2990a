"""An in-memory provider for tests and demos: replies are scripted, nothing leaves the process.

    >>> from pydantic import BaseModel
    >>> class Answer(BaseModel):
    ...     text: str
    >>> p = ScriptedProvider("m1", ['{"text": "hi"}'])
    >>> p.complete(LLMRequest("explain", "sys", "user"), Answer).value.text
    'hi'
    >>> p.requests[0].task
    'explain'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from intent_agent.providers.base import LLMError, LLMRequest, LLMResult, T, Validator

Reply = str | Callable[[LLMRequest], str]


class ScriptedProvider:
    """Returns ``replies`` in order (the last one repeats); each is JSON text or a function."""

    def __init__(self, name: str, replies: Sequence[Reply]) -> None:
        if not replies:
            raise ValueError("a scripted provider needs at least one reply")
        self.name = name
        self._replies = list(replies)
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest, schema: type[T], *,
                 validate: Validator | None = None) -> LLMResult[T]:
        index = min(len(self.requests), len(self._replies) - 1)
        self.requests.append(request)
        reply = self._replies[index]
        raw = reply(request) if callable(reply) else reply
        try:
            value = schema.model_validate_json(raw)
        except ValidationError as exc:
            raise LLMError(f"model {self.name} replied with an invalid {schema.__name__}: "
                           f"{exc.errors()[0]['msg']}") from None
        verdict = validate(value) if validate is not None else None
        return LLMResult(value=value, raw=raw, model=self.name, verdict=verdict)
