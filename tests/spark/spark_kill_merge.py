"""The kill -9 mid-merge scenario on Spark local mode, run as child processes of
test_spark_kill.py (a killed process must own its JVM; the catalog is the project's own,
under ``target/spark``, so the next process finds it).

    python tests/spark/spark_kill_merge.py build <tmp> <marker>   # killed at the swap
    python tests/spark/spark_kill_merge.py check <tmp>            # recovers, merges again
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rocky_engine.adapters import swap
from rocky_engine.adapters.spark_session import SparkSettings
from rocky_engine.execution import incremental, state
from rocky_engine.execution.state import run_history
from tests.execution.incremental_helpers import (
    T0,
    IncrProject,
    SparkWarehouse,
    ev,
    sidecar,
)
from tests.sparkfixtures import TINY_DATA


def _project(tmp: Path, *, create: bool) -> IncrProject:
    root = tmp / "proj"
    # The same catalog a `rocky` command on this project opens (target/spark).
    SparkWarehouse.settings = SparkSettings(master="local[2]", home=root / "target" / "spark",
                                            conf={"spark.sql.shuffle.partitions": "1",
                                                  **TINY_DATA})
    if create:
        return IncrProject(tmp, "spark", sidecar("merge"))
    p = IncrProject.__new__(IncrProject)
    p.root, p.wh = root, SparkWarehouse(root)
    return p


def _json(rows: list[tuple[Any, ...]]) -> list[list[str]]:
    return [[str(v) for v in r] for r in rows]


def build(tmp: Path, marker: Path) -> None:
    p = _project(tmp, create=True)
    p.insert([ev(i, i) for i in range(1, 101)])
    assert p.run().ok
    (tmp / "before.json").write_text(json.dumps(_json(p.rows())))
    p.insert([ev(i, i) for i in range(101, 151)])
    p.update(7, 777, T0 + timedelta(minutes=500))

    def pause(label: str) -> None:
        # The merged table is complete; the stored one has just been set aside.
        if label == "aside:events_inc":
            marker.write_text(label)
            time.sleep(600)

    def too_late(model: str) -> None:
        marker.write_text("after the swap: the kill would not be mid-merge")
        time.sleep(600)

    swap.after_step = pause
    incremental.after_apply = too_late
    p.run()


def check(tmp: Path) -> None:
    p = _project(tmp, create=False)
    before = json.loads((tmp / "before.json").read_text())
    out: dict[str, Any] = {}
    with p.wh.connect() as a:
        out["killed"] = sorted(n for n in a.relations("main") if n.startswith("events_inc"))
        out["aside_rows"] = _json(p.rows("main.events_inc__rocky_old")) == before
        # The next writing command (here: just taking the writer lock) restores it.
        with state.writer_lock(a, "run", target="main", selection="*", timeout=5) as ticket:
            out["swaps"] = [(s.name, s.action) for s in ticket.swaps]
            out["lock_recovered"] = ticket.recovered is not None
    out["restored_rows"] = _json(p.rows()) == before
    result = p.run()
    m = result.models[0]
    out["rerun"] = [result.ok, m.mode, m.inserted, m.updated]
    out["rows_expected"] = p.rows() == p.expected()
    with p.wh.connect() as a:
        out["interrupted"] = any(h.status == "interrupted" for h in run_history(a))
        out["left"] = sorted(n for n in a.relations("main") if "__rocky_" in n)
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        check(Path(sys.argv[2]))
