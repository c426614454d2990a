"""The fixture suite: every case in fixtures/drift applied to the seeded shop."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rocky_engine.drift import Change, DriftReport

from .conftest import CASES, alter, drift


@dataclass
class Case:
    name: str
    statements: list[str]
    expect: list[str] = field(default_factory=list)
    exactly: bool = False
    broken: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    not_impacted: list[str] = field(default_factory=list)
    no_impact: bool = False
    ambiguous: list[str] = field(default_factory=list)


def _load(path: Path) -> Case:
    case = Case(path.stem, [])
    body: list[str] = []
    for line in path.read_text().splitlines():
        m = re.match(r"--\s*([a-z-]+)(?::\s*(.*))?$", line.strip())
        if m:
            key, value = m.group(1), (m.group(2) or "").strip()
            if key == "expect":
                case.expect.append(value)
            elif key == "exactly":
                case.exactly = True
            elif key == "no-impact":
                case.no_impact = True
            elif key in ("broken", "affected", "ambiguous"):
                getattr(case, key).append(value)
            elif key == "not-impacted":
                case.not_impacted.append(value)
            continue
        if not line.strip().startswith("--"):
            body.append(line)
    case.statements = [s.strip() for s in "\n".join(body).split(";") if s.strip()]
    return case


CASE_FILES = sorted(CASES.glob("*.sql"))


def _signature(c: Change) -> str:
    """The `-- expect:` spelling of a change."""
    where = f"{c.table}.{c.column}" if c.column else c.table
    text = f"{c.kind} {where}"
    if c.new_column:
        text += f" -> {c.new_column}"
    elif c.new_table:
        text += f" -> {c.new_table}"
    if c.change and c.kind != "column_renamed":
        text += f" {c.change}"
    return text


def _impacted(report: DriftReport, status: str | None = None) -> set[str]:
    return {f"{i.model}.{i.column}" for i in report.impact if status in (None, i.status)}


def test_the_suite_has_every_kind() -> None:
    kinds = " ".join(line for p in CASE_FILES for line in p.read_text().splitlines()
                     if line.startswith("-- expect:"))
    for kind in ("column_added", "column_removed", "column_renamed", "column_type_changed",
                 "column_nullability_changed", "table_added", "table_removed",
                 "table_renamed"):
        assert kind in kinds


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path, known_shop: Path) -> None:
    case = _load(path)
    alter(known_shop, *case.statements)
    report = drift(known_shop)
    got = [_signature(c) for c in report.changes]
    for want in case.expect:
        assert want in got, f"{want!r} not in {got}"
    if case.exactly:
        assert len(got) == len(case.expect), got
    for col in case.broken:
        assert col in _impacted(report, "broken"), (col, _impacted(report))
    for col in case.affected:
        assert col in _impacted(report, "affected"), (col, _impacted(report))
    for col in case.not_impacted:
        assert col not in _impacted(report), col
    if case.no_impact:
        assert report.impact == ()
    for col in case.ambiguous:
        table, _, column = col.rpartition(".")
        hits = [c for c in report.changes if c.table == table and c.column == column]
        assert hits and all(c.ambiguous for c in hits)
        assert len(hits[0].candidates) >= 2
    # Every impact entry explains itself: a path from a changed source column.
    for item in report.impact:
        assert item.path and item.path[-1] == f"{item.model}.{item.column}".lower()
        if item.status == "broken":
            assert item.diagnostic is not None
