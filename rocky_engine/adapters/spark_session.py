"""Spark sessions for the Spark adapter: an in-process engine or a Spark Connect client.

Local mode (``master = "local[N]"``) starts a JVM inside the rocky process. Its catalog
(a Derby metastore) and its tables live under the project's ``target/spark/``, so they
persist between rocky commands, and nothing is written to the current directory or the
home folder. The JVM's own output (log4j, progress bars, Java warnings) goes to
``target/spark/spark.log``: Spark's noise never reaches rocky's output.

A start costs seconds, so a process keeps one session and every adapter in it shares
it (the tests rely on that: one session per test process). Spark Connect
(``remote = "sc://host:15002"``) is a thin client; the server owns the catalog.

    >>> settings = SparkSettings(master="local[2]", home=Path("target/spark"))  # doctest: +SKIP
    >>> spark = get_session(settings)                                            # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocky_engine.errors import ConfigError, Location, WarehouseError

INSTALL_HINT = "pip install 'rocky-intent[spark]'"

# Written once per home: Spark reads it at JVM start through -Dlog4j2.configurationFile.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
"""


@dataclass(frozen=True)
class SparkSettings:
    """Where a session comes from: exactly one of ``master`` / ``remote``."""

    master: str | None = None
    remote: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    home: Path | None = None  # local mode: the catalog, tables and log live here

    @property
    def local(self) -> bool:
        return self.remote is None


_LOCK = threading.Lock()
# One session per kind: "local" (one JVM per process, whatever project asks) and one per
# Spark Connect URL.
_SESSIONS: dict[str, Any] = {}
_HOME_LOCK: Any = None  # an open file holding the flock on the local home


def require_pyspark(remote: bool = False) -> None:
    """Raise a one-line :class:`ConfigError` naming what to install when pyspark is missing."""
    try:
        import pyspark  # noqa: F401
        if remote:
            import grpc  # noqa: F401
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"this project's warehouse is Spark, which needs pyspark ({exc.name} is not "
            "installed)", location=Location("rocky.toml"),
            hint=INSTALL_HINT,
        ) from None


def get_session(settings: SparkSettings) -> Any:
    """The process's Spark session for ``settings`` (started on first use).

    Local mode: a JVM has one catalog, so a second project in the same process (tests)
    shares the first one's session and catalog.
    """
    require_pyspark(remote=not settings.local)
    _quiet_python_loggers()
    key = settings.remote or "local"
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None and _alive(session):
            _apply_runtime_conf(session, settings.conf)
            return session
        session = _connect(settings) if settings.remote else _start_local(settings)
        _SESSIONS[key] = session
        return session


def _quiet_python_loggers() -> None:
    # pyspark logs every SQL error as JSON on stderr before raising it; rocky reports the
    # error itself, as one line naming the model.
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)


def active_session() -> Any:
    """The process's local session if one is running (tests, benchmarks), else None."""
    session = _SESSIONS.get("local")
    return session if session is not None and _alive(session) else None


def stop_session() -> None:
    """Stop every session of the process (a local JVM also exits with the process)."""
    global _HOME_LOCK
    with _LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
        for session in sessions:
            # Stopping a dead session is not an error.
            with contextlib.suppress(Exception), _quiet_fds(None):
                session.stop()
        if _HOME_LOCK is not None:
            _HOME_LOCK.close()
            _HOME_LOCK = None


def _alive(session: Any) -> bool:
    try:
        if getattr(session, "is_stopped", False):
            return False
        ctx = getattr(session, "_sc", None)
        return ctx is None or getattr(ctx, "_jsc", None) is not None
    except Exception:  # noqa: BLE001
        return False


def _apply_runtime_conf(session: Any, conf: Mapping[str, str]) -> None:
    for key, value in conf.items():
        with contextlib.suppress(Exception):  # static settings only apply at start
            session.conf.set(key, str(value))


