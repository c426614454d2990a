"""The journaled promote (warehouses without transactions): kill -9 at every step.

The journal is engine code; its warehouse here is DuckDB with transactions switched off
(every statement takes effect at once, as on Spark), so a real ``kill -9`` at each step
costs a fraction of a second. ``tests/spark`` runs the same recovery on Spark itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.adapters.swap import aside_swap
from rocky_engine.execution import branches, state
from rocky_engine.execution.promote_journal import STAGE_SUFFIX

from .conftest import make_ctx, snapshot, write_model


class NoTxDuckDB(DuckDBAdapter):
    """DuckDB as a warehouse without transactions: each statement commits on its own, and
    a table is replaced as on Spark (set aside, renamed in, dropped)."""

    SUPPORTS_TRANSACTIONAL_DDL = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def swap_table(self, schema: str, tmp: str, name: str, *,
                   existing_kind: str | None | object = ...) -> None:
        kind = self.relations(schema).get(name.lower()) if existing_kind is ... else existing_kind
        aside_swap(self, schema, tmp, name, None if kind is None else str(kind))


_CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from execution.test_promote_journal import NoTxDuckDB
    from rocky_engine.execution import branches
    kill_at = sys.argv[2]
    def step(label):
        if label == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    with NoTxDuckDB(sys.argv[1]) as a:
        branches.promote_branch(a, "main", "f", timeout=1, step=step)
    print("finished")
""")


def _prepare(root: Path) -> None:
    """Branch ``f`` with a changed table model and a changed view model built on it."""
    ctx = make_ctx(root)
    ctx.branch_create("f")
    sql = (root / "models" / "customers.sql").read_text()
    write_model(root, "customers", sql.replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue",
        "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"))
    sql = (root / "models" / "stg_customers.sql").read_text()
    write_model(root, "stg_customers", sql.replace("UPPER(country)", "LOWER(country)"))
    assert make_ctx(root).run(["stg_customers", "order_payments", "customers"],
                              branch="f").ok


def _steps_and_after(root: Path, tmp: Path) -> tuple[list[str], dict[str, Any]]:
    copy = tmp / "clean"
    shutil.copytree(root, copy)
    seen: list[str] = []
    with NoTxDuckDB(copy / "warehouse.duckdb") as a:
        branches.promote_branch(a, "main", "f", timeout=1, step=seen.append)
    return seen, snapshot(copy)


@pytest.mark.slow
def test_kill_9_at_every_promote_step_rolls_forward_or_back(built_shop: Path,
                                                              tmp_path: Path) -> None:
    _prepare(built_shop)
    before = snapshot(built_shop)
    steps, after = _steps_and_after(built_shop, tmp_path)
    assert after != before
    assert steps[0] == "begin" and steps[-1] == "done" and "prepared" in steps
    assert any(s.startswith("staged:") for s in steps)
    assert {s.split(":", 1)[1] for s in steps if s.startswith("swapped:")} == \
        {"stg_customers", "order_payments", "customers"}
    tests_dir = str(Path(__file__).resolve().parent.parent)
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(tests=tests_dir))
    for i, step in enumerate(steps):
        root = tmp_path / f"k{i}"
        shutil.copytree(built_shop, root)
        proc = subprocess.run([sys.executable, str(script), str(root / "warehouse.duckdb"),
                               step], capture_output=True, text=True, check=False, timeout=120,
                              cwd=str(REPO))
        assert proc.returncode == -signal.SIGKILL, (step, proc.stdout, proc.stderr)
        # The next writing command finishes or undoes it.
        with NoTxDuckDB(root / "warehouse.duckdb") as a, \
                state.writer_lock(a, "run", target="main", selection="*",
                                  timeout=1) as ticket:
            expected = [] if step == "done" else [
                "rolled_forward" if steps.index("prepared") <= i else "rolled_back"]
            assert [r.action for r in ticket.promotes] == expected, step
        got = snapshot(root)
        want = after if steps.index("prepared") <= i else before
        assert got == want, f"prod after a kill at {step!r} is neither before nor after"
        assert not any(n.endswith(STAGE_SUFFIX) for n in got)
        # Recovery happens once: a second command finds nothing to do.
        with NoTxDuckDB(root / "warehouse.duckdb") as a, \
                state.writer_lock(a, "run", target="main", selection="*",
                                  timeout=1) as ticket:
            assert ticket.promotes == []


def test_interrupted_promote_in_process_is_finished_by_next_command(built_shop: Path) -> None:
    _prepare(built_shop)
    before = snapshot(built_shop)

    def fail(label: str) -> None:
        if label == "dropped:customers":
            raise RuntimeError("lost the warehouse")

    with NoTxDuckDB(built_shop / "warehouse.duckdb") as a:
        with pytest.raises(RuntimeError):
            branches.promote_branch(a, "main", "f", timeout=1, step=fail)
        # Half promoted right now: customers is gone from prod.
        assert "customers" not in a.relations("main")
        with state.writer_lock(a, "branch create", target="main", selection="*",
                               timeout=1) as ticket:
            assert [r.describe() for r in ticket.promotes] == [
                "an interrupted promote of branch 'f' was found: finished it (rolled forward)"]
    got = snapshot(built_shop)
    assert got != before and got["customers"][0] == "table"


REPO = Path(__file__).resolve().parent.parent.parent
os.environ.setdefault("ROCKY_LOCK_TIMEOUT", "1")
