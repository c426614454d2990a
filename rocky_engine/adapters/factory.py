"""The one place a warehouse adapter is constructed: :func:`open_adapter`.

The engine (Context, execution, drift) never names an adapter class; it asks the factory
for the project's ``[warehouse]`` and talks to the
:class:`~rocky_engine.adapters.base.WarehouseAdapter` it gets back.

    >>> adapter = open_adapter(project)                       # doctest: +SKIP
    >>> adapter.dialect                                       # doctest: +SKIP
    'postgres'

A new warehouse registers an opener for its ``type`` in :data:`OPENERS`: a function
``(config, options) -> adapter``. Missing optional drivers fail with one line naming
the extra to install (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocky_engine.errors import ConfigError, Location

if TYPE_CHECKING:
    from rocky_engine.adapters.base import WarehouseAdapter
    from rocky_engine.project import Project


@dataclass(frozen=True)
class OpenOptions:
    """How to open: ``root`` resolves relative paths; the rest as for DuckDB's adapter.

    ``read_only``/``sandboxed``/``create`` are honoured where the warehouse has such a
    notion (an embedded file); a server warehouse ignores them.
    """

    root: Path
    read_only: bool = False
    sandboxed: bool = False
    create: bool = True


Opener = Callable[[Any, OpenOptions], "WarehouseAdapter"]


def _open_duckdb(config: Any, options: OpenOptions) -> WarehouseAdapter:
    from rocky_engine.adapters.duckdb import DuckDBAdapter

    path = Path(config.path)
    path = path if path.is_absolute() else (options.root / path)
    return DuckDBAdapter(path.resolve(), read_only=options.read_only,
                         sandboxed=options.sandboxed, create=options.create)


def _open_postgres(config: Any, options: OpenOptions) -> WarehouseAdapter:
    try:
        from rocky_engine.adapters.postgres import PostgresAdapter
    except ImportError:
        raise ConfigError(
            "this project's warehouse is PostgreSQL, which needs psycopg 3",
            location=Location("rocky.toml"),
            hint="pip install 'rocky-intent[postgres]'",
        ) from None
    return PostgresAdapter(postgres_dsn(config))


def postgres_dsn(config: Any) -> str:
    """The DSN of a ``type = "postgres"`` warehouse: ``dsn``, else ``$<dsn_env>``, else
    empty (libpq's PG* environment variables decide)."""
    if config.dsn_env:
        value = os.environ.get(config.dsn_env)
        if value is None:
            raise ConfigError(
                f"environment variable {config.dsn_env} (named by [warehouse] dsn_env) is "
                "not set", location=Location("rocky.toml"),
                hint=f"export {config.dsn_env}='postgresql://user@host:5432/db'")
        return value
    return config.dsn or ""


def _open_spark(config: Any, options: OpenOptions) -> WarehouseAdapter:
    from rocky_engine.adapters.spark_session import SparkSettings, require_pyspark

    require_pyspark(remote=config.remote is not None)
    from rocky_engine.adapters.spark import SparkAdapter

    # Local mode keeps its catalog (metastore, tables, log) under the project's target/.
    return SparkAdapter(SparkSettings(
        master=None if config.remote else (config.master or "local[2]"),
        remote=config.remote, conf={k: str(v) for k, v in config.conf.items()},
        home=(options.root / "target" / "spark").resolve()))


OPENERS: dict[str, Opener] = {
    "duckdb": _open_duckdb,
    "postgres": _open_postgres,
    "spark": _open_spark,
}


def open_adapter(project: Project, *, duckdb_path: Path | None = None,
                 read_only: bool = False, sandboxed: bool = False,
                 create: bool = True) -> WarehouseAdapter:
    """An open adapter for ``project``'s ``[warehouse]`` (the caller closes it).

    ``duckdb_path`` opens that local DuckDB file instead, whatever the configured
    warehouse (the agent's sandbox copy, a test's scratch file).
    """
    options = OpenOptions(project.root, read_only, sandboxed, create)
    if duckdb_path is not None:
        from rocky_engine.config import DuckDBWarehouse

        return _open_duckdb(DuckDBWarehouse(path=str(duckdb_path)), options)
    config = project.config.warehouse
    return open_config(config, options)


def open_config(config: Any, options: OpenOptions) -> WarehouseAdapter:
    """An adapter for one ``[warehouse]`` config (as :func:`open_adapter`)."""
    opener = OPENERS.get(config.type)
    if opener is None:  # pragma: no cover - the config union admits only known types
        raise ConfigError(f"no adapter for warehouse type {config.type!r}")
    return opener(config, options)


def warehouse_dialect(project: Project) -> str:
    """The SQL dialect of the project's warehouse, without connecting to it."""
    return DIALECTS.get(project.config.warehouse.type, project.dialect)


# sqlglot dialect of each warehouse type (known before connecting: `rocky compile`).
DIALECTS: dict[str, str] = {"duckdb": "duckdb", "postgres": "postgres", "spark": "spark"}
