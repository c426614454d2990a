"""A throwaway PostgreSQL server for the tests: one per test process, ~1 s to start.

``initdb`` into a temporary directory (owned by ``postgres`` when the tests run as root:
initdb refuses root), a Unix socket in that directory and no TCP, ``fsync=off``; stopped
with ``-m immediate`` and removed at the end of the session. Where no server binaries
exist the fixtures skip with the reason (the one allowed skip).

Fixtures (re-exported by ``tests/conftest.py``, so any test area can use them):

- ``pg_server``  the session's :class:`PgServer`
- ``pg_dsn``     a DSN of a fresh, empty database for this test

    def test_x(pg_dsn):
        with psycopg.connect(pg_dsn) as conn: ...
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIP_REASON = ("PostgreSQL server binaries not found (no initdb under `pg_config --bindir` "
               "or /usr/lib/postgresql/*/bin): apt-get install postgresql-15 to run the "
               "Postgres tests")


def find_bindir() -> Path | None:
    candidates: list[str] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            candidates.append(out)
        except (subprocess.SubprocessError, OSError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


class PgServer:
    """One server: ``dsn(dbname)``, ``create_database()``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="rocky-pg-", dir="/tmp"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.as_root = os.geteuid() == 0
        self.started = False
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o700)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> PgServer:
        init = self._run("initdb", "-D", str(self.data), "--locale=C.UTF-8", "-A", "trust",
                         "-U", "postgres", "--no-sync", "-E", "UTF8")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
        # Trust for everyone but PASSWORD_ROLE, which must give its password (tests of a
        # wrong password need a server that checks one).
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n")
        opts = (f"-k {self.base} -c listen_addresses='' -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c max_connections=60")
        start = self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log),
                          "-w", "-t", "60", "start")
        if start.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {start.stderr.strip()} {log[-2000:]}")
        self.started = True
        return self

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.base} port=5432 user={user} dbname={dbname}"

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      timeout=30)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)


PASSWORD_ROLE = "rocky_pw"  # authenticates with a password (see PgServer.start)
_SERVER: PgServer | None = None


def get_server() -> PgServer | None:
    """The process's server, started on first use (None when there are no binaries)."""
    global _SERVER
    if _SERVER is None:
        bindir = find_bindir()
        if bindir is None:
            return None
        _SERVER = PgServer(bindir)
        atexit.register(_SERVER.stop)
        _SERVER.start()
    return _SERVER


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = get_server()
    if server is None:
        if os.environ.get("ROCKY_REQUIRE_POSTGRES"):
            pytest.fail(SKIP_REASON + " (ROCKY_REQUIRE_POSTGRES is set)")
        pytest.skip(SKIP_REASON)
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """A DSN (no password) of a fresh database on the session's server."""
    return pg_server.dsn(pg_server.create_database())
