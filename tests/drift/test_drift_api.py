"""The public surface of rocky_engine.drift: pinned names and runnable docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

from rocky_engine import drift


def test_all_is_pinned() -> None:
    assert sorted(drift.__all__) == sorted([
        "AFFECTED", "AcceptResult", "BROKEN", "COLUMN_ADDED", "COLUMN_NULLABILITY_CHANGED",
        "COLUMN_REMOVED", "COLUMN_RENAMED", "COLUMN_TYPE_CHANGED", "KINDS", "TABLE_ADDED",
        "TABLE_REMOVED", "TABLE_RENAMED", "Candidate", "Change", "DriftReport", "Impact",
        "LiveColumn", "apply_changes_to_sources", "classify_type_change", "compute_impact",
        "detect_drift", "record_fingerprints", "render_diff", "write_sources",
    ])
    for name in drift.__all__:
        assert getattr(drift, name) is not None


@pytest.mark.parametrize("module", ["typechange", "fingerprints", "report", "renames",
                                    "render"])
def test_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"rocky_engine.drift.{module}")
    result = doctest.testmod(mod)
    assert result.failed == 0 and result.attempted > 0


def test_report_records_are_frozen() -> None:
    change = drift.Change("column_added", "raw.t", "x")
    with pytest.raises(AttributeError):
        change.kind = "column_removed"  # type: ignore[misc]
    assert drift.DriftReport().to_json() == {"drifted": False, "changes": [], "impact": [],
                                             "notes": [], "incremental": []}
