from __future__ import annotations

import pytest

from rocky_engine.drift.typechange import canonical_type, classify_type_change, family, same_type


@pytest.mark.parametrize(("old", "new"), [
    ("INTEGER", "BIGINT"),
    ("SMALLINT", "INTEGER"),
    ("TINYINT", "HUGEINT"),
    ("UINTEGER", "BIGINT"),
    ("INTEGER", "DECIMAL(10,0)"),
    ("INTEGER", "DOUBLE"),
    ("DECIMAL(10,2)", "DECIMAL(18,2)"),
    ("DECIMAL(10,2)", "DECIMAL(12,4)"),
    ("REAL", "DOUBLE"),
    ("DATE", "TIMESTAMP"),
    ("TIMESTAMP_MS", "TIMESTAMP"),
])
def test_widening(old: str, new: str) -> None:
    assert classify_type_change(old, new) == "widening"


@pytest.mark.parametrize(("old", "new"), [
    ("BIGINT", "INTEGER"),
    ("INTEGER", "UINTEGER"),           # negatives do not fit
    ("UINTEGER", "INTEGER"),           # the top half does not fit
    ("INTEGER", "DECIMAL(9,0)"),
    ("BIGINT", "DOUBLE"),              # > 2^53 loses precision
    ("DECIMAL(10,2)", "DOUBLE"),       # exact decimals become binary floats
    ("DECIMAL(10,2)", "DECIMAL(10,1)"),
    ("DECIMAL(18,2)", "DECIMAL(10,2)"),
    ("DOUBLE", "REAL"),
    ("TIMESTAMP", "DATE"),
    ("INTEGER", "VARCHAR"),            # fits as text, but no longer a number
    ("VARCHAR", "INTEGER"),
    ("BOOLEAN", "INTEGER"),
    ("NOT A TYPE", "INTEGER"),
])
def test_narrowing(old: str, new: str) -> None:
    assert classify_type_change(old, new) == "narrowing"


def test_varchar_lengths_in_a_dialect_that_keeps_them() -> None:
    assert classify_type_change("VARCHAR(10)", "VARCHAR(20)", dialect=None) == "widening"
    assert classify_type_change("VARCHAR(10)", "VARCHAR", dialect=None) == "widening"
    assert classify_type_change("VARCHAR", "VARCHAR(10)", dialect=None) == "narrowing"
    assert classify_type_change("VARCHAR(20)", "VARCHAR(10)", dialect=None) == "narrowing"


def test_aliases_are_the_same_type() -> None:
    assert same_type("INT", "INTEGER")
    assert same_type("TEXT", "VARCHAR")
    assert same_type("NUMERIC(10,2)", "DECIMAL(10,2)")
    assert not same_type("DECIMAL(10,2)", "DECIMAL(18,2)")
    assert canonical_type("not a type") == "NOT A TYPE"


def test_family() -> None:
    assert [family(t) for t in ("BIGINT", "DECIMAL(4,1)", "DOUBLE", "VARCHAR", "DATE",
                                "TIMESTAMPTZ", "BOOLEAN", "BLOB")] == [
        "integer", "decimal", "float", "text", "date", "timestamp", "boolean", "other"]
