"""A writer lock between rocky processes sharing one Spark Connect server.

Spark has no transactions and no session locks, and ``DELETE``/``UPDATE`` on rocky's
state tables are emulated, so the lock row in ``_rocky.lock`` cannot keep two processes
apart there. What Spark does have atomically is its catalog: ``CREATE TABLE`` (without
``IF NOT EXISTS``) fails when the table exists, and the metastore decides. So:

- **take**: create the marker table ``_rocky.lock__<key>`` with the holder (a token, user,
  host, PID, time) in its table properties; it exists already → somebody holds it;
- **release**: drop the marker, if it is still ours;
- **stale**: a marker whose holder ran on this host and whose PID is gone (``kill -9``,
  a crash) is taken over: it is renamed to ``lock__<key>__dead_<its token>`` — a rename
  is atomic, and a second process renaming the same dead marker fails because that name
  exists (the renamed markers are kept: empty tables, one per crashed holder) — and the
  lock is free again. A marker held from another host cannot be judged
  from here: the waiter gives up after the lock timeout naming the holder
  (:func:`describe`) and how to clear it (:data:`CLEAR_HINT`).

    >>> try_lock(adapter, "writer", state)   # doctest: +SKIP
    True
"""

from __future__ import annotations

import getpass
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rocky_engine.errors import WarehouseError

SCHEMA = "_rocky"
CLEAR_HINT = ("wait for it to finish (set ROCKY_LOCK_TIMEOUT=<seconds> to wait longer); if "
              "that process is gone for good (its machine died), release the lock by hand "
              "on the Spark Connect server: DROP TABLE `_rocky`.`{marker}`")


@dataclass(frozen=True)
class MarkerHolder:
    """Who holds a marker lock (from the marker table's properties)."""

    token: str
    who: str
    host: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.who} on {self.host} (PID {self.pid}), since {self.since}"


def clear_hint(key: str) -> str:
    return CLEAR_HINT.format(marker=marker_name(key))


def marker_name(key: str) -> str:
    return "lock__" + re.sub(r"[^a-z0-9_]", "_", key.lower())


def _qualified(name: str) -> str:
    return f"`{SCHEMA}`.`{name}`"


def try_lock(adapter: Any, key: str, tokens: dict[str, str]) -> bool:
    """Take lock ``key`` if free (or held by a dead process of this host); never waits.

    ``tokens`` maps the keys this adapter holds to their tokens.
    """
    token = uuid.uuid4().hex[:16]
    # Not "token": Spark redacts property values whose key matches spark.redaction.regex.
    props = {"rocky.holder": token, "rocky.who": _who(), "rocky.host": socket.gethostname(),
             "rocky.pid": str(os.getpid()),
             "rocky.since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    listed = ", ".join(f"'{k}' = '{_literal(v)}'" for k, v in props.items())
    adapter.execute(f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}`")
    try:
        adapter.execute(f"CREATE TABLE {_qualified(marker_name(key))} (held INT) USING parquet "
                        f"TBLPROPERTIES ({listed})")
    except WarehouseError as exc:
        if not _exists_error(exc):
            raise
        holder = holder_of(adapter, key)
        if holder is not None and _dead_here(holder):
            _take_over(adapter, key, holder)
        return False
    tokens[key] = token
    return True


def unlock(adapter: Any, key: str, tokens: dict[str, str]) -> None:
    """Drop the marker of ``key`` if this adapter holds it (never another's)."""
    token = tokens.pop(key, None)
    if token is None:
        return
    holder = holder_of(adapter, key)
    if holder is not None and holder.token == token:
        adapter.execute(f"DROP TABLE IF EXISTS {_qualified(marker_name(key))}")


def holder_of(adapter: Any, key: str, name: str | None = None) -> MarkerHolder | None:
    """The holder written in the marker's properties; None when nobody holds ``key``."""
    try:
        rows = adapter.fetchall(f"SHOW TBLPROPERTIES {_qualified(name or marker_name(key))}")
    except WarehouseError as exc:
        if "NOT_FOUND" in exc.message or "not found" in exc.message.lower():
            return None
        raise
    props = {str(k): str(v) for k, v in rows}
    try:
        return MarkerHolder(props["rocky.holder"], props.get("rocky.who", "?"),
                            props.get("rocky.host", "?"), int(props.get("rocky.pid", "0")),
                            props.get("rocky.since", "?"))
    except KeyError:  # a marker another tool made: its holder is unknown
        return MarkerHolder("?", "?", "?", 0, "?")


def _take_over(adapter: Any, key: str, dead: MarkerHolder) -> None:
    """Move a dead holder's marker out of the way; at most one process succeeds."""
    grave = f"{marker_name(key)}__dead_{re.sub(r'[^a-z0-9]', '', dead.token.lower())}"
    try:
        adapter.execute(f"ALTER TABLE {_qualified(marker_name(key))} RENAME TO "
                        f"{_qualified(grave)}")
    except WarehouseError:
        return  # another waiter moved it first (the grave exists), or it was released
    moved = holder_of(adapter, key, grave)
    if moved is not None and moved.token != dead.token:
        # The dead holder released and a live one took the lock between our read and the
        # rename: give it back.
        adapter.execute(f"ALTER TABLE {_qualified(grave)} RENAME TO "
                        f"{_qualified(marker_name(key))}")
        return
    # The grave stays: a second waiter that saw the same dead holder now fails to rename
    # whatever marker holds the name by then.


def _dead_here(holder: MarkerHolder) -> bool:
    if holder.host != socket.gethostname() or holder.pid <= 0:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _exists_error(exc: WarehouseError) -> bool:
    text = exc.message.lower()
    return "already_exists" in text or "already exists" in text


def _literal(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")
