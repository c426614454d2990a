"""Column-level lineage: per-model extraction, the project graph, its index file.

    >>> from rocky_engine.lineage import LineageGraph   # doctest: +SKIP
    >>> graph.downstream("raw.orders.amount").nodes      # doctest: +SKIP

``extract_lineage`` (which needs sqlglot) is imported on first use, so querying a stored
graph stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rocky_engine.lineage.edges import EDGE_KINDS, INFLUENCE_KINDS, VALUE_KINDS, ColumnEdge
from rocky_engine.lineage.graph import DOWNSTREAM, UPSTREAM, LineageGraph, LineageResult

if TYPE_CHECKING:
    from rocky_engine.lineage.extract import extract_lineage

__all__ = [
    "DOWNSTREAM",
    "EDGE_KINDS",
    "INFLUENCE_KINDS",
    "UPSTREAM",
    "VALUE_KINDS",
    "ColumnEdge",
    "LineageGraph",
    "LineageResult",
    "extract_lineage",
]


def __getattr__(name: str) -> Any:
    if name == "extract_lineage":
        from rocky_engine.lineage.extract import extract_lineage

        return extract_lineage
    raise AttributeError(name)
