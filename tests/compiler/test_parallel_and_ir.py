"""Worker processes give the same result as one process; the compact IR behaves like tuples."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.compiler import CompiledColumn
from rocky_engine.compiler import workers as workers_mod
from rocky_engine.compiler.ir import LazyTuple
from tests.compiler.conftest import CORPUS, compile_dir


def _summary(result):  # type: ignore[no-untyped-def]
    return ({n: (m.status, tuple(m.columns), tuple(m.lineage)) for n, m in result.models.items()},
            result.diagnostics, result.order)


@pytest.fixture
def no_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool refuses to fork while other threads run; a thread another test left behind in
    this pytest worker must not turn these tests serial."""
    monkeypatch.setattr(workers_mod.threading, "active_count", lambda: 1)


def test_workers_match_a_single_process(monkeypatch: pytest.MonkeyPatch,
                                        no_other_threads: None) -> None:
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "1")
    single = compile_dir(CORPUS / "valid", use_cache=False)
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "2")
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN", 2)
    parallel = compile_dir(CORPUS / "valid", use_cache=False)
    assert parallel.stats.workers == 2
    assert _summary(parallel) == _summary(single)


_TYPED_WHERE = """
import os, sys
import rocky_engine.compiler.model as model_mod
from rocky_engine.compiler import pipeline, workers
from rocky_engine.console import TerminalConsole
from rocky_engine.project import load_project

real = model_mod.compile_model
def recording(job):
    with open(sys.argv[2], "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    return real(job)
# Looked up by _compile_task at each call, in the workers (forked after this patch).
model_mod.compile_model = recording
workers.PARALLEL_MIN = 2
console = TerminalConsole(color=True)  # a terminal: the progress bars are drawn
assert console.rich.is_terminal
result = pipeline.compile_project(load_project(sys.argv[1]), use_cache=False, console=console)
assert result.ok, result.diagnostics
print(os.getpid())
"""


def test_models_are_typed_in_the_workers_even_under_a_progress_bar(tmp_path: Path) -> None:
    """Regression: once the scan phase had started the pool, its own threads made every
    later phase look 'threaded' and run serially (a 10,000-model cold compile used one
    core); a terminal progress bar's refresh thread did the same from the start. Run in a
    fresh process: no thread left behind by another test can get in the way."""
    import os
    import subprocess
    import sys

    from tests.compiler.test_snapshot import _write_project

    root = _write_project(tmp_path / "p")  # 60 models: enough for a progress bar
    pids = tmp_path / "pids"
    out = subprocess.run([sys.executable, "-c", _TYPED_WHERE, str(root), str(pids)],
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "ROCKY_COMPILE_WORKERS": "2"})
    assert out.returncode == 0, out.stderr
    parent = out.stdout.split()[-1]
    # Levels smaller than PARALLEL_MIN stay in the parent; the others went to the workers.
    assert set(pids.read_text().split()) - {parent}


def test_workers_report_errors_like_a_single_process(
        make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(overlay=CORPUS / "broken" / "R110_varchar_equals_number")
    monkeypatch.setenv("ROCKY_COMPILE_WORKERS", "2")
    monkeypatch.setattr(workers_mod, "PARALLEL_MIN", 1)
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
