"""Shared helpers for the hostile-input, fault and security suites.

Every hostile case must end in one of two ways: a clear error (a rendered ``RockyError``,
exit 1 or 2, no traceback, no internal error) or a correct result. These helpers check
that, prove nothing was injected (a canary table that must survive) and nothing was
written outside the project (the parent folder is unchanged).

Figures: when ``ROCKY_HARDENING_TALLY`` names a folder, every :func:`tally` call appends a
JSON line there; ``bench/hardening_figures.py`` runs this folder and sums them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

_TESTS = Path(__file__).resolve().parents[1]
REPO = _TESTS.parent
HOSTILE = REPO / "fixtures" / "hostile"
CANARY = ("vault", "canary_keep")
INTERNAL_MARKERS = ("Traceback (most recent call last)", "R999", "internal error",
                    "internal compiler error", "R199")


def tally(category: str, case: str, survived: bool) -> None:
    """Record one hostile case for the figures (a no-op unless the bench script asks)."""
    folder = os.environ.get("ROCKY_HARDENING_TALLY")
    if not folder:
        return
    line = json.dumps({"category": category, "case": case, "survived": survived})
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(Path(folder) / f"{worker}.jsonl", "a", encoding="utf-8") as f:
        f.write(line + "\n")


def assert_clean(result: object, allowed: tuple[int, ...] = (0, 1, 2), *,
                 category: str = "", case: str = "") -> None:
    """The CLI ended in a clear error or a result: allowed exit code, no crash markers."""
    code = result.exit_code  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    ok = code in allowed and not any(m in output for m in INTERNAL_MARKERS)
    if category:
        tally(category, case, ok)
    assert code in allowed, f"exit {code} not in {allowed}:\n{output[-3000:]}"
    for marker in INTERNAL_MARKERS:
        assert marker not in output, f"{marker!r} in output:\n{output[-3000:]}"
    if code != 0:
        assert "error" in output.lower() or "fail" in output.lower(), output[-2000:]


def add_canary(root: Path) -> None:
    """A table that any injected DROP/DELETE would remove or empty."""
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {CANARY[0]}")
        conn.execute(f"CREATE OR REPLACE TABLE {CANARY[0]}.{CANARY[1]} AS "
                     "SELECT range AS id FROM range(7)")
    finally:
        conn.close()


def canary_alive(root: Path) -> bool:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        (n,) = conn.execute(f"SELECT COUNT(*) FROM {CANARY[0]}.{CANARY[1]}").fetchone()  # type: ignore[misc]
        return n == 7
    except duckdb.Error:
        return False
    finally:
        conn.close()


def relations(root: Path) -> set[tuple[str, str]]:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return set(conn.execute("SELECT table_schema, table_name FROM "
                                "information_schema.tables").fetchall())
    finally:
        conn.close()


def listing(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its size: a write outside the project shows up."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() or p.is_symlink()}


