"""``rocky run`` overhead on Spark local mode against executing the same statements with
``spark.sql`` in one session.

A synthetic project of table models (a wide, shallow DAG over one source table) is built
two ways in one process, on one local Spark session:

* **spark.sql**: the statements rocky sent to Spark for the models (drop the temporary
  table, CREATE TABLE ... AS, rename the old table aside, rename the new one in, drop the
  old one; recorded from rocky's own run),
  replayed with ``spark.sql`` in DAG order: what a hand-written script would do;
* **rocky run**: ``Context.load(root).run()`` — project load, compile (warm cache),
  plan, render each model for Spark from its qualified tree, build it, writer lock and
  run history in ``_rocky``.

A first, untimed run creates the tables (and warms the JVM). Repeats alternate which of
the two goes first. Target: overhead <= 5 ms/model.

    .venv/bin/python bench/spark_bench.py                  # 200 models, median of 3
    .venv/bin/python bench/spark_bench.py --models 50 --repeat 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rocky_engine.adapters import spark as spark_adapter
from rocky_engine.adapters.spark_session import SparkSettings, get_session
from rocky_engine.context import Context

MODEL_STATEMENT = ("DROP TABLE", "CREATE TABLE", "ALTER TABLE")


def make_project(root: Path, n: int) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "bench"\ndialect = "duckdb"\n\n'
        '[warehouse]\ntype = "spark"\nmaster = "local[2]"\nschema = "main"\n'
        'conf = { "spark.sql.shuffle.partitions" = "1" }\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n\n[tables.events.columns]\nid = "INTEGER"\n'
        'value = "INTEGER"\ncategory = "VARCHAR"\n')
    for i in range(n):
        # Fan-out 10: each model reads the source or an earlier model.
        parent = "raw.events" if i < 10 else f"m{(i - 10) // 10:04d}"
        (root / "models" / f"m{i:04d}.sql").write_text(
            f"SELECT id, value + {i} AS value, UPPER(category) AS category\nFROM {parent}\n"
            f"WHERE id % {i % 7 + 2} <> 0\n")
        (root / "models" / f"m{i:04d}.toml").write_text('materialized = "table"\n')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        make_project(root, args.models)
        spark = get_session(SparkSettings(master="local[2]",
                                          home=root / "target" / "spark",
                                          conf={"spark.sql.shuffle.partitions": "1"}))
        spark.sql("CREATE DATABASE IF NOT EXISTS raw")
        spark.sql("CREATE TABLE raw.events USING parquet AS SELECT CAST(id AS INT) AS id, "
                  "CAST(id % 97 AS INT) AS value, CAST(id % 5 AS STRING) AS category "
                  "FROM range(1000)")
        t0 = time.perf_counter()
        first = Context.load(root).run()
        assert first.ok, first.summary()
        print(f"first run (creates {args.models} tables): {time.perf_counter() - t0:.1f}s")

        def rocky() -> tuple[float, list[str]]:
            spark_adapter._RECORD = []
            started = time.perf_counter()
            result = Context.load(root).run()
            seconds = time.perf_counter() - started
            assert result.ok, result.summary()
            recorded, spark_adapter._RECORD = spark_adapter._RECORD, None
            return seconds, [s for s in recorded if s.startswith(MODEL_STATEMENT)
                             and "`_rocky`" not in s and "__rocky_dml" not in s]

        _, statements = rocky()
        per_model = len(statements) / args.models
        print(f"statements per model: {per_model:.1f} ({len(statements)} in all)")

        def raw() -> float:
            started = time.perf_counter()
            for text in statements:
                spark.sql(text).collect()
            return time.perf_counter() - started

        rocky_s, raw_s = [], []
        for i in range(args.repeat):
            if i % 2:
                rocky_s.append(rocky()[0])
                raw_s.append(raw())
            else:
                raw_s.append(raw())
                rocky_s.append(rocky()[0])
        r, b = statistics.median(rocky_s), statistics.median(raw_s)
        over = (r - b) / args.models * 1000
        print(f"{'':>12} {'wall s':>9} {'ms/model':>9}")
        print(f"{'spark.sql':>12} {b:9.2f} {b / args.models * 1000:9.1f}")
        print(f"{'rocky run':>12} {r:9.2f} {r / args.models * 1000:9.1f}")
        print(f"overhead: {over:.1f} ms/model (target <= 5 ms/model: "
              f"{'met' if over <= 5 else 'NOT met'}); ratio rocky/spark.sql {r / b:.2f}x; "
              f"median of {args.repeat}, {args.models} table models")
        return 0


if __name__ == "__main__":
    sys.exit(main())
