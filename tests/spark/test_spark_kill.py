"""kill -9 on real Spark (local mode): an incremental merge killed mid-swap loses nothing.

Spark has no transactions: a merge writes the merged table under a scratch name and swaps
it in (stored table renamed aside, merged one renamed in, aside copy dropped). The run is
killed at the worst moment — the stored table set aside, the model's name empty — and
the next writing command must put the previous table back; the rerun then merges.
The every-step version of this runs on DuckDB without transactions
(tests/execution/test_swap_recovery.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.first]

SCRIPT = Path(__file__).with_name("spark_kill_merge.py")


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """The killed process's JVM exits once its stdin closes; make sure it has (and let go
    of the catalog's files) before the next process opens them."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(1)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=60)


def test_kill_9_mid_merge_on_spark_restores_the_previous_table(tmp_path: Path) -> None:
    marker = tmp_path / "at_swap"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "build", str(tmp_path), str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never reached its swap"
            time.sleep(0.1)
        assert marker.read_text() == "aside:events_inc"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        _end_group(proc)
    assert proc.returncode == -signal.SIGKILL
    done = subprocess.run([sys.executable, str(SCRIPT), "check", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    got = json.loads(line.removeprefix("RESULT "))
    # Killed: the stored table set aside, the merged one and the batch still scratch.
    assert got["killed"] == ["events_inc__rocky_batch", "events_inc__rocky_old",
                             "events_inc__rocky_tmp"], got
    assert got["aside_rows"] is True
    assert ["events_inc", "restored"] in got["swaps"], got
    assert ["events_inc__rocky_tmp", "dropped_scratch"] in got["swaps"], got
    assert got["lock_recovered"] is True and got["restored_rows"] is True
    assert got["rerun"] == [True, "incremental", 50, 1], got
    assert got["rows_expected"] is True and got["interrupted"] is True
    assert got["left"] == []
