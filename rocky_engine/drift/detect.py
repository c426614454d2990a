"""Drift detection end to end: introspect, compare, fingerprint values, map the impact.

    >>> with ctx.adapter() as adapter:                            # doctest: +SKIP
    ...     report = detect_drift(project, adapter)
    >>> [c.kind for c in report.changes]                          # doctest: +SKIP
    ['column_renamed']
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.drift import fingerprints, profiling
from rocky_engine.drift.at_risk import annotate
from rocky_engine.drift.compare import NoData, Reader, WarehouseReader, compare
from rocky_engine.drift.fingerprints import Fingerprint
from rocky_engine.drift.impact import map_impact
from rocky_engine.drift.introspect import LiveTable, introspect, live_sources
from rocky_engine.drift.keys import declared_keys, key_columns
from rocky_engine.drift.report import (
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_VALUES_CHANGED,
    Change,
    DriftReport,
    Impact,
)
from rocky_engine.drift.values import value_changes
from rocky_engine.errors import RockyError, WarehouseError
from rocky_engine.project import Project

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult

CompileFn = Callable[..., "CompileResult"]
Prints = dict[str, dict[str, Fingerprint]]  # "schema.table" -> column -> fingerprint


def detect_drift(project: Project, adapter: WarehouseAdapter, *, read_values: bool = True,
                 record: bool = True, compile_fn: CompileFn | None = None) -> DriftReport:
    """Compare ``project.sources`` with the warehouse and map the impact of every change.

    ``read_values=False`` reads no data: renames are judged without values and drift in
    values is not looked for. ``record=False`` leaves the stored fingerprints alone (they
    are refreshed for every table that matches its declaration and whose values did not
    drift, so a later rename is recognised by its values and a value change keeps being
    reported until accepted).
    """
    live = introspect(project, adapter)
    stored = _load_stored(adapter) if read_values else {}
    reader: Reader = WarehouseReader(adapter) if read_values else NoData()
    changes, notes = compare(project, live, stored=stored, reader=reader)
    baseline: CompileResult | None = None
    current: Prints = {}
    if read_values:
        changed = {c.table.lower() for c in changes} | {
            (c.new_table or "").lower() for c in changes}
        clean = [k for k in project.sources if k in live and k not in changed]
        keys: dict[str, set[str]] = {}
        if clean and key_columns(project):
            baseline = _compile(project, compile_fn)
            keys = _keys(project, baseline, notes)
        current = _profile(project, adapter, clean, live, keys, notes)
        if project.config.drift.values:
            changes.extend(_value_changes(project, current, stored))
    impact: list[Impact] = []
    if changes:
        impact = compute_impact(project, live, changes, compile_fn=compile_fn,
                                baseline=baseline)
    from rocky_engine.drift.incremental import incremental_plans

    plans = incremental_plans(project, live, changes, impact, compile_fn=compile_fn)
    if record and read_values:
        drifted = {c.table.lower() for c in changes if c.kind == COLUMN_VALUES_CHANGED}
        try:
            fingerprints.store_many(adapter, {
                (live[key].schema, live[key].name): prints
                for key, prints in current.items() if key not in drifted and prints})
        except WarehouseError as exc:
            notes.append(f"value fingerprints not recorded: {exc.message}")
    return DriftReport(changes=tuple(changes), impact=tuple(impact), notes=tuple(notes),
                       incremental=tuple(plans))


def compute_impact(project: Project, live: dict[str, LiveTable], changes: list[Change], *,
                   compile_fn: CompileFn | None = None,
                   baseline: CompileResult | None = None) -> list[Impact]:
    """Compile against the declared and the live sources and compare through lineage."""
    if not project.models:
        return []
    nullability = {c.source_node or "": bool(c.nullable_to) for c in changes
                   if c.kind == COLUMN_NULLABILITY_CHANGED}
    if baseline is None:
        baseline = _compile(project, compile_fn)
    schema_changes = [c for c in changes if c.kind != COLUMN_VALUES_CHANGED]
    # Drift in values leaves the schema alone: the live compile is the baseline then.
    current = _compile(project, compile_fn, sources=live_sources(project, live, nullability)) \
        if schema_changes else baseline
    graph = _graph(project, baseline)
    return annotate(project, map_impact(changes, baseline=baseline, live=current, graph=graph))


def record_fingerprints(project: Project, adapter: WarehouseAdapter, tables: Iterable[str],
                        live: dict[str, LiveTable] | None = None) -> int:
    """Store fingerprints of every column of the given declared tables; returns the count."""
    live = live if live is not None else introspect(project, adapter)
    keys: dict[str, set[str]] = {}
    if key_columns(project):
        keys = _keys(project, _compile(project, None), [])
    found = {(live[key].schema, live[key].name): prints
             for key, prints in _profile(project, adapter, list(tables), live, keys, []).items()
             if prints}
    fingerprints.store_many(adapter, found)
    return sum(len(prints) for prints in found.values())


def _profile(project: Project, adapter: WarehouseAdapter, tables: Iterable[str],
             live: dict[str, LiveTable], keys: dict[str, set[str]], notes: list[str]) -> Prints:
    """Current fingerprints of the given declared tables (a table that cannot be read is
    skipped with a note). Tables are read ``[drift] threads`` at a time, each worker on
    its own connection (``adapter.clone()``); the result keeps the order of ``tables``."""
    sample_rows = project.config.drift.sample_rows
    todo: list[tuple[str, LiveTable]] = []
    for key in tables:
        table = live.get(key.lower())
        if table is not None and key.lower() in project.sources:
            todo.append((key.lower(), table))

    def one(on: WarehouseAdapter, key: str, table: LiveTable) -> dict[str, Fingerprint] | str:
        try:
            return profiling.compute_table(
                on, table.schema, table.name, [c.name for c in table.columns],
                types={c.name: c.type for c in table.columns},
                keys=frozenset(keys.get(key, ())), sample_rows=sample_rows)
        except WarehouseError as exc:
            return f"values of {key} not read: {exc.message}"

    workers = min(len(todo), project.config.drift.threads or min(4, os.cpu_count() or 1))
    if workers <= 1:
        found = [one(adapter, key, table) for key, table in todo]
    else:
        found = _in_parallel(adapter, workers, [(key, table) for key, table in todo], one)
    out: Prints = {}
    for (key, _), result in zip(todo, found, strict=True):
        if isinstance(result, str):
            notes.append(result)
        else:
            out[key] = result
    return out


def _in_parallel(adapter: WarehouseAdapter, workers: int, jobs: list[tuple[str, LiveTable]],
                 one: Callable[[WarehouseAdapter, str, LiveTable], Any]) -> list[Any]:
    """``one(connection, *job)`` for every job on ``workers`` threads, one clone of the
    adapter per thread (all closed after), results in the order of ``jobs``."""
    local = threading.local()
    clones: list[WarehouseAdapter] = []
    lock = threading.Lock()

    def run(job: tuple[str, LiveTable]) -> Any:
        on = getattr(local, "adapter", None)
        if on is None:
            on = local.adapter = adapter.clone()
            with lock:
                clones.append(on)
        return one(on, *job)

    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="rocky-profile") as pool:
            return list(pool.map(run, jobs))
    finally:
        for clone in clones:
            clone.close()


def _value_changes(project: Project, current: Prints,
                   stored: dict[tuple[str, str, str], Any]) -> list[Change]:
    config = project.config.drift
    out: list[Change] = []
    for key, prints in current.items():
        source = project.sources[key]
        schema, _, table = key.partition(".")
        for column, now in prints.items():
            before = stored.get((schema, table, column.lower()))
            if before is None:
                continue
            declared = next((c.name for c in source.columns
                             if c.name.lower() == column.lower()), column)
            out.extend(replace(c, source_file=source.file) for c in value_changes(
                f"{source.schema}.{source.name}", declared, before, now, config))
    return out


def _keys(project: Project, baseline: CompileResult, notes: list[str]) -> dict[str, set[str]]:
    """Declared keys, or none (with a note) when the lineage cannot be built, e.g. for
    column names the lineage graph cannot hold: keys are a bonus, never a failure."""
    try:
        return declared_keys(project, _graph(project, baseline))
    except (ValueError, RockyError) as exc:
        notes.append(f"declared keys not traced (no duplicate checks): {exc}")
        return {}


def _compile(project: Project, compile_fn: CompileFn | None, **kwargs: Any) -> CompileResult:
    if compile_fn is None:
        from rocky_engine.compiler import compile_project

        compile_fn = compile_project
    return compile_fn(project, **kwargs)


def _graph(project: Project, baseline: CompileResult) -> Any:
    from rocky_engine.lineage import LineageGraph

    return LineageGraph.from_compile(baseline, project.sources)


def _load_stored(adapter: WarehouseAdapter) -> dict[tuple[str, str, str], Any]:
    try:
        return fingerprints.load(adapter)
    except WarehouseError:
        return {}
