"""The default provider: deterministic, no network, no key.

It does not pretend to complete free text. Each task has a deterministic implementation
built from the structured intent, the typed schema, the lineage and the SQL's structure,
and takes it when :func:`~intent_agent.providers.base.is_offline` is true::

    >>> OfflineProvider().name
    'offline'
"""

from __future__ import annotations

from intent_agent.providers.base import LLMRequest, LLMResult, OfflineUnsupported, T, Validator


class OfflineProvider:
    name = "offline"

    def complete(self, request: LLMRequest, schema: type[T], *,
                 validate: Validator | None = None) -> LLMResult[T]:
        raise OfflineUnsupported(
            f"the offline provider cannot complete the `{request.task}` prompt",
            hint="this task needs an LLM; set [agent] provider = \"openai\" in rocky.toml",
        )
