"""What the importer reads from a dbt project, whichever path read it (manifest or Jinja).

Both paths fill the same frozen records; everything after them (reference translation,
mapping, writing, the report) is shared, so the two paths give one result.

    >>> rel_key("MAIN", "Orders")
    ('main', 'orders')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RelKey = tuple[str, str]  # (schema, identifier), lower-case: how dbt names a table


def rel_key(schema: str, identifier: str) -> RelKey:
    return (schema.lower(), identifier.lower())


@dataclass(frozen=True)
class DbtColumn:
    name: str
    description: str = ""
    data_type: str | None = None


@dataclass(frozen=True)
class DbtTest:
    """A generic data test attached to a model (or source / seed), as dbt declares it."""

    test: str                 # unique, not_null, accepted_values, relationships, ...
    namespace: str | None     # None for dbt's own tests, else the package (dbt_utils)
    attached: str             # model name, or `source:<src>.<table>`, or `seed:<name>`
    column: str | None
    kwargs: dict[str, Any]
    severity: str = "error"
    where: str | None = None
    file: str = ""
    name: str = ""            # dbt's unique test name, for the report


@dataclass(frozen=True)
class DbtUnitTest:
    name: str
    model: str
    given: tuple[tuple[str, str, tuple[dict[str, Any], ...]], ...]  # (input, format, rows)
    expect_format: str
    expect: tuple[dict[str, Any], ...]
    overrides: bool = False
    file: str = ""


@dataclass(frozen=True)
class DbtModel:
    name: str
    package: str
    file: str                 # the dbt file, relative to the dbt project
    relation: RelKey
    materialized: str
    sql: str | None           # compiled SQL naming physical relations; None when refused
    refusal: str | None = None
    line: int = 1             # where the refusal points in `file`
    description: str = ""
    columns: tuple[DbtColumn, ...] = ()
    schema_file: str = ""     # the yml file with its description and tests
    notes: tuple[str, ...] = ()
    ephemeral_ctes: tuple[str, ...] = ()  # ephemeral models dbt inlined into this one
    incremental: dict[str, Any] = field(default_factory=dict)  # unique_key, strategy, ...


@dataclass(frozen=True)
class DbtSource:
    source: str               # dbt source name (`source('raw', ...)`'s first argument)
    name: str                 # table name in dbt
    schema: str
    identifier: str
    file: str
    description: str = ""
    source_description: str = ""
    columns: tuple[DbtColumn, ...] = ()

    @property
    def relation(self) -> RelKey:
        return rel_key(self.schema, self.identifier)


@dataclass(frozen=True)
class DbtSeed:
    name: str
    schema: str
    identifier: str
    csv: str                  # path relative to the dbt project
    column_types: dict[str, str] = field(default_factory=dict)
    description: str = ""
    columns: tuple[DbtColumn, ...] = ()

    @property
    def relation(self) -> RelKey:
        return rel_key(self.schema, self.identifier)


@dataclass(frozen=True)
class DbtProjectIR:
    name: str
    adapter: str              # dbt adapter type: duckdb, postgres, snowflake, ...
    path: str                 # "manifest" | "jinja"
    models: tuple[DbtModel, ...]
    sources: tuple[DbtSource, ...]
    seeds: tuple[DbtSeed, ...]
    tests: tuple[DbtTest, ...]
    unit_tests: tuple[DbtUnitTest, ...]
    skipped_tests: tuple[tuple[str, str, str], ...] = ()  # (attached, test, reason)
    notes: tuple[str, ...] = ()  # project-wide
