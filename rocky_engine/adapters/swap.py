"""Replacing a table without transactional DDL (Spark): the old one is set aside, not dropped.

Where DDL is transactional, ``swap_table`` is a drop and a rename in one transaction.
Elsewhere a process killed between the two would lose the stored table (for an
incremental model, its whole history). :func:`aside_swap` keeps a copy of the old object
under ``<name>__rocky_old`` until the new one is in place:

1. ``ALTER ... <name> RENAME TO <name>__rocky_old``  (step ``aside``)
2. ``ALTER TABLE <tmp> RENAME TO <name>``              (step ``renamed``)
3. ``DROP ... <name>__rocky_old``                      (step ``dropped``)

Whatever moment the process dies at, the old object or the new one exists under one of
the two names, and the next writing command settles it
(:func:`rocky_engine.execution.swap_recovery.recover_swaps`): ``<name>`` missing — the
old object is renamed back (the replace is undone); ``<name>`` present — the set-aside
copy is dropped (the replace had finished).

    >>> aside_swap(adapter, "main", "orders__rocky_tmp", "orders", "table")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rocky_engine.errors import WarehouseError

OLD_SUFFIX = "__rocky_old"

# Test seam: called with ``"<step>:<name>"`` after each step — the kill -9 tests stop the
# process there.
after_step: Callable[[str], None] | None = None


def aside_swap(adapter: Any, schema: str, tmp: str, name: str, kind: str | None) -> None:
    """Put table ``tmp`` in place of ``name`` (``kind``: ``"table"``, ``"view"``, None for
    nothing) so that a crash at any point loses neither (module docstring)."""
    old = name + OLD_SUFFIX
    if kind is not None:
        try:
            adapter.rename(schema, name, old, kind=kind)
        except WarehouseError:
            # A stale kind from the caller, or a copy an interrupted swap set aside while
            # <name> exists again (that swap had finished: the copy is garbage).
            found = adapter.relations(schema)
            if old.lower() in found:
                adapter.drop_relation(schema, old, kind=found[old.lower()])
            kind = found.get(name.lower())
            if kind is not None:
                adapter.rename(schema, name, old, kind=kind)
        _step("aside", name)
    adapter.rename(schema, tmp, name, kind="table")
    _step("renamed", name)
    if kind is not None:
        try:
            adapter.drop_relation(schema, old, kind=kind)
        except WarehouseError:  # a stale kind that the rename took all the same (DuckDB)
            adapter.drop_relation(schema, old)
    _step("dropped", name)


def _step(label: str, name: str) -> None:
    if after_step is not None:
        after_step(f"{label}:{name}")
