"""A cache file that a small change does not rewrite: a pickled base plus an append-only journal.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = JournalFile(folder / "c.cache", header=("demo", 1))
    >>> store.rewrite({"a": 1})
    True
    >>> store.append({"b": 2})
    True
    >>> JournalFile(folder / "c.cache", header=("demo", 1)).load()
    ({'a': 1}, [{'b': 2}])

Compile and load caches of a 10,000-model project are tens of megabytes; rewriting them after a
one-model edit cost more than compiling the model. So an edit appends its few new entries to
``<file>.log`` and the whole file is rewritten only when its owner decides to compact.

Both parts are only ever trusted as far as they check out: the base is replaced atomically; each
journal record is length-prefixed, carries a digest of its bytes and the id of the base it
extends, and is appended under an exclusive ``flock``. A record made for another base (by a
process that loaded the file before it was compacted) is skipped; a torn record (a crash
mid-append) or anything unreadable ends the replay. The caller sees fewer entries (a cache
miss), never a wrong one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tempfile
from pathlib import Path
from typing import Any

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_PREFIX = struct.Struct("<Q16s16s")  # payload length, payload digest, base id


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class JournalFile:
    def __init__(self, path: Path, header: Any) -> None:
        self.path = path
        self.log_path = path.with_name(path.name + ".log")
        self.header = header
        self.base_id: bytes | None = None  # id of the base last loaded or written
        self.base_bytes = 0
        self.log_bytes = 0
        self.torn = False  # the journal ends in bytes no record frames: append would be lost

    def load(self) -> tuple[Any, list[Any]] | None:
        """``(base state, [updates in order])``, or None if there is no usable base."""
        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)
                self.base_bytes = fh.tell()
        except Exception:  # noqa: BLE001 - missing, truncated or foreign: no cache
            return None
        if not (isinstance(data, tuple) and len(data) == 3 and data[0] == self.header):
            return None
        self.base_id = data[1]
        return data[2], self._replay()

    def _replay(self) -> list[Any]:
        updates: list[Any] = []
        try:
            with open(self.log_path, "rb") as fh:
                blob = fh.read()
        except OSError:
            return updates
        pos = 0
        while pos + _PREFIX.size <= len(blob):
            size, digest, base = _PREFIX.unpack_from(blob, pos)
            start, end = pos + _PREFIX.size, pos + _PREFIX.size + size
            payload = blob[start:end]
            if end > len(blob) or _digest(payload) != digest:
                break  # torn or corrupt: nothing after it can be framed
            pos = end
            if base != self.base_id:
                continue  # appended by a process that loaded an older base
            try:
                updates.append(pickle.loads(payload))
            except Exception:  # noqa: BLE001 - a record we cannot read ends the replay
                break
        self.log_bytes = pos
        # Anything after the last good record (a torn append) would hide every later record
        # from the replay: such a journal is not appended to, the owner rewrites the base.
        self.torn = pos < len(blob)
        return updates

    def rewrite(self, state: Any) -> bool:
        """Replace the base with ``state`` and drop the journal; False if it cannot be written."""
        base_id = os.urandom(16)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cache-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump((self.header, base_id, state), fh, protocol=_PROTOCOL)
                    size = fh.tell()
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            # Records in the old journal name the old base id: harmless if this unlink loses
            # a race with an append, they are skipped on the next replay.
            self.log_path.unlink(missing_ok=True)
        except OSError:
            return False
        self.base_id, self.base_bytes, self.log_bytes, self.torn = base_id, size, 0, False
        return True

    def append(self, update: Any) -> bool:
        """Add one update after the loaded base; False if there is none, or on any I/O error."""
        if self.base_id is None or self.torn:
            return False
        payload = pickle.dumps(update, protocol=_PROTOCOL)
        record = _PREFIX.pack(len(payload), _digest(payload), self.base_id) + payload
        try:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            _lock(fd)
            written = os.write(fd, record)
        except OSError:
            return False
        finally:
            os.close(fd)  # also releases the lock
        self.log_bytes += written
        self.torn = written != len(record)
        return not self.torn


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: appends are small, single writes
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