def _probe(url: str, timeout: float = 10.0) -> None:
    """Fail fast when nothing listens at a Spark Connect URL (the client would retry for
    ten minutes)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url.split(";", 1)[0].replace("sc://", "http://", 1))
    host, port = parts.hostname or "localhost", parts.port or 15002
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise WarehouseError(
            f"cannot reach Spark Connect server {url}: {exc.strerror or exc}",
            hint="check [warehouse] remote and that the server is running "
                 "(sbin/start-connect-server.sh)",
        ) from None


def _connect(settings: SparkSettings) -> Any:
    from pyspark.sql import SparkSession

    _probe(settings.remote or "")
    builder = SparkSession.builder.remote(settings.remote or "")
    try:
        session = builder.getOrCreate()
        _apply_runtime_conf(session, settings.conf)
        session.sql("SELECT 1").collect()  # connects now: an unreachable server fails here
        atexit.register(stop_session)
    except Exception as exc:  # noqa: BLE001 - grpc and pyspark raise many kinds
        raise WarehouseError(
            f"cannot reach Spark Connect server {settings.remote}: {first_line(exc)}",
            hint="check [warehouse] remote and that the server is running "
                 "(sbin/start-connect-server.sh)",
        ) from None
    return session


def _take_home_lock(home: Path) -> None:
    """One rocky process at a time on a local catalog (Derby admits one JVM)."""
    global _HOME_LOCK
    from rocky_engine.adapters.base import WarehouseBusy

    home.mkdir(parents=True, exist_ok=True)
    handle = open(home / "rocky.lock", "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise WarehouseBusy(
            f"the local Spark catalog {home} is in use by {holder}",
            holder=holder,
            hint="another rocky command on this project is running; wait for it to finish",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"PID {os.getpid()}")
    handle.flush()
    _HOME_LOCK = handle


def _start_local(settings: SparkSettings) -> Any:
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    home = (settings.home or Path("target/spark")).resolve()
    _take_home_lock(home)
    log = home / "spark.log"
    log4j = home / "log4j2.properties"
    text = _LOG4J2.format(log=log)
    if not log4j.exists() or log4j.read_text() != text:
        log4j.write_text(text)
    metastore = home / "metastore_db"
    java_opts = " ".join([
        f"-Dderby.system.home={home}",
        f"-Dderby.stream.error.file={home / 'derby.log'}",
        f"-Dlog4j2.configurationFile=file:{log4j}",
        f"-Djava.io.tmpdir={home / 'tmp'}",
    ])
    (home / "tmp").mkdir(exist_ok=True)
    conf = SparkConf()
    for key, value in {
        "spark.master": settings.master or "local[2]",
        "spark.app.name": "rocky",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={metastore};create=true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.local.dir": str(home / "tmp"),
        "spark.sql.shuffle.partitions": "4",
        **{k: str(v) for k, v in settings.conf.items()},
    }.items():
        conf.set(key, value)
    try:
        with _quiet_fds(log):
            session = SparkSession.builder.config(conf=conf).getOrCreate()
            session.sparkContext.setLogLevel("ERROR")
            session.sql("SHOW DATABASES").collect()  # boots the metastore now, not mid-run
    except Exception as exc:  # noqa: BLE001 - a JVM that does not start raises anything
        raise WarehouseError(
            f"cannot start Spark ({settings.master}): {first_line(exc)}",
            hint=f"Spark needs Java 17 or later (java on PATH or JAVA_HOME); see {log}",
        ) from None
    atexit.register(stop_session)
    return session


class _quiet_fds:
    """Send this process's stdout/stderr file descriptors to ``log`` for the block.

    A child started meanwhile (the JVM) keeps the redirected descriptors for its life;
    Python's own ``sys.stdout`` is flushed before and after and is back afterwards.
    """

    def __init__(self, log: Path | None) -> None:
        self.log = log
        self.saved: list[int] = []

    def __enter__(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        target = os.open(self.log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for fd in (1, 2):
                self.saved.append(os.dup(fd))
                os.dup2(target, fd)
        finally:
            os.close(target)

    def __exit__(self, *exc: object) -> None:
        for fd, saved in zip((1, 2), self.saved, strict=False):
            os.dup2(saved, fd)
            os.close(saved)


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a Spark/JVM error (no stack, no plan)."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("JVM stacktrace", "at ", "==")):
            return line
    return type(exc).__name__
