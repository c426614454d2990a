"""Several models answer the same prompt in parallel; execution judges first.

    >>> fusion = FusionProvider([a, b, c], judge=a, mode="best-of")     # doctest: +SKIP
    >>> result = fusion.complete(request, Patch, validate=run_on_branch) # doctest: +SKIP
    >>> result.fusion.decided_by                                         # doctest: +SKIP
    'execution'

How a winner is chosen, in order:

1. every member answers (threads); members that fail are recorded, not fatal;
2. ``debate`` only: each member sees the others' answers (and their validation errors)
   and revises once;
3. with ``validate``, each candidate is executed; only those whose :class:`Verdict` is
   ok compete, and the best score wins outright (``decided_by="execution"``);
4. identical remaining answers win by agreement;
5. ``merge``: the judge combines the remaining candidates into one answer, which is
   validated again (an invalid merge falls back to best-of);
6. ``best-of``/``debate``: the judge picks, shown the candidates in both orders; if the
   two picks disagree (position bias) the tie is broken deterministically by score and
   member order. Every judge call, its pick and its reasons are recorded.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, Field

from intent_agent.providers.base import (
    Candidate,
    FusionRecord,
    JudgeCall,
    LLMError,
    LLMRequest,
    LLMResult,
    Provider,
    T,
    Validator,
    Verdict,
)

Mode = Literal["best-of", "merge", "debate"]


class JudgeChoice(BaseModel):
    """The judge's reply in best-of: the number of the best candidate and why."""

    winner: int = Field(ge=1)
    reasons: str


