"""Typed on-disk configuration: ``rocky.toml``, ``sources/*.toml`` and model sidecars.

Every model forbids unknown keys, so a typo is an error naming the file and the key::

    >>> RockyConfig.model_validate({"project": {"name": "shop", "dialekt": "duckdb"}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for RockyConfig
    ...
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_THREADS = 64  # `rocky run --threads`: one warehouse connection each


class _Strict(BaseModel):
    # defer_build: validators are built on first validation, not at import — a warm load
    # of a big project validates nothing (results come from the load cache).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              defer_build=True)


# ---------------------------------------------------------------------------- rocky.toml


class ProjectSection(_Strict):
    name: str
    dialect: str = "duckdb"

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        from sqlglot.dialects.dialect import Dialect

        try:
            Dialect.get_or_raise(value)
        except ValueError as exc:
            raise ValueError(f"unknown SQL dialect {value!r}") from exc
        return value


class _WarehouseBase(_Strict):
    """Keys every warehouse has. One subclass per ``type`` (a discriminated union below):
    a new warehouse adds a subclass, a member of :data:`WarehouseConfig` and an opener in
    :mod:`rocky_engine.adapters.factory`.
    """

    schema_: str = Field(default="main", alias="schema")
    # Models built concurrently by `rocky run` (each worker on its own connection).
    threads: int = Field(default=1, ge=1, le=MAX_THREADS)

    @field_validator("schema_")
    @classmethod
    def _schema_ident(cls, value: str) -> str:
        if not IDENT_RE.match(value):
            raise ValueError(f"schema {value!r} must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
        return value


class DuckDBWarehouse(_WarehouseBase):
    """``type = "duckdb"``: an embedded file, ``path`` relative to the project root."""

    type: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"


class PostgresWarehouse(_WarehouseBase):
    """``type = "postgres"``: a libpq connection string without a password.

    ``dsn`` is written in the file, ``dsn_env`` names an environment variable holding it;
    with neither, libpq's own variables (``PGHOST``, ``PGDATABASE``, ...) decide. The
    password comes from ``PGPASSWORD`` / ``~/.pgpass`` (or the variable named by
    ``dsn_env``), never from ``rocky.toml``.
    """

    type: Literal["postgres"]
    dsn: str | None = None
    dsn_env: str | None = None
    schema_: str = Field(default="public", alias="schema")

    @field_validator("dsn")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is not None and dsn_has_password(value):
            raise ValueError(
                "dsn contains a password; keep secrets out of rocky.toml: put the DSN in an "
                "environment variable and name it with dsn_env (or use PGPASSWORD / ~/.pgpass)")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> PostgresWarehouse:
        if self.dsn is not None and self.dsn_env is not None:
            raise ValueError("give dsn or dsn_env, not both")
        return self


_LOCAL_MASTER = re.compile(r"^local(\[(\d+|\*)\])?$")


class SparkWarehouse(_WarehouseBase):
    """``type = "spark"``: an in-process engine (``master = "local[N]"``, the default
    ``local[2]``; its catalog kept under ``target/spark``) or a Spark Connect server
    (``remote = "sc://host:15002"``). ``schema`` is a Spark database; ``conf`` holds
    Spark settings (``spark.sql.shuffle.partitions`` ...).
    """

    type: Literal["spark"]
    master: str | None = None
    remote: str | None = None
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _local_master(cls, value: str | None) -> str | None:
        if value is not None and not _LOCAL_MASTER.match(value):
            raise ValueError(f"master {value!r}: rocky runs Spark in-process as local, "
                             "local[N] or local[*]; reach a cluster with "
                             "remote = \"sc://host:15002\" (Spark Connect)")
        return value

    @field_validator("remote")
    @classmethod
    def _connect_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError(f"remote {value!r} must be a Spark Connect URL (sc://host:port)")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> SparkWarehouse:
        if self.master is not None and self.remote is not None:
            raise ValueError("give master (in-process) or remote (Spark Connect), not both")
        return self


def dsn_has_password(dsn: str) -> bool:
    """Whether a libpq DSN (URI or ``key=value`` form) carries a password.

        >>> dsn_has_password("postgresql://etl:secret@db/analytics")
        True
        >>> dsn_has_password("host=db dbname=analytics user=etl")
        False
    """
    text = dsn.strip()
    if re.match(r"^postgres(ql)?://", text, re.IGNORECASE):
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(text)
        netloc = parts.netloc.rpartition("@")
        if netloc[1] and ":" in netloc[0]:
            return True
        return "password" in {k.lower() for k in parse_qs(parts.query)}
    return re.search(r"(^|\s)password\s*=", text, re.IGNORECASE) is not None


# The ``[warehouse]`` table, chosen by ``type`` (duckdb when absent).
WarehouseConfig = Annotated[DuckDBWarehouse | PostgresWarehouse | SparkWarehouse,
                            Field(discriminator="type")]
WAREHOUSE_TYPES = ("duckdb", "postgres", "spark")


class FusionConfig(_Strict):
    models: list[str] = Field(min_length=1)
    judge: str | None = None
    mode: Literal["best-of", "merge", "debate"] = "best-of"


class AgentConfig(_Strict):
    provider: Literal["offline", "openai", "fusion"] = "offline"
    timeout: float = Field(default=60, gt=0)
    max_rounds: int = Field(default=3, ge=1, le=20)
    max_retries: int = Field(default=3, ge=0, le=10)
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    headers: dict[str, str] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    fusion: FusionConfig | None = None
    # Where a repair is proven: "sandbox" (a local DuckDB file; for a remote warehouse it
    # holds a sample of the upstream tables) or "warehouse" (a branch schema there).
    validate_on: Literal["sandbox", "warehouse"] = "sandbox"
    sample_rows: int = Field(default=100_000, ge=1)


class GithubConfig(_Strict):
    repo: str | None = None
    base: str = "main"
    api_url: str | None = None
    remote: str = "origin"


class DriftConfig(_Strict):
    """``[drift]``: when a change in a source column's values is reported.

    The defaults raise nothing on a table that grows with data from the same distribution.
    """

    values: bool = True                    # fingerprint values at all (rocky drift)
    null_rate_increase: float = Field(default=0.2, gt=0, le=1)
    scale_factor: float = Field(default=8, gt=1)
    new_values: bool = True
    new_value_share: float = Field(default=0.01, gt=0, le=1)
    duplicates: bool = True
    format: bool = True
    format_share: float = Field(default=0.05, gt=0, le=1)
    sample_rows: int = Field(default=10_000, ge=1000)  # rows profiled per large table
    # Tables profiled at once, each on its own connection (default: the machine's
    # cores, at most 4).
    threads: int | None = Field(default=None, ge=1, le=MAX_THREADS)


class RockyConfig(_Strict):
    project: ProjectSection
    warehouse: WarehouseConfig = Field(default_factory=DuckDBWarehouse)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)

    @field_validator("warehouse", mode="before")
    @classmethod
    def _default_type(cls, value: Any) -> Any:
        # `type` may be left out: the embedded default.
        if isinstance(value, dict) and "type" not in value:
            return {**value, "type": "duckdb"}
        return value


# ---------------------------------------------------------------------------- sources


class ColumnSpec(_Strict):
    type: str
    nullable: bool = True
    description: str | None = None


def _column_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class TableSpec(_Strict):
    description: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _column_shorthand(v) for k, v in value.items()}
        return value


class SourceFileSpec(_Strict):
    schema_: str = Field(alias="schema")
    description: str | None = None
    tables: dict[str, TableSpec] = Field(default_factory=dict)

    @field_validator("schema_")
    @classmethod
    def _schema_ident(cls, value: str) -> str:
        if not IDENT_RE.match(value):
            raise ValueError(f"schema {value!r} must be a plain identifier")
        return value


# ---------------------------------------------------------------------------- sidecars


class Intent(_Strict):
    purpose: str
    grain: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    # sha256 of the model SQL when the intent was last confirmed (`rocky intent confirm`).
    confirmed_sql: str | None = None


class ColumnContract(_Strict):
    intent: str | None = None
    description: str | None = None
    type: str | None = None
    nullable: bool | None = None


class _TestBase(_Strict):
    name: str | None = None
    severity: Literal["error", "warn"] = "error"


class NotNullTest(_TestBase):
    type: Literal["not_null"]
    column: str


class UniqueTest(_TestBase):
    type: Literal["unique"]
    column: str | None = None
    columns: list[str] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> UniqueTest:
        if (self.column is None) == (self.columns is None):
            raise ValueError("unique test needs exactly one of `column` or `columns`")
        return self

    @property
    def key(self) -> list[str]:
        return [self.column] if self.column else list(self.columns or [])


class AcceptedValuesTest(_TestBase):
    type: Literal["accepted_values"]
    column: str
    values: list[Any] = Field(min_length=1)


class RelationshipsTest(_TestBase):
    type: Literal["relationships"]
    column: str
    to: str  # a model name or schema.table
    field: str


class ExpressionTest(_TestBase):
    type: Literal["expression"]
    expression: str


class RowCountTest(_TestBase):
    type: Literal["row_count"]
    min: int | None = None
    max: int | None = None


DataTest = Annotated[
    NotNullTest | UniqueTest | AcceptedValuesTest | RelationshipsTest | ExpressionTest | RowCountTest,
    Field(discriminator="type"),
]


def test_name(test: Any) -> str:
    """How `rocky test` names a data test: its `name`, else e.g. ``unique(customer_id)``."""
    if getattr(test, "name", None):
        return str(test.name)
    if isinstance(test, NotNullTest):
        return f"not_null({test.column})"
    if isinstance(test, UniqueTest):
        return f"unique({', '.join(test.key)})"
    if isinstance(test, AcceptedValuesTest):
        return f"accepted_values({test.column})"
    if isinstance(test, RelationshipsTest):
        return f"relationships({test.column} -> {test.to}.{test.field})"
    if isinstance(test, ExpressionTest):
        return f"expression({test.expression})"
    if isinstance(test, RowCountTest):
        bounds = [f"min={test.min}"] if test.min is not None else []
        bounds += [f"max={test.max}"] if test.max is not None else []
        return f"row_count({', '.join(bounds)})"
    return str(getattr(test, "type", "test"))


class UnitTest(_Strict):
    name: str
    given: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    expect: list[dict[str, Any]] = Field(default_factory=list)


INCREMENTAL_STRATEGIES = ("merge", "append", "delete+insert")
ON_SCHEMA_CHANGE = ("fail", "append_new_columns", "sync_all_columns", "full_refresh")
_LOOKBACK_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:(second|minute|hour|day|week|month|year)s?)?\s*$",
    re.IGNORECASE)


def parse_lookback(text: str) -> tuple[float, str | None]:
    """``"2 days"`` -> ``(2.0, "day")``; ``"500"`` -> ``(500.0, None)`` (a numeric watermark).

        >>> parse_lookback("2 days"), parse_lookback("36 hours"), parse_lookback("1000")
        ((2.0, 'day'), (36.0, 'hour'), (1000.0, None))
    """
    m = _LOOKBACK_RE.match(text)
    if m is None:
        raise ValueError(f"lookback {text!r} is not a duration: write e.g. \"2 days\", "
                         "\"6 hours\", or a plain number for a numeric watermark")
    return float(m.group(1)), (m.group(2).lower() if m.group(2) else None)


class IncrementalConfig(_Strict):
    """``[incremental]`` of a model whose ``materialized = "incremental"``.

    The model's SQL stays the SELECT of the full result; a run reads only the rows whose
    ``watermark`` is above the stored table's maximum (minus ``lookback``) and applies
    them with ``strategy``. ``unique_key`` is required for merge and delete+insert.

        >>> IncrementalConfig(unique_key="id", watermark="updated_at").unique_key
        ['id']
    """

    strategy: Literal["merge", "append", "delete+insert"] = "merge"
    unique_key: list[str] = Field(default_factory=list)
    watermark: str | None = None
    lookback: str | None = None
    on_schema_change: Literal["fail", "append_new_columns", "sync_all_columns",
                              "full_refresh"] = "fail"

    @field_validator("unique_key", mode="before")
    @classmethod
    def _key_short_form(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, value: str | None) -> str | None:
        if value is not None:
            parse_lookback(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> IncrementalConfig:
        if self.strategy in ("merge", "delete+insert") and not self.unique_key:
            raise ValueError(f"strategy {self.strategy!r} needs `unique_key` "
                             "(the columns that identify a row)")
        if self.strategy == "append" and self.watermark is None:
            raise ValueError("strategy 'append' needs `watermark` (otherwise every run "
                             "would append the whole result again)")
        if self.lookback is not None and self.watermark is None:
            raise ValueError("`lookback` needs `watermark`")
        if self.strategy == "append" and self.lookback is not None and not self.unique_key:
            raise ValueError("strategy 'append' with `lookback` needs `unique_key`, so rows "
                             "read again are not appended twice")
        if len({k.lower() for k in self.unique_key}) != len(self.unique_key):
            raise ValueError("`unique_key` names a column twice")
        return self


class Sidecar(_Strict):
    materialized: Literal["view", "table", "incremental"] = "view"
    incremental: IncrementalConfig | None = None
    description: str | None = None
    intent: Intent | None = None
    columns: dict[str, ColumnContract] = Field(default_factory=dict)
    tests: list[DataTest] = Field(default_factory=list)
    unit_tests: list[UnitTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _incremental_section(self) -> Sidecar:
        if self.materialized == "incremental" and self.incremental is None:
            raise ValueError('materialized = "incremental" needs an [incremental] table '
                             '(strategy, unique_key, watermark)')
        if self.incremental is not None and self.materialized != "incremental":
            raise ValueError(f'[incremental] is set but materialized = '
                             f'"{self.materialized}"; use materialized = "incremental"')
        return self

    @field_validator("intent", mode="before")
    @classmethod
    def _intent_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"purpose": value}
        return value
