"""The provider seam: every LLM call in rocky goes through :class:`Provider.complete`.

A task renders a prompt into an :class:`LLMRequest`, names the pydantic schema the reply
must satisfy, and gets back an :class:`LLMResult` carrying the validated value plus what
the call cost (tokens, cost when reported, attempts, latency)::

    >>> provider = make_provider(AgentConfig())          # offline: no network, no key
    >>> provider.name
    'offline'

Where a candidate can be *executed* (a SQL patch, a generated test), the caller passes
``validate(candidate) -> Verdict``; execution then judges, not the model. Single-model
providers record the verdict; the fusion provider lets only validated candidates compete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from rocky_engine.config import AgentConfig
from rocky_engine.errors import ConfigError, RockyError

if TYPE_CHECKING:
    from intent_agent.providers.fusion import FusionRecord

T = TypeVar("T", bound=BaseModel)


class LLMError(RockyError):
    """An LLM call failed after its bounded retries (exit 2: an environment problem)."""

    exit_code = 2
    code = "R701"


class OfflineUnsupported(LLMError):
    """The offline provider has no free-text completion; tasks use their offline path."""

    code = "R702"


@dataclass(frozen=True)
class LLMRequest:
    """One rendered prompt for one task (``explain``, ``gen_tests``, ``repair``, ...)."""

    task: str
    system: str
    user: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def chars(self) -> int:
        return len(self.system) + len(self.user)

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user)


@dataclass(frozen=True)
class Verdict:
    """What executing a candidate showed: ``ok`` gates, ``score`` ranks valid candidates."""

    ok: bool
    score: float = 0.0
    errors: tuple[str, ...] = ()
    detail: str = ""


Validator = Callable[[Any], Verdict]


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    """A validated reply and what it cost. ``cost`` is None unless the server reports it."""

    value: T
    raw: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    attempts: int = 1
    latency_s: float = 0.0
    verdict: Verdict | None = None
    fusion: FusionRecord | None = None
    notes: tuple[str, ...] = ()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class Provider(Protocol):
    name: str

    def complete(self, request: LLMRequest, schema: type[T], *,
                 validate: Validator | None = None) -> LLMResult[T]: ...


def is_offline(provider: Provider) -> bool:
    """Tasks take their deterministic path for the offline provider."""
    return provider.name == "offline"


def estimate_tokens(text: str) -> int:
    """A model-agnostic estimate (~4 characters per token for English and SQL).

    >>> estimate_tokens("x" * 400)
    100
    """
    return (len(text) + 3) // 4


def make_provider(config: AgentConfig, *, env: Mapping[str, str] = os.environ) -> Provider:
    """Build the provider ``[agent]`` in rocky.toml asks for.

    The API key is read from the env var named by ``api_key_env`` here and nowhere else;
    a missing key is a :class:`ConfigError` naming the variable (never the value).
    """
    from intent_agent.providers.offline import OfflineProvider

    if config.provider == "offline":
        return OfflineProvider()
    if config.provider == "openai":
        return _openai(config, config.model, env)
    # fusion
    from intent_agent.providers.fusion import FusionProvider

    if config.fusion is None:
        raise ConfigError(
            "[agent] provider = \"fusion\" needs an [agent.fusion] table with `models`",
            hint='add [agent.fusion] models = ["model-a", "model-b"]',
        )
    members = [_openai(config, m, env) for m in config.fusion.models]
    judge = _openai(config, config.fusion.judge, env) if config.fusion.judge else None
    return FusionProvider(members, judge=judge, mode=config.fusion.mode)


def _openai(config: AgentConfig, model: str | None, env: Mapping[str, str]) -> Provider:
    from intent_agent.providers.openai_compat import OpenAIProvider

    if not model:
        raise ConfigError(
            "[agent] provider = \"openai\" needs `model`",
            hint='set [agent] model = "gpt-4.1-mini" (or the model your endpoint serves)',
        )
    key = env.get(config.api_key_env, "")
    if not key:
        raise ConfigError(
            f"the LLM API key is missing: environment variable {config.api_key_env} is not set",
            hint=f"export {config.api_key_env}=... or use [agent] provider = \"offline\"",
        )
    return OpenAIProvider(
        model=model, api_key=key, base_url=config.base_url, timeout=config.timeout,
        max_retries=config.max_retries, headers=dict(config.headers),
        extra_body=dict(config.extra_body),
    )
