"""The blast radius of source changes, column by column, through lineage.

The project is compiled twice: against the declared sources (the *baseline*, whose lineage
says what reads each source column) and against the live sources. A model column is

- ``broken`` when its model has compile errors the baseline did not have (the diagnostic is
  attached), and so is every column downstream of a broken one — a model that reads a
  broken model cannot be built either;
- ``affected`` when it still compiles but its values may change: a narrowing type change
  flowing into it, a widening one that changes its inferred type, or a column that may now
  be NULL.

Each entry carries the lineage path from the changed source column.

    >>> impact = map_impact(changes, baseline=b, live=l, graph=g)   # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rocky_engine.drift.report import (
    AFFECTED,
    BROKEN,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    Change,
    Impact,
)
from rocky_engine.errors import Diagnostic

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.lineage import LineageGraph

_RANK = {AFFECTED: 0, BROKEN: 1}
_BREAKING = (COLUMN_REMOVED, COLUMN_RENAMED, TABLE_REMOVED, TABLE_RENAMED)


@dataclass(frozen=True)
class _Root:
    node: str          # source column node id, lower-case
    change: Change


def map_impact(changes: Sequence[Change], *, baseline: CompileResult, live: CompileResult,
               graph: LineageGraph) -> list[Impact]:
    """Impacted model columns, in DAG order; see the module docstring for the rules."""
    new_errors = _new_errors(baseline, live)
    found: dict[tuple[str, str], Impact] = {}

    def put(item: Impact) -> None:
        key = (item.model.lower(), (item.column or "").lower())
        old = found.get(key)
        if old is None or _RANK[item.status] > _RANK[old.status]:
            found[key] = item

    for root in _roots(changes, graph):
        result = graph.downstream(root.node)
        paths = _paths(root.node, [(e.source, e.target) for e in result.edges])
        value_paths = _paths(root.node, [(e.source, e.target) for e in result.edges
                                         if e.is_value])
        for node in result.nodes:
            if node == root.node:
                continue
            model, _, column = node.rpartition(".")
            if graph.relation_kind(model) != "model":
                continue
            item = _classify(root, model, column, paths[node], value_paths.get(node),
                             new_errors, baseline, live)
            if item is not None:
                put(item)

    # Models that newly fail without any lineage reaching them (e.g. a removed table read
    # with SELECT *): all their columns are broken.
    touched = {k[0] for k in found}
    for model, diags in new_errors.items():
        if model in touched or model not in baseline.models:
            continue
        for col in baseline.models[model].columns:
            put(Impact(model=baseline.models[model].name, column=col.name, status=BROKEN,
                       reason="no longer compiles", diagnostic=diags[0]))

    _spread_broken(found, graph, baseline)
    order = {name: i for i, name in enumerate(baseline.order)}
    col_order = {(m, c.name.lower()): i for m, cm in baseline.models.items()
                 for i, c in enumerate(cm.columns)}
    return sorted(found.values(), key=lambda i: (
        order.get(i.model.lower(), len(order)),
        col_order.get((i.model.lower(), (i.column or "").lower()), 0)))


def _roots(changes: Sequence[Change], graph: LineageGraph) -> list[_Root]:
    roots: list[_Root] = []
    for change in changes:
        if change.kind in (TABLE_REMOVED, TABLE_RENAMED):
            nodes = graph.columns(change.table)
        elif change.kind in (COLUMN_REMOVED, COLUMN_RENAMED, COLUMN_TYPE_CHANGED,
                             COLUMN_NULLABILITY_CHANGED) and change.source_node:
            if change.kind == COLUMN_NULLABILITY_CHANGED and change.change != "loosening":
                continue
            if change.kind == COLUMN_TYPE_CHANGED and change.new_column:
                continue  # renamed as well: the rename already breaks its readers
            nodes = [change.source_node]
        else:
            continue
        roots.extend(_Root(n, change) for n in nodes if graph.has_node(n))
    return roots


def _classify(root: _Root, model: str, column: str, path: tuple[str, ...],
              value_path: tuple[str, ...] | None, new_errors: dict[str, list[Diagnostic]],
              baseline: CompileResult, live: CompileResult) -> Impact | None:
    change = root.change
    name = _model_name(baseline, model)
    diags = new_errors.get(model)
    if diags:
        # The model no longer compiles; this column is broken when *this* change is the
        # cause: a vanished input, or a diagnostic naming a column on the path (a contract
        # the new type violates). Another change's error is reported through that change.
        named = _naming(diags, path)
        if change.kind in _BREAKING or named is not None:
            return Impact(model=name, column=_column_name(baseline, model, column),
                          status=BROKEN, source=root.node, path=path,
                          reason="no longer compiles", diagnostic=named or diags[0])
    if change.kind in _BREAKING:
        # Still compiles (an upstream broken model is handled by _spread_broken; here the
        # column must have been read through something like SELECT *): values change.
        return Impact(model=name, column=_column_name(baseline, model, column),
                      status=AFFECTED, source=root.node, path=path,
                      reason=f"{root.node} no longer exists upstream")
    if change.kind == COLUMN_TYPE_CHANGED:
        before = _type_of(baseline, model, column)
        after = _type_of(live, model, column)
        if change.change == "narrowing":
            reason = f"{change.old_type} -> {change.new_type} may change its values"
            if before and after and before != after:
                reason += f" (its type becomes {after}, was {before})"
            return Impact(model=name, column=_column_name(baseline, model, column),
                          status=AFFECTED, source=root.node, path=path, reason=reason)
        if before and after and before != after:
            return Impact(model=name, column=_column_name(baseline, model, column),
                          status=AFFECTED, source=root.node, path=path,
                          reason=f"its type becomes {after} (was {before}); values unchanged")
        return None
    if change.kind == COLUMN_NULLABILITY_CHANGED and value_path is not None:
        return Impact(model=name, column=_column_name(baseline, model, column),
                      status=AFFECTED, source=root.node, path=value_path,
                      reason=f"may now be NULL ({root.node} holds NULLs)")
    return None


def _spread_broken(found: dict[tuple[str, str], Impact], graph: LineageGraph,
                   baseline: CompileResult) -> None:
    """Everything downstream of a broken column is broken too."""
    queue = deque(i for i in found.values() if i.status == BROKEN and i.column)
    seen: set[str] = set()
    while queue:
        item = queue.popleft()
        node = f"{item.model}.{item.column}".lower()
        if node in seen or not graph.has_node(node):
            continue
        seen.add(node)
        result = graph.downstream(node)
        paths = _paths(node, [(e.source, e.target) for e in result.edges])
        for other in result.nodes:
            if other == node:
                continue
            model, _, column = other.rpartition(".")
            key = (model, column)
            current = found.get(key)
            if current is not None and current.status == BROKEN:
                continue
            new = Impact(model=_model_name(baseline, model),
                         column=_column_name(baseline, model, column), status=BROKEN,
                         source=item.source, path=item.path + paths[other][1:],
                         reason=f"depends on broken {item.model}.{item.column}",
                         diagnostic=item.diagnostic)
            found[key] = new
            queue.append(new)


def _new_errors(baseline: CompileResult, live: CompileResult) -> dict[str, list[Diagnostic]]:
    """Errors per model (lower-case) in ``live`` that ``baseline`` did not have."""
    before: dict[str, set[tuple[str, str]]] = {}
    for d in baseline.errors:
        before.setdefault((d.model or "").lower(), set()).add((d.code, d.message))
    out: dict[str, list[Diagnostic]] = {}
    for d in live.errors:
        model = (d.model or "").lower()
        if not model or (d.code, d.message) in before.get(model, set()):
            continue
        out.setdefault(model, []).append(d)
    return out


def _paths(root: str, edges: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Shortest path from ``root`` to every reachable node over ``edges``."""
    children: dict[str, list[str]] = {}
    for s, t in edges:
        children.setdefault(s, []).append(t)
    paths: dict[str, tuple[str, ...]] = {root: (root,)}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for child in children.get(node, ()):
            if child not in paths:
                paths[child] = paths[node] + (child,)
                queue.append(child)
    return paths


def _naming(diags: list[Diagnostic], path: tuple[str, ...]) -> Diagnostic | None:
    """The first diagnostic that names a column on the path, if any."""
    names = {p.rpartition(".")[2] for p in path}
    for d in diags:
        text = d.message.lower()
        if any(f'"{n}"' in text or f"`{n}`" in text for n in names):
            return d
    return None


def _model_name(result: CompileResult, model: str) -> str:
    found = result.models.get(model.lower())
    return found.name if found else model


def _column_name(result: CompileResult, model: str, column: str) -> str:
    found = result.models.get(model.lower())
    col = found.column(column) if found else None
    return col.name if col else column


def _type_of(result: CompileResult, model: str, column: str) -> str | None:
    found = result.models.get(model.lower())
    col = found.column(column) if found else None
    return col.type if col and col.known else None
