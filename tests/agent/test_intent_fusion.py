"""Fusion: several fake models that disagree; execution judges first, the LLM judge second."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply, RecordedRequest
from intent_helpers import SECRET, reply
from pydantic import BaseModel

from intent_agent.providers import (
    FusionProvider,
    LLMError,
    LLMRequest,
    OpenAIProvider,
    ScriptedProvider,
    Verdict,
)

REQ = LLMRequest(task="gen_tests", system="You write tests.", user="Rule: amount >= 0")


class Answer(BaseModel):
    expression: str


def member(server: FakeOpenAIServer, name: str) -> OpenAIProvider:
    return OpenAIProvider(model=name, api_key=SECRET, base_url=server.base_url, timeout=5,
                          max_retries=0, sleep=lambda s: None)


def executes(answer: Answer) -> Verdict:
    """A stand-in for running a candidate: only `amount >= 0` holds on the data."""
    if answer.expression == "amount >= 0":
        return Verdict(ok=True, score=1.0)
    if answer.expression == "amount > 0":
        return Verdict(ok=True, score=1.0)
    return Verdict(ok=False, errors=(f"{answer.expression}: 3 rows fail",))


def judge_reply(pick_first: bool = False, prefer: str | None = None):
    """A judge that picks candidate 1 (position-biased) or the one containing ``prefer``."""

    def respond(request: RecordedRequest) -> FakeReply:
        text = request.last_user
        if pick_first or prefer is None:
            return reply({"winner": 1, "reasons": "the first one looks fine"})
        blocks = text.split("Candidate ")[1:]
        for block in blocks:
            if prefer in block:
                return reply({"winner": int(block.split(maxsplit=1)[0].rstrip(":")),
                              "reasons": f"it uses {prefer}"})
        return reply({"winner": 1, "reasons": "no preference"})

    return respond


@pytest.fixture
def three(fake_llm: FakeOpenAIServer) -> FakeOpenAIServer:
    fake_llm.script("a", reply({"expression": "amount >= 0"}))
    fake_llm.script("b", reply({"expression": "amount > 0"}))
    fake_llm.script("c", reply({"expression": "amount < 0"}))
    return fake_llm


def test_members_run_in_parallel(fake_llm: FakeOpenAIServer) -> None:
    for name in ("a", "b", "c"):
        fake_llm.script(name, reply({"expression": "amount >= 0"}, delay=0.6))
    fusion = FusionProvider([member(fake_llm, n) for n in "abc"])
    started = time.monotonic()
    result = fusion.complete(REQ, Answer)
    assert time.monotonic() - started < 1.5  # not 3 x 0.6s
    assert result.fusion.decided_by == "agreement"
    assert {c.member for c in result.fusion.candidates} == {"a", "b", "c"}
    assert result.prompt_tokens == 3 * 11


def test_execution_decides_when_one_candidate_validates(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("a", reply({"expression": "amount < 0"}))
    fake_llm.script("b", reply({"expression": "amount >= 0"}))
    fake_llm.script("c", reply({"expression": "amount = 1"}))
    fake_llm.script("judge", reply({"winner": 1, "reasons": "never asked"}))
    fusion = FusionProvider([member(fake_llm, n) for n in "abc"], judge=member(fake_llm, "judge"))
    result = fusion.complete(REQ, Answer, validate=executes)
    assert result.value.expression == "amount >= 0"
    assert result.fusion.decided_by == "execution" and result.fusion.winner == "b"
    assert result.verdict.ok
    assert not fake_llm.requests_for("judge")  # execution judged; the LLM judge stayed out
    failed = [c for c in result.fusion.candidates if not c.verdict.ok]
    assert {c.member for c in failed} == {"a", "c"}


def test_judge_breaks_a_tie_and_sees_both_orders(three: FakeOpenAIServer) -> None:
    three.responder = judge_reply(prefer="amount >= 0")
    fusion = FusionProvider([member(three, n) for n in "abc"], judge=member(three, "judge"))
    result = fusion.complete(REQ, Answer, validate=executes)
    record = result.fusion
    assert result.value.expression == "amount >= 0"
    assert record.decided_by == "judge" and record.winner == "a" and not record.position_bias
    assert [c.order for c in record.judge_calls] == [("a", "b"), ("b", "a")]
    assert all(c.pick == "a" and "amount >= 0" in c.reasons for c in record.judge_calls)
    judged = three.requests_for("judge")
    assert len(judged) == 2
    # Candidates reach the judge fenced as data, never as instructions.
    assert "<<<DATA candidate 1" in judged[0].last_user


def test_position_bias_is_detected_and_recorded(three: FakeOpenAIServer) -> None:
    three.responder = judge_reply(pick_first=True)
    fusion = FusionProvider([member(three, n) for n in "abc"], judge=member(three, "judge"))
    result = fusion.complete(REQ, Answer, validate=executes)
    record = result.fusion
    assert record.position_bias and record.decided_by == "order"
    assert [c.pick for c in record.judge_calls] == ["a", "b"]
    assert "position bias" in record.reasons
    assert record.winner == "a"  # deterministic: configured order


def test_merge_mode_validates_the_merge(three: FakeOpenAIServer) -> None:
    three.script("judge", reply({"expression": "amount >= 0 AND amount IS NOT NULL"}))
    merged_ok = lambda a: Verdict(ok=a.expression != "amount < 0", score=1.0)
    fusion = FusionProvider([member(three, n) for n in "abc"], judge=member(three, "judge"),
                            mode="merge")
    result = fusion.complete(REQ, Answer, validate=merged_ok)
    assert result.fusion.decided_by == "merge" and result.fusion.winner == "merge"
    assert result.value.expression == "amount >= 0 AND amount IS NOT NULL"


def test_merge_that_fails_validation_falls_back_to_best_of(three: FakeOpenAIServer) -> None:
    three.script("judge", reply({"expression": "amount < 0"}))  # a bad merge
    three.responder = judge_reply(prefer="amount > 0")
    fusion = FusionProvider([member(three, n) for n in "abc"], judge=member(three, "judge"),
                            mode="merge")
    result = fusion.complete(REQ, Answer, validate=executes)
    assert result.fusion.decided_by == "judge" and result.value.expression == "amount > 0"


def test_debate_members_see_each_other_and_revise(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("a", reply({"expression": "amount < 0"}), reply({"expression": "amount >= 0"}))
    fake_llm.script("b", reply({"expression": "amount = 1"}), reply({"expression": "amount = 1"}))
    fusion = FusionProvider([member(fake_llm, "a"), member(fake_llm, "b")], mode="debate")
    result = fusion.complete(REQ, Answer, validate=executes)
    assert result.value.expression == "amount >= 0" and result.fusion.winner == "a"
    second = fake_llm.requests_for("a")[1]
    assert "amount = 1" in second.last_user  # b's answer, as data
    assert "3 rows fail" in second.last_user  # the validation errors travel with it
    assert "Reconsider your answer" in second.system


def test_no_valid_candidate_returns_the_failure_for_another_round(three: FakeOpenAIServer) -> None:
    fusion = FusionProvider([member(three, n) for n in "abc"])
    result = fusion.complete(REQ, Answer, validate=lambda a: Verdict(ok=False, errors=("no",)))
    assert result.fusion.decided_by == "none" and not result.verdict.ok


def test_failed_members_are_recorded_not_fatal(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.script("a", FakeReply(status=500, content="down"))
    fake_llm.script("b", reply({"expression": "amount >= 0"}))
    result = FusionProvider([member(fake_llm, "a"), member(fake_llm, "b")]).complete(REQ, Answer)
    assert result.value.expression == "amount >= 0"
    errors = {c.member: c.error for c in result.fusion.candidates}
    assert "HTTP 500" in errors["a"] and errors["b"] is None


def test_every_member_failing_is_an_error(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.default = FakeReply(status=500, content="down")
    with pytest.raises(LLMError, match="every fusion member failed"):
        FusionProvider([member(fake_llm, "a"), member(fake_llm, "b")]).complete(REQ, Answer)


def test_without_a_judge_the_configured_order_decides() -> None:
    a = ScriptedProvider("a", [json.dumps({"expression": "amount > 0"})])
    b = ScriptedProvider("b", [json.dumps({"expression": "amount >= 0"})])
    result = FusionProvider([a, b]).complete(REQ, Answer)
    assert result.fusion.decided_by == "order" and result.value.expression == "amount > 0"


def test_validation_runs_in_the_calling_thread() -> None:
    """Validation executes against one warehouse connection: never from worker threads."""
    seen = set()

    def validate(answer: Answer) -> Verdict:
        seen.add(threading.get_ident())
        return Verdict(ok=True)

    members = [ScriptedProvider(n, [json.dumps({"expression": "amount >= 0"})]) for n in "abc"]
    FusionProvider(members).complete(REQ, Answer, validate=validate)
    assert seen == {threading.get_ident()}


def test_member_names_must_be_distinct() -> None:
    p = ScriptedProvider("a", ["{}"])
    with pytest.raises(ValueError, match="distinct"):
        FusionProvider([p, p])
