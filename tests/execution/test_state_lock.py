from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import LockTimeout
from rocky_engine.execution import state
from rocky_engine.execution.state import acquire_lock, current_holder, release_lock, run_history

from .conftest import make_ctx, snapshot, write_model


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def _hold_file(path: Path) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file open, read-write."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=10)


def test_file_locked_by_another_process_gives_clear_error(built_shop: Path, run_cli) -> None:
    holder = _hold_file(built_shop / "warehouse.duckdb")
    try:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "rocky_engine", "run", "--project", str(built_shop)],
            check=False, capture_output=True, text=True, env=_env(ROCKY_LOCK_TIMEOUT="0.5"),
            timeout=60)
        assert proc.returncode == 2
        assert f"PID {holder.pid}" in proc.stderr
        assert "error[R005]" in proc.stderr and "Traceback" not in proc.stderr
        assert "ROCKY_LOCK_TIMEOUT" in proc.stderr
        assert time.monotonic() - started < 30
    finally:
        _release(holder)
    assert make_ctx(built_shop).run().ok


def test_waits_for_the_other_process_then_runs(built_shop: Path) -> None:
    holder = _hold_file(built_shop / "warehouse.duckdb")
    timer = threading.Timer(0.8, _release, args=(holder,))
    timer.start()
    try:
        ctx = make_ctx(built_shop)
        ctx.lock_timeout = 20
        assert ctx.run(["stg_orders"]).ok  # waited for the holder to go away
    finally:
        timer.join()


def test_lock_row_held_in_process_times_out(built_shop: Path) -> None:
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert acquire_lock(a, "other-run", "run") is None
        ctx = make_ctx(built_shop)
        ctx.lock_timeout = 0.3
        with pytest.raises(LockTimeout, match=f"PID {os.getpid()}"):
            ctx.run(["stg_orders"])
        release_lock(a, "other-run")
    assert make_ctx(built_shop).run(["stg_orders"]).ok


def test_stale_lock_row_is_recovered(built_shop: Path) -> None:
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        state.ensure_state(a)
        state.record_start(a, "crashed-run", "run", "main", "*")
        a.execute("INSERT INTO _rocky.lock VALUES ('writer', 'crashed-run', 'run', 'x', "
                  "'elsewhere', 999999, now())")
    result = make_ctx(built_shop).run(["stg_orders"])
    assert result.ok and result.recovered_from and "999999" in result.recovered_from
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert current_holder(a) is None
        statuses = {r.run_id: r.status for r in run_history(a)}
    assert statuses["crashed-run"] == "interrupted"


@pytest.mark.slow
def test_two_concurrent_runs_both_succeed_serially(built_shop: Path) -> None:
    cmd = [sys.executable, "-m", "rocky_engine", "run", "--project", str(built_shop)]
    env = _env(ROCKY_LOCK_TIMEOUT="60")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        runs = [r for r in run_history(a) if r.command == "run"]
        assert [r.status for r in runs[:2]] == ["success", "success"]
        # serial, never overlapping
        first, second = sorted(runs[:2], key=lambda r: r.started_at)
        assert first.finished_at <= second.started_at
        assert a.row_count("main", "customers") == 40


SLOW_SQL = """
SELECT a.id AS payment_id, count(*) AS n
FROM raw.payments AS a
CROSS JOIN raw.payments AS b
CROSS JOIN raw.payments AS c
CROSS JOIN raw.payments AS d
GROUP BY a.id
"""

KILL_SCRIPT = """
import sys
from rocky_engine.context import Context

from rocky_engine.execution import api

def before(model):
    print("building", model, flush=True)

api.run(Context.load(sys.argv[1]), before_each=before)
"""


@pytest.mark.slow
def test_kill_9_mid_run_leaves_prod_consistent(built_shop: Path, tmp_path: Path) -> None:
    write_model(built_shop, "zz_slow", SLOW_SQL, 'materialized = "table"\n')
    # A first complete build of everything but the slow model, to compare against.
    prod = snapshot(built_shop)
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(built_shop)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "building zz_slow":
            break
    time.sleep(0.5)  # well inside the slow CREATE TABLE
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    (built_shop / "models" / "zz_slow.sql").unlink()
    (built_shop / "models" / "zz_slow.toml").unlink()
    # Prod is exactly as before (the models rebuilt before the kill have the same data).
    after = snapshot(built_shop)
    assert {k: v for k, v in after.items() if k != "zz_slow"} == prod
    assert "zz_slow" not in after
    result = make_ctx(built_shop).run()
    assert result.ok and result.recovered_from is not None
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        history = run_history(a)
        assert history[0].status == "success"
        assert "interrupted" in {r.status for r in history}
        assert not [n for n in a.relations("main") if n.endswith("__rocky_tmp")]
        assert current_holder(a) is None


def test_seed_takes_the_writer_lock_and_is_in_the_history(built_shop: Path) -> None:
    """A seed replaces source tables: it waits for (then gives up on) another writer, as a
    run does, and is recorded."""
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert acquire_lock(a, "other-run", "run") is None
        ctx = make_ctx(built_shop)
        ctx.lock_timeout = 0.3
        with pytest.raises(LockTimeout, match=f"PID {os.getpid()}"):
            ctx.seed()
        release_lock(a, "other-run")
    assert make_ctx(built_shop).seed()
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        (last, *_) = run_history(a)
        assert (last.command, last.status, last.selection) == ("seed", "success", "raw")
        assert current_holder(a) is None
