"""What dbt asks the warehouse while compiling, answered where the answer needs no data.

Packages such as dbt_utils ask the warehouse two kinds of question while a model compiles:

- *which columns does this relation have* (``adapter.get_columns_in_relation``, behind
  ``star``, ``deduplicate``): for a seed the CSV header says it, for a model its own SQL
  does. ``ScratchCatalog`` builds seeds and models (as views) in an in-memory DuckDB that
  holds nothing else and reads the columns back. A source's columns are only known to the
  warehouse (its yml may list a few), so asking about one refuses the model.
- *what does this query return* (``statement`` / ``run_query``, behind ``date_spine``): a
  query that reads no table and calls nothing volatile returns the same in any DuckDB, so
  ``constant_query`` runs it in a fresh, sandboxed in-memory one. One that reads a table
  (``get_column_values``) or depends on the clock refuses the model.

Both run only for DuckDB projects: another warehouse's SQL would answer differently.

    >>> ScratchCatalog("dev").constant_query("select 1 + 1 as two")
    (['two'], [(2,)])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import WarehouseError

# Functions whose value changes between runs: freezing one at import time would be a guess.
_VOLATILE = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Rand)
_VOLATILE_NAMES = {"now", "today", "random", "uuid", "gen_random_uuid", "get_current_time",
                   "get_current_timestamp", "current_localtimestamp", "current_localtime",
                   "transaction_timestamp", "clock_timestamp", "setseed", "nextval"}


class ScratchError(Exception):
    """The question cannot be answered without the warehouse (the message says why)."""


class ScratchCatalog:
    """An in-memory DuckDB holding the project's seeds and models as far as they are asked for."""

    def __init__(self, database: str) -> None:
        self.database = database or "memory"
        self._db: DuckDBAdapter | None = None
        self._built: set[tuple[str, str]] = set()

    def _conn(self) -> DuckDBAdapter:
        if self._db is None:
            self._db = DuckDBAdapter(":memory:")
            if self.database.lower() != "memory":
                q = _q(self.database)
                self._db.execute(f"ATTACH ':memory:' AS {q}")
                self._db.execute(f"USE {q}")
        return self._db

    def has(self, schema: str, name: str) -> bool:
        return (schema.lower(), name.lower()) in self._built

    def add_seed(self, schema: str, name: str, columns: Sequence[tuple[str, str]], csv: Path) -> None:
        db = self._conn()
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
        try:
            db.load_csv(schema, name, columns, csv)
        except WarehouseError as exc:
            raise ScratchError(f"cannot load seed {csv.name}: {exc.message}") from None
        self._built.add((schema.lower(), name.lower()))

    def add_view(self, schema: str, name: str, sql: str) -> None:
        db = self._conn()
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
        try:
            db.execute(f"CREATE OR REPLACE VIEW {_q(schema)}.{_q(name)} AS {sql}")
        except WarehouseError as exc:
            raise ScratchError(f"its SQL does not bind in DuckDB: {exc.message}") from None
        self._built.add((schema.lower(), name.lower()))

    def columns(self, schema: str, name: str) -> list[str]:
        names, _ = self._conn().fetch_with_columns(
            f"SELECT * FROM {_q(schema)}.{_q(name)} LIMIT 0")
        return names

    def constant_query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query that reads no table and calls nothing volatile; else ``ScratchError``."""
        try:
            trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
        except sqlglot.errors.ParseError as exc:
            raise ScratchError(f"its SQL does not parse: {str(exc).splitlines()[0]}") from None
        if len(trees) != 1:
            raise ScratchError("it runs more than one statement")
        tree = trees[0]
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        tables = sorted({t.sql(dialect="duckdb") for t in tree.find_all(exp.Table)
                         if t.name and t.name.lower() not in ctes})
        if tables or not isinstance(tree, exp.Query):
            raise ScratchError(f"it queries {', '.join(tables) or 'the warehouse'}")
        for node in tree.walk():
            name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
            if isinstance(node, _VOLATILE) or name in _VOLATILE_NAMES:
                raise ScratchError(f"its result depends on when it runs ({node.sql('duckdb')}): "
                                   "dbt computes it at each compile, an import would freeze it")
        # A fresh connection with nothing in it: no seed or view of the catalog above can answer
        # (their rows are not the warehouse's), and no file or network access.
        with DuckDBAdapter(":memory:") as db:
            db.sandbox()
            try:
                return db.fetch_with_columns(sql)
            except WarehouseError as exc:
                raise ScratchError(f"DuckDB could not run it alone: {exc.message}") from None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
