"""The run's reference cache: each model's :class:`~rocky_engine.execution.refs.SqlScan`,
kept in ``<project>/target/rocky_run_refs.cache`` so a warm ``rocky run`` parses nothing.

Content-addressed — the key is a hash of the dialect and the model's SQL text — so a
stale entry can never be returned: an edited model is a different key. Only projects
with at least ``MIN_MODELS`` models keep a file (a small project parses in milliseconds).
Entries the last run did not use are pruned on save; an unreadable or foreign-version
file is ignored (it is only a cache) and a read-only project just runs without one.

    >>> cache = RefCache(None)
    >>> scan = cache.scan("m", "SELECT id FROM a", "duckdb")
    >>> [(t.name, t.start) for t in scan.tables]
    [('a', 15)]
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from rocky_engine.execution.refs import SqlScan, scan_sql

CACHE_FILE = Path("target") / "rocky_run_refs.cache"
MIN_MODELS = 50
# Bump when SqlScan's shape or meaning changes.
_VERSION = 2


def _header() -> tuple[str, int, str]:
    # A new sqlglot may tokenize or place identifiers differently.
    from importlib.metadata import version

    return ("rocky-run-refs", _VERSION, version("sqlglot"))


class RefCache:
    """``scan(name, sql, dialect)`` from the file when known, parsed (and kept) otherwise."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, SqlScan] = {}
        self._used: dict[str, SqlScan] = {}
        self._dirty = False

    @classmethod
    def for_project(cls, root: Path, n_models: int) -> RefCache:
        if n_models < MIN_MODELS:
            return cls(None)
        cache = cls(root / CACHE_FILE)
        try:
            with open(root / CACHE_FILE, "rb") as fh:
                data: Any = pickle.load(fh)
            if isinstance(data, tuple) and len(data) == 2 and data[0] == _header() \
                    and isinstance(data[1], dict):
                cache._entries = data[1]
        except Exception:  # noqa: BLE001 - missing, truncated or foreign: start empty
            cache._entries = {}
        return cache

    def scan(self, name: str, sql: str, dialect: str, *, path: str = "") -> SqlScan:
        key = hashlib.blake2b(f"{dialect}\0{sql}".encode("utf-8", "surrogatepass"),
                              digest_size=16).hexdigest()
        found = self._entries.get(key)
        if found is None or not isinstance(found, SqlScan):
            found = scan_sql(name, sql, dialect, path=path)  # parse errors are never cached
            self._dirty = True
        self._used[key] = found
        return found

    def save(self) -> None:
        """Write the entries this plan used, atomically, if anything changed."""
        if self.path is None or not (self._dirty or len(self._used) != len(self._entries)):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".run-refs-",
                                       suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((_header(), self._used), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            pass  # read-only project: run without a cache
        self._entries, self._dirty = dict(self._used), False
