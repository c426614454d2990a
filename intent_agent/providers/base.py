"""The provider seam: every LLM call in rocky goes through :class:`Provider.complete`.

A task renders a prompt into an :class:`LLMRequest`, names the pydantic schema the reply
must satisfy, and gets back an :class:`LLMResult` carrying the validated value plus what
the call cost (tokens, cost when reported, attempts, latency)::

    >>> from intent_agent.providers.offline import OfflineProvider
    >>> OfflineProvider().name                           # the default: no network, no key
    'offline'

Where a candidate can be *executed* (a SQL patch, a generated test), the caller passes
``validate(candidate) -> Verdict``; execution then judges, not the model. Single-model
providers record the verdict; the fusion provider lets only validated candidates compete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from rocky_engine.errors import RockyError

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


# What a fusion call did (intent_agent.providers.fusion), carried on its LLMResult.

@dataclass(frozen=True)
class Candidate:
    member: str
    round: int
    value: Any = None  # the validated pydantic value, None when the member failed
    raw: str = ""
    verdict: Verdict | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class JudgeCall:
    order: tuple[str, ...]  # member names, in the order the judge saw them
    pick: str | None
    reasons: str
    error: str | None = None


@dataclass(frozen=True)
class FusionRecord:
    mode: str
    candidates: tuple[Candidate, ...]
    winner: str | None  # a member name, or "merge"
    decided_by: str  # execution | agreement | judge | merge | order | single | none
    judge_calls: tuple[JudgeCall, ...] = ()
    position_bias: bool = False
    reasons: str = ""



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
