"""Branches: isolated environments inside the same warehouse.

Branch ``B`` of prod schema ``main`` is the schema ``main__b``. It holds every model:
models rebuilt on the branch as real objects, the rest as zero-copy views over prod, so
a branch build reads branch versions of upstream models where they exist and prod
otherwise. ``_rocky.branch_models`` remembers what was built on a branch (with the SQL
bound to prod), which is exactly what ``promote`` replaces — in one transaction.

    >>> validate_branch_name("fix_orders")
    'fix_orders'
    >>> branch_schema("main", "fix_orders")
    'main__fix_orders'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.errors import ProblemError, UsageError, WarehouseError
from rocky_engine.execution import state
from rocky_engine.execution.state_tables import STATE_SCHEMA, now, ts, who

BRANCH_RE = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class BuiltModel:
    """A model built on a branch: what ``promote`` will put into prod."""

    model: str
    materialized: str
    prod_sql: str
    run_id: str
    built_at: Any


@dataclass(frozen=True)
class BranchInfo:
    name: str
    schema: str
    created_at: Any = None
    created_by: str | None = None
    built: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "schema": self.schema,
                "created_at": str(self.created_at) if self.created_at else None,
                "created_by": self.created_by, "built": list(self.built)}


@dataclass(frozen=True)
class PromoteResult:
    branch: str
    schema: str
    promoted: tuple[BuiltModel, ...]
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"ok": True, "branch": self.branch, "schema": self.schema,
                "seconds": round(self.seconds, 4),
                "promoted": [{"name": m.model, "materialized": m.materialized}
                             for m in self.promoted]}


def validate_branch_name(name: str) -> str:
    """Checked before any SQL is built: the name becomes part of a schema name."""
    if not isinstance(name, str) or not BRANCH_RE.match(name):
        raise UsageError(
            f"invalid branch name {name!r}",
            hint="use 1 to 40 characters from a-z, 0-9 and _ (e.g. fix_orders)",
        )
    return name


def branch_schema(base: str, name: str) -> str:
    return f"{base}__{validate_branch_name(name)}"


def branch_exists(adapter: WarehouseAdapter, base: str, name: str) -> bool:
    return branch_schema(base, name).lower() in {s.lower() for s in adapter.schemas()}


def require_branch(adapter: WarehouseAdapter, base: str, name: str) -> str:
    schema = branch_schema(base, name)
    if not branch_exists(adapter, base, name):
        raise UsageError(f"no branch named {name!r} (schema {schema} does not exist)",
                         hint=f"create it with `rocky branch create {name}`")
    return schema


def passthrough_candidates(adapter: WarehouseAdapter, models: Iterable[str], base: str,
                           schema: str) -> list[str]:
    """Models with a readable prod object and nothing on the branch yet.

    A prod view broken by upstream drift does not bind, and neither would a view over
    it: such models are left out (a branch run that selects them builds them).
    """
    prod = adapter.relations(base)
    have = adapter.relations(schema)
    out = []
    for model in models:
        if model in have or model not in prod:
            continue
        if prod[model] == "view":
            try:
                adapter.fetchall(exp.select(exp.Star()).from_(table_ref(base, model)).limit(0))
            except WarehouseError:
                continue
        out.append(model)
    return out


def ensure_passthrough(adapter: WarehouseAdapter, models: Iterable[str], base: str,
                       schema: str) -> list[str]:
    """Zero-copy views over prod for every model the branch does not hold yet."""
    made = passthrough_candidates(adapter, models, base, schema)
    for model in made:
        adapter.create_view(schema, model, exp.select(exp.Star()).from_(table_ref(base, model)))
    return made


def create_branch(adapter: WarehouseAdapter, base: str, name: str, models: Iterable[str], *,
                  timeout: float | None = None) -> BranchInfo:
    schema = branch_schema(base, name)
    if branch_exists(adapter, base, name):
        raise UsageError(f"branch {name!r} already exists ({schema})",
                         hint=f"drop it first (`rocky branch drop {name}`) or pick another name")
    with state.writer_lock(adapter, "branch create", target=schema, selection=name,
                           timeout=timeout):
        # Probed before the transaction: a failed statement would abort it.
        passthrough = passthrough_candidates(adapter, models, base, schema)
        with adapter.transaction():
            adapter.create_schema(schema)
            for model in passthrough:
                adapter.create_view(schema, model,
                                    exp.select(exp.Star()).from_(table_ref(base, model)))
            _delete_registry(adapter, name)
            adapter.execute(exp.insert(
                exp.values([(name, schema, base, ts(now()), who())]),
                table_ref(STATE_SCHEMA, "branches"),
                columns=["name", "schema_name", "base_schema", "created_at", "created_by"]))
    return branch_info(adapter, base, name)


def built_models(adapter: WarehouseAdapter, name: str) -> list[BuiltModel]:
    state.ensure_state(adapter)
    rows = adapter.fetchall(
        exp.select("model", "materialized", "prod_sql", "run_id", "built_at")
        .from_(table_ref(STATE_SCHEMA, "branch_models"))
        .where(exp.column("branch").eq(exp.convert(name)))
        .order_by("built_at", "model"))
    return [BuiltModel(*r) for r in rows]


def record_build(adapter: WarehouseAdapter, branch: str, model: str, materialized: str,
                 prod_sql: str, run_id: str) -> None:
    """Remember that ``model`` now exists as a real object on ``branch``."""
    table = table_ref(STATE_SCHEMA, "branch_models")
    cond = exp.and_(exp.column("branch").eq(exp.convert(branch)),
                    exp.column("model").eq(exp.convert(model)))
    with adapter.transaction():
        adapter.execute(exp.delete(table, where=cond))
        adapter.execute(exp.insert(
            exp.values([(branch, model, materialized, prod_sql, run_id,
                         ts(now()))]), table,
            columns=["branch", "model", "materialized", "prod_sql", "run_id", "built_at"]))


def branch_info(adapter: WarehouseAdapter, base: str, name: str) -> BranchInfo:
    state.ensure_state(adapter)
    rows = adapter.fetchall(
        exp.select("created_at", "created_by").from_(table_ref(STATE_SCHEMA, "branches"))
        .where(exp.column("name").eq(exp.convert(name))))
    created_at, created_by = rows[0] if rows else (None, None)
    return BranchInfo(name, branch_schema(base, name), created_at, created_by,
                      tuple(m.model for m in built_models(adapter, name)))


def list_branches(adapter: WarehouseAdapter, base: str) -> list[BranchInfo]:
    """Every branch schema of ``base`` present in the warehouse, by name."""
    prefix = f"{base}__".lower()
    names = sorted(s.lower()[len(prefix):] for s in adapter.schemas()
                   if s.lower().startswith(prefix))
    return [branch_info(adapter, base, n) for n in names if BRANCH_RE.match(n)]


def drop_branch(adapter: WarehouseAdapter, base: str, name: str, *,
                timeout: float | None = None) -> BranchInfo:
    schema = require_branch(adapter, base, name)
    info = branch_info(adapter, base, name)
    with state.writer_lock(adapter, "branch drop", target=schema, selection=name,
                           timeout=timeout), adapter.transaction():
        adapter.drop_schema(schema, cascade=True)
        _delete_registry(adapter, name)
    return info


def _delete_registry(adapter: WarehouseAdapter, name: str) -> None:
    state.ensure_state(adapter)
    for table, col in (("branches", "name"), ("branch_models", "branch")):
        adapter.execute(exp.delete(table_ref(STATE_SCHEMA, table),
                                   where=exp.column(col).eq(exp.convert(name))))


def promote_branch(adapter: WarehouseAdapter, base: str, name: str, *,
                   timeout: float | None = None,
                   after_each: Callable[[str], None] | None = None,
                   step: Callable[[str], None] | None = None) -> PromoteResult:
    """Replace the prod objects of every model built on the branch, in one transaction.

    Tables are copied from the branch; views are recreated from their SQL bound to prod.
    Any failure (``after_each`` lets tests inject one) rolls everything back. Without
    transactional DDL (Spark) the swap is journaled instead
    (:mod:`~rocky_engine.execution.promote_journal`; ``step`` is its test seam): an
    interrupted promote is finished or undone by the next writing command.
    """
    schema = require_branch(adapter, base, name)
    built = built_models(adapter, name)
    started = time.perf_counter()
    if not built:
        raise ProblemError(f"branch {name!r} has no models built on it; nothing to promote",
                           hint=f"build some first: `rocky run --branch {name}`")
    with state.writer_lock(adapter, "branch promote", target=base, selection=name,
                           timeout=timeout) as ticket:
        prod = adapter.relations(base)
        have = adapter.relations(schema)
        missing = [m.model for m in built if m.model not in have]
        if missing:
            raise ProblemError(f"branch {name!r} lost model(s) {', '.join(missing)}; "
                               "prod was not touched",
                               hint=f"rebuild them with `rocky run --branch {name}`")
        if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
            from rocky_engine.execution.promote_journal import Swap, journaled_promote

            def hook(label: str) -> None:
                if step is not None:
                    step(label)
                if after_each is not None and label.startswith("swapped:"):
                    after_each(label.split(":", 1)[1])

            journaled_promote(adapter, ticket.run_id, base, schema, name,
                              [Swap(m.model, m.materialized, m.prod_sql) for m in built], hook)
            ticket.summary = {"promoted": [m.model for m in built], "branch": name}
            return PromoteResult(name, schema, tuple(built), time.perf_counter() - started)
        views = {m.model: m.prod_sql for m in built if m.materialized == "view"}
        if hasattr(adapter, "view_sql"):
            # A prod view dropped with a table it reads is re-created from the branch's
            # version when the branch rebuilt it.
            adapter.view_sql = lambda s, n: views.get(n.lower()) if s.lower() == base.lower() \
                else None
        with adapter.transaction():
            for m in built:
                existing = prod.get(m.model)
                kind = "view" if m.materialized == "view" else "table"
                if existing is not None and existing != kind:
                    adapter.drop_relation(base, m.model, kind=existing)
                if m.materialized in ("table", "incremental"):
                    adapter.create_table_as(
                        base, m.model, exp.select(exp.Star()).from_(table_ref(schema, m.model)),
                        replace=True)
                else:
                    # Bound to prod and rendered for this warehouse when it was built.
                    adapter.create_view(base, m.model, m.prod_sql, replace=True)
                if after_each is not None:
                    after_each(m.model)
        ticket.summary = {"promoted": [m.model for m in built], "branch": name}
    return PromoteResult(name, schema, tuple(built), time.perf_counter() - started)
