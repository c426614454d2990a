"""A local DuckDB sandbox for validating a repair of a remote warehouse (DESIGN §4 step 5).

The agent never builds anything in the remote warehouse to validate a patch (unless
``[agent] validate_on = "warehouse"``). Instead it copies a bounded sample
(``[agent] sample_rows`` rows) of every upstream table the affected models read, with
the table's *live* shape, into a DuckDB file of its own, and proves the patch there:

1. **sample** — each live table's first ``sample_rows`` rows are read through the
   warehouse adapter (any adapter: only :meth:`WarehouseAdapter.table` and
   :meth:`WarehouseAdapter.fetchall` are used) into a staging schema, with the live
   column types (already in the project dialect's names, see the adapter's catalog);
2. **baseline** — the same rows are turned back into the *declared* (pre-drift) shape
   (a renamed column takes its old name, a retyped column is cast back to its declared
   type, an added column is left out) under the declared names, and the *unpatched*
   project builds every affected model and its upstream from them into the sandbox's
   prod schema, every model as a table. That is "what the unpatched project gave on the
   same rows before the drift";
3. **live** — the declared-shape tables are replaced by the live-shaped sample, so the
   patched project sees exactly what the warehouse holds now.

:func:`~intent_agent.repair.validate.validate_project` then runs against the sandbox as
it would against a DuckDB warehouse: compile, build on a branch, tests, data diff
against the baseline. The sandbox connection runs with external access disabled.

    >>> sb = build_sandbox(adapter, old, baseline, changes, ["stg_orders", "customers"],
    ...                    Path(".rocky/repair/1a2b/sandbox.duckdb"))   # doctest: +SKIP
    >>> [(t.table, t.rows, t.truncated) for t in sb.tables]            # doctest: +SKIP
    [('raw.orders', 100000, True), ('raw.payments', 250, False)]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from intent_agent.repair.changes import SchemaChange
from rocky_engine.adapters.base import CatalogColumn, WarehouseAdapter, table_ref
from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.config import DuckDBWarehouse
from rocky_engine.console import Console, SilentConsole
from rocky_engine.errors import RockyError, WarehouseError
from rocky_engine.project import Project

SANDBOX_FILE = "sandbox.duckdb"
_STAGING = "_rocky_live__"  # + source schema: the live sample before it takes its place
_CHUNK = 20_000  # rows per INSERT (one list parameter per column)


@dataclass(frozen=True)
class SampledTable:
    """One live table copied into the sandbox; ``truncated``: the warehouse holds more."""

    table: str  # live schema.table
    rows: int
    truncated: bool
    declared: str | None = None  # the declared table it stands for (differs when renamed)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "truncated": self.truncated,
                "declared": self.declared}


@dataclass(frozen=True)
class Sandbox:
    """A built sandbox: where it is, what was copied, what the baseline holds."""

    path: Path
    tables: tuple[SampledTable, ...]
    baseline: tuple[str, ...]  # models built from the pre-drift rows (as tables)
    baseline_errors: tuple[str, ...] = ()
    sample_rows: int = 0
    seconds: float = 0.0

    @property
    def sampled(self) -> bool:
        """True when some table was cut at ``sample_rows``: completeness tests are moot."""
        return any(t.truncated for t in self.tables)

    def describe(self) -> str:
        rows = sum(t.rows for t in self.tables)
        cut = [t.table for t in self.tables if t.truncated]
        text = (f"DuckDB sandbox {self.path.name}: {len(self.tables)} table(s), {rows} rows "
                f"copied (at most {self.sample_rows} per table)")
        if cut:
            text += f"; sampled: {', '.join(cut)}"
        return text + f"; baseline of {len(self.baseline)} model(s) in {self.seconds:.2f}s"

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "sample_rows": self.sample_rows,
                "tables": [t.to_json() for t in self.tables],
                "baseline": list(self.baseline), "baseline_errors": list(self.baseline_errors),
                "seconds": round(self.seconds, 3)}


def sandbox_project(project: Project, path: Path) -> Project:
    """``project`` with its warehouse pointed at the sandbox DuckDB file ``path``."""
    wh = project.config.warehouse
    local = DuckDBWarehouse.model_validate({"type": "duckdb", "path": str(path),
                                            "schema": wh.schema_})
    config = project.config.model_copy(update={"warehouse": local})
    return dataclasses.replace(project, config=config)


def upstream_models(compiled: Any, rebuild: Iterable[str]) -> list[str]:
    """``rebuild`` and every model upstream of it, in DAG order."""
    wanted = {m.lower() for m in rebuild}
    closure = set(wanted)
    for name in wanted:
        closure |= set(compiled.dag.upstream(name))
    return [n for n in compiled.order if n in closure]


def build_sandbox(remote: WarehouseAdapter, old: Project, compiled: Any,
                  changes: Sequence[SchemaChange], rebuild: Sequence[str], path: Path, *,
                  sample_rows: int = 100_000, console: Console | None = None) -> Sandbox:
    """Copy, reconstruct the baseline and put the live sample in place (module docstring).

    ``old`` is the project before the drift and ``compiled`` its compile (the DAG and each
    model's source tables). Raises :class:`WarehouseError` when a live table cannot be read.
    """
    console = console or SilentConsole()
    started = time.perf_counter()
    models = upstream_models(compiled, rebuild)
    declared = sorted({s.lower() for m in models for s in compiled.models[m].sources})
    live_of = _live_names(declared, changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    sampled: list[SampledTable] = []
    live_columns: dict[str, tuple[CatalogColumn, ...]] = {}
    with DuckDBAdapter(path, sandboxed=True) as box:
        for table in declared:
            live = live_of.get(table)
            if live is None:
                continue  # removed upstream: nothing to copy; its readers are not rebuilt
            schema, name = live.split(".", 1)
            found = remote.table(schema, name)
            if found is None:
                raise WarehouseError(f"cannot copy {live} into the sandbox: the warehouse "
                                     "has no such table")
            cols = found.columns
            live_columns[live] = cols
            rows, truncated = _copy(remote, box, schema, name, cols, sample_rows, old.dialect)
            sampled.append(SampledTable(live, rows, truncated, table))
            console.info(f"  sandbox: copied {rows} rows of {live}"
                         f"{' (sample)' if truncated else ''}")
        for table in declared:
            source = old.sources.get(table)
            live = live_of.get(table)
            if source is None or live is None:
                continue
            _declared_shape(box, source, live, live_columns[live], changes, old.dialect)
        built, errors = _baseline(box, old, models)
        for live, cols in live_columns.items():
            _put_live(box, live, cols, old.dialect, drop=[t for t, lv in live_of.items()
                                                         if lv == live])
        for schema in sorted({t.split(".", 1)[0] for t in live_columns}):
            box.drop_schema(_STAGING + schema)
    return Sandbox(path, tuple(sampled), built, errors, sample_rows,
                   time.perf_counter() - started)


def add_live_tables(remote: WarehouseAdapter, sandbox: Sandbox, tables: Iterable[str],
                    dialect: str) -> Sandbox:
    """Copy ``tables`` (live ``schema.table`` names) the sandbox lacks, live shape only.

    A drafted patch may read a source table no affected model read before (an LLM
    joining another table): it gets its sample too, so the build sees real rows.
    """
    added: list[SampledTable] = []
    with DuckDBAdapter(sandbox.path, sandboxed=True) as box:
        for table in sorted({t.lower() for t in tables}):
            schema, _, name = table.partition(".")
            if not name or box.relations(schema).get(name) is not None:
                continue
            found = remote.table(schema, name)
            if found is None:
                continue  # the build reports the missing table
            rows, truncated = _copy(remote, box, schema, name, found.columns,
                                    sandbox.sample_rows, dialect)
            _put_live(box, table, found.columns, dialect, drop=())
            box.drop_schema(_STAGING + schema)
            added.append(SampledTable(table, rows, truncated))
    if not added:
        return sandbox
    return dataclasses.replace(sandbox, tables=sandbox.tables + tuple(added))


# ---------------------------------------------------------------------------- steps


def _live_names(declared: Iterable[str], changes: Sequence[SchemaChange]) -> dict[str, str | None]:
    """Declared table -> the live table holding its rows now (None: removed)."""
    out: dict[str, str | None] = {}
    for table in declared:
        live: str | None = table
        for c in changes:
            if c.table.lower() != table:
                continue
            if c.kind == "table_renamed" and c.new_table:
                new = c.new_table.lower()
                live = new if "." in new else f"{table.split('.', 1)[0]}.{new}"
            elif c.kind == "table_removed":
                live = None
        out[table] = live
    return out


def _duck_type(type_text: str, dialect: str) -> exp.DataType:
    try:
        return exp.DataType.build(type_text, dialect=dialect)
    except Exception:  # noqa: BLE001 - a type sqlglot cannot read is carried as text
        return exp.DataType.build("VARCHAR")


def _copy(remote: WarehouseAdapter, box: DuckDBAdapter, schema: str, name: str,
          cols: Sequence[CatalogColumn], limit: int, dialect: str) -> tuple[int, bool]:
    """Read at most ``limit`` rows of ``schema.name`` into the staging schema."""
    types = [_duck_type(c.type, dialect) for c in cols]
    query = exp.select(*(exp.column(c.name, quoted=True) for c in cols)) \
        .from_(table_ref(schema, name)).limit(limit + 1)
    try:
        rows = remote.fetchall(query)
    except RockyError as exc:
        raise WarehouseError(f"cannot read {schema}.{name} for the sandbox: {exc.message}",
                             hint="the agent's role needs SELECT on the source tables") from None
    truncated = len(rows) > limit
    rows = rows[:limit]
    staging = _STAGING + schema
    box.create_schema(staging)
    box.execute(_create_table(staging, name, cols, types, not_null=False))
    if not rows:
        return 0, truncated
    text_cols = {i for i, t in enumerate(types) if t.is_type(*exp.DataType.TEXT_TYPES)}
    insert = exp.insert(
        exp.select(*(exp.Unnest(expressions=[exp.cast(exp.Placeholder(), exp.DataType(
            this=exp.DataType.Type.ARRAY, expressions=[t.copy()], nested=True))])
            for t in types)),
        table_ref(staging, name))
    sql = insert.sql(dialect="duckdb")
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        columns = [[(None if v is None else str(v)) if i in text_cols else v
                    for v in (row[i] for row in chunk)] for i in range(len(cols))]
        try:
            box.execute(sql, columns)
        except WarehouseError as exc:
            raise WarehouseError(f"cannot copy {schema}.{name} into the sandbox: "
                                 f"{exc.message}") from None
    return len(rows), truncated


def _create_table(schema: str, name: str, cols: Sequence[Any], types: Sequence[exp.DataType],
                  *, not_null: bool) -> exp.Create:
    defs = []
    for col, typ in zip(cols, types, strict=True):
        constraints = []
        if not_null and not getattr(col, "nullable", True):
            constraints.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
        defs.append(exp.ColumnDef(this=exp.to_identifier(col.name, quoted=True),
                                  kind=typ.copy(), constraints=constraints))
    return exp.Create(this=exp.Schema(this=table_ref(schema, name), expressions=defs),
                      kind="TABLE", replace=True)


def _declared_shape(box: DuckDBAdapter, source: Any, live: str,
                    live_cols: Sequence[CatalogColumn], changes: Sequence[SchemaChange],
                    dialect: str) -> None:
    """The declared (pre-drift) table under its declared name, from the live sample."""
    renamed = {(c.column or "").lower(): (c.new_column or "") for c in changes
               if c.kind == "column_renamed" and c.table.lower() == source.fqn.lower()}
    by_name = {c.name.lower(): c for c in live_cols}
    exprs: list[exp.Expr] = []
    types = []
    for col in source.columns:
        typ = _duck_type(col.type, dialect)
        types.append(typ)
        live_col = by_name.get(renamed.get(col.name.lower(), col.name).lower())
        if live_col is None:
            value: exp.Expr = exp.cast(exp.null(), typ.copy())
        else:
            ref = exp.column(live_col.name, quoted=True)
            same = _duck_type(live_col.type, dialect).sql("duckdb") == typ.sql("duckdb")
            value = ref if same else exp.TryCast(this=ref, to=typ.copy())
        exprs.append(exp.alias_(value, col.name, quoted=True))
    schema, name = source.schema, source.name
    live_schema, live_name = live.split(".", 1)
    box.create_schema(schema)
    box.execute(_create_table(schema, name, source.columns, types, not_null=False))
    box.execute(exp.insert(exp.select(*exprs).from_(table_ref(_STAGING + live_schema,
                                                              live_name)),
                           table_ref(schema, name)))


def _baseline(box: DuckDBAdapter, old: Project, models: Sequence[str]
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Build ``models`` of the unpatched project into the sandbox's prod, as tables."""
    from rocky_engine.execution.plan import build_plan
    from rocky_engine.execution.runner import run_plan

    plan = build_plan(old, models)
    plan = dataclasses.replace(plan, materialized=_all_tables(plan.materialized))
    result = run_plan(old, box, plan)
    built = tuple(m.name for m in result.models if m.status == "success")
    errors = tuple(f"{m.name}: {m.error or 'upstream ' + str(m.skipped_because) + ' failed'}"
                   for m in result.models if m.status != "success")
    return built, errors


def _all_tables(materialized: Mapping[str, str]) -> dict[str, str]:
    # Prod views would read the sources that step 3 replaces: tables keep the baseline.
    return dict.fromkeys(materialized, "table")


def _put_live(box: DuckDBAdapter, live: str, cols: Sequence[CatalogColumn], dialect: str, *,
              drop: Sequence[str]) -> None:
    schema, name = live.split(".", 1)
    with box.transaction():
        for table in drop:
            d_schema, d_name = table.split(".", 1)
            box.drop_relation(d_schema, d_name)
        box.create_schema(schema)
        types = [_duck_type(c.type, dialect) for c in cols]
        box.execute(_create_table(schema, name, cols, types, not_null=True))
        box.execute(exp.insert(exp.select(exp.Star()).from_(table_ref(_STAGING + schema, name)),
                               table_ref(schema, name)))
