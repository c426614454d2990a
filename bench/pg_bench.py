"""PostgreSQL figures, side by side in one run, on a throwaway local server.

1. ``rocky run`` overhead per model over executing the same statements with psycopg
   directly (1,000 table models, a wide shallow DAG over one seeded source). The raw
   side connects, and per model runs exactly what a hand-written script needs to
   replace a table atomically — ``DROP TABLE IF EXISTS`` + ``CREATE TABLE .. AS``
   with the SELECT rocky renders for Postgres (prepared before the clock starts) — then
   closes (each pair sent as one message: one round trip, one implicit transaction).
   The rocky side is ``Context.load(root).run()``: load, compile (warm cache),
   target check, plan, render from the qualified tree, build, history and writer lock in
   ``_rocky``. Both replace existing tables; repeats alternate which goes first.
   Target: overhead <= 3 ms/model.
2. ``rocky drift`` introspection of 1,000 declared tables: the one ``pg_catalog``
   query plus type normalisation (``introspect``), and the whole ``rocky drift``
   (compare, no value reads) for context. Target: introspection < 0.5 s.

    .venv/bin/python bench/pg_bench.py                 # 1,000 models / tables, median of 3
    .venv/bin/python bench/pg_bench.py --models 200 --tables 200 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rocky_engine.adapters.dialect import render
from rocky_engine.adapters.postgres import PostgresAdapter
from rocky_engine.compiler.target import TargetModels
from rocky_engine.context import Context
from rocky_engine.drift.introspect import introspect
from rocky_engine.execution.plan import build_plan, compile_gate
from tests.pgserver import PgServer, find_bindir

DSN_ENV = "ROCKY_BENCH_PG_DSN"


def make_run_project(root: Path, n: int, dsn: str) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "bench"\ndialect = "duckdb"\n\n'
        f'[warehouse]\ntype = "postgres"\ndsn_env = "{DSN_ENV}"\nschema = "main"\n')
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
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA raw")
        conn.execute("CREATE TABLE raw.events AS SELECT i AS id, (i % 100) AS value, "
                      "'c' || (i % 5) AS category FROM generate_series(0, 999) AS i")


def raw_statements(root: Path) -> list[tuple[str, str]]:
    """(drop, create) per model, in build order: the SQL rocky renders for Postgres."""
    ctx = Context.load(root)
    compiled, _ = compile_gate(ctx.project)
    models = TargetModels(ctx.project, compiled, "postgres")
    plan = build_plan(ctx.project)
    targets = {name: ("main", name) for name in plan.parsed}
    out = []
    for name in plan.selected:
        select = render(models.bound(name, targets), "postgres")
        out.append((f'DROP TABLE IF EXISTS "main"."{name}"',
                    f'CREATE TABLE "main"."{name}" AS {select}'))
    return out


def time_raw(dsn: str, statements: list[tuple[str, str]]) -> float:
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for drop, create in statements:
            # Both in one message: one round trip, one implicit transaction.
            conn.execute(f"{drop};\n{create}")
    return time.perf_counter() - started


def time_rocky(root: Path) -> float:
    started = time.perf_counter()
    result = Context.load(root).run()
    elapsed = time.perf_counter() - started
    assert result.ok, result.summary()
    return elapsed


def bench_run(server: PgServer, n: int, repeat: int) -> dict[str, float]:
    import os

    dsn = server.dsn(server.create_database())
    os.environ[DSN_ENV] = dsn
    with tempfile.TemporaryDirectory(prefix="rocky-pg-bench-") as tmp:
        root = Path(tmp) / "bench"
        make_run_project(root, n, dsn)
        t0 = time.perf_counter()
        Context.load(root).run()  # creates the tables; fills the compile and run caches
        cold = time.perf_counter() - t0
        statements = raw_statements(root)
        raw: list[float] = []
        rocky: list[float] = []
        for i in range(repeat):
            if i % 2:
                rocky.append(time_rocky(root))
                raw.append(time_raw(dsn, statements))
            else:
                raw.append(time_raw(dsn, statements))
                rocky.append(time_rocky(root))
    return {"raw": statistics.median(raw), "rocky": statistics.median(rocky), "cold": cold}


def bench_drift(server: PgServer, n: int, repeat: int) -> dict[str, float]:
    import os

    dsn = server.dsn(server.create_database())
    os.environ[DSN_ENV] = dsn
    with tempfile.TemporaryDirectory(prefix="rocky-pg-drift-") as tmp:
        root = Path(tmp) / "drift"
        (root / "sources").mkdir(parents=True)
        (root / "models").mkdir()
        (root / "rocky.toml").write_text(
            '[project]\nname = "drift"\n\n'
            f'[warehouse]\ntype = "postgres"\ndsn_env = "{DSN_ENV}"\nschema = "main"\n')
        lines = ['schema = "raw"\n']
        ddl = ["CREATE SCHEMA raw"]
        for i in range(n):
            lines.append(f'[tables.t{i:04d}.columns]\nid = "INTEGER"\namount = "DECIMAL(10,2)"\n'
                         f'name = "VARCHAR"\nday = "DATE"\nat = "TIMESTAMP"\n')
            ddl.append(f"CREATE TABLE raw.t{i:04d} (id integer, amount numeric(10,2), "
                       "name character varying, day date, at timestamp without time zone)")
        (root / "sources" / "raw.toml").write_text("\n".join(lines))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(";".join(ddl))
        ctx = Context.load(root)
        intro: list[float] = []
        full: list[float] = []
        with PostgresAdapter(dsn) as adapter:
            introspect(ctx.project, adapter)  # warm the type-normalisation cache path
            for _ in range(repeat):
                t0 = time.perf_counter()
                live = introspect(ctx.project, adapter)
                intro.append(time.perf_counter() - t0)
            assert len(live) == n
        for _ in range(repeat):
            t0 = time.perf_counter()
            report = Context.load(root).drift(read_values=False, record=False)
            full.append(time.perf_counter() - t0)
            assert not report.changes, report.to_json()
    return {"introspect": statistics.median(intro), "drift": statistics.median(full)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries (initdb): apt-get install postgresql-15")
    server = PgServer(bindir).start()
    try:
        run = bench_run(server, args.models, args.repeat)
        drift = bench_drift(server, args.tables, args.repeat)
    finally:
        server.stop()
    n = args.models
    raw_ms, rocky_ms = run["raw"] * 1000 / n, run["rocky"] * 1000 / n
    overhead = rocky_ms - raw_ms
    print(f"PostgreSQL 15 (local socket, fsync=off), median of {args.repeat}")
    print(f"rocky run, {n} table models:   psycopg direct {raw_ms:6.2f} ms/model   "
          f"rocky run {rocky_ms:6.2f} ms/model   overhead {overhead:5.2f} ms/model   "
          f"ratio {rocky_ms / raw_ms:4.2f}   (cold first run {run['cold']:.1f}s)   "
          f"target <= 3 ms/model: {'met' if overhead <= 3 else 'NOT met'}")
    print(f"rocky drift, {args.tables} tables:      introspection {drift['introspect']:6.3f} s   "
          f"whole drift (no value reads) {drift['drift']:6.3f} s   "
          f"target < 0.5 s: {'met' if drift['introspect'] < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
