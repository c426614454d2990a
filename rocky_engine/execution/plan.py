"""The planner: which models a command touches, in which order, read from what.

It decides; :mod:`rocky_engine.execution.runner` executes. Dependencies come from the
same scan that later binds each model to its target schema, so the order and the
rewrite can never disagree (scans are cached in ``target/``, see
:mod:`rocky_engine.execution.refcache`).

    >>> plan = build_plan(project, ["+customers"])          # doctest: +SKIP
    >>> plan.selected
    ('stg_customers', 'stg_orders', 'stg_payments', 'order_payments', 'customers')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rocky_engine.config import IncrementalConfig
from rocky_engine.dag import DAG, CycleError
from rocky_engine.errors import Diagnostic, ProblemError, Severity
from rocky_engine.execution.refcache import RefCache
from rocky_engine.execution.refs import ParsedModel, parse_model_sql
from rocky_engine.execution.selection import select_models
from rocky_engine.project import Project


@dataclass(frozen=True)
class Plan:
    dag: DAG[str]
    parsed: Mapping[str, ParsedModel]
    selected: tuple[str, ...]
    materialized: Mapping[str, str]
    # The [incremental] settings of every incremental model.
    incremental: Mapping[str, IncrementalConfig] = field(default_factory=dict)


def build_plan(project: Project, select: Sequence[str] | None = None) -> Plan:
    """Scan every model (from the cache when unchanged), build the DAG, apply the selectors."""
    names = set(project.models)
    schemas = project.source_schemas
    cache = RefCache.for_project(project.root, len(names))
    dialect = project.dialect
    parsed = {
        name: parse_model_sql(name, m.sql, dialect, names - {name}, schemas, path=m.path,
                              scan=cache.scan(name, m.sql, dialect, path=m.path))
        for name, m in project.models.items()
    }
    cache.save()
    dag: DAG[str] = DAG({name: sorted(p.model_refs) for name, p in parsed.items()})
    try:
        dag.order()
    except CycleError as exc:
        raise ProblemError(str(exc), hint="run `rocky compile` for details") from None
    selected = tuple(select_models(dag, select))
    return Plan(dag, parsed, selected,
                {name: m.materialized for name, m in project.models.items()},
                {name: m.sidecar.incremental for name, m in project.models.items()
                 if m.sidecar.incremental is not None})


def compile_gate(project: Project) -> tuple[Any, tuple[Diagnostic, ...]]:
    """Compile the project (cached); returns the result and its diagnostics.

    ``rocky run`` refuses to build anything when an error is among them.
    """
    from rocky_engine.compiler import compile_project

    result = compile_project(project, use_cache=True)
    return result, tuple(result.diagnostics)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity == Severity.ERROR for d in diagnostics)


def compiled_column_types(compiled: Any, model: str) -> dict[str, str]:
    """``{column: type}`` the compiler inferred for ``model`` (empty when unknown)."""
    if compiled is None:
        return {}
    cm = getattr(compiled, "models", {}).get(model)
    out: dict[str, str] = {}
    for col in getattr(cm, "columns", None) or ():
        name, typ = getattr(col, "name", None), getattr(col, "type", None)
        if name is None and isinstance(col, tuple) and len(col) >= 2:
            name, typ = col[0], col[1]
        typ = str(typ) if typ is not None else ""
        if name and typ and typ.upper() not in {"UNKNOWN", "NULL", "NONE"}:
            out[str(name).lower()] = typ
    return out
