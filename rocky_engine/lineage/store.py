"""The lineage index file: ``target/lineage.idx``, so a warm query never recompiles.

    >>> graph = load_fresh_graph("path/to/shop")    # doctest: +SKIP
    >>> graph is None or graph.upstream("customers").nodes   # doctest: +SKIP

The index is written after a compile and keyed by a *stat fingerprint* of the project's
inputs (path, size, mtime, ctime and inode of every file a load reads:
:func:`rocky_engine.files.project_files`; the ctime catches an edit whose mtime was put
back, as ``rsync -t`` leaves it): checking it costs a directory walk and a ``stat`` per
file, not a read of 10,000 files. Any change, or a different rocky / Python version, makes
the index stale and the caller recompiles (from the compile cache, so only what changed is
re-analysed).

The file is ``marshal`` data (builtin types only; cannot run code) behind a header; a
corrupt or foreign file is treated as missing, never as an error.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path

from rocky_engine.errors import ProjectLoadError
from rocky_engine.files import find_root, project_files, signature
from rocky_engine.lineage.graph import LineageGraph

INDEX_FILE = Path("target") / "lineage.idx"
_FORMAT = 6  # bump whenever the state layout of LineageGraph changes
_MAGIC = b"ROCKYLIN"


def fingerprint(root: Path) -> str:
    """A digest of every compile input's path and stat signature under project ``root``."""
    entries: list[tuple[str, int, int, int, int]] = []
    for rel, full in project_files(root):
        try:
            entries.append((rel, *signature(os.stat(full))))
        except OSError:
            entries.append((rel, -1, -1, -1, -1))
    entries.sort()
    header = f"{_FORMAT}|{sys.version_info[:2]}|{sys.byteorder}|{_engine_version()}|"
    # One repr + one hash: per-file hashing calls dominated at 10,000 models.
    return hashlib.blake2b((header + repr(entries)).encode(), digest_size=16).hexdigest()


def save_graph(root: Path, graph: LineageGraph, key: str | None = None) -> Path:
    """Write the index for ``graph`` (keyed by ``key`` or the current fingerprint)."""
    path = root / INDEX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = key or fingerprint(root)
    payload = _MAGIC + key.encode() + b"\n" + marshal.dumps(graph.to_state())
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new index
    return path


def load_fresh_graph(project_dir: str | Path) -> LineageGraph | None:
    """The indexed graph if the index matches the project on disk, else None."""
    try:
        root = find_root(Path(project_dir))
    except ProjectLoadError:
        return None
    path = root / INDEX_FILE
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    header_end = data.find(b"\n", len(_MAGIC))
    if header_end < 0 or data[len(_MAGIC):header_end].decode(errors="replace") != fingerprint(root):
        return None
    try:
        state = marshal.loads(data[header_end + 1:])
        return LineageGraph(state)
    except Exception:  # noqa: BLE001 - an unreadable cache is a missing cache
        return None


def _engine_version() -> str:
    from rocky_engine import __version__

    return __version__
