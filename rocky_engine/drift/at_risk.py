"""Which intent may no longer hold when a column's values drift.

For an impacted model column, the sidecar statements that mention it (or a column on the
lineage path from the changed source column): intent rules, the grain, the column's own
intent, and data tests on it. Matching is by whole word, case-insensitive.

    >>> mentions("lifetime_revenue is never negative", {"lifetime_revenue"})
    True
    >>> mentions("revenue_rank is dense", {"revenue"})
    False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from rocky_engine.config import (
    AcceptedValuesTest,
    ExpressionTest,
    NotNullTest,
    RelationshipsTest,
    UniqueTest,
)
from rocky_engine.drift.report import COLUMN_VALUES_CHANGED, Impact
from rocky_engine.project import Project


def mentions(text: str, names: Iterable[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", text, re.IGNORECASE)
               for n in names if n)


def annotate(project: Project, impact: Sequence[Impact]) -> list[Impact]:
    """``impact`` with ``at_risk`` filled in for entries caused by value drift."""
    return [replace(i, at_risk=at_risk(project, i)) if any(
        c.kind == COLUMN_VALUES_CHANGED for c in i.causes) else i for i in impact]


def at_risk(project: Project, item: Impact) -> tuple[str, ...]:
    model = project.models.get(item.model.lower())
    if model is None:
        return ()
    column = (item.column or "").lower()
    names = {column} | {p.rpartition(".")[2] for p in item.path}
    sidecar = model.sidecar
    out: list[str] = []
    intent = sidecar.intent
    if intent is not None:
        if column in {g.lower() for g in intent.grain}:
            out.append(f"grain: one row per ({', '.join(intent.grain)})")
        out.extend(f"rule: {rule}" for rule in intent.rules if mentions(rule, names))
    contract = {k.lower(): v for k, v in sidecar.columns.items()}.get(column)
    if contract is not None and contract.intent:
        out.append(f"column intent: {item.column}: {contract.intent}")
    for test in sidecar.tests:
        label = _test_on(test, column, names)
        if label:
            out.append(f"test: {label}")
    return tuple(dict.fromkeys(out))


def _test_on(test: object, column: str, names: set[str]) -> str | None:
    if isinstance(test, (NotNullTest, AcceptedValuesTest, RelationshipsTest)):
        return f"{test.type}({test.column})" if test.column.lower() == column else None
    if isinstance(test, UniqueTest):
        key = [k.lower() for k in test.key]
        return f"unique({', '.join(test.key)})" if column in key else None
    if isinstance(test, ExpressionTest):
        return f"expression({test.expression})" if mentions(test.expression, names) else None
    return None
