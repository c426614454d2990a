"""Drift detection end to end: introspect, compare, map the impact, remember the values.

    >>> with ctx.adapter() as adapter:                            # doctest: +SKIP
    ...     report = detect_drift(project, adapter)
    >>> [c.kind for c in report.changes]                          # doctest: +SKIP
    ['column_renamed']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.drift import fingerprints
from rocky_engine.drift.compare import NoData, Reader, WarehouseReader, compare
from rocky_engine.drift.impact import map_impact
from rocky_engine.drift.introspect import LiveTable, introspect, live_sources
from rocky_engine.drift.report import COLUMN_NULLABILITY_CHANGED, Change, DriftReport, Impact
from rocky_engine.errors import WarehouseError
from rocky_engine.project import Project, SourceTable

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult

CompileFn = Callable[..., "CompileResult"]


def detect_drift(project: Project, adapter: WarehouseAdapter, *, read_values: bool = True,
                 record: bool = True, compile_fn: CompileFn | None = None) -> DriftReport:
    """Compare ``project.sources`` with the warehouse and map the impact of every change.

    ``read_values=False`` judges renames without reading data; ``record=False`` leaves the
    stored fingerprints alone (they are refreshed for every table that matches its
    declaration, so a later rename can be recognised by its values).
    """
    live = introspect(project, adapter)
    stored = _load_stored(adapter) if read_values else {}
    reader: Reader = WarehouseReader(adapter) if read_values else NoData()
    changes, notes = compare(project, live, stored=stored, reader=reader)
    impact = compute_impact(project, live, changes, compile_fn=compile_fn) if changes else []
    from rocky_engine.drift.incremental import incremental_plans

    plans = incremental_plans(project, live, changes, impact, compile_fn=compile_fn)
    if record and read_values:
        changed = {c.table.lower() for c in changes} | {
            (c.new_table or "").lower() for c in changes}
        clean = [k for k in project.sources if k in live and k not in changed]
        try:
            record_fingerprints(project, adapter, clean, live)
        except WarehouseError as exc:
            notes.append(f"value fingerprints not recorded: {exc.message}")
    return DriftReport(changes=tuple(changes), impact=tuple(impact), notes=tuple(notes),
                       incremental=tuple(plans))


def compute_impact(project: Project, live: dict[str, LiveTable], changes: list[Change], *,
                   compile_fn: CompileFn | None = None) -> list[Impact]:
    """Compile against the declared and the live sources and compare through lineage."""
    if not project.models:
        return []
    if compile_fn is None:
        from rocky_engine.compiler import compile_project

        compile_fn = compile_project
    from rocky_engine.lineage import LineageGraph

    nullability = {c.source_node or "": bool(c.nullable_to) for c in changes
                   if c.kind == COLUMN_NULLABILITY_CHANGED}
    baseline = compile_fn(project)
    current = compile_fn(project, sources=live_sources(project, live, nullability))
    graph = LineageGraph.from_compile(baseline, project.sources)
    return map_impact(changes, baseline=baseline, live=current, graph=graph)


def record_fingerprints(project: Project, adapter: WarehouseAdapter, tables: Iterable[str],
                        live: dict[str, LiveTable] | None = None) -> int:
    """Store fingerprints of every column of the given declared tables; returns the count."""
    live = live if live is not None else introspect(project, adapter)
    count = 0
    for key in tables:
        table = live.get(key.lower())
        source: SourceTable | None = project.sources.get(key.lower())
        if table is None or source is None:
            continue
        prints = fingerprints.safe_compute_table(adapter, table.schema, table.name,
                                                 [c.name for c in table.columns])
        if prints:
            fingerprints.store(adapter, table.schema, table.name, prints)
            count += len(prints)
    return count


def _load_stored(adapter: WarehouseAdapter) -> dict[tuple[str, str, str], Any]:
    try:
        return fingerprints.load(adapter)
    except WarehouseError:
        return {}
