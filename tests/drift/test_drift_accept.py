"""`--accept` edits sources/*.toml round-trip: only the changed lines differ."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from rocky_engine.context import Context
from rocky_engine.drift import Change, LiveColumn, apply_changes_to_sources
from rocky_engine.errors import ConfigError
from rocky_engine.project import load_project

from .conftest import alter, drift


def _changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.splitlines()[i1:i2]
            added += new.splitlines()[j1:j2]
    return removed, added


def test_accept_round_trip_keeps_everything_else_byte_for_byte(known_shop: Path) -> None:
    source = known_shop / "sources" / "raw.toml"
    before = source.read_text()
    alter(known_shop,
          "ALTER TABLE raw.customers RENAME COLUMN full_name TO name",
          "ALTER TABLE raw.customers ADD COLUMN loyalty_tier VARCHAR",
          "ALTER TABLE raw.orders ALTER COLUMN customer_id TYPE BIGINT",
          "ALTER TABLE raw.orders ALTER COLUMN status TYPE VARCHAR(20)",  # same type in DuckDB
          "ALTER TABLE raw.payments DROP COLUMN method",
          "CREATE TABLE raw.refunds (id INTEGER NOT NULL, amount DECIMAL(10,2))")
    ctx = Context.load(known_shop)
    result = ctx.drift_accept()
    after = source.read_text()
    assert result.written == (source,)
    removed, added = _changed_lines(before, after)
    assert removed == [
        'full_name = "VARCHAR"',
        'customer_id = { type = "INTEGER", nullable = false, description = "FK to raw.customers" }',
        'method = "VARCHAR"         # card | paypal | gift_card',
    ]
    assert added[:3] == [
        'name = "VARCHAR"',
        'loyalty_tier = "VARCHAR"',
        'customer_id = { type = "BIGINT", nullable = false, description = "FK to raw.customers" }',
    ]
    assert added[3:] == ["", "[tables.refunds]", "# added by `rocky drift --accept`: describe it",
                         "", "[tables.refunds.columns]",
                         'id = { type = "INTEGER", nullable = false }',
                         'amount = "DECIMAL(10,2)"']
    # Every comment outside the changed lines is still there, byte for byte.
    for line in before.splitlines():
        if "#" in line and line not in removed:
            assert line in after.splitlines()
    # The new file is the live shape: no drift left, and the project loads.
    assert not drift(known_shop).drifted
    assert "raw.refunds" in load_project(known_shop).sources
    assert not list(source.parent.glob(".*.tmp"))


def test_rename_keeps_the_comment_and_position(known_shop: Path) -> None:
    alter(known_shop, "ALTER TABLE raw.payments RENAME COLUMN method TO payment_method")
    ctx = Context.load(known_shop)
    patches = ctx.drift_accept(dry_run=True).patches
    text = patches["sources/raw.toml"]
    assert 'payment_method = "VARCHAR"         # card | paypal | gift_card' in text
    lines = text.splitlines()
    assert lines.index('payment_method = "VARCHAR"         # card | paypal | gift_card') == \
        lines.index('order_id = { type = "INTEGER", nullable = false }', 25) + 1
    # dry run wrote nothing
    assert "payment_method" not in (known_shop / "sources" / "raw.toml").read_text()


def test_table_rename_rewrites_only_its_headers(known_shop: Path) -> None:
    before = (known_shop / "sources" / "raw.toml").read_text()
    alter(known_shop, "ALTER TABLE raw.payments RENAME TO payments_v2")
    Context.load(known_shop).drift_accept()
    after = (known_shop / "sources" / "raw.toml").read_text()
    removed, added = _changed_lines(before, after)
    assert removed == ["[tables.payments]", "[tables.payments.columns]"]
    assert added == ["[tables.payments_v2]", "[tables.payments_v2.columns]"]


def test_table_removed_and_nullability(known_shop: Path) -> None:
    alter(known_shop, "DROP TABLE raw.payments",
          "UPDATE raw.orders SET customer_id = NULL WHERE id = 1",
          "ALTER TABLE raw.customers ALTER COLUMN signup_date SET NOT NULL")
    Context.load(known_shop).drift_accept()
    text = (known_shop / "sources" / "raw.toml").read_text()
    assert "payments" not in text
    assert ('customer_id = { type = "INTEGER", nullable = true, '
            'description = "FK to raw.customers" }') in text
    assert 'signup_date = { type = "DATE", nullable = false }' in text
    assert not drift(known_shop).drifted


def test_nothing_to_accept_writes_nothing(known_shop: Path) -> None:
    result = Context.load(known_shop).drift_accept()
    assert result.patches == {} and result.written == () and result.diff == ""


def test_a_change_for_an_undeclared_column_is_a_clear_error(known_shop: Path) -> None:
    project = load_project(known_shop)
    with pytest.raises(ConfigError, match="`nope` is not declared"):
        apply_changes_to_sources(project, [Change("column_removed", "raw.orders", "nope")])


def test_added_not_null_column_and_public_function_shape(known_shop: Path) -> None:
    project = load_project(known_shop)
    patches = apply_changes_to_sources(project, [
        Change("column_added", "raw.orders", "channel", new_type="VARCHAR", nullable=False),
        Change("table_added", "raw.odd", columns=(LiveColumn("my col", "INTEGER"),)),
    ])
    assert list(patches) == ["sources/raw.toml"]
    text = patches["sources/raw.toml"]
    assert 'channel = { type = "VARCHAR", nullable = false }' in text
    assert '"my col" = "INTEGER"' in text


def test_a_write_killed_before_its_rename_leaves_nothing_in_sources(tmp_path: Path) -> None:
    """kill -9 between writing the new text and renaming it over the file: the sources
    folder holds only its files (the new text waits under target/, which is disposable)."""
    import signal
    import subprocess
    import sys
    import textwrap

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "raw.toml").write_text("schema = 'raw'\n")
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from rocky_engine.drift import accept
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        accept._atomic_write(Path({str(sources / "raw.toml")!r}), "schema = 'new'\\n",
                             scratch=Path({str(tmp_path / "target")!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert sorted(p.name for p in sources.iterdir()) == ["raw.toml"]
    assert (sources / "raw.toml").read_text() == "schema = 'raw'\n"