class FusionProvider:
    name = "fusion"

    def __init__(self, members: Sequence[Provider], *, judge: Provider | None = None,
                 mode: Mode = "best-of", debate_rounds: int = 1) -> None:
        if not members:
            raise ValueError("fusion needs at least one member")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"fusion members must have distinct names: {names}")
        self.members = list(members)
        self.judge = judge
        self.mode = mode
        self.debate_rounds = debate_rounds

    def complete(self, request: LLMRequest, schema: type[T], *,
                 validate: Validator | None = None) -> LLMResult[T]:
        started = time.monotonic()
        spent: list[LLMResult[Any]] = []  # every call made, for tokens and cost
        candidates = self._ask_all(request, schema, validate, spent, round_=0, requests=None)
        if self.mode == "debate":
            for round_ in range(1, self.debate_rounds + 1):
                if validate is not None and any(_valid(c) for c in candidates):
                    # Execution already found working answers; revising can only add risk.
                    break
                revised = self._debate_requests(request, candidates, round_)
                candidates = self._ask_all(request, schema, validate, spent, round_, revised,
                                           candidates)
        history = candidates
        record, value, raw, verdict = self._decide(request, schema, validate, candidates, spent)
        record = replace(record, candidates=tuple(history))
        return LLMResult(
            value=value, raw=raw, model=f"fusion({','.join(m.name for m in self.members)})",
            prompt_tokens=sum(r.prompt_tokens for r in spent),
            completion_tokens=sum(r.completion_tokens for r in spent),
            cost=_sum_cost(spent), attempts=sum(r.attempts for r in spent),
            latency_s=time.monotonic() - started, verdict=verdict, fusion=record,
        )

    # ------------------------------------------------------------------ members

    def _ask_all(self, request: LLMRequest, schema: type[T], validate: Validator | None,
                 spent: list[LLMResult[Any]], round_: int, requests: dict[str, LLMRequest] | None,
                 previous: list[Candidate] | None = None) -> list[Candidate]:
        def ask(member: Provider) -> tuple[Candidate, LLMResult[Any] | None]:
            req = (requests or {}).get(member.name, request)
            try:
                result = member.complete(req, schema)
            except LLMError as exc:
                return Candidate(member.name, round_, error=exc.message), None
            return Candidate(member.name, round_, value=result.value, raw=result.raw), result

        with ThreadPoolExecutor(max_workers=len(self.members),
                                thread_name_prefix="rocky-fusion") as pool:
            answers = list(pool.map(ask, self.members))
        out: list[Candidate] = []
        for i, (cand, result) in enumerate(answers):
            if result is not None:
                spent.append(result)
            elif previous is not None and previous[i].usable:
                cand = previous[i]  # a failed revision keeps the member's earlier answer
            # Validation executes against one warehouse: sequential, in this thread.
            if validate is not None and cand.usable and cand.verdict is None:
                cand = replace(cand, verdict=validate(cand.value))
            out.append(cand)
        return out

    def _debate_requests(self, request: LLMRequest, candidates: list[Candidate],
                         round_: int) -> dict[str, LLMRequest]:
        from intent_agent.prompting import render

        out = {}
        for cand in candidates:
            others = [_view(c, f"{i}") for i, c in enumerate(
                (c for c in candidates if c.member != cand.member and c.usable), 1)]
            debate = render("fusion_debate", task=request.task, own=_view(cand, "yours"),
                            others=others, round=round_)
            out[cand.member] = replace(request, user=request.user + "\n" + debate.user,
                                       system=request.system + "\n" + debate.system)
        return out

    # ------------------------------------------------------------------ deciding

    def _decide(self, request: LLMRequest, schema: type[T], validate: Validator | None,
                candidates: list[Candidate], spent: list[LLMResult[Any]]
                ) -> tuple[FusionRecord, Any, str, Verdict | None]:
        usable = [c for c in candidates if c.usable]
        if not usable:
            errors = "; ".join(f"{c.member}: {c.error}" for c in candidates)
            raise LLMError(f"every fusion member failed ({errors})",
                           hint="check the models in [agent.fusion], or use one model")
        pool = [c for c in usable if _valid(c)] if validate is not None else usable
        if not pool:
            # Nothing validated: hand back the best-scoring failure so the caller can
            # send its errors back for another round.
            best = max(usable, key=_score)
            return (FusionRecord(self.mode, (), None, "none",
                                 reasons="no candidate passed validation"),
                    best.value, best.raw, best.verdict)
        if validate is not None:
            top = max(_score(c) for c in pool)
            pool = [c for c in pool if _score(c) == top]
        if len(pool) == 1:
            how = "execution" if validate is not None and len(usable) > 1 else "single"
            return self._won(pool[0], how)
        if all(c.value == pool[0].value for c in pool[1:]):
            return self._won(pool[0], "agreement")
        if self.judge is None:
            return self._won(pool[0], "order", reasons="no judge configured: first member wins")
        if self.mode == "merge":
            merged = self._merge(request, schema, validate, pool, spent)
            if merged is not None:
                return merged
        return self._judge(request, pool, spent)

    def _won(self, cand: Candidate, how: str, *, calls: tuple[JudgeCall, ...] = (),
             bias: bool = False, reasons: str = "") -> tuple[FusionRecord, Any, str,
                                                              Verdict | None]:
        record = FusionRecord(self.mode, (), cand.member, how, calls, bias, reasons)
        return record, cand.value, cand.raw, cand.verdict

    def _judge(self, request: LLMRequest, pool: list[Candidate], spent: list[LLMResult[Any]]
               ) -> tuple[FusionRecord, Any, str, Verdict | None]:
        from intent_agent.prompting import render

        assert self.judge is not None
        calls: list[JudgeCall] = []
        for order in (pool, list(reversed(pool))):
            prompt = render("fusion_judge", task=request.task, request=request.user,
                            candidates=[_view(c, str(i)) for i, c in enumerate(order, 1)])
            try:
                result = self.judge.complete(prompt, JudgeChoice)
            except LLMError as exc:
                calls.append(JudgeCall(tuple(c.member for c in order), None, "", exc.message))
                continue
            spent.append(result)
            choice = result.value
            pick = order[choice.winner - 1].member if choice.winner <= len(order) else None
            calls.append(JudgeCall(tuple(c.member for c in order), pick, choice.reasons))
        picks = {c.pick for c in calls}
        by_name = {c.member: c for c in pool}
        if len(calls) == 2 and len(picks) == 1 and None not in picks:
            pick = calls[0].pick
            assert pick is not None
            return self._won(by_name[pick], "judge", calls=tuple(calls),
                             reasons=calls[0].reasons)
        bias = len(calls) == 2 and None not in picks and len(picks) == 2
        why = ("the judge's pick changed with the candidates' order (position bias); "
               if bias else "the judge gave no usable pick; ")
        return self._won(pool[0], "order", calls=tuple(calls), bias=bias,
                         reasons=why + "first member in configured order wins")

    def _merge(self, request: LLMRequest, schema: type[T], validate: Validator | None,
               pool: list[Candidate], spent: list[LLMResult[Any]]
               ) -> tuple[FusionRecord, Any, str, Verdict | None] | None:
        from intent_agent.prompting import render

        assert self.judge is not None
        prompt = render("fusion_merge", task=request.task, request=request.user,
                        candidates=[_view(c, str(i)) for i, c in enumerate(pool, 1)])
        try:
            result = self.judge.complete(prompt, schema)
        except LLMError:
            return None  # a failed merge falls back to best-of judging
        spent.append(result)
        verdict = validate(result.value) if validate is not None else None
        if verdict is not None and not verdict.ok:
            return None
        merged = Candidate("merge", 0, result.value, result.raw, verdict)
        return self._won(merged, "merge", calls=(
            JudgeCall(tuple(c.member for c in pool), "merge", "merged candidates"),),
            reasons=f"the judge merged {len(pool)} candidates")


def _valid(c: Candidate) -> bool:
    return c.usable and c.verdict is not None and c.verdict.ok


def _score(c: Candidate) -> float:
    return c.verdict.score if c.verdict is not None else 0.0


def _view(c: Candidate, label: str) -> dict[str, Any]:
    """What a judge or a debating member sees of a candidate (answer + execution result)."""
    value = c.value.model_dump(mode="json") if isinstance(c.value, BaseModel) else c.value
    verdict = None
    if c.verdict is not None:
        verdict = {"ok": c.verdict.ok, "score": c.verdict.score,
                   "errors": list(c.verdict.errors)}
    return {"label": label, "answer": value, "verdict": verdict}


def _sum_cost(results: list[LLMResult[Any]]) -> float | None:
    costs = [r.cost for r in results if r.cost is not None]
    return sum(costs) if costs else None
