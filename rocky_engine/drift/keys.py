"""Declared keys of source columns: what the models' intent says must be unique.

A model's ``grain`` (one column) or a ``unique`` test on one column declares that column a
key. When the column is a plain copy of a source column — through any chain of models,
none of which groups rows (a GROUP BY makes a key of anything) — the source column is a
declared key too, and drift watches its duplicate rate.

    >>> declared_keys(project, graph)          # doctest: +SKIP
    {'raw.orders': {'id'}, 'raw.customers': {'id'}}
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from rocky_engine.config import UniqueTest
from rocky_engine.project import Project

if TYPE_CHECKING:
    from rocky_engine.lineage import LineageGraph


def key_columns(project: Project) -> list[tuple[str, str]]:
    """``(model, column)`` of every single-column grain and unique test (lower-case)."""
    out: dict[tuple[str, str], None] = {}
    for name, model in project.models.items():
        intent = model.sidecar.intent
        if intent is not None and len(intent.grain) == 1:
            out[(name, intent.grain[0].lower())] = None
        for test in model.sidecar.tests:
            if isinstance(test, UniqueTest) and len(test.key) == 1:
                out[(name, test.key[0].lower())] = None
    return list(out)


def declared_keys(project: Project, graph: LineageGraph) -> dict[str, set[str]]:
    """Source table (``schema.table``) -> its columns that some model declares a key."""
    found: dict[str, set[str]] = {}
    for model, column in key_columns(project):
        for node in _copied_from(graph, f"{model}.{column}"):
            relation, _, col = node.rpartition(".")
            if graph.relation_kind(relation) == "source":
                found.setdefault(relation, set()).add(col)
    return found


def _copied_from(graph: LineageGraph, node: str) -> list[str]:
    """Upstream nodes reached from ``node`` through copy edges into models that do not
    group rows."""
    if not graph.has_node(node):
        return []
    out: list[str] = []
    queue = deque([node])
    seen = {node}
    while queue:
        current = queue.popleft()
        hops = graph.upstream(current, depth=1).edges
        if any(e.kind == "group" for e in hops):
            continue  # the model groups: its output is unique by construction
        for edge in hops:
            if edge.kind == "copy" and edge.source not in seen:
                seen.add(edge.source)
                out.append(edge.source)
                queue.append(edge.source)
    return out
