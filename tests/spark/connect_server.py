"""A real Spark Connect server for tests, started from the pyspark package and stopped after.

    >>> with connect_server(tmp_path) as url:      # doctest: +SKIP
    ...     url
    'sc://127.0.0.1:41235'

The server runs in the foreground of its own process group (``--wait``) with its catalog,
logs and temporary files under ``home``; leaving the block kills the group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.sparkfixtures import TINY_DATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def connect_server(home: Path, *, timeout: float = 240) -> Iterator[str]:
    import pyspark

    spark_home = Path(pyspark.__file__).resolve().parent
    port = _free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOG_DIR": str(home / "logs"),
           "SPARK_PID_DIR": str(home), "SPARK_CONF_DIR": str(home / "conf")}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    (home / "conf").mkdir(exist_ok=True)
    (home / "conf" / "log4j2.properties").write_text(
        "rootLogger.level = error\nrootLogger.appenderRef.stdout.ref = console\n"
        "appender.console.type = Console\nappender.console.name = console\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d %p %c{1}: %m%n\n")
    confs = {
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            "jdbc:derby:memory:rocky_connect;create=true",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        **TINY_DATA,
        "spark.local.dir": str(home / "tmp"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
    }
    command = [str(spark_home / "sbin" / "start-connect-server.sh"), "--wait",
               "--master", "local[2]"]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the Spark Connect server exited: "
                                   + (home / "server.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Spark Connect server did not listen within {timeout}s")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        log.close()
