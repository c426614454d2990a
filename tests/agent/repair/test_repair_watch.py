"""`rocky watch`: poll, repair once per distinct drift, stop cleanly between cycles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from repair_helpers import alter_warehouse

from intent_agent.watch import Cycle, parse_interval, watch
from rocky_engine.errors import UsageError


@dataclass
class _Result:
    status: str = "validated"
    branch: str | None = "rocky/repair-x"
    pr_url: str | None = None


class _FakeRepairer:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, root: Path, **kwargs: Any) -> _Result:
        self.calls.append(root)
        return _Result()


@pytest.mark.parametrize("text,seconds", [("5m", 300), ("30s", 30), ("1h30m", 5400),
                                          ("2", 2), ("0.5", 0.5), ("1d", 86400)])
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "-1", "0", "5m5"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_interval(text)


def test_repairs_once_per_distinct_drift(shop_repo: Path) -> None:
    repairer = _FakeRepairer()
    seen: list[Cycle] = []

    def on_cycle(cycle: Cycle) -> None:
        seen.append(cycle)
        if cycle.number == 1:
            alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
        if cycle.number == 3:
            alter_warehouse(shop_repo, "ALTER TABLE raw.orders ADD COLUMN coupon VARCHAR")

    summary = watch(shop_repo, interval=0.01, max_cycles=4, repairer=repairer,
                    on_cycle=on_cycle)
    assert [c.action for c in summary.cycles] == ["no_drift", "repaired", "skipped", "repaired"]
    assert len(repairer.calls) == 2
    assert summary.cycles[1].drift != summary.cycles[3].drift
    assert summary.stopped_by == "max_cycles"
    assert "already handled" in summary.cycles[2].render()
    # A new watcher remembers what was handled.
    again = watch(shop_repo, interval=0.01, max_cycles=1, repairer=repairer)
    assert [c.action for c in again.cycles] == ["skipped"]
    assert len(repairer.calls) == 2
    state = json.loads((shop_repo / ".rocky" / "watch" / "state.json").read_text())
    assert len(state["handled"]) == 2


def test_cli_json_and_errors_are_logged(shop_repo: Path, run_cli) -> None:
    res = run_cli("watch", "--project", str(shop_repo), "--interval", "0.01", "--max-cycles",
                  "2", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [c["action"] for c in data["cycles"]] == ["no_drift", "no_drift"]
    assert data["stopped_by"] == "max_cycles"
    assert res.stderr.count("cycle") == 2
    (shop_repo / "warehouse.duckdb").unlink()
    res = run_cli("watch", "--project", str(shop_repo), "--interval", "1s", "--max-cycles", "1")
    assert res.exit_code == 1
    assert "error" in res.stderr
    bad = run_cli("watch", "--project", str(shop_repo), "--interval", "soon")
    assert bad.exit_code == 2 and "invalid interval" in bad.stderr


@pytest.mark.slow
def test_sigterm_stops_between_cycles(shop_repo: Path) -> None:
    rocky = Path(sys.executable).parent / "rocky"
    proc = subprocess.Popen([str(rocky), "watch", "--project", str(shop_repo), "--interval",
                             "60s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 60
        state = shop_repo / ".rocky"
        # Wait for the first cycle to be logged (stderr), then ask it to stop.
        line = ""
        while time.monotonic() < deadline:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            if "cycle 1" in line:
                break
        assert "no drift" in line, line
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert time.monotonic() - started < 10  # did not wait out the 60 s interval
    assert "stopped (signal) after 1 cycle" in out
    assert not (state / "watch" / "state.json").exists()
