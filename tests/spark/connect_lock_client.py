"""A rocky writer on a Spark Connect server, run as its own process by
test_spark_connect.py (two of them at once must never hold the writer lock together).

    python tests/spark/connect_lock_client.py sc://127.0.0.1:15002 race 2   # 2 lock turns
    python tests/spark/connect_lock_client.py sc://127.0.0.1:15002 hold     # holds until killed
"""

from __future__ import annotations

import json
import sys
import time

from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.adapters.spark_session import SparkSettings
from rocky_engine.execution import state


def main(url: str, mode: str, turns: int) -> None:
    adapter = SparkAdapter(SparkSettings(remote=url))
    adapter.fetchall("SELECT 1")  # connected before the clock starts
    print("ready", flush=True)
    for _ in range(turns):
        t0 = time.time()
        with state.writer_lock(adapter, "run", target="main", selection="*",
                               timeout=300) as ticket:
            start = time.time()
            print(json.dumps({"waited": start - t0, "start": start,
                              "recovered": ticket.recovered is not None}), flush=True)
            if mode == "hold":
                print("held", flush=True)
                time.sleep(3600)
            time.sleep(0.5)  # "writing"
            end = time.time()
        print(json.dumps({"start": start, "end": end}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
