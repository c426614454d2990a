"""The blast radius of source changes, column by column, through lineage.

The project is compiled twice: against the declared sources (the *baseline*, whose lineage
says what reads each source column) and against the live sources. A model column is

- ``broken`` when its model has compile errors the baseline did not have — whatever the
  errors say — and so is every column downstream of a broken one (a model that reads a
  broken model cannot be built either);
- ``affected`` when it still compiles but its values may change: a narrowing type change
  flowing into it, a widening one that changes its inferred type, a column that may now
  be NULL, or drift in the values of a source column (``column_values_changed``) reaching
  it — through value edges for ``scale``/``format``, through any edge (filters, joins,
  groups included) for ``new_values``/``nulls``/``duplicates``, which change which rows
  exist.

Blame is structural (:mod:`.blame`): a new error is caused by a change when one of the
error's *subjects* (the relation / column nodes the compiler says it is about) is the
changed column, lies downstream of it in the baseline lineage, or belongs to a changed
table. Message text is never read. Each entry carries the lineage path from the changed
source column and the change(s) that caused it.

    >>> impact = map_impact(changes, baseline=b, live=l, graph=g)   # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rocky_engine.drift.blame import Blame, Root, new_errors, roots_of
from rocky_engine.drift.report import (
    AFFECTED,
    BREAKING_KINDS,
    BROKEN,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_TYPE_CHANGED,
    COLUMN_VALUES_CHANGED,
    Change,
    Impact,
)
from rocky_engine.errors import Diagnostic

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.lineage import LineageGraph

_RANK = {AFFECTED: 0, BROKEN: 1}


def map_impact(changes: Sequence[Change], *, baseline: CompileResult, live: CompileResult,
               graph: LineageGraph) -> list[Impact]:
    """Impacted model columns, in DAG order; see the module docstring for the rules."""
    failing = new_errors(baseline, live)
    blame = Blame(changes, graph)
    causes = {model: blame.causes(diags) for model, diags in failing.items()}
    found: dict[tuple[str, str], Impact] = {}

    def put(item: Impact) -> None:
        key = (item.model.lower(), (item.column or "").lower())
        old = found.get(key)
        if old is None or _RANK[item.status] > _RANK[old.status]:
            found[key] = item

    for root in roots_of(changes, graph):
        result = blame.downstream(root.node)
        paths = _paths(root.node, [(e.source, e.target) for e in result.edges])
        value_paths = _paths(root.node, [(e.source, e.target) for e in result.edges
                                         if e.is_value])
        for node in result.nodes:
            if node == root.node:
                continue
            model, _, column = node.rpartition(".")
            if graph.relation_kind(model) != "model":
                continue
            if model in failing:
                put(_broken(root, model, column, paths[node], causes[model], failing[model],
                            baseline))
                continue
            item = _affected(root, model, column, paths[node], value_paths.get(node),
                             baseline, live)
            if item is not None:
                put(item)

    # A failing model none of whose columns a change reaches (e.g. a removed table read with
    # SELECT *, a new column making a name ambiguous): all its columns are broken.
    touched = {k[0] for k in found}
    for model, diags in failing.items():
        if model in touched or model not in baseline.models:
            continue
        cause = causes[model]
        first = cause[0] if cause else None
        for col in baseline.models[model].columns:
            put(Impact(model=baseline.models[model].name, column=col.name, status=BROKEN,
                       source=first.change.source_node or first.change.table if first else None,
                       reason=_no_longer_compiles(cause),
                       diagnostic=first.diagnostic if first else diags[0],
                       causes=tuple(dict.fromkeys(c.change for c in cause))))

    _spread_broken(found, blame, baseline)
    order = {name: i for i, name in enumerate(baseline.order)}
    col_order = {(m, c.name.lower()): i for m, cm in baseline.models.items()
                 for i, c in enumerate(cm.columns)}
    return sorted(found.values(), key=lambda i: (
        order.get(i.model.lower(), len(order)),
        col_order.get((i.model.lower(), (i.column or "").lower()), 0)))


def _broken(root: Root, model: str, column: str, path: tuple[str, ...],
            cause: list[Blame.Cause], diags: list[Diagnostic],
            baseline: CompileResult) -> Impact:
    """A column of a model that no longer compiles. Its diagnostic is the one blamed on this
    root's change when there is one, else the first one blamed on anything."""
    mine = [c for c in cause if c.change is root.change]
    chosen = (mine or cause)
    return Impact(model=_model_name(baseline, model),
                  column=_column_name(baseline, model, column), status=BROKEN,
                  source=root.node, path=path, reason=_no_longer_compiles(cause),
                  diagnostic=chosen[0].diagnostic if chosen else diags[0],
                  causes=tuple(dict.fromkeys(c.change for c in cause)))


def _no_longer_compiles(cause: list[Blame.Cause]) -> str:
    if not cause:
        return "no longer compiles"
    named = ", ".join(dict.fromkeys(c.change.describe() for c in cause))
    return f"no longer compiles ({named})"


def _affected(root: Root, model: str, column: str, path: tuple[str, ...],
              value_path: tuple[str, ...] | None, baseline: CompileResult,
              live: CompileResult) -> Impact | None:
    """A column of a model that still compiles: do its values (or type) change?"""
    change = root.change
    name = _model_name(baseline, model)
    col = _column_name(baseline, model, column)
    if change.kind in BREAKING_KINDS:
        # Still compiles (an upstream broken model is handled by _spread_broken; here the
        # column must have been read through something like SELECT *): values change.
        return Impact(model=name, column=col, status=AFFECTED, source=root.node, path=path,
                      reason=f"{root.node} no longer exists upstream", causes=(change,))
    if change.kind == COLUMN_TYPE_CHANGED:
        before = _type_of(baseline, model, column)
        after = _type_of(live, model, column)
        if change.change == "narrowing":
            reason = f"{change.old_type} -> {change.new_type} may change its values"
            if before and after and before != after:
                reason += f" (its type becomes {after}, was {before})"
            return Impact(model=name, column=col, status=AFFECTED, source=root.node,
                          path=path, reason=reason, causes=(change,))
        if before and after and before != after:
            return Impact(model=name, column=col, status=AFFECTED, source=root.node,
                          path=path, causes=(change,),
                          reason=f"its type becomes {after} (was {before}); values unchanged")
        return None
    if change.kind == COLUMN_VALUES_CHANGED:
        through = value_path if change.change in ("scale", "format") else path
        if through is None:
            return None
        detail = change.evidence[0] if change.evidence else ""
        return Impact(model=name, column=col, status=AFFECTED, source=root.node,
                      path=through, causes=(change,),
                      reason=f"values changed upstream ({change.change}): {detail}")
    if change.kind == COLUMN_NULLABILITY_CHANGED and value_path is not None:
        return Impact(model=name, column=col, status=AFFECTED, source=root.node,
                      path=value_path, reason=f"may now be NULL ({root.node} holds NULLs)",
                      causes=(change,))
    return None


def _spread_broken(found: dict[tuple[str, str], Impact], blame: Blame,
                   baseline: CompileResult) -> None:
    """Everything downstream of a broken column is broken too."""
    queue = deque(i for i in found.values() if i.status == BROKEN and i.column)
    seen: set[str] = set()
    while queue:
        item = queue.popleft()
        node = f"{item.model}.{item.column}".lower()
        if node in seen or not blame.graph.has_node(node):
            continue
        seen.add(node)
        result = blame.downstream(node)
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
                         diagnostic=item.diagnostic, causes=item.causes)
            found[key] = new
            queue.append(new)


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
