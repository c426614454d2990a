"""Upstream schema drift: detect, classify, map the blast radius, accept.

    >>> from rocky_engine.drift import detect_drift, apply_changes_to_sources  # doctest: +SKIP
    >>> report = detect_drift(project, adapter)                                # doctest: +SKIP
    >>> report.to_json()["changes"][0]["kind"]                                 # doctest: +SKIP
    'column_renamed'

Modules: ``introspect`` (live catalog), ``compare`` (classification), ``renames``
(evidence scoring), ``fingerprints`` (value sketches kept in ``_rocky``), ``typechange``
(widening vs narrowing), ``impact`` (lineage blast radius), ``accept`` (round-trip edits
of ``sources/*.toml``), ``render`` (text for people), ``detect`` (the pipeline).
"""

from __future__ import annotations

from rocky_engine.drift.accept import (
    AcceptResult,
    apply_changes_to_sources,
    render_diff,
    write_sources,
)
from rocky_engine.drift.detect import compute_impact, detect_drift, record_fingerprints
from rocky_engine.drift.report import (
    AFFECTED,
    BROKEN,
    COLUMN_ADDED,
    COLUMN_NULLABILITY_CHANGED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_TYPE_CHANGED,
    KINDS,
    TABLE_ADDED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    Candidate,
    Change,
    DriftReport,
    Impact,
    LiveColumn,
)
from rocky_engine.drift.typechange import classify_type_change

__all__ = [
    "AFFECTED",
    "BROKEN",
    "COLUMN_ADDED",
    "COLUMN_NULLABILITY_CHANGED",
    "COLUMN_REMOVED",
    "COLUMN_RENAMED",
    "COLUMN_TYPE_CHANGED",
    "KINDS",
    "TABLE_ADDED",
    "TABLE_REMOVED",
    "TABLE_RENAMED",
    "AcceptResult",
    "Candidate",
    "Change",
    "DriftReport",
    "Impact",
    "LiveColumn",
    "apply_changes_to_sources",
    "classify_type_change",
    "compute_impact",
    "detect_drift",
    "record_fingerprints",
    "render_diff",
    "write_sources",
]
