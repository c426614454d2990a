"""LLM providers behind one seam: ``offline`` (default), ``openai`` (any compatible endpoint),
``fusion`` (several models, execution judges), and ``scripted`` for tests.

    >>> from intent_agent.providers import make_provider
    >>> from rocky_engine.config import AgentConfig
    >>> make_provider(AgentConfig()).name
    'offline'
"""

from __future__ import annotations

from intent_agent.providers.base import (
    LLMError,
    LLMRequest,
    LLMResult,
    OfflineUnsupported,
    Provider,
    Validator,
    Verdict,
    estimate_tokens,
    is_offline,
)
from intent_agent.providers.factory import make_provider
from intent_agent.providers.fusion import Candidate, FusionProvider, FusionRecord, JudgeCall
from intent_agent.providers.offline import OfflineProvider
from intent_agent.providers.openai_compat import OpenAIProvider
from intent_agent.providers.scripted import ScriptedProvider

__all__ = [
    "Candidate",
    "FusionProvider",
    "FusionRecord",
    "JudgeCall",
    "LLMError",
    "LLMRequest",
    "LLMResult",
    "OfflineProvider",
    "OfflineUnsupported",
    "OpenAIProvider",
    "Provider",
    "ScriptedProvider",
    "Validator",
    "Verdict",
    "estimate_tokens",
    "is_offline",
    "make_provider",
]
