"""What source drift means for the stored table of each incremental model.

An incremental model's table holds rows computed by earlier runs. When a source column
feeding it changes, the question is whether those rows are still right:

- ``keep`` — the output is unchanged (a renamed column or a type change that a repair
  renames or casts back): the stored rows stay valid. ``rocky repair`` proves it by
  refreshing the model on its branch and requiring the result to equal prod's table;
- ``append_new_columns`` — the output only gains columns: stored rows keep their values
  and hold NULL in the new ones (a full refresh fills them);
- ``full_refresh`` — stored values may be wrong or a column is gone: rebuild the table.

``next_run`` says what a plain ``rocky run`` will do about it, from ``on_schema_change``.

    >>> plan = IncrementalPlan("orders_inc", "append_new_columns", "fail", ("channel",),
    ...                        "output gains channel")
    >>> plan.next_run
    'rocky run stops (on_schema_change = "fail"): set on_schema_change = "append_new_columns" or run `rocky run --full-refresh --select orders_inc`'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rocky_engine.drift.report import (
    AFFECTED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    TABLE_RENAMED,
    Change,
    Impact,
)

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.project import Project

KEEP, APPEND_NEW_COLUMNS, FULL_REFRESH = "keep", "append_new_columns", "full_refresh"
_REPAIRABLE = (COLUMN_RENAMED, TABLE_RENAMED, COLUMN_TYPE_CHANGED)


@dataclass(frozen=True)
class IncrementalPlan:
    """The verdict for one incremental model's stored table (see the module docstring)."""

    model: str
    action: str  # keep | append_new_columns | full_refresh
    on_schema_change: str
    columns: tuple[str, ...] = ()
    reason: str = ""

    @property
    def next_run(self) -> str:
        full = f"`rocky run --full-refresh --select {self.model}`"
        osc = self.on_schema_change
        if self.action == KEEP:
            return "rocky run keeps the stored rows and adds new ones as usual"
        if self.action == APPEND_NEW_COLUMNS:
            if osc in ("append_new_columns", "sync_all_columns"):
                return (f"rocky run adds {', '.join(self.columns)} to the stored table "
                        f"(on_schema_change = \"{osc}\")")
            if osc == "full_refresh":
                return "rocky run rebuilds the table (on_schema_change = \"full_refresh\")"
            return (f"rocky run stops (on_schema_change = \"{osc}\"): set on_schema_change = "
                    f"\"append_new_columns\" or run {full}")
        if osc == "full_refresh":
            return "rocky run rebuilds the table (on_schema_change = \"full_refresh\")"
        return f"after the fix, run {full}"

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "action": self.action,
                "on_schema_change": self.on_schema_change, "columns": list(self.columns),
                "reason": self.reason, "next_run": self.next_run}


def plan_incremental(project: Project, changes: Sequence[Change], impact: Sequence[Impact],
                     baseline: CompileResult, live: CompileResult) -> list[IncrementalPlan]:
    """A plan per incremental model whose output or inputs the changes touch, in DAG order."""
    by_model: dict[str, list[Impact]] = {}
    for item in impact:
        by_model.setdefault(item.model.lower(), []).append(item)
    kinds = {c.source_node or c.table.lower(): c.kind for c in changes}
    table_kinds = {c.table.lower(): c.kind for c in changes}
    out: list[IncrementalPlan] = []
    for name in baseline.order:
        model = project.models.get(name)
        if model is None or model.sidecar.incremental is None:
            continue
        osc = model.sidecar.incremental.on_schema_change
        before = baseline.models.get(name)
        after = live.models.get(name)
        hits = by_model.get(name, [])
        old_cols = {c.name.lower(): c for c in (before.columns if before else ())}
        new_cols = {c.name.lower(): c for c in (after.columns if after else ())}
        broken = after is None or after.status != "ok"
        if broken and before is not None and before.status == "ok":
            causes = {_kind(i, kinds, table_kinds) for i in hits} - {None}
            if causes and causes <= set(_REPAIRABLE):
                out.append(IncrementalPlan(
                    model.name, KEEP, osc, tuple(i.column or "" for i in hits),
                    "a source it reads was renamed or retyped; once the references are "
                    "repaired (output names and types kept) the stored rows stay valid — "
                    "rocky repair refreshes it on the branch and requires prod's rows"))
            else:
                out.append(IncrementalPlan(
                    model.name, FULL_REFRESH, osc, tuple(i.column or "" for i in hits),
                    "it no longer compiles and the fix changes what it reads; rebuild the "
                    "table after the fix"))
            continue
        if broken:
            continue
        added = tuple(c.name for k, c in new_cols.items() if k not in old_cols)
        removed = tuple(c.name for k, c in old_cols.items() if k not in new_cols)
        retyped = tuple(c.name for k, c in new_cols.items()
                        if k in old_cols and old_cols[k].type != c.type)
        values = tuple(i.column or "" for i in hits if i.status == AFFECTED)
        if removed or retyped or values:
            cols = tuple(dict.fromkeys(removed + retyped + values))
            why = []
            if removed:
                why.append(f"column(s) {', '.join(removed)} disappear from its output")
            if retyped:
                why.append(f"type of {', '.join(retyped)} changes")
            if values:
                why.append(f"stored values of {', '.join(dict.fromkeys(values))} may differ")
            out.append(IncrementalPlan(model.name, FULL_REFRESH, osc, cols, "; ".join(why)))
        elif added:
            out.append(IncrementalPlan(
                model.name, APPEND_NEW_COLUMNS, osc, added,
                f"its output gains {', '.join(added)}: stored rows keep their values and "
                "hold NULL there until a full refresh"))
        elif hits:
            out.append(IncrementalPlan(model.name, KEEP, osc, (),
                                       "its output and values are unchanged"))
    return out


def _kind(item: Impact, kinds: dict[str, str], table_kinds: dict[str, str]) -> str | None:
    if item.source is None:
        return None
    source = item.source.lower()
    return kinds.get(source) or table_kinds.get(source.rpartition(".")[0])


def incremental_plans(project: Project, live: dict[str, Any], changes: Sequence[Change],
                      impact: Sequence[Impact], *, compile_fn: Any = None
                      ) -> list[IncrementalPlan]:
    """:func:`plan_incremental` after compiling against the declared and the live sources
    (both from the compile cache after the impact mapping); nothing without incremental
    models."""
    if not changes or not any(m.sidecar.incremental is not None
                              for m in project.models.values()):
        return []
    from rocky_engine.drift.introspect import live_sources
    from rocky_engine.drift.report import COLUMN_NULLABILITY_CHANGED

    if compile_fn is None:
        from rocky_engine.compiler import compile_project

        compile_fn = compile_project
    nullability = {c.source_node or "": bool(c.nullable_to) for c in changes
                   if c.kind == COLUMN_NULLABILITY_CHANGED}
    baseline = compile_fn(project)
    current = compile_fn(project, sources=live_sources(project, live, nullability))
    return plan_incremental(project, changes, impact, baseline, current)
