"""Which upstream change caused a model's new compile errors: subjects + lineage, no text.

Every diagnostic names its *subjects* (``rocky_engine.errors.Subject``: a relation, or one
of its columns, as lineage node ids). A change causes a diagnostic when a subject

- is the changed column itself (``raw.orders.amount``; for an added or renamed column, its
  new name too — a new column can make a name ambiguous or duplicate an output),
- lies downstream of the changed column in the *baseline* lineage (``stg.amount`` read by
  a mart, a contract on ``mart.total`` fed by it), or
- belongs to a changed table (``raw.orders`` or any of its columns, for a removed or
  renamed table).

    >>> from rocky_engine.drift.report import Change
    >>> from rocky_engine.lineage import ColumnEdge, LineageGraph
    >>> g = LineageGraph.from_edges(models={"stg": ("x",)}, sources={"raw.t": ("a",)},
    ...                             edges=[ColumnEdge("raw.t.a", "stg.x", "copy", "a")])
    >>> b = Blame([Change("column_type_changed", "raw.t", "a")], g)
    >>> b.matches(b.changes[0], "stg.x"), b.matches(b.changes[0], "raw.t.b")
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rocky_engine.drift.report import (
    COLUMN_ADDED,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    COLUMN_VALUES_CHANGED,
    TABLE_ADDED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    Change,
)
from rocky_engine.errors import Diagnostic, Subject

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.lineage import LineageGraph
    from rocky_engine.lineage.graph import LineageResult

_TABLE_KINDS = (TABLE_REMOVED, TABLE_RENAMED, TABLE_ADDED)
_COLUMN_KINDS = (COLUMN_REMOVED, COLUMN_RENAMED, COLUMN_TYPE_CHANGED,
                 COLUMN_NULLABILITY_CHANGED, COLUMN_VALUES_CHANGED)


@dataclass(frozen=True)
class Root:
    """A source column node a change starts from (lower-case), with the change."""

    node: str
    change: Change


def roots_of(changes: Sequence[Change], graph: LineageGraph) -> list[Root]:
    """The lineage nodes each change starts from (only those the baseline graph has)."""
    roots: list[Root] = []
    for change in changes:
        if change.kind in (TABLE_REMOVED, TABLE_RENAMED):
            nodes = graph.columns(change.table)
        elif change.kind in _COLUMN_KINDS and change.source_node:
            if change.kind == COLUMN_NULLABILITY_CHANGED and change.change != "loosening":
                continue
            if change.kind == COLUMN_TYPE_CHANGED and change.new_column:
                continue  # renamed as well: the rename already breaks its readers
            nodes = [change.source_node]
        else:
            continue
        roots.extend(Root(n, change) for n in nodes if graph.has_node(n))
    return roots


def new_errors(baseline: CompileResult, live: CompileResult) -> dict[str, list[Diagnostic]]:
    """Errors per model (lower-case) in ``live`` that ``baseline`` did not have.

    An error is the same as before when its code, position and subjects are: a type change
    rewrites the message of an error that already existed, not the error.
    """
    before: dict[str, set[tuple[object, ...]]] = {}
    for d in baseline.errors:
        before.setdefault((d.model or "").lower(), set()).add(_identity(d))
    out: dict[str, list[Diagnostic]] = {}
    for d in live.errors:
        model = (d.model or "").lower()
        if not model or _identity(d) in before.get(model, set()):
            continue
        out.setdefault(model, []).append(d)
    return out


def _identity(d: Diagnostic) -> tuple[object, ...]:
    return (d.code, d.file, d.line, d.col, frozenset(s.node for s in d.subjects))


class Blame:
    """Attributes diagnostics to changes; memoises the downstream lineage of each node."""

    @dataclass(frozen=True)
    class Cause:
        change: Change
        diagnostic: Diagnostic

    def __init__(self, changes: Sequence[Change], graph: LineageGraph) -> None:
        self.changes = tuple(changes)
        self.graph = graph
        self._down: dict[str, LineageResult] = {}
        self._reach: dict[int, frozenset[str]] = {}

    def downstream(self, node: str) -> LineageResult:
        found = self._down.get(node)
        if found is None:
            found = self._down[node] = self.graph.downstream(node)
        return found

    def _reached(self, change: Change) -> frozenset[str]:
        """Every node the change's roots reach in the baseline lineage (roots included)."""
        key = id(change)
        found = self._reach.get(key)
        if found is None:
            nodes: set[str] = set()
            for root in roots_of([change], self.graph):
                nodes.update(self.downstream(root.node).nodes)
            found = self._reach[key] = frozenset(nodes)
        return found

    def matches(self, change: Change, node: str, relation_only: bool = False) -> bool:
        """Whether a subject node is about ``change`` (see the module docstring)."""
        table = change.table.lower()
        tables = {table, (change.new_table or "").lower()} - {""}
        if relation_only:
            return node in tables and change.kind != COLUMN_VALUES_CHANGED
        relation = node.rpartition(".")[0]
        if change.kind in _TABLE_KINDS and relation in tables:
            return True
        own = {change.source_node or ""}
        if change.kind in (COLUMN_ADDED, COLUMN_RENAMED) and change.new_column:
            own.add(f"{table}.{change.new_column}".lower())
        if node in own - {""}:
            return True
        return node in self._reached(change)

    def causes(self, diags: Sequence[Diagnostic]) -> list[Blame.Cause]:
        """Each (change, diagnostic) pair where the diagnostic is about the change."""
        out: list[Blame.Cause] = []
        for d in diags:
            for change in self.changes:
                if any(self._about(change, s) for s in d.subjects):
                    out.append(Blame.Cause(change, d))
        return out

    def _about(self, change: Change, subject: Subject) -> bool:
        if subject.column is None:
            return self.matches(change, subject.relation, relation_only=True)
        return self.matches(change, subject.node)
