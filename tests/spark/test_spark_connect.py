"""End to end through a real Spark Connect server (started from the pyspark package here,
once for the module): seed, run, test, a promote killed with kill -9 by a client process
that the next client's command finishes, drift, and repair; two writer processes on the
same server taking turns at the writer lock. Both run first (``first``): they are the
suite's longest.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .connect_server import connect_server

pytestmark = [pytest.mark.slow, pytest.mark.first]


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with connect_server(tmp_path_factory.mktemp("connect")) as url:
        yield url


def test_seed_run_test_drift_and_killed_promote_through_spark_connect(
        connect_url: str, tmp_path: Path) -> None:
    """The scenario (tests/spark/connect_e2e.py: seed, run, test, killed promote, drift,
    repair) runs as a Spark Connect client process."""
    script = Path(__file__).with_name("connect_e2e.py")
    proc = subprocess.run([sys.executable, str(script), connect_url, str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=1400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("connect e2e ok")


def test_two_writers_on_one_spark_connect_server_take_turns(connect_url: str) -> None:
    """Two rocky processes on one server: never both inside the writer lock; a holder
    killed with kill -9 is taken over by the next writer on its host (not after the
    timeout)."""
    script = [sys.executable, str(Path(__file__).with_name("connect_lock_client.py")),
              connect_url]
    holder = subprocess.Popen([*script, "hold"], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 600
        while "held" not in lines:
            line = holder.stdout.readline().strip()  # type: ignore[union-attr]
            assert line or holder.poll() is None, "the holder exited before taking the lock"
            lines.append(line)
            assert time.monotonic() < deadline
        os.kill(holder.pid, signal.SIGKILL)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=60)
    racers = [subprocess.Popen([*script, "race", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    spans, recovered, waited = [], 0, []
    try:
        for proc in racers:
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, out[-2000:] + err[-2000:]
            for line in out.splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    if "end" in row:
                        spans.append((row["start"], row["end"]))
                    else:
                        recovered += row["recovered"]
                        waited.append(row["waited"])
    finally:
        for proc in racers:  # a failed racer must not leave the other one waiting
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    assert len(spans) == 4
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans  # never together
    assert recovered == 1  # the killed holder's lock row, taken over once
    assert max(waited) < 120  # the dead holder's marker did not hold anyone to the timeout
