"""``rocky run --threads`` and ``rocky repair`` on a real PostgreSQL server, side by side.

Starts a throwaway PostgreSQL (as the tests do: ``initdb`` in a temporary directory, Unix
socket, ``fsync=off``) and measures, in one run:

* **parallel run**: a synthetic project of ``--models`` table models (a wide, shallow DAG
  over one seeded source, fan-out 10, as in ``bench/run_bench.py``) built with
  ``--threads 1`` and ``--threads 4``, alternating which goes first, median of
  ``--repeat``. Target: ``--threads 4`` at least 1.5x faster. The same figures on DuckDB
  are printed beside them for reference;
* **repair**: the example project (``rocky init --example shop``) on Postgres, built, then
  an upstream loader renames ``raw.orders.amount`` and retypes ``raw.payments.amount``
  to text; wall time of ``rocky repair`` (detect, plan, draft, validate, commit) with
  ``validate_on = "sandbox"`` (a local DuckDB sample) and ``"warehouse"`` (a branch schema
  in Postgres). Target: under 30 s.

    .venv/bin/python bench/pg_run_bench.py                 # 1,000 models, median of 3
    .venv/bin/python bench/pg_run_bench.py --models 200 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg

from rocky_engine.context import Context
from rocky_engine.scaffold import init_project
from tests.pgserver import PgServer, find_bindir

DSN_ENV = "ROCKY_BENCH_PG_DSN"
ROWS = 2000  # rows of the source table: each model does some work on the server


def warehouse_block(kind: str) -> str:
    if kind == "postgres":
        return f'[warehouse]\ntype = "postgres"\ndsn_env = "{DSN_ENV}"\nschema = "main"\n'
    return '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\nschema = "main"\n'


def make_project(root: Path, n: int, kind: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "bench"\ndialect = "duckdb"\n\n' + warehouse_block(kind))
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n\n[tables.events.columns]\nid = "INTEGER"\n'
        'value = "INTEGER"\ncategory = "VARCHAR"\n')
    for i in range(n):
        name = f"m{i:04d}"
        if i < 10:
            sql = f"SELECT id, value + {i} AS value, category FROM raw.events"
        elif i % 10 == 0:
            sql = (f"SELECT a.id, a.value + b.value AS value, a.category\n"
                   f"FROM m{i // 10:04d} AS a\nJOIN m{i // 10 - 1:04d} AS b ON a.id = b.id")
        else:
            sql = (f"SELECT id, value + {i % 7} AS value, upper(category) AS category\n"
                   f"FROM m{i // 10:04d}\nWHERE value >= 0")
        (root / "models" / f"{name}.sql").write_text(sql + "\n")
        (root / "models" / f"{name}.toml").write_text('materialized = "table"\n')


def seed_source(root: Path, kind: str) -> None:
    if kind == "postgres":
        with psycopg.connect(os.environ[DSN_ENV], autocommit=True) as conn:
            conn.execute("CREATE SCHEMA raw")
            conn.execute(f"CREATE TABLE raw.events AS SELECT g AS id, (g % 100) AS value, "
                         f"'c' || (g % 5) AS category FROM generate_series(0, {ROWS - 1}) g")
        return
    import duckdb

    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(f"CREATE TABLE raw.events AS SELECT range::INTEGER AS id, "
                f"(range % 100)::INTEGER AS value, 'c' || (range % 5) AS category "
                f"FROM range({ROWS})")
    con.close()


def time_run(root: Path, threads: int) -> float:
    started = time.perf_counter()
    result = Context.load(root).run(threads=threads)
    elapsed = time.perf_counter() - started
    assert result.ok, result.summary()
    return elapsed


def bench_threads(server: PgServer | None, n: int, repeat: int, kind: str,
                  tmp: Path) -> tuple[float, float]:
    root = tmp / f"threads-{kind}"
    if kind == "postgres":
        assert server is not None
        os.environ[DSN_ENV] = server.dsn(server.create_database())
    make_project(root, n, kind)
    seed_source(root, kind)
    time_run(root, 4)  # creates every object, fills the compile and run caches
    one: list[float] = []
    four: list[float] = []
    for i in range(repeat):
        if i % 2:
            four.append(time_run(root, 4))
            one.append(time_run(root, 1))
        else:
            one.append(time_run(root, 1))
            four.append(time_run(root, 4))
    return statistics.median(one), statistics.median(four)


# ---------------------------------------------------------------------------- repair


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


DRIFT = (
    "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount",
    # A loader that retypes a column replaces the table (Postgres refuses ALTER TYPE under
    # the prod views that read it; the replace drops them).
    "ALTER TABLE raw.payments RENAME TO payments_old",
    ("CREATE TABLE raw.payments AS SELECT id, order_id, method, CAST(amount AS VARCHAR) "
    "AS amount, paid_at FROM raw.payments_old"),
    "DROP TABLE raw.payments_old CASCADE",
)


def bench_repair(server: PgServer, validate_on: str, tmp: Path) -> tuple[float, str]:
    from intent_agent.repair import repair_project

    root = tmp / f"shop-{validate_on}"
    init_project(root, example="shop")
    os.environ[DSN_ENV] = dsn = server.dsn(server.create_database())
    config = root / "rocky.toml"
    text = config.read_text()
    start = text.index("[warehouse]")
    end = text.find("\n[", start + 1)
    text = text[:start] + warehouse_block("postgres") + text[end:]
    text = text.replace("[agent]", f'[agent]\nvalidate_on = "{validate_on}"')
    config.write_text(text)
    (root / ".gitignore").write_text(".rocky/\ntarget/\n")
    ctx = Context.load(root)
    ctx.seed()
    assert ctx.run().ok
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "shop")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for sql in DRIFT:
            conn.execute(sql)
    started = time.perf_counter()
    result = repair_project(root, env={})
    elapsed = time.perf_counter() - started
    assert result.status == "validated", [f.render() for f in result.findings]
    return elapsed, result.validation.where if result.validation else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries (initdb) found: apt-get install postgresql")
    server = PgServer(bindir).start()
    try:
        with tempfile.TemporaryDirectory(prefix="rocky-pg-bench-") as name:
            tmp = Path(name)
            pg_one, pg_four = bench_threads(server, args.models, args.repeat, "postgres", tmp)
            dk_one, dk_four = bench_threads(None, args.models, args.repeat, "duckdb", tmp)
            sandbox, _ = bench_repair(server, "sandbox", tmp)
            branch, _ = bench_repair(server, "warehouse", tmp)
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
    n = args.models
    print(f"rocky run, {n} table models, median of {args.repeat} (wall seconds)")
    print(f"{'warehouse':<11}{'threads 1':>11}{'threads 4':>11}{'speed-up':>10}")
    speedup = pg_one / pg_four
    print(f"{'postgres':<11}{pg_one:>10.2f}s{pg_four:>10.2f}s{speedup:>9.2f}x")
    print(f"{'duckdb':<11}{dk_one:>10.2f}s{dk_four:>10.2f}s{dk_one / dk_four:>9.2f}x")
    print(f"postgres --threads 4 vs --threads 1: {speedup:.2f}x: "
          f"{'meets' if speedup >= 1.5 else 'MISSES'} the >= 1.5x target")
    print("rocky repair of the example project on postgres (rename + retype), wall seconds")
    for label, seconds in (("validate_on = sandbox", sandbox), ("validate_on = warehouse",
                                                                 branch)):
        print(f"  {label:<24}{seconds:>7.2f}s  "
              f"{'meets' if seconds < 30 else 'MISSES'} the < 30 s target")


if __name__ == "__main__":
    main()
