"""What a diagnostic is about, as lineage node ids: the structured half of every finding.

Drift blames a model's new errors on upstream changes through these subjects and the
lineage graph, never through the message text. Each emitter names:

* the upstream columns an offending expression reads (``raw.orders.amount`` for
  ``o.amount + 1``, through CTEs and derived tables) — type checks R110-R115;
* the relation and column a name was looked up in — R104 unknown / R106 ambiguous column;
* the relation a reference names — R102 / R103 / R105;
* the model's own output column — R107, W130, W132 and the contract codes R120-R123;
* the model itself when nothing narrower applies (syntax errors, R124, R199, W131).

    >>> subjects_of_nodes(["raw.orders.amount", "stg.x"])
    (Subject(relation='raw.orders', column='amount'), Subject(relation='stg', column='x'))
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from rocky_engine.errors import Subject
from rocky_engine.lineage.extract import SourceTracer

__all__ = ["SourceTracer", "column_in", "subjects_of_nodes", "unique"]


def subjects_of_nodes(nodes: Iterable[str]) -> tuple[Subject, ...]:
    """Lineage node ids (``relation.column``) as subjects."""
    out: list[Subject] = []
    for node in nodes:
        relation, _, column = node.rpartition(".")
        if relation:
            out.append(Subject(relation, column))
    return unique(out)


def unique(subjects: Iterable[Subject]) -> tuple[Subject, ...]:
    return tuple(dict.fromkeys(subjects))


def column_in(tracer: SourceTracer, scope: Scope, aliases: Iterable[str],
              name: str) -> tuple[Subject, ...]:
    """``name`` looked up in the sources ``aliases`` of ``scope``: one subject per stored
    relation it would come from (a CTE or derived table is followed to what it reads)."""
    out: list[Subject] = []
    low = name.lower()
    for alias in aliases:
        source = scope.sources.get(alias)
        if isinstance(source, Scope):
            out.extend(Subject(rel, low) for rel in tracer.relations(source))
        elif isinstance(source, exp.Table):
            rel = tracer.relation(source)
            if rel is not None:
                out.append(Subject(rel, low))
    return unique(out)
