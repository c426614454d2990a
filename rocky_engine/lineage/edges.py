"""The edge record and its kinds: what every lineage module shares (no sqlglot import).

    >>> e = ColumnEdge("raw.orders.amount", "stg_orders.amount", "copy", "amount")
    >>> e.is_value, compose("copy", "cast"), compose("aggregate", "window")
    (True, 'cast', 'aggregate')

Value kinds, weakest first: ``copy`` (a bare column, maybe renamed), ``cast`` (CAST /
TRY_CAST of a column), ``transform`` (anything else), ``window`` (a window function, and its
PARTITION BY / ORDER BY keys), ``aggregate`` (under an aggregate function). Influence kinds:
``filter`` (WHERE / HAVING / QUALIFY), ``join`` (JOIN ON keys), ``group`` (GROUP BY keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

COPY, CAST, TRANSFORM, WINDOW, AGGREGATE = "copy", "cast", "transform", "window", "aggregate"
FILTER, JOIN, GROUP = "filter", "join", "group"
VALUE_KINDS: tuple[str, ...] = (COPY, CAST, TRANSFORM, WINDOW, AGGREGATE)
INFLUENCE_KINDS: tuple[str, ...] = (FILTER, JOIN, GROUP)
EDGE_KINDS: tuple[str, ...] = VALUE_KINDS + INFLUENCE_KINDS
RANK: dict[str, int] = {k: i for i, k in enumerate(VALUE_KINDS)}
KIND_ID: dict[str, int] = {k: i for i, k in enumerate(EDGE_KINDS)}  # EdgePack kind ids


@dataclass(frozen=True)
class ColumnEdge:
    """One hop of lineage into an output column of a model.

    ``source`` is an upstream node id ``relation.column`` (a model name or ``schema.table``);
    ``target`` is ``model.column``; ``expression`` is short SQL text of what made the hop.
    """

    source: str
    target: str
    kind: str
    expression: str

    @property
    def is_value(self) -> bool:
        return self.kind in RANK


def compose(inner: str, outer: str) -> str:
    """The kind of two value hops in a row: ``copy∘X = X``, otherwise the strongest.

    >>> compose("copy", "cast"), compose("aggregate", "cast"), compose("window", "aggregate")
    ('cast', 'aggregate', 'aggregate')
    """
    return inner if RANK[inner] >= RANK[outer] else outer


class EdgePack:
    """One model's edges in the compact form the compile cache stores (cheap to unpickle).

    Iterating yields the same :class:`ColumnEdge` records, in the same order, as the
    expanded form: every value edge, then each influence edge once per target.

        >>> p = EdgePack((("raw.t.a", "m.x", 0, "a"),), ("m.x", "m.y"), (("raw.t.b", 5, "b"),))
        >>> [(e.source, e.target, e.kind) for e in p]  # doctest: +NORMALIZE_WHITESPACE
        [('raw.t.a', 'm.x', 'copy'), ('raw.t.b', 'm.x', 'filter'),
         ('raw.t.b', 'm.y', 'filter')]

    ``value``: ``(source, target, kind id, expression)``; ``influence``: ``(source, kind id,
    expression)``, reaching every node of ``targets``. A kind id indexes :data:`EDGE_KINDS`.
    Influence edges make up most of a project's edges (each one reaches every output
    column), so storing them once per model keeps the cache small and the graph build fast.
    """

    __slots__ = ("influence", "targets", "value")

    def __init__(self, value: tuple[tuple[str, str, int, str], ...],
                 targets: tuple[str, ...] = (),
                 influence: tuple[tuple[str, int, str], ...] = ()) -> None:
        self.value = value
        self.targets = targets
        self.influence = influence if targets else ()

    @classmethod
    def of(cls, edges: Iterable[ColumnEdge]) -> EdgePack:
        """Pack expanded records (influence edges must reach the same targets, in order).

            >>> e = [ColumnEdge("s.a", "m.x", "copy", "a"), ColumnEdge("s.b", "m.x", "join", "ON")]
            >>> tuple(EdgePack.of(e)) == tuple(e)
            True
        """
        value: list[tuple[str, str, int, str]] = []
        influence: dict[tuple[str, int, str], list[str]] = {}
        for e in edges:
            kind = KIND_ID[e.kind]
            if kind < len(VALUE_KINDS):
                value.append((e.source, e.target, kind, e.expression))
            else:
                influence.setdefault((e.source, kind, e.expression), []).append(e.target)
        target_lists = {tuple(t) for t in influence.values()}
        if len(target_lists) > 1:
            raise ValueError("influence edges of one model must reach the same targets")
        targets = target_lists.pop() if target_lists else ()
        return cls(tuple(value), targets, tuple(influence))

    def __iter__(self) -> Iterator[ColumnEdge]:
        kinds = EDGE_KINDS
        for source, target, kind, expression in self.value:
            yield ColumnEdge(source, target, kinds[kind], expression)
        for source, kind, expression in self.influence:
            name = kinds[kind]
            for target in self.targets:
                yield ColumnEdge(source, target, name, expression)

    def __len__(self) -> int:
        return len(self.value) + len(self.influence) * len(self.targets)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EdgePack):
            return (self.value, self.targets, self.influence) == (
                other.value, other.targets, other.influence)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.targets, self.influence))

    def __repr__(self) -> str:
        return f"EdgePack({self.value!r}, {self.targets!r}, {self.influence!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (EdgePack, (self.value, self.targets, self.influence))
