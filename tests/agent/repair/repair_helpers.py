"""Helpers shared by the repair tests: git repositories with a bare origin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User", "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                         env={**os.environ, **GIT_ENV})
    return out.stdout.strip()


def make_repo(root: Path, *, origin: Path | None = None) -> Path:
    """``git init`` at ``root`` (branch main), commit everything, optionally add a bare origin."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    if origin is not None:
        subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
        git(root, "remote", "add", "origin", str(origin))
        git(root, "push", "-q", "origin", "main")
    return root




def alter_warehouse(root: Path, *statements: str) -> None:
    """Change the live upstream tables, as an upstream loader would."""
    import duckdb

    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def prod_snapshot(root: Path, schema: str = "main") -> dict[str, object]:
    """Every prod object: kind, view SQL, and a digest of table contents."""
    import hashlib

    import duckdb

    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        out: dict[str, object] = {}
        for name, kind in conn.execute(
                "SELECT table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = ? ORDER BY 1", [schema]).fetchall():
            if kind == "VIEW":
                sql = conn.execute("SELECT sql FROM duckdb_views() WHERE schema_name = ? "
                                   "AND view_name = ?", [schema, name]).fetchone()
                out[name] = ("view", sql[0] if sql else None)
            else:
                rows = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                out[name] = ("table", len(rows), digest)
        return out
    finally:
        conn.close()


def checkout_state(top: Path) -> tuple[str, str, str, dict[str, bytes]]:
    """Status, current branch, HEAD and every working-tree file (bytes)."""
    files = {str(p.relative_to(top)): p.read_bytes() for p in sorted(top.rglob("*"))
             if p.is_file() and ".git" not in p.parts and ".rocky" not in p.parts
             and not p.name.startswith("warehouse.duckdb") and "target" not in p.parts}
    return (git(top, "status", "--porcelain"), git(top, "rev-parse", "--abbrev-ref", "HEAD"),
            git(top, "rev-parse", "HEAD"), files)
