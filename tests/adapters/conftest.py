"""The adapter conformance suite's one seam: a fresh, empty warehouse per test, per backend.

Adding a warehouse (Spark, ...) = one entry in :data:`BACKENDS`: a function that makes a
fresh empty warehouse and returns a :class:`Backend` (how to open a connection to it,
and the ``[warehouse]`` table a subprocess uses to open it too). Every test of
``test_conformance.py`` then runs against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.adapters.factory import OpenOptions, open_config


@dataclass
class Backend:
    """One fresh warehouse: ``open()`` gives a new connection (the caller closes it)."""

    name: str
    config: dict[str, Any]  # the [warehouse] table pointing at this warehouse
    root: Path  # a project root: relative paths in ``config`` resolve against it
    env: dict[str, str] = field(default_factory=dict)  # for a subprocess opening it
    # DuckDB: one process at a time holds the file (a subprocess needs ours closed).
    one_process: bool = False

    def open(self) -> WarehouseAdapter:
        from pydantic import TypeAdapter

        from rocky_engine.config import WarehouseConfig

        config = TypeAdapter(WarehouseConfig).validate_python(self.config)
        return open_config(config, OpenOptions(self.root))


def _duckdb(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    return Backend("duckdb", {"type": "duckdb", "path": "w.duckdb"}, tmp_path,
                   one_process=True)


def _postgres(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    server = request.getfixturevalue("pg_server")
    dsn = server.dsn(server.create_database())
    return Backend("postgres", {"type": "postgres", "dsn": dsn}, tmp_path)


def _spark(tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    # The process's one local session (its catalog emptied after each test).
    from tests.sparkfixtures import drop_all_databases

    session = request.getfixturevalue("spark_session")
    request.addfinalizer(lambda: drop_all_databases(session))
    return Backend("spark", {"type": "spark", "master": "local[2]"}, tmp_path)


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Backend]] = {
    "duckdb": _duckdb,
    "postgres": _postgres,
    "spark": _spark,
}


def backends_with(*, transactions: bool = False, any_identifier: bool = False) -> list[str]:
    """The backends a test of a capability applies to, read from the adapter classes; use
    ``@pytest.mark.parametrize("backend", backends_with(...), indirect=True)``. The others
    are not collected for it (not skipped): what they do instead is tested on its own —
    without transactions, the journaled promote and the crash-safe swap; Spark's metastore
    admits only ``[A-Za-z0-9_]`` names, and rocky validates names before building SQL."""
    from rocky_engine.adapters.duckdb import DuckDBAdapter
    from rocky_engine.adapters.postgres import PostgresAdapter
    from rocky_engine.adapters.spark import SparkAdapter

    classes = {"duckdb": DuckDBAdapter, "postgres": PostgresAdapter, "spark": SparkAdapter}
    return [name for name in BACKENDS
            if (not transactions or classes[name].SUPPORTS_TRANSACTIONAL_DDL)
            and (not any_identifier or classes[name].dialect != "spark")]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "spark":
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path, request)


@pytest.fixture
def adapter(backend: Backend) -> Iterator[WarehouseAdapter]:
    """A fresh adapter on an empty warehouse of each backend."""
    a = backend.open()
    try:
        yield a
    finally:
        a.close()
