"""The lineage index file: ``target/lineage.idx``, so a warm query never recompiles.

    >>> graph = load_fresh_graph("path/to/shop")    # doctest: +SKIP
    >>> graph is None or graph.upstream("customers").nodes   # doctest: +SKIP

The index is written after a compile and keyed by a *stat fingerprint* of the project's
inputs (path, size, mtime, ctime and inode of ``rocky.toml``, ``sources/*.toml`` and
everything under ``models/``; the ctime catches an edit whose mtime was put back, as
``rsync -t`` or ``touch -r`` do): checking it costs one ``scandir`` pass, not a read of 10,000 files. Any
change, or a different rocky / Python version, makes the index stale and the caller
recompiles (from the compile cache, so only what changed is re-analysed).

The file is ``marshal`` data (builtin types only; cannot run code) behind a header; a
corrupt or foreign file is treated as missing, never as an error.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from pathlib import Path

from rocky_engine.lineage.graph import LineageGraph

INDEX_FILE = Path("target") / "lineage.idx"
_FORMAT = 5  # bump whenever the state layout of LineageGraph changes
_MAGIC = b"ROCKYLIN"


def fingerprint(root: Path) -> str:
    """A digest of every compile input's path and stat signature under project ``root``."""
    entries: list[tuple[str, int, int, int, int]] = []
    _stat_into(entries, root / "rocky.toml", "rocky.toml")
    for folder in ("sources", "models"):
        _scan_into(entries, root / folder, folder)
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
    root = _find_root(Path(project_dir))
    if root is None:
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


def _find_root(start: Path) -> Path | None:
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "rocky.toml").is_file():
            return folder
    return None


def _stat_into(entries: list[tuple[str, int, int, int, int]], path: Path, rel: str) -> None:
    try:
        st = path.stat()
    except OSError:
        entries.append((rel, -1, -1, -1, -1))
        return
    entries.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))


def _scan_into(entries: list[tuple[str, int, int, int, int]], folder: Path, rel: str) -> None:
    try:
        scan = os.scandir(folder)
    except OSError:
        entries.append((rel + "/", -1, -1, -1, -1))
        return
    with scan:
        for entry in scan:
            name = f"{rel}/{entry.name}"
            if entry.is_dir():
                _scan_into(entries, Path(entry.path), name)
            elif entry.name.endswith((".sql", ".toml")):
                st = entry.stat()
                entries.append((name, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                st.st_ino or entry.inode()))


def _engine_version() -> str:
    from rocky_engine import __version__

    return __version__
