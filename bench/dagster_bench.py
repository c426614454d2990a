"""rocky in Dagster: loading the definitions, and building models through Dagster vs ``rocky run``.

    .venv/bin/python bench/dagster_bench.py 2>/dev/null      # 1,000 models, median of 3
    .venv/bin/python bench/dagster_bench.py --models 200 --repeat 1 --sqlite

(Dagster's console logger prints every event of every run on stderr.)

Two measurements, side by side in one run:

* **load** — a 1,000-model layered project (``bench/gen_project.py``: joins, CTEs, windows,
  10–40 typed columns per model, column lineage) with its compile cache and lineage index
  present (warm); each repeat is a fresh process that imports Dagster and rocky, calls
  ``rocky_definitions(project)`` and resolves Dagster's repository (the asset graph, every
  spec's column schema and column lineage, the checks, jobs and sensor: what
  ``dagster dev`` and ``dagster definitions validate`` do). Printed: the imports, the call,
  the resolve, and their sum. Target: definitions (call + resolve) under 3 s.
* **materialise** — 1,000 view models (``bench/run_bench.py``'s wide, shallow DAG over one
  seeded source), already built once (so both replace existing views, with warm caches):
  ``rocky run`` in process (``Context.load(root).run()``), against ``dagster.materialize``
  of every model asset (one materialization event per model, in the run's event log).
  The Dagster instance is in memory by default, so the figure is the integration's and
  Dagster's own cost; ``--sqlite`` uses an on-disk SQLite instance as ``dagster dev`` does,
  which adds a disk commit per event (several per model) and depends mostly on the disk.
  Repeats alternate which goes first. Wall and CPU time (this process, all threads) per
  model; CPU is the steadier figure on a shared machine. Target: Dagster adds at most
  10 ms per model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_project import generate
from run_bench import make_project

_LOAD = """
import json, sys, time
t0 = time.perf_counter()
import dagster
from rocky_engine.integrations.dagster import rocky_definitions
t1, c1 = time.perf_counter(), time.process_time()
defs = rocky_definitions(sys.argv[1])
t2 = time.perf_counter()
repo = defs.get_repository_def()
graph = repo.asset_graph
n = len(graph.get_all_asset_keys())
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"imports": t1 - t0, "call": t2 - t1, "resolve": t3 - t2, "cpu": c3 - c1,
                  "assets": n, "checks": len(graph.asset_check_keys)}))
"""


def bench_load(root: Path, repeat: int) -> dict[str, float]:
    from rocky_engine.context import Context

    ctx = Context.load(root)
    assert ctx.compile().ok
    ctx.lineage_graph()  # writes target/lineage.idx: the warm state
    runs = []
    for _ in range(repeat + 1):  # the first fills the OS file cache; not counted
        wall = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _LOAD, str(root)], check=True,
                             capture_output=True, text=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
        data["process"] = time.perf_counter() - wall
        runs.append(data)
    runs = runs[1:]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _timed(fn: Callable[[], None], into: list[tuple[float, float]]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    into.append((time.perf_counter() - wall, time.process_time() - cpu))


def bench_materialize(root: Path, repeat: int, sqlite: bool) -> dict[str, float]:
    import dagster as dg

    from rocky_engine.context import Context
    from rocky_engine.integrations.dagster import rocky_definitions

    assert Context.load(root).run().ok  # creates the views; fills the compile and run caches
    defs = rocky_definitions(root, repair=False)
    assets = list(defs.assets or ())
    rocky: list[tuple[float, float]] = []
    dagster: list[tuple[float, float]] = []
    n = len(Context.load(root).project.models)
    with tempfile.TemporaryDirectory(prefix="rocky-dagster-home-") as home:
        instance = (dg.DagsterInstance.local_temp(home) if sqlite
                    else dg.DagsterInstance.ephemeral())

        def run_rocky() -> None:
            result = Context.load(root).run()
            assert result.ok and len(result.models) == n

        def run_dagster() -> None:
            result = dg.materialize(assets, instance=instance, raise_on_error=True)
            assert len(result.get_asset_materialization_events()) == n

        run_dagster()  # the first Dagster run creates its storage; not counted
        for i in range(repeat):
            first, second = (run_rocky, run_dagster) if i % 2 else (run_dagster, run_rocky)
            _timed(first, rocky if first is run_rocky else dagster)
            _timed(second, rocky if second is run_rocky else dagster)
        instance.dispose()
    return {"rocky": statistics.median(w for w, _ in rocky),
            "dagster": statistics.median(w for w, _ in dagster),
            "rocky_cpu": statistics.median(c for _, c in rocky),
            "dagster_cpu": statistics.median(c for _, c in dagster), "models": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true",
                        help="materialise into an on-disk SQLite Dagster instance")
    args = parser.parse_args()
    n = args.models
    with tempfile.TemporaryDirectory(prefix="rocky-dagster-bench-") as tmp:
        layered = Path(tmp) / "layered"
        generate(layered, n)
        load = bench_load(layered, args.repeat)
        views = Path(tmp) / "views"
        make_project(views, n, "view")
        mat = bench_materialize(views, args.repeat, args.sqlite)
    defs_s = load["call"] + load["resolve"]
    print(f"rocky in Dagster, {n} models, median of {args.repeat}")
    print(f"load (warm): {load['assets']:.0f} assets, {load['checks']:.0f} checks; imports "
          f"{load['imports']:.2f} s + rocky_definitions {load['call']:.2f} s + resolve "
          f"{load['resolve']:.2f} s; whole process {load['process']:.2f} s")
    print(f"  definitions {defs_s:.2f} s wall, {load['cpu']:.2f} s CPU: "
          f"{'meets' if defs_s < 3 else 'MISSES'} the < 3 s target")
    where = "on-disk SQLite" if args.sqlite else "in-memory"
    print(f"materialise {n} views ({where} Dagster instance), ms/model:")
    print(f"  {'':<6}{'rocky run':>10}{'Dagster':>9}{'added':>8}{'ratio':>7}")
    for label, suffix in (("wall", ""), ("cpu", "_cpu")):
        r, d = mat["rocky" + suffix] * 1000 / n, mat["dagster" + suffix] * 1000 / n
        print(f"  {label:<6}{r:>10.2f}{d:>9.2f}{d - r:>8.2f}{d / r:>7.2f}  "
              f"{'meets' if d - r <= 10 else 'MISSES'} the <= 10 ms/model target")


if __name__ == "__main__":
    main()
