"""Drafting a model patch with an LLM provider, in bounded validate-and-retry rounds.

The model sees only what is relevant (the model's SQL and intent, the old and new shape of
the tables it reads, the lineage of the impacted columns, the diagnostics); everything
copied from the project or the warehouse is fenced as data. Each reply is untrusted:
it is checked by :mod:`intent_agent.repair.safety` before anything runs, then executed by
the caller's ``check`` (compile, build on a branch, tests, diff). A refusal or a failed
check goes back to the model with the errors and its previous patch, for at most
``max_rounds`` rounds::

    >>> outcome = draft_with_llm(provider, ctx, check=run_on_branch, max_rounds=3)  # doctest: +SKIP
    >>> outcome.patch is not None, outcome.rounds                                     # doctest: +SKIP
    (True, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from intent_agent.prompting import PromptStats, render
from intent_agent.providers.base import LLMError, Provider, Verdict
from intent_agent.repair.offline import Finding, ModelPatch
from intent_agent.repair.plan import ModelContext
from intent_agent.repair.safety import UnsafePatch, check_model_sql


class RepairReply(BaseModel):
    """What the model must reply (validated by pydantic before rocky looks at it)."""

    status: Literal["patched", "needs_review"]
    sql: str = Field("", description="the complete new text of the model file: one SELECT")
    explanation: str = ""
    preserves: str = Field("", description="the intent statement the patch keeps")
    review_reason: str = ""


@dataclass(frozen=True)
class Attempt:
    round: int
    model: str
    ok: bool
    errors: tuple[str, ...]
    refused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "model": self.model, "ok": self.ok,
                "errors": list(self.errors), "refused": self.refused}


@dataclass(frozen=True)
class LlmOutcome:
    patch: ModelPatch | None
    finding: Finding | None
    rounds: int
    attempts: tuple[Attempt, ...]
    stats: tuple[PromptStats, ...] = field(default=())
    exhausted: bool = False  # every round was refused or failed validation


# check(sql) -> list of errors; empty when the candidate validated.
Check = Callable[[str], Sequence[str]]


def draft_with_llm(provider: Provider, ctx: ModelContext, *, check: Check, max_rounds: int,
                   available: Sequence[str], dialect: str = "duckdb") -> LlmOutcome:
    """Ask, check, feed back; stop at the first validated patch or after ``max_rounds``."""
    previous: str | None = None
    errors: list[str] = []
    attempts: list[Attempt] = []
    stats: list[PromptStats] = []
    for round_ in range(1, max_rounds + 1):
        request = render(
            "repair", metadata={"model": ctx.model, "round": round_},
            ctx=ctx, dialect=dialect, available=sorted(available),
            old_tables=[t.to_json() for t in ctx.old_tables],
            new_tables=[t.to_json() for t in ctx.new_tables],
            downstream=list(ctx.downstream), previous=previous, errors=errors, round=round_,
        )
        verdicts: dict[str, tuple[str, ...]] = {}
        try:
            result = provider.complete(request, RepairReply,
                                       validate=_verdict_fn(verdicts, check, available, dialect))
        except LLMError as exc:
            attempts.append(Attempt(round_, getattr(provider, "name", "?"), False,
                                    (exc.message,)))
            stats.append(PromptStats.of(request))
            return LlmOutcome(None, Finding(f"the LLM call failed: {exc.message}", ctx.model),
                              round_, tuple(attempts), tuple(stats))
        stats.append(PromptStats.of(request, result))
        reply: RepairReply = result.value
        if reply.status == "needs_review":
            attempts.append(Attempt(round_, result.model, False, ()))
            reason = reply.review_reason or reply.explanation or "the model asked for a review"
            return LlmOutcome(None, Finding(f"{result.model}: {_clip(reason)}", ctx.model),
                              round_, tuple(attempts), tuple(stats))
        problems = (list(result.verdict.errors) if result.verdict is not None
                    else list(verdicts.get(reply.sql) or _judge(reply, check, available, dialect)))
        refused = bool(problems) and problems[0].startswith("refused:")
        attempts.append(Attempt(round_, result.model, not problems, tuple(problems), refused))
        if not problems:
            patch = ModelPatch(
                ctx.model, ctx.path, ctx.sql, _with_newline(reply.sql, ctx.sql),
                tuple(c.describe() for c in ctx.changes),
                (reply.preserves,) if reply.preserves else ctx.intent_lines,
                drafted_by=result.model, explanation=_clip(reply.explanation, 400))
            return LlmOutcome(patch, None, round_, tuple(attempts), tuple(stats))
        previous, errors = reply.sql, problems
    return LlmOutcome(None, Finding(
        f"no patch validated in {max_rounds} round(s); last errors: {'; '.join(errors)[:400]}",
        ctx.model), max_rounds, tuple(attempts), tuple(stats), exhausted=True)


def _verdict_fn(verdicts: dict[str, tuple[str, ...]], check: Check, available: Sequence[str],
                dialect: str) -> Callable[[Any], Verdict]:
    """Execution judges a candidate; results are remembered so nothing runs twice."""
    def verdict(value: Any) -> Verdict:
        problems = tuple(_judge(value, check, available, dialect))
        verdicts[getattr(value, "sql", "")] = problems
        return Verdict(ok=not problems, score=0.0 if problems else 1.0, errors=problems)

    return verdict


def _judge(value: Any, check: Check, available: Sequence[str], dialect: str) -> list[str]:
    sql = getattr(value, "sql", "") or ""
    if getattr(value, "status", "patched") != "patched":
        return ["the model asked for a review"]
    try:
        check_model_sql(sql, known=available, dialect=dialect)
    except UnsafePatch as exc:
        return [f"refused: {exc.message}"]
    return list(check(sql))


def _with_newline(sql: str, original: str) -> str:
    text = sql.strip("\n")
    return text + "\n" if original.endswith("\n") else text


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
