"""A table replace without transactional DDL (Spark's swap): kill -9 at every step.

The warehouse is DuckDB with transactions switched off and Spark's replace (old object
renamed aside, new table renamed in, old dropped: :mod:`rocky_engine.adapters.swap`), so
a real ``kill -9`` at each step costs a fraction of a second. ``tests/spark`` kills a real
Spark run mid-merge once.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rocky_engine.adapters import swap
from rocky_engine.adapters.swap import OLD_SUFFIX
from rocky_engine.execution import state
from rocky_engine.execution.plan import build_plan
from rocky_engine.execution.runner import run_plan
from rocky_engine.execution.swap_recovery import known_schemas, recover_swaps
from rocky_engine.project import load_project

from .conftest import make_ctx, snapshot, write_model
from .test_promote_journal import REPO, NoTxDuckDB

_MODELS = ["customers", "daily_revenue"]

_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from execution.test_promote_journal import NoTxDuckDB
    from rocky_engine.adapters import swap
    from rocky_engine.execution.plan import build_plan
    from rocky_engine.execution.runner import run_plan
    from rocky_engine.project import load_project
    kill_at = sys.argv[2]
    def step(label):
        if label == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    swap.after_step = step
    project = load_project(sys.argv[1])
    with NoTxDuckDB(os.path.join(sys.argv[1], "warehouse.duckdb")) as a:
        result = run_plan(project, a, build_plan(project, {models!r}), lock_timeout=1)
    print("finished", result.ok)
""")


def _change_models(root: Path) -> None:
    """customers (a table) gets new values; daily_revenue turns from a view into a table."""
    sql = (root / "models" / "customers.sql").read_text()
    write_model(root, "customers", sql.replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue",
        "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"))
    sidecar = root / "models" / "daily_revenue.toml"
    sidecar.write_text(sidecar.read_text().replace('materialized = "view"',
                                                   'materialized = "table"'))


def _run_recording(root: Path) -> list[str]:
    seen: list[str] = []
    swap.after_step = seen.append
    try:
        project = load_project(root)
        with NoTxDuckDB(root / "warehouse.duckdb") as a:
            assert run_plan(project, a, build_plan(project, _MODELS), lock_timeout=1).ok
    finally:
        swap.after_step = None
    return seen


@pytest.mark.slow
def test_kill_9_at_every_swap_step_keeps_the_old_or_the_new_table(built_shop: Path,
                                                                   tmp_path: Path) -> None:
    _change_models(built_shop)
    before = snapshot(built_shop)
    clean = tmp_path / "clean"
    shutil.copytree(built_shop, clean)
    steps = _run_recording(clean)
    after = snapshot(clean)
    assert steps == [f"{s}:{m}" for m in _MODELS for s in ("aside", "renamed", "dropped")]
    for model in _MODELS:
        assert before[model] != after[model]
    assert before["daily_revenue"][0] == "view" and after["daily_revenue"][0] == "table"
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(tests=str(REPO / "tests"), models=_MODELS))
    for i, step in enumerate(steps):
        root = tmp_path / f"k{i}"
        shutil.copytree(built_shop, root)
        proc = subprocess.run([sys.executable, str(script), str(root), step],
                              capture_output=True, text=True, check=False, timeout=120,
                              cwd=str(REPO))
        assert proc.returncode == -signal.SIGKILL, (step, proc.stdout, proc.stderr)
        label, model = step.split(":")
        killed = snapshot(root)
        if label == "aside":  # the only moment the model's name is missing
            aside = killed[model + OLD_SUFFIX]
            assert model not in killed and (aside[0], aside[2]) == (before[model][0],
                                                                    before[model][2])
        # The next writing command settles it: each model is wholly old or wholly new.
        with NoTxDuckDB(root / "warehouse.duckdb") as a, \
                state.writer_lock(a, "run", target="main", selection="*",
                                  timeout=1) as ticket:
            got_actions = {(r.name, r.action) for r in ticket.swaps}
            assert (model, "restored" if label == "aside" else "dropped_old") in got_actions \
                or label == "dropped", (step, got_actions)
        got = snapshot(root)
        for m in _MODELS:
            done = steps.index(f"renamed:{m}") <= i
            assert got[m] == (after[m] if done else before[m]), (step, m)
        assert not [n for n in got if "__rocky_" in n], (step, list(got))
        # Settled once: the next command finds nothing to do, and a rerun builds it all.
        with NoTxDuckDB(root / "warehouse.duckdb") as a:
            with state.writer_lock(a, "run", target="main", selection="*",
                                   timeout=1) as ticket:
                assert ticket.swaps == []
            project = load_project(root)
            assert run_plan(project, a, build_plan(project, _MODELS), lock_timeout=1).ok
        assert snapshot(root) == after, step


def test_recovery_looks_at_target_prod_and_branches_and_drops_scratch(built_shop: Path
                                                                     ) -> None:
    make_ctx(built_shop).branch_create("f")
    with NoTxDuckDB(built_shop / "warehouse.duckdb") as a:
        assert sorted(known_schemas(a, "main")) == ["main", "main__f"]
        a.create_table_as("main__f", "x__rocky_tmp", "SELECT 1 AS one")
        a.create_table_as("main__f", "x__rocky_batch", "SELECT 1 AS one")
        # A replace killed after setting prod's customers aside.
        a.rename("main", "customers", "customers" + OLD_SUFFIX, kind="table")
        # And one killed after renaming the new table in (the old copy is left over).
        a.create_table_as("main", "order_payments" + OLD_SUFFIX, "SELECT 1 AS stale")
        done = recover_swaps(a, known_schemas(a, "main__f"))
        assert sorted((r.schema, r.name, r.action) for r in done) == [
            ("main", "customers", "restored"), ("main", "order_payments", "dropped_old"),
            ("main__f", "x__rocky_batch", "dropped_scratch"),
            ("main__f", "x__rocky_tmp", "dropped_scratch")]
        restored = next(r for r in done if r.action == "restored")
        assert restored.describe() == ("main.customers was being replaced when a rocky "
                                       "process died: the previous table is back in place")
        assert recover_swaps(a, ["main", "main__f"]) == []
        assert a.relations("main")["customers"] == "table"
        assert a.row_count("main", "order_payments") > 1


def test_swap_over_a_leftover_copy_and_a_stale_kind(built_shop: Path) -> None:
    """A replace still works when an orphaned copy holds the aside name, or when the
    caller's idea of the old object's kind is out of date."""
    with NoTxDuckDB(built_shop / "warehouse.duckdb") as a:
        a.create_table_as("main", "customers" + OLD_SUFFIX, "SELECT 1 AS stale")
        a.create_table_as("main", "c__new", "SELECT 7 AS seven")
        a.swap_table("main", "c__new", "customers", existing_kind="table")
        assert a.fetchall("SELECT * FROM main.customers") == [(7,)]
        a.create_table_as("main", "d__new", "SELECT 8 AS eight")
        a.swap_table("main", "d__new", "daily_revenue", existing_kind="table")  # a view
        a.create_table_as("main", "e__new", "SELECT 9 AS nine")
        a.swap_table("main", "e__new", "gone", existing_kind="table")  # nothing there
        assert a.fetchall("SELECT * FROM main.daily_revenue") == [(8,)]
        assert a.fetchall("SELECT * FROM main.gone") == [(9,)]
        assert not [n for n in a.relations("main") if "__rocky_" in n or "__new" in n]
