"""End to end through a real Spark Connect server (started from the pyspark package here):
seed, run, test, drift, and a promote killed with kill -9 by a client process that the
next client's command finishes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rocky_engine.context import Context
from rocky_engine.scaffold import init_project

from .connect_server import connect_server

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with connect_server(tmp_path_factory.mktemp("connect")) as url:
        yield url


def _remote_shop(tmp_path: Path, url: str) -> Path:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    text = (root / "rocky.toml").read_text()
    (root / "rocky.toml").write_text(text.replace(
        'type = "duckdb"\npath = "warehouse.duckdb"\n',
        f'type = "spark"\nremote = "{url}"\n'))
    return root


_KILLED_PROMOTE = textwrap.dedent("""
    import os, signal, sys
    from rocky_engine.context import Context
    from rocky_engine.execution import api
    def step(label):
        if label == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)
    ctx = Context.load(sys.argv[1])
    ctx.lock_timeout = 10
    api.branch_promote(ctx, "f", step=step)
""")


def test_seed_run_test_drift_and_killed_promote_through_spark_connect(
        connect_url: str, tmp_path: Path) -> None:
    root = _remote_shop(tmp_path, connect_url)
    ctx = Context.load(root)
    ctx.lock_timeout = 10
    assert len(ctx.seed()) == 3
    result = ctx.run()
    assert result.ok, result.summary()
    assert ctx.test().ok
    with ctx.adapter() as a:
        (n,) = a.fetchall("SELECT COUNT(*) FROM main.customers")[0]
        assert n == 40
        before = a.fetchall("SELECT customer_id, lifetime_revenue FROM main.customers "
                            "ORDER BY customer_id")

    # A branch with a changed table model; its promote is killed (kill -9) after the
    # copies are complete and prod's old table is dropped: the next command finishes it.
    ctx.branch_create("f")
    sql = (root / "models" / "customers.sql").read_text()
    (root / "models" / "customers.sql").write_text(sql.replace(
        "COALESCE(p.lifetime_revenue, 0) AS lifetime_revenue",
        "COALESCE(p.lifetime_revenue, 0) * 2 AS lifetime_revenue"))
    ctx = Context.load(root)
    ctx.lock_timeout = 10
    assert ctx.run(["customers"], branch="f").ok
    script = tmp_path / "promote.py"
    script.write_text(_KILLED_PROMOTE)
    proc = subprocess.run([sys.executable, str(script), str(root), "dropped:customers"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with ctx.adapter() as a:
        assert "customers" not in a.relations("main")  # half promoted, for now
    assert ctx.run(["daily_revenue"]).ok  # the next command rolls the promote forward
    with ctx.adapter() as a:
        after = a.fetchall("SELECT customer_id, lifetime_revenue FROM main.customers "
                           "ORDER BY customer_id")
        assert [(c, 2 * v) for c, v in before] == after
        journal = a.fetchall("SELECT step FROM _rocky.promote_journal")
        assert sorted(s for (s,) in journal) == ["begin", "prepared", "rolled_forward"]

    # Drift: an upstream column renamed the way Spark allows (the table recreated).
    with ctx.adapter() as a:
        a.execute("CREATE TABLE raw.payments_new USING parquet AS SELECT id, order_id, "
                  "method AS payment_method, amount FROM raw.payments")
        a.drop_table("raw", "payments")
        a.rename("raw", "payments_new", "payments", kind="table")
    report = ctx.drift(record=False)
    assert [(c.kind, c.column, c.new_column) for c in report.changes] == [
        ("column_renamed", "method", "payment_method")]
    assert "stg_payments" in {i.model for i in report.impact}
