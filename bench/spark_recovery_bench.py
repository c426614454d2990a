"""What the swap-recovery pass costs every writing command on Spark local mode.

Every writing command on a warehouse without transactional DDL looks for half-done table
replaces (``rocky_engine.execution.swap_recovery``) in the target, prod and every branch
schema ``_rocky.branches`` knows of. This prints that pass's time for a prod schema of
``--tables`` tables and ``--branches`` branch schemas of as many views, next to what the
rest of taking and releasing the writer lock costs there (lock row, promote-journal check,
run history), in one run.

    .venv/bin/python bench/spark_recovery_bench.py                   # 100 tables, 3 branches
    .venv/bin/python bench/spark_recovery_bench.py --tables 20 --branches 1 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlglot import exp

from rocky_engine.adapters.base import table_ref
from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.adapters.spark_session import SparkSettings
from rocky_engine.execution import state
from rocky_engine.execution.swap_recovery import known_schemas, recover_swaps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--branches", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a = SparkAdapter(SparkSettings(master="local[2]", home=Path(tmp) / "spark",
                                       conf={"spark.sql.shuffle.partitions": "1"}))
        a.create_schema("main")
        for i in range(args.tables):
            a.execute(f"CREATE TABLE main.t{i:04d} USING parquet AS SELECT {i} AS id")
        state.ensure_state(a)
        for b in range(args.branches):
            schema = f"main__b{b}"
            a.create_schema(schema)
            for i in range(args.tables):
                a.create_view(schema, f"t{i:04d}",
                              exp.select(exp.Star()).from_(table_ref("main", f"t{i:04d}")))
            a.execute(exp.insert(exp.values([(f"b{b}", schema, "main")]),
                                 table_ref("_rocky", "branches"),
                                 columns=["name", "schema_name", "base_schema"]))
        recover, lock = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            assert recover_swaps(a, known_schemas(a, "main")) == []
            recover.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with state.writer_lock(a, "run", target="main", selection="*"):
                pass
            lock.append(time.perf_counter() - t0)
        r, w = statistics.median(recover), statistics.median(lock)
        print(f"schemas scanned: {1 + args.branches} ({args.tables} relations each)")
        print(f"swap recovery pass:           {r * 1000:8.1f} ms (median of {args.repeat})")
        print(f"writer lock taken + released: {w * 1000:8.1f} ms (includes the pass)")
        print(f"pass / lock:                  {r / w:8.2f}")


if __name__ == "__main__":
    main()
