"""Read the structured intent the way the offline provider can: no model, just patterns.

A rule is free text, but many rules say the same few things. Those are turned into data
tests or into an expectation about the SQL's filters; the rest are reported as
``untranslated`` (an LLM provider translates them)::

    >>> r = read_rule("lifetime_revenue is never negative", ["lifetime_revenue"], [])
    >>> r.status, [t.expression for t in r.tests]
    ('testable', ['lifetime_revenue >= 0'])
    >>> read_rule("status is one of placed, shipped", ["status"], []).tests[0].values
    ['placed', 'shipped']
    >>> r = read_rule("only orders with status 'completed' count", [], [("status", "completed")])
    >>> r.status
    'consistent'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from rocky_engine.config import DataTest

_DATA_TEST: TypeAdapter[Any] = TypeAdapter(DataTest)

RULE_STATUSES = ("testable", "consistent", "contradicted", "not_enforced", "untranslated")

_NONNEG = re.compile(r"\b(never negative|not negative|non-negative|nonnegative|at least 0|"
                     r">=\s*0|zero or more|is never below zero)\b|>=\s*0", re.IGNORECASE)
_POSITIVE = re.compile(r"\b(is (always )?positive|greater than (0|zero)|strictly positive)\b|>\s*0\b",
                       re.IGNORECASE)
_ONE_OF = re.compile(r"\b(?:is |are )?(?:always )?one of:?\s+(.+)$", re.IGNORECASE)
_LOWER = re.compile(r"\blower[- ]?case(d)?\b|\blower-cased\b", re.IGNORECASE)
_UPPER = re.compile(r"\bupper[- ]?case(d)?\b|\bupper-cased\b", re.IGNORECASE)
_NOT_NULL = re.compile(r"\b(never null|not null|is required|always (set|present|filled))\b", re.IGNORECASE)
_UNIQUE = re.compile(r"\b(is|are) unique\b", re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)\b", re.IGNORECASE)
_QUOTED_VALUE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+(?:=\s*|is\s+|of\s+|equal to\s+)?"
                           r"'([^']+)'")


@dataclass(frozen=True)
class RuleReading:
    rule: str
    status: str  # one of RULE_STATUSES
    tests: tuple[Any, ...] = ()  # rocky_engine.config DataTest values
    note: str = ""


def make_test(**fields: Any) -> Any:
    """A validated sidecar data test (``NotNullTest``, ``UniqueTest``, ...)."""
    return _DATA_TEST.validate_python({k: v for k, v in fields.items() if v is not None})


def read_rule(rule: str, columns: Sequence[str],
              equalities: Sequence[tuple[str, str]]) -> RuleReading:
    """Interpret one rule against the model's output ``columns`` and its filter ``equalities``."""
    quoted = _QUOTED_VALUE.findall(rule)
    if quoted and re.search(r"\b(only|count|counts|included|excluded|where)\b", rule, re.IGNORECASE):
        return _filter_rule(rule, quoted, equalities)
    column = _mentioned_column(rule, columns)
    if column is None:
        return RuleReading(rule, "untranslated",
                           note="names no output column the offline reader can test")
    tests = _value_tests(rule, column)
    if tests:
        return RuleReading(rule, "testable", tuple(tests))
    return RuleReading(rule, "untranslated", note="no pattern the offline reader knows")


def read_column_intent(column: str, intent: str) -> tuple[Any, ...]:
    """Tests a column's own intent states ("contact email, lower-cased" → a LOWER test).

        >>> [t.expression for t in read_column_intent("email", "contact email, lower-cased")]
        ['email = LOWER(email)']
    """
    return tuple(_value_tests(intent, column))


def _value_tests(rule: str, col: str) -> list[Any]:
    q = _quote_ident(col)
    if _NONNEG.search(rule):
        return [make_test(type="expression", expression=f"{q} >= 0")]
    if _POSITIVE.search(rule):
        return [make_test(type="expression", expression=f"{q} > 0")]
    m = _BETWEEN.search(rule)
    if m:
        return [make_test(type="expression", expression=f"{q} BETWEEN {m.group(1)} AND {m.group(2)}")]
    m = _ONE_OF.search(rule)
    if m:
        values = _split_values(m.group(1))
        if values:
            return [make_test(type="accepted_values", column=col, values=values)]
    if _LOWER.search(rule):
        return [make_test(type="expression", expression=f"{q} = LOWER({q})")]
    if _UPPER.search(rule):
        return [make_test(type="expression", expression=f"{q} = UPPER({q})")]
    if _NOT_NULL.search(rule):
        return [make_test(type="not_null", column=col)]
    if _UNIQUE.search(rule):
        return [make_test(type="unique", column=col)]
    return []


def _filter_rule(rule: str, quoted: list[tuple[str, str]],
                 equalities: Sequence[tuple[str, str]]) -> RuleReading:
    problems, ok = [], []
    for col, value in quoted:
        seen = {v for c, v in equalities if c == col.lower()}
        if not seen:
            problems.append(("not_enforced", f"no filter on {col} keeps only '{value}'"))
        elif value not in seen:
            kept = ", ".join(f"'{v}'" for v in sorted(seen))
            problems.append(("contradicted", f"the SQL filters {col} to {kept}, not '{value}'"))
        else:
            ok.append(f"the SQL filters {col} = '{value}'")
    if problems:
        status = "contradicted" if any(k == "contradicted" for k, _ in problems) else "not_enforced"
        return RuleReading(rule, status, note="; ".join(m for _, m in problems))
    return RuleReading(rule, "consistent", note="; ".join(ok))


def _mentioned_column(rule: str, columns: Sequence[str]) -> str | None:
    # The longest name first, so `lifetime_revenue` wins over a column called `revenue`.
    for col in sorted(columns, key=len, reverse=True):
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(col)}(?![A-Za-z0-9_])", rule, re.IGNORECASE):
            return col
    return None


def _split_values(text: str) -> list[str]:
    text = re.sub(r"[.;]\s*$", "", text.strip())
    parts = re.split(r"\s*,\s*|\s+or\s+|\s+and\s+", text)
    values = [p.strip().strip("'\"`") for p in parts]
    return [v for v in values if v and re.fullmatch(r"[\w\- .]{1,60}", v)]


def _quote_ident(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'
