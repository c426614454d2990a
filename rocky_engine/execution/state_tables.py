"""The ``_rocky`` schema: its tables and the small helpers every writer of them uses.

The lowest layer of rocky's warehouse state: run history and the writer lock
(:mod:`rocky_engine.execution.state`), branches, and the promote journal build on it, and
it imports none of them.
"""

from __future__ import annotations

import getpass
import os
import weakref
from datetime import UTC, datetime

import sqlglot
from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter

STATE_SCHEMA = "_rocky"

# Portable DDL, parsed once and generated for each adapter's dialect.
_DDL = [sqlglot.parse_one(sql) for sql in (
    ("CREATE TABLE IF NOT EXISTS _rocky.runs (run_id VARCHAR, command VARCHAR, target VARCHAR,"
     " selection VARCHAR, status VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,"
     " who VARCHAR, host VARCHAR, pid INTEGER, summary VARCHAR)"),
    ("CREATE TABLE IF NOT EXISTS _rocky.lock (name VARCHAR PRIMARY KEY, run_id VARCHAR,"
     " command VARCHAR, who VARCHAR, host VARCHAR, pid INTEGER, acquired_at TIMESTAMP)"),
    ("CREATE TABLE IF NOT EXISTS _rocky.branches (name VARCHAR, schema_name VARCHAR,"
     " base_schema VARCHAR, created_at TIMESTAMP, created_by VARCHAR)"),
    ("CREATE TABLE IF NOT EXISTS _rocky.branch_models (branch VARCHAR, model VARCHAR,"
     " materialized VARCHAR, prod_sql VARCHAR, run_id VARCHAR, built_at TIMESTAMP)"),
    # One row per incremental model build, written in the build's own transaction.
    ("CREATE TABLE IF NOT EXISTS _rocky.incremental_runs (run_id VARCHAR, target VARCHAR,"
     " model VARCHAR, mode VARCHAR, inserted BIGINT, updated BIGINT, deleted BIGINT,"
     " batch_rows BIGINT, note VARCHAR, finished_at TIMESTAMP)"),
    # Append-only: promote on a warehouse without transactions (promote_journal.py).
    ("CREATE TABLE IF NOT EXISTS _rocky.promote_journal (promote_id VARCHAR, branch VARCHAR,"
     " base_schema VARCHAR, step VARCHAR, payload VARCHAR, at TIMESTAMP)"),
)]


# Adapters (one per command) that have seen the state tables complete. Only those without
# transactional DDL are remembered: elsewhere a rollback could undo what was seen, and the
# look is a millisecond, where on Spark it is three catalog calls (~60 ms) every time.
_HAVE_STATE: weakref.WeakSet[WarehouseAdapter] = weakref.WeakSet()


def ensure_state(adapter: WarehouseAdapter) -> None:
    """Create the ``_rocky`` schema and its tables when missing (idempotent)."""
    if adapter in _HAVE_STATE:
        return
    if not (STATE_SCHEMA in {s.lower() for s in adapter.schemas()} and
            len(adapter.relations(STATE_SCHEMA)) >= len(_DDL)):
        adapter.create_schema(STATE_SCHEMA)
        for ddl in _DDL:
            adapter.execute(ddl)
    if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
        _HAVE_STATE.add(adapter)


def now() -> str:
    """The current UTC time as a TIMESTAMP literal's text."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def ts(value: str) -> exp.Expr:
    """``CAST('<value>' AS TIMESTAMP)``."""
    return exp.cast(exp.Literal.string(value), exp.DataType.build("TIMESTAMP"))


def who() -> str:
    """The OS user running rocky (recorded with runs, locks and branches)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")
