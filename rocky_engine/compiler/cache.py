"""The compile cache: one pickle file under ``<project>/target/``, written atomically.

Two content-addressed maps, so a stale entry can never be returned — a changed input is a
different key:

* ``scans``: hash(dialect, path, model SQL) → the table references the DAG needs (or the
  syntax diagnostics), so a warm compile parses nothing;
* ``outcomes``: hash(scan key, contracts, upstream schemas) → the typed result: columns,
  diagnostics and lineage.

    >>> cache = CompileCache(None)
    >>> cache.get_scan("k") is None
    True

Entries are plain tuples; columns and lineage stay pickled blobs until someone reads them
(:class:`~rocky_engine.compiler.ir.LazyTuple`), so loading the cache of a 10,000-model
project builds ~20,000 small tuples instead of millions of objects. Any unreadable or
foreign-version file is ignored (it is only a cache); entries the last compile did not use
are pruned when it is saved.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from rocky_engine.compiler.ir import LazyTuple, ModelOutcome, Scan, TableRef

CACHE_FILE = Path("target") / "rocky_compile.cache"
# Bump when compile output for the same input changes (new checks, new type rendering).
CACHE_VERSION = 3


@functools.lru_cache(maxsize=1)
def _header() -> tuple[str, int, str]:
    # The sqlglot version is part of it: a new parser or type inference invalidates the cache.
    return ("rocky-compile-cache", CACHE_VERSION, _sqlglot_version())


def _sqlglot_version() -> str:
    """sqlglot's version stamp without importing sqlglot or importlib.metadata (~0.1 s)."""
    from importlib.util import find_spec

    spec = find_spec("sqlglot")
    if spec is not None and spec.origin:
        try:
            return (Path(spec.origin).parent / "_version.py").read_text(encoding="utf-8")
        except OSError:
            pass
    from importlib.metadata import version

    return version("sqlglot")
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def digest(*parts: str) -> str:
    """A short, stable content hash (``hash()`` is salted per process, so never that)."""
    joined = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(joined, digest_size=16).hexdigest()


def _blob(items: Any) -> bytes:
    if isinstance(items, LazyTuple) and items.blob is not None:
        return items.blob  # already pickled (by a worker process): same format
    return pickle.dumps(tuple(items), protocol=_PROTOCOL) if items else b""


class CompileCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._scans: dict[str, tuple[Any, ...]] = {}
        self._outcomes: dict[str, tuple[Any, ...]] = {}
        self._used_scans: set[str] = set()
        self._used_outcomes: set[str] = set()
        # Declared type spelling -> its canonical form: a warm compile needs no type parser.
        self._types: dict[str, str] = {}
        self._dirty = False

    @classmethod
    def load(cls, root: Path) -> CompileCache:
        cache = cls(root / CACHE_FILE)
        try:
            with open(cache.path, "rb") as fh:  # type: ignore[arg-type]
                data: Any = pickle.load(fh)
            if isinstance(data, tuple) and len(data) == 4 and data[0] == _header():
                cache._scans, cache._outcomes, cache._types = data[1], data[2], data[3]
        except Exception:  # noqa: BLE001 - missing, truncated or foreign: start empty
            cache._scans, cache._outcomes, cache._types = {}, {}, {}
        return cache

    # ------------------------------------------------------------------------ types

    def normalize(self, text: str) -> str:
        """:func:`~rocky_engine.compiler.types.normalize`, remembered across compiles.

            >>> CompileCache(None).normalize("int4")
            'INTEGER'
        """
        found = self._types.get(text)
        if found is None:
            from rocky_engine.compiler.types import normalize  # loads sqlglot: only when needed

            found = self._types[text] = normalize(text)
            self._dirty = True
        return found

    # ------------------------------------------------------------------------ scans

    def get_scan(self, key: str) -> Scan | None:
        entry = self._scans.get(key)
        if entry is None:
            return None
        self._used_scans.add(key)
        refs, diags = entry
        return Scan(refs=tuple(TableRef._make(r) for r in refs),
                    diagnostics=pickle.loads(diags) if diags else ())

    def put_scan(self, key: str, scan: Scan) -> None:
        self._scans[key] = (tuple(tuple(r) for r in scan.refs), _blob(scan.diagnostics))
        self._used_scans.add(key)
        self._dirty = True

    # ------------------------------------------------------------------------ outcomes

    def get_outcome(self, key: str) -> ModelOutcome | None:
        entry = self._outcomes.get(key)
        if entry is None:
            return None
        self._used_outcomes.add(key)
        columns, lineage, diags, typed, fingerprint, n_columns, n_unknown = entry
        return ModelOutcome(
            columns=LazyTuple(columns), diagnostics=pickle.loads(diags) if diags else (),
            lineage=LazyTuple(lineage), typed=typed, fingerprint=fingerprint,
            n_columns=n_columns, n_unknown=n_unknown)

    def put_outcome(self, key: str, outcome: ModelOutcome) -> None:
        self._outcomes[key] = (_blob(outcome.columns), _blob(outcome.lineage),
                               _blob(outcome.diagnostics), outcome.typed, outcome.fingerprint,
                               outcome.n_columns, outcome.n_unknown)
        self._used_outcomes.add(key)
        self._dirty = True

    # ------------------------------------------------------------------------ file

    def save(self) -> None:
        """Keep only what this compile used; write (atomically) only if something changed."""
        if self.path is None:
            return
        if len(self._used_scans) != len(self._scans) or \
                len(self._used_outcomes) != len(self._outcomes):
            self._scans = {k: v for k, v in self._scans.items() if k in self._used_scans}
            self._outcomes = {k: v for k, v in self._outcomes.items() if k in self._used_outcomes}
            self._dirty = True
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _ensure_gitignore(self.path.parent)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".compile-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((_header(), self._scans, self._outcomes, self._types), fh,
                            protocol=_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            return  # a read-only project still compiles, just without a cache
        self._dirty = False


def _ensure_gitignore(folder: Path) -> None:
    marker = folder / ".gitignore"
    if not marker.exists():
        marker.write_text("# rocky build output and caches\n*\n", encoding="utf-8")
