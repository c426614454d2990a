"""End to end through a real Spark Connect server (started from the pyspark package here):
seed, run, test, drift, and a promote killed with kill -9 by a client process that the
next client's command finishes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .connect_server import connect_server

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with connect_server(tmp_path_factory.mktemp("connect")) as url:
        yield url


def test_seed_run_test_drift_and_killed_promote_through_spark_connect(
        connect_url: str, tmp_path: Path) -> None:
    """The scenario (tests/spark/connect_e2e.py) runs as a Spark Connect client process."""
    script = Path(__file__).with_name("connect_e2e.py")
    proc = subprocess.run([sys.executable, str(script), connect_url, str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=1400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("connect e2e ok")
