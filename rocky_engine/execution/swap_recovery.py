"""Settle table replaces a killed process left half done (warehouses without transactional DDL).

A replace there sets the old object aside as ``<name>__rocky_old`` before renaming the
new table in (:mod:`rocky_engine.adapters.swap`). The next writing command, holding the
writer lock, calls :func:`recover_swaps`:

- ``<name>__rocky_old`` and no ``<name>``: the process died between the two renames; the
  old object is renamed back (the replace is undone, the stored table is as before);
- ``<name>__rocky_old`` and ``<name>``: the new table was in place; the copy is dropped;
- scratch tables (a build's ``__rocky_tmp``, an incremental batch, ...) are dropped.

Schemas looked at: the command's target, and prod and every branch schema registered in
``_rocky.branches`` — never the whole catalog. Each costs one catalog listing (an
adapter's optional ``relations_matching(schema, text)``, else ``relations``).

    >>> recover_swaps(adapter, ["main"])  # doctest: +SKIP
    [RecoveredSwap(schema='main', name='orders', action='restored')]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.adapters.swap import OLD_SUFFIX
from rocky_engine.execution.state_tables import STATE_SCHEMA

# Work tables of a build (runner, incremental) and of adapters' replaces; promote's own
# copies (``__rocky_promote``) are the promote journal's to settle.
_SCRATCH = ("__rocky_tmp", "__rocky_batch", "__rocky_sync", "__rocky_new")


@dataclass(frozen=True)
class RecoveredSwap:
    """What :func:`recover_swaps` did about one leftover of an interrupted replace."""

    schema: str
    name: str
    action: str  # restored | dropped_old | dropped_scratch

    def describe(self) -> str:
        if self.action == "restored":
            return (f"{self.schema}.{self.name} was being replaced when a rocky process "
                    "died: the previous table is back in place")
        if self.action == "dropped_old":
            return f"dropped {self.schema}.{self.name}{OLD_SUFFIX} left by an interrupted replace"
        return f"dropped work table {self.schema}.{self.name} left by an interrupted run"


def known_schemas(adapter: WarehouseAdapter, target: str) -> list[str]:
    """``target``, and prod and every branch schema ``_rocky.branches`` knows of."""
    rows = adapter.fetchall(exp.select("schema_name", "base_schema").from_(
        table_ref(STATE_SCHEMA, "branches")))
    out = {target.lower(): target}
    for schema, base in rows:
        for s in (base, schema):
            if s:
                out.setdefault(str(s).lower(), str(s))
    return list(out.values())


def recover_swaps(adapter: WarehouseAdapter, schemas: Iterable[str]) -> list[RecoveredSwap]:
    """Undo or finish every half-done replace in ``schemas``; drop scratch tables."""
    out: list[RecoveredSwap] = []
    matching = getattr(adapter, "relations_matching", None)
    for schema in schemas:
        # Where the catalog can filter by name (Spark), the usual answer — nothing left
        # over — costs one listing call; the kinds are read only when something is.
        if matching is not None and not matching(schema, "__rocky_"):
            continue
        kinds = adapter.relations(schema)
        for low, kind in sorted(kinds.items()):
            if low.endswith(OLD_SUFFIX):
                name = low[: -len(OLD_SUFFIX)]
                if name in kinds or name.endswith(_SCRATCH):
                    adapter.drop_relation(schema, low, kind=kind)
                    out.append(RecoveredSwap(schema, name, "dropped_old"))
                else:
                    adapter.rename(schema, low, name, kind=kind)
                    out.append(RecoveredSwap(schema, name, "restored"))
            elif low.endswith(_SCRATCH):
                adapter.drop_relation(schema, low, kind=kind)
                out.append(RecoveredSwap(schema, low, "dropped_scratch"))
    return out
