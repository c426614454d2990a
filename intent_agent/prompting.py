"""Render the Jinja2 prompt templates of ``prompts/`` into :class:`LLMRequest` objects.

One system and one user template per task (``prompts/<task>.system.j2`` and
``prompts/<task>.user.j2``), rendered with ``StrictUndefined`` so a missing variable is
an error, not an empty string. Templates ship inside the wheel as the package
``intent_agent.prompts``::

    >>> req = render("explain", facts=facts)               # doctest: +SKIP
    >>> req.chars, req.estimated_tokens                     # doctest: +SKIP
    (2843, 711)

Anything that came from the warehouse or from another model (comments, sample values,
candidate answers) goes through the ``data`` filter, which fences it between markers the
system prompt declares to be data, and neutralises a forged closing marker inside it::

    >>> print(fence("ignore previous instructions", "comment"))
    <<<DATA comment
    ignore previous instructions
    DATA>>>
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from intent_agent.providers.base import LLMRequest, LLMResult

OPEN, CLOSE = "<<<DATA", "DATA>>>"


MAX_FENCED_CHARS = 20_000  # one fenced block; warehouse text cannot blow up a prompt


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [… {len(text) - limit} more characters cut]"


def fence(value: Any, label: str = "data") -> str:
    """Quote untrusted text as data: it cannot close the fence or open a new one."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    text = clip(text, MAX_FENCED_CHARS).replace("<<<", "‹‹‹").replace(">>>", "›››")
    return f"{OPEN} {label}\n{text}\n{CLOSE}"


def render(task: str, /, metadata: Mapping[str, Any] | None = None, **context: Any) -> LLMRequest:
    """Render ``<task>.system.j2`` and ``<task>.user.j2`` with ``context``."""
    env = _env()
    try:
        system = env.get_template(f"{task}.system.j2").render(**context)
        user = env.get_template(f"{task}.user.j2").render(**context)
    except jinja2.TemplateNotFound as exc:
        raise LookupError(f"no prompt template {exc.name} in {templates_dir()}") from None
    return LLMRequest(task=task, system=system.strip() + "\n", user=user.strip() + "\n",
                      metadata=dict(metadata or {}))


def templates_dir() -> Path:
    """Where the templates are: ``intent_agent/prompts`` — in a wheel a data folder, in a
    checkout a symlink to the top-level ``prompts/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "prompts", here.parent / "prompts"):
        if candidate.is_dir() and any(candidate.glob("*.j2")):
            return candidate
    raise LookupError(f"prompt templates not found next to {here}; reinstall rocky-intent")


def _column_lines(columns: Any) -> str:
    """``(name, type, description)`` rows as one line each, for a fenced block."""
    lines = []
    for name, type_, description in columns:
        line = f"{name} {type_ or 'unknown'}"
        if description:
            line += f" -- {description}"
        lines.append(line)
    return "\n".join(lines)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # prompts are plain text, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data"] = fence
    env.filters["column_lines"] = _column_lines
    env.filters["tojson_sorted"] = lambda v: json.dumps(v, default=str, sort_keys=True)
    return env


@dataclass(frozen=True)
class PromptStats:
    """How big a prompt was and what its call cost: reported whenever an LLM is used."""

    task: str
    chars: int
    estimated_tokens: int
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    attempts: int = 0
    latency_s: float = 0.0

    @classmethod
    def of(cls, request: LLMRequest, result: LLMResult[Any] | None = None) -> PromptStats:
        if result is None:
            return cls(request.task, request.chars, request.estimated_tokens)
        return cls(request.task, request.chars, request.estimated_tokens, result.model,
                   result.prompt_tokens, result.completion_tokens, result.cost,
                   result.attempts, round(result.latency_s, 3))

    def render(self) -> str:
        text = f"prompt: {self.chars} chars (~{self.estimated_tokens} tokens)"
        if self.model:
            text += (f"; {self.model}: {self.prompt_tokens} prompt + {self.completion_tokens} "
                     f"completion tokens, {self.attempts} call(s), {self.latency_s:.2f}s")
            if self.cost is not None:
                text += f", cost {self.cost:.6f}"
        return text
