"""Turn the physical table names of dbt's compiled SQL back into rocky references.

Every table node of the parsed query is matched against the relation of each upstream dbt
node (models become bare names, sources and seeds ``schema.table``), never by string
replacement; CTE names are left alone; an unknown table is a refusal with its name.

    >>> t = Translator({("main", "stg_orders"): "stg_orders", ("raw", "orders"): "raw.orders"},
    ...                "duckdb", "duckdb")
    >>> t.translate('select o.id from "dev"."main"."stg_orders" o join "dev"."raw"."orders" '
    ...             'r on o.id = r.id', "orders").sql
    'SELECT\\n  o.id\\nFROM stg_orders AS o\\nJOIN raw.orders AS r\\n  ON o.id = r.id'
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from rocky_engine.importers.dbt._ir import RelKey, rel_key

# dbt adapter type -> sqlglot dialect.
ADAPTER_DIALECTS = {
    "duckdb": "duckdb", "postgres": "postgres", "redshift": "redshift",
    "snowflake": "snowflake", "bigquery": "bigquery", "spark": "spark",
    "databricks": "databricks", "trino": "trino", "athena": "athena", "clickhouse": "clickhouse",
    "sqlserver": "tsql", "fabric": "tsql", "synapse": "tsql", "mysql": "mysql",
    "oracle": "oracle", "materialize": "postgres", "sqlite": "sqlite",
}


@dataclass(frozen=True)
class Translated:
    sql: str | None
    refused: str | None = None
    upstream: tuple[str, ...] = ()  # rocky references read


class Translator:
    """Map relation keys to rocky references; render the query in the rocky dialect."""

    def __init__(self, relations: dict[RelKey, str], read_dialect: str, write_dialect: str):
        self.relations = relations
        self.read = read_dialect
        self.write = write_dialect

    def translate(self, sql: str, model: str, *, self_key: RelKey | None = None) -> Translated:
        try:
            trees = [t for t in sqlglot.parse(sql, read=self.read) if t is not None]
        except (ParseError, SqlglotError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Translated(None, f"compiled SQL does not parse as {self.read}: {first}")
        if len(trees) != 1 or not isinstance(trees[0], exp.Query):
            return Translated(None, "compiled SQL is not a single SELECT query")
        tree = trees[0]
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        upstream: list[str] = []
        for table in list(tree.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                continue  # a table function (read_csv(...), range(...)) stays as it is
            name, schema = table.name, table.db
            if not schema and name.lower() in ctes:
                continue
            if not schema:
                return Translated(None, f"reads `{name}`, which is not a dbt model, source or "
                                  "seed (a hard-coded table name)")
            key = rel_key(schema, name)
            if self_key is not None and key == self_key:
                return Translated(None, "reads its own table ({{ this }}), as an incremental "
                                  "run does: compile with `dbt compile --full-refresh` (or "
                                  "without the table present) for the full-build query")
            ref = self.relations.get(key)
            if ref is None:
                return Translated(None, f"reads {'.'.join(p for p in (table.catalog, schema, name) if p)}, "
                                  "which is not a dbt model, source or seed of this project")
            upstream.append(ref)
            table.replace(_rocky_table(ref, table, name))
        try:
            # copy=False: the tree is ours; the generator's defensive deep copy was half the
            # import time of a 1,000-model project.
            out = tree.sql(dialect=self.write, pretty=True, copy=False)
        except SqlglotError as exc:
            return Translated(None, f"cannot render the query in {self.write}: {exc}")
        return Translated(out, None, tuple(dict.fromkeys(upstream)))


def _rocky_table(ref: str, old: exp.Table, old_name: str) -> exp.Table:
    parts = ref.split(".")
    new = exp.Table(this=exp.to_identifier(parts[-1]),
                    db=exp.to_identifier(parts[0]) if len(parts) == 2 else None)
    alias = old.args.get("alias")
    if alias is not None:
        new.set("alias", alias.copy())
    elif old_name.lower() != parts[-1].lower():
        # Columns qualified with dbt's table name (an alias config) keep resolving.
        new.set("alias", exp.TableAlias(this=exp.to_identifier(old_name)))
    for key in ("joins", "laterals", "pivots", "hints", "sample", "version", "when"):
        if old.args.get(key) is not None:
            new.set(key, old.args[key])
    return new
