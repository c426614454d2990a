"""Bad Postgres inputs: one line, exit 2, no traceback, nothing half-built."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_DSN_ENV, CliResult, invoke_cli
from tests.pgserver import PASSWORD_ROLE, PgServer


def _one_line_error(result: CliResult) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
            "AND nspname <> 'information_schema'")}


def test_unreachable_server(pg_shop: Path, monkeypatch: pytest.MonkeyPatch,
                            tmp_path: Path) -> None:
    monkeypatch.setenv(PG_DSN_ENV, f"host={tmp_path} port=5999 dbname=x connect_timeout=2")
    line = _one_line_error(invoke_cli("run", "--project", str(pg_shop)))
    assert "cannot reach PostgreSQL" in line and "5999" in line


def test_wrong_password(pg_server: PgServer, pg_shop: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            [PASSWORD_ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
    dsn = pg_server.dsn("postgres", user=PASSWORD_ROLE)
    monkeypatch.setenv(PG_DSN_ENV, dsn)
    monkeypatch.setenv("PGPASSWORD", "wrong")
    line = _one_line_error(invoke_cli("seed", "--project", str(pg_shop)))
    assert "wrong password" in line and "PGPASSWORD" in line
    assert "wrong" not in line.replace("wrong password", "")  # the secret is not echoed
    monkeypatch.delenv("PGPASSWORD")
    line = _one_line_error(invoke_cli("seed", "--project", str(pg_shop)))
    assert "password" in line
    # With the right one (from the environment, never the file) it works.
    monkeypatch.setenv("PGPASSWORD", "right")
    db = pg_server.create_database()
    with psycopg.connect(pg_server.dsn(db), autocommit=True) as conn:
        conn.execute(f'GRANT ALL ON DATABASE "{db}" TO {PASSWORD_ROLE}')
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user=PASSWORD_ROLE))
    assert invoke_cli("seed", "--project", str(pg_shop)).exit_code == 0


def test_missing_database(pg_server: PgServer, pg_shop: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn("no_such_db"))
    line = _one_line_error(invoke_cli("run", "--project", str(pg_shop)))
    assert "no_such_db" in line and "does not exist" in line and "createdb" in line


def test_a_schema_the_role_cannot_create(pg_server: PgServer, pg_seeded_shop: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    admin = os.environ[PG_DSN_ENV]
    db = psycopg.conninfo.conninfo_to_dict(admin)["dbname"]
    before = _schemas(admin)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE reader_{db} LOGIN")
        conn.execute(f"REVOKE CREATE ON DATABASE \"{db}\" FROM PUBLIC")
        conn.execute(f"GRANT USAGE ON SCHEMA raw TO reader_{db}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA raw TO reader_{db}")
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user=f"reader_{db}"))
    line = _one_line_error(invoke_cli("run", "--project", str(pg_seeded_shop)))
    # The admin's seed created rocky's state schema; this role can neither write it nor
    # create the models' schema: the first refusal is named, with what to grant.
    assert "permission denied" in line and ("cannot create schema" in line or "_rocky" in line)
    assert "grant" in line.lower()
    assert _schemas(admin) == before  # nothing half-built
