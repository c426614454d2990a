"""Plan a repair: which models read a drifted table, and everything a drafter needs for each.

The plan is data, built once from the project before and after the ``sources/`` update
and the compile results: for each model that reads a changed table directly, its SQL, its
intent, the old and new shape of the tables it reads, the lineage paths of its impacted
columns and its diagnostics against the live schema. Only that goes to an LLM::

    >>> plan = build_plan(old_project, live_project, changes, baseline, live, impact)  # doctest: +SKIP
    >>> [m.model for m in plan.models]                                                 # doctest: +SKIP
    ['stg_orders']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from intent_agent.repair.changes import SchemaChange
from rocky_engine.project import Project, SourceTable


@dataclass(frozen=True)
class ColumnShape:
    name: str
    type: str
    nullable: bool = True
    description: str | None = None


@dataclass(frozen=True)
class TableShape:
    table: str  # schema.table
    columns: tuple[ColumnShape, ...]

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "columns": [
            {"name": c.name, "type": c.type, "nullable": c.nullable,
             "description": c.description} for c in self.columns]}


@dataclass(frozen=True)
class ImpactedColumn:
    column: str | None
    status: str  # broken | affected
    path: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class ModelContext:
    """Everything relevant to repairing one model, and nothing else."""

    model: str
    path: str
    sql: str
    purpose: str | None
    grain: tuple[str, ...]
    rules: tuple[str, ...]
    column_intents: Mapping[str, str]
    changes: tuple[SchemaChange, ...]
    old_tables: tuple[TableShape, ...]
    new_tables: tuple[TableShape, ...]
    impacted: tuple[ImpactedColumn, ...]
    diagnostics: tuple[str, ...]
    downstream: tuple[str, ...]  # models that read this one, transitively

    @property
    def intent_lines(self) -> tuple[str, ...]:
        """The intent this model's patch must preserve, as short statements."""
        lines = []
        if self.purpose:
            lines.append(self.purpose)
        if self.grain:
            lines.append(f"grain: one row per ({', '.join(self.grain)})")
        lines.extend(self.rules)
        return tuple(lines)


@dataclass(frozen=True)
class RepairPlan:
    changes: tuple[SchemaChange, ...]
    models: tuple[ModelContext, ...]
    rebuild: tuple[str, ...]  # patched models and everything downstream, DAG order
    notes: tuple[str, ...] = field(default=())


def shapes(sources: Mapping[str, SourceTable], tables: Iterable[str],
           comments: Mapping[str, str] | None = None) -> tuple[TableShape, ...]:
    """Declared shapes of ``tables``; ``comments`` ("schema.table.column" -> the warehouse's
    column comment) fills in descriptions the declaration lacks."""
    out = []
    comments = comments or {}
    for key in sorted({t.lower() for t in tables}):
        table = sources.get(key)
        if table is None:
            continue
        out.append(TableShape(table.fqn, tuple(
            ColumnShape(c.name, c.type, c.nullable,
                        c.description or comments.get(f"{key}.{c.name}".lower()))
            for c in table.columns)))
    return tuple(out)


def relation_columns(project: Project, compiled: Any) -> dict[str, list[str]]:
    """Relation -> column names (declared sources and compiled models), for the rewriter."""
    out: dict[str, list[str]] = {key: [c.name for c in t.columns]
                                 for key, t in project.sources.items()}
    for name, model in getattr(compiled, "models", {}).items():
        if model.columns:
            out[name.lower()] = [c.name for c in model.columns]
    return out


def build_plan(old: Project, live: Project, changes: Sequence[SchemaChange], baseline: Any,
               live_compile: Any, impact: Sequence[Any],
               comments: Mapping[str, str] | None = None) -> RepairPlan:
    """One :class:`ModelContext` per model that reads a changed table directly.

    ``comments`` are the warehouse's column comments, shown with the new shapes (as data).
    """
    touched = {c.table.lower() for c in changes} | {
        (c.new_table or "").lower() for c in changes if c.new_table}
    contexts = []
    for name in baseline.order:
        compiled = baseline.models.get(name)
        model = old.models.get(name)
        if compiled is None or model is None:
            continue
        reads = {s.lower() for s in compiled.sources}
        mine = tuple(c for c in changes if c.table.lower() in reads)
        if not mine:
            continue
        new_names = {(c.new_table or c.table).lower() for c in mine} | (reads - touched)
        intent = model.sidecar.intent
        contexts.append(ModelContext(
            model=model.name,
            path=model.path,
            sql=model.sql,
            purpose=intent.purpose if intent else model.sidecar.description,
            grain=tuple(intent.grain) if intent else (),
            rules=tuple(intent.rules) if intent else (),
            column_intents={k: v.intent for k, v in model.sidecar.columns.items() if v.intent},
            changes=mine,
            old_tables=shapes(old.sources, reads),
            new_tables=shapes(live.sources, new_names, comments),
            impacted=tuple(
                ImpactedColumn(getattr(i, "column", None), str(getattr(i, "status", "")),
                               tuple(getattr(i, "path", ()) or ()), str(getattr(i, "reason", "")))
                for i in impact if str(getattr(i, "model", "")).lower() == name),
            diagnostics=tuple(d.headline() for d in live_compile.diagnostics_for(name)
                              if d.severity.value == "error"),
            downstream=tuple(n for n in baseline.order if n in set(baseline.dag.downstream(name))),
        ))
    patched = {c.model.lower() for c in contexts}
    rebuild_set = set(patched)
    for name in patched:
        rebuild_set |= set(baseline.dag.downstream(name))
    rebuild = tuple(n for n in baseline.order if n in rebuild_set)
    return RepairPlan(tuple(changes), tuple(contexts), rebuild)
