"""Run history and the writer lock, kept in the warehouse's ``_rocky`` schema.

Two layers keep writers apart:

1. the warehouse itself — DuckDB lets one process open a file read-write, so a second
   process retries the open for a bounded time (:func:`open_with_retry`) and then fails
   with :class:`~rocky_engine.errors.LockTimeout` naming the holder's PID; a server
   warehouse with session locks (``SUPPORTS_ADVISORY_LOCK``, e.g. a Postgres advisory
   lock) is waited on the same way, and the server frees it when the holder dies;
2. a lock row in ``_rocky.lock`` — keeps two writers in one process apart and survives a
   crash: a row whose holder is gone is *stale* and the next writer takes it over,
   marking the interrupted run as such in the history.

    >>> with writer_lock(adapter, "run", target="main", selection="*") as ticket:  # doctest: +SKIP
    ...     ticket.status = "success"
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, WarehouseBusy, table_ref
from rocky_engine.errors import LockTimeout, WarehouseError
from rocky_engine.execution.state_tables import STATE_SCHEMA, ensure_state, now, ts
from rocky_engine.execution.state_tables import who as _who

DEFAULT_LOCK_TIMEOUT = 30.0
_LOCK_NAME = "writer"

# Run ids held by live writers of *this* process (a row with our pid but an id not in
# here was left by an earlier, crashed connection of the same process).
_ACTIVE: set[str] = set()
_ACTIVE_GUARD = threading.Lock()

A = TypeVar("A", bound=WarehouseAdapter)


@dataclass(frozen=True)
class LockHolder:
    run_id: str
    command: str
    who: str
    host: str
    pid: int
    acquired_at: Any

    def describe(self) -> str:
        return f"`rocky {self.command}` by {self.who} on {self.host} (PID {self.pid}), " \
               f"since {self.acquired_at}"


@dataclass(frozen=True)
class RunRecord:
    """One row of ``_rocky.runs``: who ran what, when, and how it ended."""

    run_id: str
    command: str
    target: str
    selection: str
    status: str  # running | success | error | interrupted
    started_at: Any
    finished_at: Any
    who: str
    host: str
    pid: int
    summary: str

    def to_json(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass
class RunTicket:
    """Handed to the holder of the writer lock; ``status``/``summary`` go to the history.

    ``promotes`` lists interrupted promotes finished or undone when the lock was taken,
    ``swaps`` the half-done table replaces settled then (warehouses without transactional
    DDL).
    """

    run_id: str
    recovered: LockHolder | None = None
    promotes: list[Any] = field(default_factory=list)
    swaps: list[Any] = field(default_factory=list)
    status: str = "success"
    summary: dict[str, object] = field(default_factory=dict)


def lock_timeout_default() -> float:
    """``$ROCKY_LOCK_TIMEOUT`` seconds, else 30."""
    raw = os.environ.get("ROCKY_LOCK_TIMEOUT", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def open_with_retry(factory: Callable[[], A], *, timeout: float | None = None,
                    poll: float = 0.1) -> A:
    """Open the warehouse, waiting up to ``timeout`` seconds while another process holds it."""
    limit = lock_timeout_default() if timeout is None else timeout
    deadline = time.monotonic() + limit
    while True:
        try:
            return factory()
        except WarehouseBusy as exc:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"the warehouse is held by another process ({exc.holder}); "
                    f"gave up after waiting {limit:g}s",
                    hint="wait for the other rocky command (or DuckDB shell) to finish; "
                         "set ROCKY_LOCK_TIMEOUT=<seconds> to wait longer",
                ) from None
            time.sleep(poll)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def _where(**equals: object) -> exp.Expr:
    conds = [exp.column(k).eq(exp.convert(v)) for k, v in equals.items()]
    return exp.and_(*conds) if len(conds) > 1 else conds[0]


def _is_conflict(exc: WarehouseError) -> bool:
    text = exc.message.lower()
    return "conflict" in text or "duplicate key" in text or "constraint" in text


def current_holder(adapter: WarehouseAdapter) -> LockHolder | None:
    ensure_state(adapter)
    rows = adapter.fetchall(
        exp.select("run_id", "command", "who", "host", "pid", "acquired_at")
        .from_(table_ref(STATE_SCHEMA, "lock")).where(_where(name=_LOCK_NAME)))
    return LockHolder(*rows[0]) if rows else None


def _is_stale(adapter: WarehouseAdapter, holder: LockHolder) -> bool:
    if holder.pid == os.getpid() and holder.host == socket.gethostname():
        with _ACTIVE_GUARD:
            return holder.run_id not in _ACTIVE
    if getattr(adapter, "SINGLE_WRITER_PROCESS", False) or \
            getattr(adapter, "SUPPORTS_ADVISORY_LOCK", False):
        # We hold the file (or the session lock), so the row's process cannot be writing.
        return True
    if holder.host == socket.gethostname():
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def acquire_lock(adapter: WarehouseAdapter, run_id: str, command: str, *,
                 timeout: float | None = None, poll: float = 0.05) -> LockHolder | None:
    """Take the writer lock; returns the stale holder it recovered from, if any."""
    limit = lock_timeout_default() if timeout is None else timeout
    deadline = time.monotonic() + limit
    session = bool(getattr(adapter, "SUPPORTS_ADVISORY_LOCK", False))
    if session:
        _session_lock(adapter, deadline, limit, poll)
    try:
        return _acquire_row(adapter, run_id, command, deadline, limit, poll)
    except BaseException:
        if session:
            adapter.advisory_unlock(_LOCK_NAME)  # type: ignore[attr-defined]
        raise


def _session_lock(adapter: WarehouseAdapter, deadline: float, limit: float,
                  poll: float) -> None:
    while not adapter.try_advisory_lock(_LOCK_NAME):  # type: ignore[attr-defined]
        if time.monotonic() >= deadline:
            who = None
            try:
                # The lock's own record of its holder where the adapter keeps one (Spark
                # Connect's marker table), else the lock row.
                if hasattr(adapter, "advisory_holder"):
                    who = adapter.advisory_holder(_LOCK_NAME)
                if who is None:
                    holder = current_holder(adapter)
                    who = holder.describe() if holder else None
            except WarehouseError:
                pass
            hint = adapter.advisory_hint(_LOCK_NAME) if hasattr(adapter, "advisory_hint") \
                else "wait for it to finish; set ROCKY_LOCK_TIMEOUT=<seconds> to wait longer"
            raise LockTimeout(
                f"the warehouse is being written by {who or 'another writer'}; gave up "
                f"after waiting {limit:g}s", hint=hint)
        time.sleep(poll)


def _acquire_row(adapter: WarehouseAdapter, run_id: str, command: str, deadline: float,
                 limit: float, poll: float) -> LockHolder | None:
    ensure_state(adapter)
    lock = table_ref(STATE_SCHEMA, "lock")
    me = {"run_id": run_id, "command": command, "who": _who(),
          "host": socket.gethostname(), "pid": os.getpid()}
    while True:
        holder: LockHolder | None = None
        try:
            with adapter.transaction():
                holder = current_holder(adapter)
                if holder is None:
                    adapter.execute(exp.insert(
                        exp.values([(_LOCK_NAME, *me.values(), ts(now()))]), lock,
                        columns=["name", *me, "acquired_at"]))
                    _activate(run_id)
                    return None
                if _is_stale(adapter, holder):
                    adapter.execute(exp.update(
                        lock, {**{k: exp.convert(v) for k, v in me.items()},
                               "acquired_at": ts(now())},
                        where=_where(name=_LOCK_NAME, run_id=holder.run_id)))
                    adapter.execute(exp.update(
                        table_ref(STATE_SCHEMA, "runs"),
                        {"status": exp.convert("interrupted"), "finished_at": ts(now())},
                        where=_where(run_id=holder.run_id, status="running")))
                    _activate(run_id)
                    return holder
        except WarehouseError as exc:
            if not _is_conflict(exc):
                raise
        if time.monotonic() >= deadline:
            who = holder.describe() if holder else "another writer"
            raise LockTimeout(
                f"the warehouse is being written by {who}; gave up after waiting {limit:g}s",
                hint="wait for it to finish; set ROCKY_LOCK_TIMEOUT=<seconds> to wait longer",
            )
        time.sleep(poll)


def _activate(run_id: str) -> None:
    with _ACTIVE_GUARD:
        _ACTIVE.add(run_id)


def release_lock(adapter: WarehouseAdapter, run_id: str) -> None:
    try:
        adapter.execute(exp.delete(table_ref(STATE_SCHEMA, "lock"),
                                   where=_where(name=_LOCK_NAME, run_id=run_id)))
    finally:
        with _ACTIVE_GUARD:
            _ACTIVE.discard(run_id)
        if getattr(adapter, "SUPPORTS_ADVISORY_LOCK", False):
            adapter.advisory_unlock(_LOCK_NAME)  # type: ignore[attr-defined]


def record_start(adapter: WarehouseAdapter, run_id: str, command: str, target: str,
                 selection: str) -> None:
    adapter.execute(exp.insert(
        exp.values([(run_id, command, target, selection, "running", ts(now()), _who(),
                     socket.gethostname(), os.getpid())]),
        table_ref(STATE_SCHEMA, "runs"),
        columns=["run_id", "command", "target", "selection", "status", "started_at", "who",
                 "host", "pid"]))


def record_finish(adapter: WarehouseAdapter, run_id: str, status: str,
                  summary: dict[str, object]) -> None:
    adapter.execute(exp.update(
        table_ref(STATE_SCHEMA, "runs"),
        {"status": exp.convert(status), "finished_at": ts(now()),
         "summary": exp.convert(json.dumps(summary, default=str))},
        where=_where(run_id=run_id)))


def run_history(adapter: WarehouseAdapter, limit: int = 20) -> list[RunRecord]:
    """The most recent runs first."""
    ensure_state(adapter)
    rows = adapter.fetchall(
        exp.select("run_id", "command", "target", "selection", "status", "started_at",
                   "finished_at", "who", "host", "pid", "summary")
        .from_(table_ref(STATE_SCHEMA, "runs"))
        .order_by(exp.Ordered(this=exp.column("started_at"), desc=True)).limit(limit))
    return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10] or "")
            for r in rows]


@dataclass(frozen=True)
class IncrementalRecord:
    """One row of ``_rocky.incremental_runs``: what a run did to one incremental model."""

    run_id: str
    target: str
    model: str
    mode: str  # full | incremental
    inserted: int
    updated: int
    deleted: int
    batch_rows: int
    note: str | None
    finished_at: Any

    def to_json(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def record_incremental(adapter: WarehouseAdapter, run_id: str, target: str, model: str,
                       outcome: Any) -> None:
    """Append ``outcome`` (an ``IncrementalOutcome``) to the history, in the caller's
    transaction, so the history and the table can never disagree."""
    ensure_state(adapter)
    adapter.execute(exp.insert(
        exp.values([(run_id, target, model, outcome.mode, outcome.inserted, outcome.updated,
                     outcome.deleted, outcome.batch_rows, outcome.schema_change,
                     ts(now()))]),
        table_ref(STATE_SCHEMA, "incremental_runs"),
        columns=["run_id", "target", "model", "mode", "inserted", "updated", "deleted",
                 "batch_rows", "note", "finished_at"]))


def incremental_history(adapter: WarehouseAdapter, model: str | None = None,
                        limit: int = 50) -> list[IncrementalRecord]:
    """Incremental builds, most recent first (optionally of one model)."""
    ensure_state(adapter)
    query = exp.select("run_id", "target", "model", "mode", "inserted", "updated", "deleted",
                       "batch_rows", "note", "finished_at").from_(
        table_ref(STATE_SCHEMA, "incremental_runs"))
    if model is not None:
        query = query.where(_where(model=model.lower()))
    rows = adapter.fetchall(query.order_by(
        exp.Ordered(this=exp.column("finished_at"), desc=True)).limit(limit))
    return [IncrementalRecord(*r) for r in rows]


@contextmanager
def writer_lock(adapter: WarehouseAdapter, command: str, *, target: str, selection: str,
                timeout: float | None = None) -> Iterator[RunTicket]:
    """Hold the writer lock and record the run in the history for the block's duration."""
    run_id = new_run_id()
    recovered = acquire_lock(adapter, run_id, command, timeout=timeout)
    ticket = RunTicket(run_id, recovered)
    try:
        if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
            # A promote killed half-way is finished or undone before anything else.
            # Then a table replace killed between its renames is undone or finished.
            from rocky_engine.execution.promote_journal import recover
            from rocky_engine.execution.swap_recovery import known_schemas, recover_swaps

            ticket.promotes = recover(adapter)
            ticket.swaps = recover_swaps(adapter, known_schemas(adapter, target))
        record_start(adapter, run_id, command, target, selection)
        yield ticket
    except BaseException:
        ticket.status = "error"
        raise
    finally:
        try:
            record_finish(adapter, run_id, ticket.status, ticket.summary)
        finally:
            release_lock(adapter, run_id)
