"""``JournalFile``: small changes append; anything torn, foreign or stale reads as a miss.

And the two caches built on it (compile, load) append after a one-file edit instead of
rewriting tens of megabytes, while never answering differently from a fresh load/compile.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

import rocky_engine.project as project_mod
from rocky_engine.cachefile import JournalFile
from rocky_engine.compiler import compile_project
from rocky_engine.project import load_project
from tests.perf.test_lazy_cli import _project

HEADER = ("test", 1)


def _store(tmp_path: Path) -> JournalFile:
    return JournalFile(tmp_path / "c.cache", HEADER)


def test_base_and_updates_round_trip(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.load() is None and not store.append({"x": 1})  # no base: nothing to extend
    assert store.rewrite({"a": 1})
    assert store.append({"b": 2}) and store.append({"c": 3})
    assert _store(tmp_path).load() == ({"a": 1}, [{"b": 2}, {"c": 3}])


def test_a_torn_record_ends_the_replay(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.rewrite({"a": 1})
    store.append({"b": 2})
    store.append({"c": 3})
    log = store.log_path
    log.write_bytes(log.read_bytes()[:-5])  # a crash in the middle of the last append
    assert _store(tmp_path).load() == ({"a": 1}, [{"b": 2}])
    data = bytearray(log.read_bytes())
    data[60] ^= 0xFF  # a flipped byte inside the first record: its digest no longer matches
    log.write_bytes(bytes(data))
    assert _store(tmp_path).load() == ({"a": 1}, [])


def test_records_for_an_older_base_are_skipped(tmp_path: Path) -> None:
    old = _store(tmp_path)
    old.rewrite({"v": 1})
    new = _store(tmp_path)
    new.load()
    new.rewrite({"v": 2})  # compaction: the journal starts over
    assert old.append({"stale": True})  # a process still holding the old base appends
    assert new.append({"fresh": True})
    assert _store(tmp_path).load() == ({"v": 2}, [{"fresh": True}])


def test_a_foreign_or_garbage_file_is_no_cache(tmp_path: Path) -> None:
    (tmp_path / "c.cache").write_bytes(b"not a pickle at all")
    assert _store(tmp_path).load() is None
    JournalFile(tmp_path / "c.cache", ("other", 9)).rewrite({"a": 1})
    assert _store(tmp_path).load() is None


def _append_many(path: str, start: int) -> None:
    store = JournalFile(Path(path), HEADER)
    store.load()
    for i in range(start, start + 200):
        assert store.append({i: "x" * (i % 300)})


def test_concurrent_appends_interleave_whole_records(tmp_path: Path) -> None:
    _store(tmp_path).rewrite({})
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path / "c.cache"), k * 1000))
             for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    _base, updates = _store(tmp_path).load()  # type: ignore[misc]
    keys = sorted(k for u in updates for k in u)
    assert keys == sorted(k * 1000 + i for k in range(3) for i in range(200))


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_mod._LoadCache, "_clock",
                        staticmethod(lambda: time.time_ns() + 10_000_000_000))


def test_a_one_file_edit_appends_to_both_caches(tmp_path: Path, later: None) -> None:
    root = _project(tmp_path / "p")
    compile_project(load_project(root))
    target = root / "target"
    bases = {name: (target / name).stat().st_mtime_ns
             for name in ("rocky_compile.cache", "rocky_load.cache")}
    path = root / "models" / "m030.sql"
    path.write_text(path.read_text().replace("amount + 30", "amount + 31"))
    second = compile_project(load_project(root))
    assert second.stats.recompiled == 1
    for name, mtime in bases.items():
        assert (target / name).stat().st_mtime_ns == mtime, f"{name} was rewritten"
        assert (target / f"{name}.log").stat().st_size > 0
    fresh = compile_project(load_project(root), use_cache=False)
    assert second.to_json()["models"] == fresh.to_json()["models"]


def test_a_torn_load_journal_costs_a_reread_not_a_stale_model(tmp_path: Path,
                                                               later: None) -> None:
    root = _project(tmp_path / "p")
    load_project(root)
    path = root / "models" / "m010.sql"
    path.write_text(path.read_text().replace("amount + 10", "amount + 11"))
    load_project(root)  # appends the changed entry
    log = root / "target" / "rocky_load.cache.log"
    log.write_bytes(log.read_bytes()[:-3])
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert "amount + 11" in load_project(root).models["m010"].sql


def test_a_torn_journal_is_not_appended_to_so_later_records_are_never_hidden(
        tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.rewrite({"a": 1})
    store.append({"b": 2})
    log = store.log_path
    log.write_bytes(log.read_bytes() + b"\x07garbage")  # a torn append (e.g. disk full)
    again = _store(tmp_path)
    assert again.load() == ({"a": 1}, [{"b": 2}])
    assert again.torn and not again.append({"c": 3})  # the owner must rewrite instead
    assert again.rewrite({"a": 1, "b": 2, "c": 3}) and again.append({"d": 4})
    assert _store(tmp_path).load() == ({"a": 1, "b": 2, "c": 3}, [{"d": 4}])
