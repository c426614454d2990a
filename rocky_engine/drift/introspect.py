"""Read the live shape of every declared source schema through the warehouse adapter.

    >>> live = introspect(project, adapter)            # doctest: +SKIP
    >>> live["raw.orders"].column("amount").type       # doctest: +SKIP
    'DECIMAL(10,2)'
"""

from __future__ import annotations

from dataclasses import dataclass

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.drift.report import LiveColumn
from rocky_engine.project import Project, SourceColumn, SourceTable


@dataclass(frozen=True)
class LiveTable:
    schema: str
    name: str
    columns: tuple[LiveColumn, ...]
    kind: str = "table"

    @property
    def fqn(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> LiveColumn | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


def introspect(project: Project, adapter: WarehouseAdapter) -> dict[str, LiveTable]:
    """Live tables and views of the declared source schemas, keyed ``schema.table`` lower-case."""
    live: dict[str, LiveTable] = {}
    declared = sorted({t.schema.lower() for t in project.sources.values()}
                      | set(project.source_files))
    # One catalog query for every declared schema (never one per schema or table).
    for table in adapter.catalog(declared):
        cols = tuple(LiveColumn(c.name, c.type, c.nullable, c.ordinal) for c in table.columns)
        live[f"{table.schema}.{table.name}".lower()] = LiveTable(
            table.schema, table.name, cols, table.kind)
    return live


def live_sources(project: Project, live: dict[str, LiveTable],
                 nullability: dict[str, bool] | None = None) -> dict[str, SourceTable]:
    """The declared sources as they really are now: what models compile against for impact.

    A declared table that no longer exists is left out (references to it fail to compile);
    undeclared live tables are left out too (nothing may reference them yet). Descriptions
    are kept from the declaration, and so is nullability unless ``nullability`` (node id
    ``schema.table.column`` -> nullable) says it drifted: catalogs rarely carry NOT NULL for
    loaded tables, so the declaration is the better statement of what the data holds.
    """
    nullability = nullability or {}
    result: dict[str, SourceTable] = {}
    for key, declared in project.sources.items():
        table = live.get(key)
        if table is None:
            continue
        columns = []
        for col in table.columns:
            old = declared.column(col.name)
            node = f"{key}.{col.name}".lower()
            nullable = nullability.get(node, old.nullable if old else col.nullable)
            columns.append(SourceColumn(col.name, col.type, nullable,
                                        old.description if old else None))
        result[key] = SourceTable(schema=declared.schema, name=declared.name,
                                  columns=tuple(columns), file=declared.file,
                                  description=declared.description)
    return result
