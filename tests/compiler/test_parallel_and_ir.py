"""Worker processes give the same result as one process; the compact IR behaves like tuples."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.compiler import CompiledColumn
from rocky_engine.compiler import pipeline as pipeline_mod
from rocky_engine.compiler.ir import LazyTuple
from tests.compiler.conftest import CORPUS, compile_dir


def _summary(result):  # type: ignore[no-untyped-def]
    return ({n: (m.status, tuple(m.columns), tuple(m.lineage)) for n, m in result.models.items()},
            result.diagnostics, result.order)


def test_workers_match_a_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "1")
    single = compile_dir(CORPUS / "valid", use_cache=False)
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "2")
    monkeypatch.setattr(pipeline_mod, "PARALLEL_MIN", 2)
    parallel = compile_dir(CORPUS / "valid", use_cache=False)
    assert parallel.stats.workers == 2
    assert _summary(parallel) == _summary(single)


def test_workers_report_errors_like_a_single_process(
        make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(overlay=CORPUS / "broken" / "R110_varchar_equals_number")
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "2")
    monkeypatch.setattr(pipeline_mod, "PARALLEL_MIN", 1)
    result = compile_dir(root, use_cache=False)
    assert [d.code for d in result.diagnostics] == ["R110"]


def test_lazy_tuple_is_a_tuple_for_readers() -> None:
    items = (CompiledColumn("a", "INTEGER", False), CompiledColumn("b", "VARCHAR"))
    lazy = LazyTuple(pickle.dumps(items))
    assert lazy == items and items == tuple(lazy) and len(lazy) == 2
    assert lazy[1].name == "b" and [c.name for c in lazy] == ["a", "b"]
    assert hash(lazy) == hash(items)
    assert pickle.loads(pickle.dumps(lazy)) == items
    assert LazyTuple(b"") == () and len(LazyTuple(b"")) == 0


def test_compiled_column_is_a_named_record() -> None:
    col = CompiledColumn("amount", "DECIMAL(10,2)", True)
    assert (col.name, col.type, col.nullable, col.known) == ("amount", "DECIMAL(10,2)", True, True)
    assert not CompiledColumn("x", "UNKNOWN").known
    assert CompiledColumn("x", "INTEGER").nullable is None
