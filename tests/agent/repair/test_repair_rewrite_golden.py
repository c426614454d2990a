"""Golden cases for the offline SQL rewrites, each one also executed in DuckDB.

A case file holds ``-- key: value`` headers, then ``---- input`` and ``---- expected`` (or
``---- error``, a substring of the refusal). The input runs against the table before the
change, the expected SQL against the table after it (``-- alter:``): results must match,
minus the output columns the case says were dropped. Regenerate the expected sections with
``ROCKY_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from intent_agent.repair.rewrite import (
    CannotRewrite,
    cast_column,
    drop_column,
    rename_column,
    rename_table,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ROCKY_UPDATE_GOLDEN") == "1"

SETUP = """
CREATE SCHEMA raw;
CREATE TABLE raw.customers (id INTEGER, name VARCHAR, country VARCHAR);
INSERT INTO raw.customers VALUES (1, 'Ada', 'GB'), (2, 'Linus', 'SE'), (3, 'Grace', 'US');
CREATE TABLE raw.orders (id INTEGER, customer_id INTEGER, amount DECIMAL(10,2), status VARCHAR,
                         note VARCHAR);
INSERT INTO raw.orders VALUES
  (1, 1, 12.50, 'completed', 'gift'), (2, 1, 99.99, 'returned', NULL),
  (3, 2, 5.00, 'completed', 'x'), (4, 3, 40.10, 'placed', 'rush'), (5, 3, 40.10, 'completed', NULL);
"""


@dataclass
class Case:
    name: str
    headers: dict[str, str]
    input: str
    expected: str | None
    error: str | None


def _load(path: Path) -> Case:
    headers: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("---- "):
            current = sections.setdefault(line[5:].strip(), [])
        elif current is not None:
            current.append(line)
        elif line.startswith("-- ") and ":" in line:
            key, _, value = line[3:].partition(":")
            headers[key.strip()] = value.strip()
    text = {k: "".join(v) for k, v in sections.items()}
    return Case(path.stem, headers, text["input"], text.get("expected"),
                text.get("error", "").strip() or None)


CASES = sorted(GOLDEN.glob("*.sql"))


def _connect(alter: str | None) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:")
    conn.execute(SETUP)
    if alter:
        conn.execute(alter)
    return conn


def _columns(conn: duckdb.DuckDBPyConnection, unknown: set[str]) -> dict[str, list[str]]:
    rows = conn.execute("SELECT table_schema || '.' || table_name, column_name "
                        "FROM information_schema.columns ORDER BY ordinal_position").fetchall()
    out: dict[str, list[str]] = {}
    for rel, col in rows:
        if rel not in unknown:
            out.setdefault(rel, []).append(col)
    return out


def _rewrite(case: Case, columns: dict[str, list[str]]) -> tuple[str, tuple[str, ...]]:
    h = case.headers
    kind = h["kind"]
    if kind == "column_renamed":
        return rename_column(case.input, table=h["table"], old=h["column"], new=h["new_column"],
                             columns=columns), ()
    if kind == "column_type_changed":
        return cast_column(case.input, table=h["table"], column=h["column"], to_type=h["to_type"],
                           columns=columns), ()
    if kind == "column_removed":
        return drop_column(case.input, table=h["table"], column=h["column"], columns=columns)
    if kind == "table_renamed":
        return rename_table(case.input, table=h["table"], new_table=h["new_table"]), ()
    raise AssertionError(f"unknown kind {kind}")


def _result(conn: duckdb.DuckDBPyConnection, sql: str, drop: set[str]
            ) -> tuple[list[str], list[tuple[object, ...]]]:
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    keep = [i for i, n in enumerate(names) if n not in drop]
    rows = sorted((tuple(r[i] for i in keep) for r in cur.fetchall()), key=repr)
    return [names[i] for i in keep], rows


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path) -> None:
    case = _load(path)
    before = _connect(None)
    unknown = {u.strip() for u in case.headers.get("unknown_columns", "").split(",") if u.strip()}
    columns = _columns(before, unknown)
    if case.error:
        with pytest.raises(CannotRewrite) as info:
            _rewrite(case, columns)
        assert case.error in info.value.reason
        return
    got, dropped = _rewrite(case, columns)
    if UPDATE:
        text = path.read_text()
        path.write_text(text[: text.index("---- expected")] + "---- expected\n" + got)
        return
    assert got == case.expected
    expected_drop = {d.strip() for d in case.headers.get("dropped", "").split(",") if d.strip()}
    assert set(dropped) == expected_drop
    # Meaning is kept: the old query on the old table equals the new query on the new table.
    after = _connect(case.headers.get("alter"))
    old_names, old_rows = _result(before, case.input, expected_drop)
    new_names, new_rows = _result(after, got, set())
    assert new_names == old_names
    assert new_rows == old_rows
    old_types = [d[1] for d in before.execute(case.input).description if d[0] not in expected_drop]
    new_types = [d[1] for d in after.execute(got).description]
    assert new_types == old_types


def test_input_breaks_after_the_change() -> None:
    """The golden inputs really are broken by their change (else the case proves nothing)."""
    for path in CASES:
        case = _load(path)
        if case.error or case.headers["kind"] == "column_type_changed":
            continue
        after = _connect(case.headers.get("alter"))
        with pytest.raises(duckdb.Error):
            after.execute(case.input).fetchall()


def test_rename_keeps_text_outside_the_edits() -> None:
    sql = "SELECT /* keep me */ a.amount\n\n  FROM raw.orders a -- trailing\n"
    out = rename_column(sql, table="raw.orders", old="amount", new="amt")
    assert out == "SELECT /* keep me */ a.amt AS amount\n\n  FROM raw.orders a -- trailing\n"


def test_no_reference_returns_the_text_unchanged() -> None:
    sql = "SELECT id FROM raw.customers"
    assert rename_column(sql, table="raw.orders", old="id", new="x") == sql
    assert drop_column(sql, table="raw.orders", column="id") == (sql, ())


def test_unparseable_model_is_refused() -> None:
    with pytest.raises(CannotRewrite, match="does not parse"):
        rename_column("SELECT FROM WHERE (", table="raw.orders", old="a", new="b")


def test_drop_refuses_to_empty_a_select() -> None:
    with pytest.raises(CannotRewrite, match="no columns"):
        drop_column("SELECT note FROM raw.orders", table="raw.orders", column="note")
