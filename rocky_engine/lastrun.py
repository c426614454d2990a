"""The last result of ``rocky drift`` and ``rocky test``, kept under ``target/`` as JSON.

    >>> save_last(root, DRIFT, report.to_json())      # doctest: +SKIP
    >>> load_last(root, DRIFT)["changes"][0]["kind"]   # doctest: +SKIP
    'column_renamed'

``rocky docs`` draws the drift view and the tests' last outcomes from these files: the
documents are exactly what the commands print with ``--format json``, plus the time they
were recorded (``recorded_at``, ISO 8601 UTC).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DRIFT = "last_drift.json"
TESTS = "last_test.json"
_FOLDER = "target"


def save_last(root: Path, name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as ``target/<name>`` atomically (a reader never sees half a file)."""
    path = root / _FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**payload, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_last(root: Path, name: str) -> dict[str, Any] | None:
    """The recorded document, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((root / _FOLDER / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def merge_tests(root: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """``rocky test``'s document with the last results of models this run did not test.

    A ``rocky test --select a`` keeps what the previous run found for model ``b``.
    """
    previous = load_last(root, TESTS) or {}
    tested = {str(t.get("model", "")).lower() for t in payload.get("tests", [])}
    kept = [t for t in previous.get("tests", [])
            if isinstance(t, dict) and str(t.get("model", "")).lower() not in tested]
    return {**payload, "tests": [*kept, *payload.get("tests", [])]}
