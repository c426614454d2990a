"""The Spark Connect writer lock's primitive (a marker table only one process can create),
exercised on the local session: two adapters stand for two processes (each has its own
token, as two processes would). Two real processes through a real Spark Connect server:
tests/spark/test_spark_connect.py."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from rocky_engine.adapters import spark_lock
from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.errors import LockTimeout
from rocky_engine.execution import state

pytestmark = [pytest.mark.slow]


def _marker(spark: SparkAdapter, host: str, pid: int, token: str = "deadbeef") -> None:
    spark.execute("CREATE DATABASE IF NOT EXISTS `_rocky`")
    spark.execute("CREATE TABLE `_rocky`.`lock__writer` (held INT) USING parquet TBLPROPERTIES "
                  f"('rocky.holder' = '{token}', 'rocky.who' = 'someone', "
                  f"'rocky.host' = '{host}', 'rocky.pid' = '{pid}', "
                  "'rocky.since' = '2026-01-01 00:00:00 UTC')")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_one_holder_at_a_time_and_only_the_holder_releases(spark: SparkAdapter) -> None:
    other = SparkAdapter(spark.settings)
    assert spark.try_advisory_lock("writer")
    assert not other.try_advisory_lock("writer")
    held_by = other.advisory_holder("writer")
    assert held_by is not None and socket.gethostname() in held_by
    other.advisory_unlock("writer")  # not its lock: nothing happens
    assert not other.try_advisory_lock("writer")
    spark.advisory_unlock("writer")
    assert other.advisory_holder("writer") is None
    assert other.try_advisory_lock("writer")
    other.advisory_unlock("writer")


def test_a_dead_holder_on_this_host_is_taken_over_once(spark: SparkAdapter) -> None:
    _marker(spark, socket.gethostname(), _dead_pid())
    dead = spark_lock.holder_of(spark, "writer")
    assert dead is not None and dead.token == "deadbeef"
    assert not spark.try_advisory_lock("writer")  # moves the dead marker out of the way
    assert spark.try_advisory_lock("writer")
    assert "lock__writer__dead_deadbeef" in spark.relations("_rocky")
    # A second waiter that saw the same dead holder cannot move the live marker.
    spark_lock._take_over(SparkAdapter(spark.settings), "writer", dead)
    holder = spark_lock.holder_of(spark, "writer")
    assert holder is not None and holder.token == spark._locks["writer"]
    spark.advisory_unlock("writer")


def test_a_holder_on_another_host_is_named_with_how_to_clear_it(spark: SparkAdapter) -> None:
    _marker(spark, "elsewhere.example", 4242)
    spark.SUPPORTS_ADVISORY_LOCK = True  # as on Spark Connect
    with pytest.raises(LockTimeout) as info:
        state.acquire_lock(spark, "r1", "run", timeout=0.3, poll=0.1)
    assert "someone on elsewhere.example (PID 4242)" in info.value.message
    assert "DROP TABLE `_rocky`.`lock__writer`" in (info.value.hint or "")
    spark.execute("DROP TABLE `_rocky`.`lock__writer`")
    # The writer lock through the marker: taken, held against a second writer, released.
    second = SparkAdapter(spark.settings)
    second.SUPPORTS_ADVISORY_LOCK = True
    with state.writer_lock(spark, "run", target="main", selection="*", timeout=1), \
            pytest.raises(LockTimeout):
        state.acquire_lock(second, "r2", "run", timeout=0.3, poll=0.1)
    assert spark_lock.holder_of(spark, "writer") is None
