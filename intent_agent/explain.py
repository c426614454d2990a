"""``rocky explain MODEL``: what a model produces, from where, and whether it does what it says.

The structure (columns, their types and lineage, filters, joins, aggregations, the grain
the SQL guarantees) is always computed deterministically. An LLM provider only adds the
prose summary, the business rules in plain words and any further mismatches it sees, and
its text is checked: SQL smuggled into an explanation is removed and reported::

    >>> exp = explain_model(project, "customers", OfflineProvider())   # doctest: +SKIP
    >>> exp.grain_status                                                # doctest: +SKIP
    'inherited'
    >>> [m.kind for m in exp.mismatches]                                # doctest: +SKIP
    []
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from intent_agent.facts import ModelFacts, model_facts
from intent_agent.prompting import PromptStats, render
from intent_agent.providers.base import Provider, is_offline
from intent_agent.rules import read_rule
from intent_agent.safety import neutralise_sql
from rocky_engine.project import Project


class ColumnExplanation(BaseModel):
    name: str
    type: str | None
    kind: str
    expression: str
    sources: list[str]
    origins: list[str]
    intent: str | None = None


class Mismatch(BaseModel):
    kind: str
    severity: Literal["warning", "info"] = "warning"
    message: str
    source: Literal["rocky", "llm"] = "rocky"


class RuleExplanation(BaseModel):
    rule: str
    status: str
    note: str = ""


class LLMMismatch(BaseModel):
    kind: str = Field(description="short category, e.g. grain, rule, column")
    message: str


class LLMExplanation(BaseModel):
    """The part of an explanation an LLM writes; everything else comes from rocky."""

    summary: str = Field(description="2-5 sentences: what the model produces, for whom, how")
    business_rules: list[str] = Field(default_factory=list)
    mismatches: list[LLMMismatch] = Field(default_factory=list)


class Explanation(BaseModel):
    model: str
    path: str
    materialized: str
    summary: str
    purpose: str | None
    grain: list[str]
    grain_status: str
    grain_reason: str
    reads: list[str]
    columns: list[ColumnExplanation]
    filters: list[str]
    joins: list[str]
    group_by: list[str]
    aggregations: list[str]
    windows: list[str]
    rules: list[RuleExplanation]
    business_rules: list[str] = Field(default_factory=list)
    mismatches: list[Mismatch]
    typed: bool
    provider: str
    prompt: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)


def explain_model(project: Project, name: str, provider: Provider, *,
                  compiled: Any | None = None) -> Explanation:
    facts = model_facts(project, name, compiled)
    rules = _rules(facts)
    mismatches = _mismatches(facts, rules)
    explanation = Explanation(
        model=facts.name, path=facts.path, materialized=facts.materialized,
        summary=_summary(facts), purpose=facts.purpose, grain=list(facts.grain),
        grain_status=facts.grain_check.status, grain_reason=facts.grain_check.reason,
        reads=list(facts.reads),
        columns=[ColumnExplanation(name=c.name, type=c.type, kind=c.kind,
                                   expression=c.expression, sources=list(c.sources),
                                   origins=list(c.origins), intent=c.intent)
                 for c in facts.columns],
        filters=[_filter_text(f.scope, f.clause, f.condition) for f in facts.filters],
        joins=[f"{j.side} join {j.relation} on {j.on}" + _in(j.scope) for j in facts.joins],
        group_by=list(facts.group_by), aggregations=list(facts.aggregations),
        windows=list(facts.windows), rules=rules, mismatches=mismatches, typed=facts.typed,
        provider=provider.name,
    )
    if is_offline(provider):
        return explanation
    return _with_llm(explanation, facts, provider)


def _with_llm(explanation: Explanation, facts: ModelFacts, provider: Provider) -> Explanation:
    request = render("explain", facts=facts.to_prompt(),
                     findings=[m.model_dump() for m in explanation.mismatches],
                     rules=[r.model_dump() for r in explanation.rules])
    result = provider.complete(request, LLMExplanation)
    reply = result.value
    notes: list[str] = []
    summary, removed = neutralise_sql(reply.summary)
    business = []
    for rule in reply.business_rules:
        text, more = neutralise_sql(rule)
        removed += more
        business.append(text)
    llm_mismatches = []
    for m in reply.mismatches:
        text, more = neutralise_sql(m.message)
        removed += more
        llm_mismatches.append(Mismatch(kind=m.kind[:40], message=text, source="llm"))
    if removed:
        notes.append(f"removed {len(removed)} SQL statement(s) from the {provider.name} reply: "
                     "explanations are text")
        llm_mismatches.append(Mismatch(
            kind="unsafe_reply", severity="warning", source="rocky",
            message=f"the LLM reply contained {len(removed)} SQL statement(s); they were "
                    "removed (an explanation is text, never something to run)"))
    return explanation.model_copy(update={
        "summary": summary.strip() or explanation.summary,
        "business_rules": business,
        "mismatches": explanation.mismatches + llm_mismatches,
        "prompt": PromptStats.of(request, result).__dict__,
        "notes": explanation.notes + notes + list(result.notes),
    })


# ---------------------------------------------------------------------------- offline


def _rules(facts: ModelFacts) -> list[RuleExplanation]:
    equalities = [eq for f in facts.filters for eq in f.equalities]
    out = []
    for rule in facts.rules:
        reading = read_rule(rule, facts.column_names, equalities)
        note = reading.note
        if reading.status == "testable":
            note = "checkable on the data: " + "; ".join(_test_text(t) for t in reading.tests)
        out.append(RuleExplanation(rule=rule, status=reading.status, note=note))
    return out


def _mismatches(facts: ModelFacts, rules: list[RuleExplanation]) -> list[Mismatch]:
    out: list[Mismatch] = []
    check = facts.grain_check
    if facts.purpose is None:
        out.append(Mismatch(kind="no_intent", severity="info",
                            message=f"{facts.name} states no intent; add [intent] to its sidecar"))
    if check.status in ("invalid", "not_guaranteed"):
        out.append(Mismatch(kind="grain", message=f"declared grain ({', '.join(facts.grain)}) "
                                                  f"is not guaranteed: {check.reason}"))
    elif check.status == "unverified" and not check.covered_by_test:
        out.append(Mismatch(kind="grain_untested", severity="info", message=(
            f"the SQL cannot guarantee the grain ({', '.join(facts.grain)}) and no unique test "
            "checks it; `rocky gen-tests` can add one")))
    for r in rules:
        if r.status in ("contradicted", "not_enforced"):
            out.append(Mismatch(kind="rule", message=f"rule {r.rule!r}: {r.note}"))
    for col in facts.columns:
        if not col.intent:
            continue
        claimed = re.findall(r"\bfrom\s+([A-Za-z_]\w*(?:\.[A-Za-z_]\w*){1,2})\b", col.intent)
        if not col.origins:
            continue  # without the compiler's lineage there is nothing to compare with
        known = {n.lower() for n in col.origins + col.sources}
        for node in claimed:
            if node.lower() not in known:
                out.append(Mismatch(kind="column_origin", message=(
                    f"{col.name}: intent says it comes from {node}, lineage says "
                    f"{', '.join(sorted(known))}")))
    for name in facts.stray_contracts:
        out.append(Mismatch(kind="contract_column_missing",
                            message=f"[columns.{name}] describes a column the model does not output"))
    return out


def _summary(facts: ModelFacts) -> str:
    parts = []
    head = f"{facts.name} ({facts.materialized})"
    parts.append(f"{head}: {facts.purpose}" if facts.purpose else f"{head}: no stated purpose.")
    if facts.reads:
        parts.append(f"Reads {', '.join(facts.reads)}.")
    if facts.grain:
        parts.append(f"One row per ({', '.join(facts.grain)}) — {facts.grain_check.status}: "
                     f"{facts.grain_check.reason}.")
    for f in facts.filters:
        parts.append(f"Keeps rows where {f.condition}{_in(f.scope)}.")
    for j in facts.joins:
        parts.append(f"{j.side.capitalize()} joins {j.relation} on {j.on}{_in(j.scope)}.")
    if facts.aggregations:
        parts.append(f"Aggregates {', '.join(facts.aggregations)}"
                     + (f" grouped by {'; '.join(facts.group_by)}." if facts.group_by else "."))
    if facts.windows:
        parts.append(f"Window functions: {'; '.join(facts.windows)}.")
    return " ".join(parts)


def _filter_text(scope: str, clause: str, condition: str) -> str:
    return f"{clause.upper()} {condition}{_in(scope)}"


def _in(scope: str) -> str:
    return "" if scope == "final" else f" (in {scope})"


def _test_text(test: Any) -> str:
    data = test.model_dump(exclude_none=True, exclude={"severity"})
    kind = data.pop("type")
    return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in data.items()) + ")"


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_text(e: Explanation) -> list[str]:
    """The human rendering used by the CLI (one string per line)."""
    lines = [f"{e.model}  ({e.path}, {e.materialized})", "", e.summary, ""]
    if e.business_rules:
        lines.append("business rules:")
        lines += [f"  - {r}" for r in e.business_rules]
        lines.append("")
    lines.append(f"grain: ({', '.join(e.grain) or '-'})  {e.grain_status}: {e.grain_reason}")
    lines.append("")
    lines.append("columns:")
    width = max((len(c.name) for c in e.columns), default=4)
    for c in e.columns:
        origin = ", ".join(c.origins or c.sources) or "-"
        lines.append(f"  {c.name:<{width}}  {(c.type or '?'):<14} {c.kind:<9} <- {origin}")
        if c.kind != "copy" and c.expression:
            lines.append(f"  {'':<{width}}  {'':<14} {'':<9}    = {_clip(c.expression, 90)}")
    for title, items in (("filters", e.filters), ("joins", e.joins),
                         ("aggregations", e.aggregations)):
        if items:
            lines.append("")
            lines.append(f"{title}:")
            lines += [f"  {i}" for i in items]
    if e.rules:
        lines.append("")
        lines.append("rules:")
        lines += [f"  [{r.status}] {r.rule}" + (f" — {r.note}" if r.note else "") for r in e.rules]
    lines.append("")
    if e.mismatches:
        lines.append("mismatches between SQL and intent:")
        lines += [f"  {m.severity}: [{m.kind}] {m.message}"
                  + (" (llm)" if m.source == "llm" else "") for m in e.mismatches]
    else:
        lines.append("SQL and intent agree: no mismatches found.")
    if not e.typed:
        lines.append("(types and full lineage unavailable: the model does not compile cleanly; "
                     "see `rocky compile`)")
    return lines
