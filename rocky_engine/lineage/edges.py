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

from dataclasses import dataclass

COPY, CAST, TRANSFORM, WINDOW, AGGREGATE = "copy", "cast", "transform", "window", "aggregate"
FILTER, JOIN, GROUP = "filter", "join", "group"
VALUE_KINDS: tuple[str, ...] = (COPY, CAST, TRANSFORM, WINDOW, AGGREGATE)
INFLUENCE_KINDS: tuple[str, ...] = (FILTER, JOIN, GROUP)
EDGE_KINDS: tuple[str, ...] = VALUE_KINDS + INFLUENCE_KINDS
RANK: dict[str, int] = {k: i for i, k in enumerate(VALUE_KINDS)}


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
