"""The compile cache: a pickle under ``<project>/target/`` plus a journal of later additions.

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
foreign-version file is ignored (it is only a cache). A compile that added a few entries
appends them to the journal (:class:`~rocky_engine.cachefile.JournalFile`); once many entries
are unused, or the journal is half the size of the base, the cache is rewritten with only the
entries the last compile used. The last compile's whole result is kept beside it
(``rocky_compile.snapshot``) for a project whose files did not change at all.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rocky_engine.cachefile import JournalFile
from rocky_engine.compiler.ir import LazyTuple, ModelOutcome, Scan, TableRef

CACHE_FILE = Path("target") / "rocky_compile.cache"
SNAPSHOT_FILE = Path("target") / "rocky_compile.snapshot"
# Bump when compile output for the same input changes (new checks, new type rendering).
CACHE_VERSION = 12


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
        self._store = JournalFile(path, _header()) if path is not None else None
        self._scans: dict[str, tuple[Any, ...]] = {}
        self._outcomes: dict[str, tuple[Any, ...]] = {}
        self._used_scans: set[str] = set()
        self._used_outcomes: set[str] = set()
        # Declared type spelling -> its canonical form: a warm compile needs no type parser.
        self._types: dict[str, str] = {}
        # Entries made by this compile: what an edit appends to the journal.
        self._new_scans: dict[str, tuple[Any, ...]] = {}
        self._new_outcomes: dict[str, tuple[Any, ...]] = {}
        self._new_types: dict[str, str] = {}
        # The last whole compile, keyed by the project load's token: see last_snapshot().
        self._snapshot: tuple[Any, ...] | None = None
        self._snapshot_dirty = False

    @classmethod
    def load(cls, root: Path, *, snapshot: tuple[Any, ...] | None = None) -> CompileCache:
        """The cache of the project at ``root`` (``snapshot``: already read by the caller)."""
        cache = cls(root / CACHE_FILE)
        assert cache._store is not None
        loaded = cache._store.load()
        if loaded is not None:
            try:
                base, updates = loaded
                scans, outcomes, types = base
                for new_scans, new_outcomes, new_types in updates:
                    scans.update(new_scans)
                    outcomes.update(new_outcomes)
                    types.update(new_types)
                cache._scans, cache._outcomes, cache._types = scans, outcomes, types
            except Exception:  # noqa: BLE001 - foreign shape: start empty
                cache._scans, cache._outcomes, cache._types = {}, {}, {}
        cache._snapshot = snapshot if snapshot is not None else read_snapshot(root)
        return cache

    # ------------------------------------------------------------------------ snapshot

    def last_snapshot(self) -> tuple[str, dict[str, str], Any] | None:
        """``(key, {model: outcome key}, record)`` of the last compile of this project.

        The key digests every project file's content and the compile options; the compiler
        answers from the record when its key matches, or when only a few models changed.
        """
        snap = self._snapshot
        return (snap[0], snap[1], snap[2]) if snap is not None else None

    def outcome_entry(self, key: str) -> tuple[Any, ...] | None:
        """The raw stored outcome: (columns blob, lineage blob, diagnostics blob, typed,
        fingerprint, n_columns, n_unknown); not marked as used."""
        return self._outcomes.get(key)

    def peek_outcome(self, key: str) -> ModelOutcome | None:
        """A stored outcome without its diagnostics, not marked as used (snapshot answers)."""
        entry = self._outcomes.get(key)
        return None if entry is None else _outcome(entry, with_diagnostics=False)

    def put_snapshot(self, key: str, outcome_keys: dict[str, str], record: Any) -> None:
        """Remember this compile's ``record`` (picklable) and the outcome each model used."""
        self._snapshot = (key, outcome_keys, record)
        self._snapshot_dirty = True

    # ------------------------------------------------------------------------ types

    def normalize(self, text: str) -> str:
        """:func:`~rocky_engine.compiler.types.normalize`, remembered across compiles.

            >>> CompileCache(None).normalize("int4")
            'INTEGER'
        """
        found = self._types.get(text)
        if found is None:
            from rocky_engine.compiler.types import normalize  # loads sqlglot: only when needed

            found = self._types[text] = self._new_types[text] = normalize(text)
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
        entry = (tuple(tuple(r) for r in scan.refs), _blob(scan.diagnostics))
        self._scans[key] = self._new_scans[key] = entry
        self._used_scans.add(key)

    # ------------------------------------------------------------------------ outcomes

    def get_outcome(self, key: str) -> ModelOutcome | None:
        entry = self._outcomes.get(key)
        if entry is None:
            return None
        self._used_outcomes.add(key)
        return _outcome(entry, with_diagnostics=True)

    def put_outcome(self, key: str, outcome: ModelOutcome) -> None:
        entry = (_blob(outcome.columns), _blob(outcome.lineage), _blob(outcome.diagnostics),
                 outcome.typed, outcome.fingerprint, outcome.n_columns, outcome.n_unknown)
        self._outcomes[key] = self._new_outcomes[key] = entry
        self._used_outcomes.add(key)

    # ------------------------------------------------------------------------ file

    def save(self, *, prune: bool = True) -> None:
        """Write what this compile added: appended to the journal after a small change, or the
        whole cache rewritten, keeping only what this compile used, once enough is stale.

        ``prune=False`` (a compile that looked up only some entries, so cannot tell what is
        unused) never drops entries: it appends, or rewrites them all once the journal is long.
        """
        store = self._store
        if store is None or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _ensure_gitignore(self.path.parent)
        except OSError:
            return  # a read-only project still compiles, just without a cache
        total = len(self._scans) + len(self._outcomes)
        stale = total - len(self._used_scans) - len(self._used_outcomes)
        new = bool(self._new_scans or self._new_outcomes or self._new_types)
        compact = store.base_id is None or store.log_bytes > store.base_bytes // 2 \
            or (prune and stale > max(_STALE_MIN, total // 4))
        if compact and (new or stale):
            if prune:
                self._scans = {k: v for k, v in self._scans.items() if k in self._used_scans}
                self._outcomes = {k: v for k, v in self._outcomes.items()
                                  if k in self._used_outcomes}
            written = store.rewrite((self._scans, self._outcomes, self._types))
        elif new:
            written = store.append((self._new_scans, self._new_outcomes, self._new_types)) or \
                store.rewrite((self._scans, self._outcomes, self._types))
        else:
            written = True
        if written:
            self._new_scans, self._new_outcomes, self._new_types = {}, {}, {}
        if self._snapshot_dirty and written:
            self._snapshot_dirty = not _write_snapshot(self.path.parent / SNAPSHOT_FILE.name,
                                                       self._snapshot)


# A journal may hold this many entries no compile uses any more before the cache is compacted.
_STALE_MIN = 256


def _outcome(entry: tuple[Any, ...], *, with_diagnostics: bool) -> ModelOutcome:
    columns, lineage, diags, typed, fingerprint, n_columns, n_unknown = entry
    return ModelOutcome(
        columns=LazyTuple(columns),
        diagnostics=pickle.loads(diags) if diags and with_diagnostics else (),
        lineage=LazyTuple(lineage), typed=typed, fingerprint=fingerprint,
        n_columns=n_columns, n_unknown=n_unknown)


# The last snapshot file read, by its stat signature: a `rocky compile` that first tries
# the snapshot alone and then loads the project reads the file once, not twice.
_last_read: tuple[tuple[str, int, int, int, int], tuple[Any, ...] | None] | None = None


def read_snapshot(root: Path) -> tuple[Any, ...] | None:
    """``(key, {model: outcome key}, record)`` of the last compile of the project at ``root``,
    read from its snapshot file alone (see :meth:`CompileCache.last_snapshot`)."""
    global _last_read
    path = root / SNAPSHOT_FILE
    try:
        st = os.stat(path)
    except OSError:
        return None
    sig = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if _last_read is not None and _last_read[0] == sig:
        return _last_read[1]
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing or unreadable: no snapshot
        return None
    found = data[2] if isinstance(data, tuple) and len(data) == 3 and data[0] == _header() \
        and isinstance(data[2], tuple) and len(data[2]) == 3 else None
    _last_read = (sig, found)
    return found


def _write_snapshot(path: Path, snapshot: tuple[Any, ...] | None) -> bool:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((_header(), None, snapshot), fh, protocol=_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)  # a full disk keeps no half-written file
        return False
    return True


def copy_caches(src_root: Path, dst_root: Path) -> int:
    """Give a copy of a project (a git worktree) the caches of the original; returns how
    many files were copied.

    Safe whatever the copy's files hold: compile entries are keyed by content, load entries
    by stat signature *and* content hash, and the snapshot by every file's hash — anything
    the copy changed is simply a miss. What it did not change compiles warm.

        >>> copy_caches(Path("/nowhere"), Path("/elsewhere"))
        0
    """
    from rocky_engine.project import LOAD_CACHE_FILE

    names = [CACHE_FILE, CACHE_FILE.with_name(CACHE_FILE.name + ".log"), SNAPSHOT_FILE,
             LOAD_CACHE_FILE, LOAD_CACHE_FILE.with_name(LOAD_CACHE_FILE.name + ".log")]
    copied = 0
    for rel in names:
        src = src_root / rel
        if not src.is_file():
            continue
        dst = dst_root / rel
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            _ensure_gitignore(dst.parent)
            shutil.copyfile(src, dst)
        except OSError:
            continue
        copied += 1
    return copied


def _ensure_gitignore(folder: Path) -> None:
    marker = folder / ".gitignore"
    if not marker.exists():
        marker.write_text("# rocky build output and caches\n*\n", encoding="utf-8")
