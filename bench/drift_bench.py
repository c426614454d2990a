"""Benchmark the cost of value fingerprints in ``rocky drift`` on DuckDB.

    .venv/bin/python bench/drift_bench.py                      # 100 tables x 1,000,000 rows
    .venv/bin/python bench/drift_bench.py --tables 10 --rows 200000 --repeat 3

Generates a warehouse of N source tables of R rows each (id, an amount, a low-cardinality
status, a date, a text code with a format, a nullable note), a project declaring them, and
one staging model per table whose ``grain`` is the id (so every table has a declared key
whose duplicate rate is checked). After one ``rocky drift`` that records the fingerprints,
it times, side by side in one run and alternating:

* ``rocky drift`` reading no values (``read_values=False``: schema comparison only), and
* ``rocky drift`` as shipped: value fingerprints read (sampled), compared with the stored
  ones for drift in values, and stored again.

Both run in-process through ``Context.drift`` (interpreter start-up is the same for both).
Target: fingerprinting 100 tables of 1 million rows adds under 5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb

from rocky_engine.context import Context


def build(root: Path, tables: int, rows: int, *, threads: int | None = None) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "drift_bench"\ndialect = "duckdb"\n\n'
        '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\n'
        + (f"\n[drift]\nthreads = {threads}\n" if threads else ""))
    lines = ['schema = "raw"', ""]
    for i in range(tables):
        lines += [f"[tables.t{i:03d}.columns]", 'id = "BIGINT"', 'amount = "DECIMAL(12,2)"',
                  'status = "VARCHAR"', 'created = "DATE"', 'code = "VARCHAR"',
                  'note = "VARCHAR"', ""]
        (root / "models" / f"stg_t{i:03d}.sql").write_text(
            f"SELECT id AS t{i:03d}_id, amount, status, created, code, note "
            f"FROM raw.t{i:03d}\n")
        (root / "models" / f"stg_t{i:03d}.toml").write_text(
            f'[intent]\npurpose = "One row per t{i:03d} record."\ngrain = ["t{i:03d}_id"]\n')
    (root / "sources" / "raw.toml").write_text("\n".join(lines))
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    conn.execute("CREATE SCHEMA raw")
    conn.execute(f"""
        CREATE TABLE raw.t000 AS SELECT
            i::BIGINT AS id,
            round(exp(3 + 1.2 * sqrt(-2 * ln(random() + 1e-12)) * cos(6.283 * random())), 2)
                ::DECIMAL(12,2) AS amount,
            ['completed', 'placed', 'shipped', 'returned'][1 + (hash(i) % 4)::INT] AS status,
            DATE '2024-01-01' + (hash(i * 7) % 365)::INT AS created,
            'AB-' || lpad(((hash(i * 13) % 100000))::VARCHAR, 5, '0') AS code,
            CASE WHEN hash(i * 17) % 10 = 0 THEN NULL ELSE 'note ' || (i % 1000)::VARCHAR END
                AS note
        FROM range({rows}) r(i)""")
    for i in range(1, tables):
        conn.execute(f"CREATE TABLE raw.t{i:03d} AS SELECT * FROM raw.t000")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="[drift] threads (default: rocky's, the cores up to 4)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rocky-drift-bench-"))
    root = tmp / "p"
    try:
        t0 = time.perf_counter()
        build(root, args.tables, args.rows, threads=args.threads)
        print(f"warehouse: {args.tables} tables x {args.rows:,} rows "
              f"({(root / 'warehouse.duckdb').stat().st_size / 1e6:.0f} MB) built in "
              f"{time.perf_counter() - t0:.1f} s; cores {os.cpu_count()}, "
              f"[drift] threads {threads_label(args.threads)}, "
              f"load {os.getloadavg()[0]:.1f}")
        ctx = Context.load(root)
        t0 = time.perf_counter()
        first = ctx.drift()
        print(f"first rocky drift (records fingerprints): {time.perf_counter() - t0:.2f} s, "
              f"{len(first.changes)} change(s)")
        without: list[float] = []
        with_values: list[float] = []
        cpu_without: list[float] = []
        cpu_with: list[float] = []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            report = ctx.drift(read_values=False)
            without.append(time.perf_counter() - t0)
            cpu_without.append(time.process_time() - c0)
            assert not report.changes, report.to_json()
            t0, c0 = time.perf_counter(), time.process_time()
            report = ctx.drift()
            with_values.append(time.perf_counter() - t0)
            cpu_with.append(time.process_time() - c0)
            assert not report.changes, report.to_json()
        a, b = statistics.median(without), statistics.median(with_values)
        ca, cb = statistics.median(cpu_without), statistics.median(cpu_with)
        print(f"rocky drift, no values read:        wall median {a:7.2f} s  {_runs(without)}"
              f"  cpu {ca:.2f} s")
        print(f"rocky drift, value fingerprints:    wall median {b:7.2f} s  {_runs(with_values)}"
              f"  cpu {cb:.2f} s")
        print(f"added by value fingerprints:        wall {b - a:7.2f} s  "
              f"({(b - a) / args.tables * 1000:.0f} ms per table; ratio {b / a:.1f}x); "
              f"cpu {cb - ca:.2f} s (all threads of the process)")
        print(f"machine load during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        verdict = "met" if b - a < 5 * args.tables / 100 * args.rows / 1_000_000 else "NOT met"
        print(f"target: < 5 s for 100 tables of 1,000,000 rows (scaled to this run): {verdict}")
        if args.keep:
            print(f"project kept at {root}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def threads_label(threads: int | None) -> str:
    return str(threads) if threads else f"default ({min(4, os.cpu_count() or 1)})"


def _runs(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


if __name__ == "__main__":
    main()
