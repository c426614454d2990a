"""The Spark Connect end-to-end scenario, run as its own process by test_spark_connect.py
(a process holds either a Spark Connect client or an in-process Spark, not both): seed,
run, test, a killed promote finished by the next command, drift, and repair validated in
the DuckDB sandbox from a sample read through Spark Connect (prod never written).

    python tests/spark/connect_e2e.py sc://127.0.0.1:15002 /tmp/work
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "agent" / "repair")]

from repair_helpers import git, make_repo

from intent_agent.repair import repair_project
from rocky_engine.context import Context
from rocky_engine.scaffold import init_project

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


def _remote_shop(tmp_path: Path, url: str) -> Path:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    text = (root / "rocky.toml").read_text()
    (root / "rocky.toml").write_text(text.replace(
        'type = "duckdb"\npath = "warehouse.duckdb"\n',
        f'type = "spark"\nremote = "{url}"\n'))
    return root


def main(connect_url: str, tmp_path: Path) -> None:
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

    # Drift: an upstream column renamed and another retyped, the way Spark allows
    # (the table recreated).
    with ctx.adapter() as a:
        columns = [c for (c,) in a.fetchall("SHOW COLUMNS IN raw.payments")]
        changed = {"method": "method AS payment_method",
                   "amount": "CAST(amount AS STRING) AS amount"}
        a.execute("CREATE TABLE raw.payments_new USING parquet AS SELECT " + ", ".join(
            changed.get(c, c) for c in columns) + " FROM raw.payments")
        a.drop_table("raw", "payments")
        a.rename("raw", "payments_new", "payments", kind="table")
    report = ctx.drift(record=False)
    changes = [(c.kind, c.table, c.column, c.new_column) for c in report.changes]
    assert ("column_renamed", "raw.payments", "method", "payment_method") in changes, changes
    assert ("column_type_changed", "raw.payments", "amount", None) in changes, changes
    assert "stg_payments" in {i.model for i in report.impact}

    # Repair: the patch validated in the DuckDB sandbox (a sample of the live upstream
    # tables read through Spark Connect); nothing created or written on Spark.
    (root / "models" / "customers.sql").write_text(sql)  # the example's own (its unit test)
    (root / ".gitignore").write_text(".rocky/\ntarget/\n")
    make_repo(root)
    with ctx.adapter() as a:
        schemas = set(a.schemas())
        prod = {n: a.fetchall(f"SELECT COUNT(*) FROM main.{n}")[0] for n, k in
                a.relations("main").items() if k == "table"}
    result = repair_project(root, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    assert "models/stg_payments.sql" in [p.path for p in result.patches]
    assert "payment_method AS payment_method" in git(root, "show",
                                             f"{result.commit}:models/stg_payments.sql")
    v = result.validation.to_json()
    assert v["ok"] and v["where"] == "sandbox", v
    assert "raw.payments" in {t["table"] for t in v["sandbox"]["tables"]}
    diff = {m["model"]: m["status"] for m in v["data_diff"]["models"]}
    assert diff["stg_payments"] == diff["customers"] == "unchanged", diff
    with ctx.adapter() as a:
        assert set(a.schemas()) == schemas
        assert prod == {n: a.fetchall(f"SELECT COUNT(*) FROM main.{n}")[0] for n, k in
                        a.relations("main").items() if k == "table"}


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
    print("connect e2e ok")
