"""The drift sensor: each tick compares the live catalog with ``sources/``; a new drift
requests one run of the repair job.

A drift is identified by its fingerprint — the same id ``rocky watch`` and ``rocky repair``
give it (and the repair's git branch ``rocky/repair-<id>`` carries) — kept in the sensor's
cursor, so each distinct drift is handed to the repair job once::

    >>> from rocky_engine.drift import Change, DriftReport
from rocky_engine.integrations.dagster._execute import rocky_errors_as_failures
    >>> drift_fingerprint(DriftReport(changes=(Change("column_removed", "raw.t", column="x"),)))
    'e4da8478b4b8'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from rocky_engine.context import Context
from rocky_engine.drift import Change, DriftReport
from rocky_engine.integrations.dagster._execute import rocky_errors_as_failures

DRIFT_TAG = "rocky/drift"
PROJECT_TAG = "rocky/project"
# A cursor keeps the most recent fingerprints only: a drift older than this many distinct
# drifts is long repaired or abandoned.
_CURSOR_KEEP = 500


def drift_fingerprint(report: DriftReport) -> str:
    """A short stable id for the schema changes of ``report`` (order-insensitive)."""
    return _fingerprint(report.changes)


def _fingerprint(changes: Iterable[Change]) -> str:
    keys = sorted(
        json.dumps([c.kind, c.table.lower(), (c.column or "").lower(),
                    (c.new_column or "").lower(), (c.new_table or "").lower(),
                    _text(c.old_type), _text(c.new_type)])
        for c in changes)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def drift_sensor(root: Path, *, name: str, job_name: str | None,
                 minimum_interval_seconds: int) -> dg.SensorDefinition:
    """A sensor over ``root``'s sources; without ``job_name`` it reports drift and skips."""

    @dg.sensor(name=name, job_name=job_name, minimum_interval_seconds=minimum_interval_seconds,
               description="Compares the live warehouse catalog with sources/ (schemas only, "
                           "no data read) and requests one repair run per new drift.")
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        seen: list[str] = json.loads(context.cursor) if context.cursor else []
        # Introspection only, as `rocky watch`: renames judged on type, name and position.
        with rocky_errors_as_failures():
            report = Context.load(root).drift(read_values=False, record=False)
        if not report.drifted:
            return dg.SkipReason("no drift: the live sources match sources/")
        key = drift_fingerprint(report)
        described = "; ".join(_describe(c) for c in report.changes)
        if key in seen:
            return dg.SkipReason(f"drift {key} already handed to the repair job ({described})")
        if job_name is None:
            return dg.SkipReason(f"drift {key} ({described}); no repair job is installed "
                                 "(the rocky.dagster entry point of intent_agent)")
        context.log.info(f"new drift {key}: {described}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=key, tags={DRIFT_TAG: key,
                                                           PROJECT_TAG: str(root)})],
            cursor=json.dumps((seen + [key])[-_CURSOR_KEEP:]))

    return _sensor


def _describe(c: Change) -> str:
    col = f"{c.table}.{c.column}" if c.column else c.table
    if c.kind == "column_renamed":
        return f"{col} renamed to {c.new_column}"
    if c.kind == "table_renamed":
        return f"{c.table} renamed to {c.new_table}"
    if c.kind == "column_type_changed":
        return f"{col} {c.old_type} -> {c.new_type}"
    return f"{col} {c.kind.replace('_', ' ')}"
