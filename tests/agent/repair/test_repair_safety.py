"""Patch safety: every refusal happens before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from intent_agent.repair.safety import (
    Patch,
    UnsafePatch,
    check_model_sql,
    check_patch,
    check_path,
)

KNOWN = {"raw.orders", "raw.customers", "stg_orders"}


@pytest.mark.parametrize("sql,pattern", [
    ("SELECT 1 AS a; DROP TABLE raw.orders", "exactly one SELECT"),
    ("DROP TABLE raw.orders", "must be a SELECT"),
    ("CREATE TABLE x AS SELECT * FROM raw.orders", "must be a SELECT"),
    ("INSERT INTO raw.orders SELECT * FROM raw.orders", "must be a SELECT"),
    ("UPDATE raw.orders SET amount = 0", "must be a SELECT"),
    ("DELETE FROM raw.orders", "must be a SELECT"),
    ("ATTACH 'other.duckdb' AS o", "must be a SELECT"),
    ("COPY raw.orders TO '/tmp/out.csv'", "must be a SELECT"),
    ("INSTALL httpfs", "must be a SELECT"),
    ("LOAD httpfs", "must be a SELECT"),
    ("PRAGMA database_list", "must be a SELECT"),
    ("SET enable_external_access = true", "must be a SELECT"),
    ("SELECT * INTO t2 FROM raw.orders", "INTO"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "read_parquet"),
    ("SELECT * FROM glob('/home/*')", "glob"),
    ("SELECT * FROM '/etc/passwd'", "not a model"),
    ("SELECT (SELECT COUNT(*) FROM read_json_auto('x.json')) AS n FROM raw.orders", "read_json"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT current_setting('home_directory') AS h", "current_setting"),
    ("SELECT * FROM other_db.main.secrets", "another database"),
    ("SELECT * FROM raw.secret_table", "not a model"),
    ("SELECT FROM WHERE", "does not parse"),
])
def test_refused_sql(sql: str, pattern: str) -> None:
    with pytest.raises(UnsafePatch) as info:
        check_model_sql(sql, known=KNOWN)
    assert pattern in info.value.message
    assert info.value.exit_code == 1


@pytest.mark.parametrize("sql", [
    "SELECT id, amount FROM raw.orders",
    "WITH o AS (SELECT * FROM raw.orders) SELECT o.id FROM o JOIN raw.customers c ON c.id = o.id",
    "SELECT order_id FROM stg_orders UNION ALL SELECT id FROM raw.orders",
    "SELECT x FROM range(3) AS t(x)",
    "SELECT CAST(amount AS DECIMAL(10,2)) AS amount FROM raw.orders -- a comment; not a statement",
])
def test_accepted_sql(sql: str) -> None:
    check_model_sql(sql, known=KNOWN)


@pytest.mark.parametrize("path", [
    "../outside.sql", "/etc/passwd", "rocky.toml", "models/x.py", ".git/config",
    "sources/nested/raw.toml", "models/.hidden.sql", "seeds/raw/orders.csv", "sources/raw.sql",
    "models", "models\\..\\..\\x.sql",
])
def test_refused_paths(path: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafePatch):
        check_path(path, tmp_path)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "models").symlink_to(outside)
    with pytest.raises(UnsafePatch, match="outside the project"):
        check_path("models/evil.sql", tmp_path / "proj")


@pytest.mark.parametrize("path", ["models/a.sql", "models/marts/a.toml", "sources/raw.toml"])
def test_allowed_paths(path: str, tmp_path: Path) -> None:
    assert check_path(path, tmp_path) == path


def test_toml_patches_must_stay_valid(tmp_path: Path) -> None:
    with pytest.raises(UnsafePatch, match="not valid TOML"):
        check_patch(Patch("sources/raw.toml", "schema = "), tmp_path, known=())
    with pytest.raises(UnsafePatch, match="SourceFileSpec"):
        check_patch(Patch("sources/raw.toml", 'schema = "raw"\nsurprise = 1\n'), tmp_path, known=())
    with pytest.raises(UnsafePatch, match="Sidecar"):
        check_patch(Patch("models/a.toml", 'materialized = "everything"\n'), tmp_path, known=())
    ok = check_patch(Patch("models/a.toml", 'materialized = "table"\n'), tmp_path, known=())
    assert ok.path == "models/a.toml"
