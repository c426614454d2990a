"""How a qualified tree names rocky's relations.

In a qualified tree a model's table node is re-homed into the private schema
:data:`MODEL_DB` (so a model and a source table of the same name never collide); a source
keeps its ``schema.table``. :func:`relation_name` maps a node back:

    >>> from sqlglot import exp
    >>> relation_name(exp.table_("orders", db=MODEL_DB)), relation_name(exp.table_("o", db="raw"))
    ('orders', 'raw.o')
"""

from __future__ import annotations

from sqlglot import exp

MODEL_DB = "__rocky_models"


def relation_name(table: exp.Table) -> str | None:
    """The rocky relation a physical table node of a qualified tree stands for."""
    if table.db == MODEL_DB:
        return table.name.lower()
    if table.db and not table.catalog:
        return f"{table.db}.{table.name}".lower()
    return None
