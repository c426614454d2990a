"""Build the provider ``[agent]`` in rocky.toml asks for (the one place that knows every
implementation; the seam itself, :mod:`intent_agent.providers.base`, knows none)::

    >>> from rocky_engine.config import AgentConfig
    >>> make_provider(AgentConfig()).name                # offline: no network, no key
    'offline'
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from intent_agent.providers.base import Provider
from intent_agent.providers.fusion import FusionProvider
from intent_agent.providers.offline import OfflineProvider
from rocky_engine.config import AgentConfig
from rocky_engine.errors import ConfigError


def make_provider(config: AgentConfig, *, env: Mapping[str, str] = os.environ) -> Provider:
    """Build the provider ``[agent]`` in rocky.toml asks for.

    The API key is read from the env var named by ``api_key_env`` here and nowhere else;
    a missing key is a :class:`ConfigError` naming the variable (never the value).
    """
    if config.provider == "offline":
        return OfflineProvider()
    if config.provider == "openai":
        return _openai(config, config.model, env)
    # fusion
    if config.fusion is None:
        raise ConfigError(
            "[agent] provider = \"fusion\" needs an [agent.fusion] table with `models`",
            hint='add [agent.fusion] models = ["model-a", "model-b"]',
        )
    members = [_openai(config, m, env) for m in config.fusion.models]
    judge = _openai(config, config.fusion.judge, env) if config.fusion.judge else None
    return FusionProvider(members, judge=judge, mode=config.fusion.mode)


def _openai(config: AgentConfig, model: str | None, env: Mapping[str, str]) -> Provider:
    # Imported on use: the openai client is loaded only when a model is configured.
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
