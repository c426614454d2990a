"""Where a repair's patches are proven (DESIGN §4 step 5), chosen once per repair.

* a DuckDB warehouse: a sandboxed branch of its own file;
* a remote warehouse with ``[agent] validate_on = "sandbox"`` (the default): a local
  DuckDB sandbox holding a sample of the upstream tables (:mod:`.sandbox`);
* ``validate_on = "warehouse"``: a branch schema in the warehouse itself.

    >>> target = ValidationTarget.prepare(ctx, old, baseline, changes, rebuild, True,
    ...                                   out_dir, console)            # doctest: +SKIP
    >>> target.validate(patched, "repair_1a2b", rebuild).ok             # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from intent_agent.repair.changes import SchemaChange
from intent_agent.repair.sandbox import (
    SANDBOX_FILE,
    Sandbox,
    add_live_tables,
    build_sandbox,
    sandbox_project,
)
from intent_agent.repair.validate import Validation, validate_project
from rocky_engine.console import Console
from rocky_engine.context import Context
from rocky_engine.errors import RockyError
from rocky_engine.project import Project


@dataclass
class ValidationTarget:
    """Where patches are proven and how to reach it (see the module docstring)."""

    warehouse: Path | None  # the DuckDB file validated in; None: the project's warehouse
    pure: bool
    data: Context  # reads data for the drafter's checks (casts): the sandbox when there is one
    sandbox: Sandbox | None = None
    remote: Context | None = None  # the warehouse a sandbox samples

    @classmethod
    def prepare(cls, ctx: Context, old: Project, baseline: Any,
                changes: Sequence[SchemaChange], rebuild: Sequence[str], pure: bool,
                out_dir: Path, console: Console) -> ValidationTarget:
        agent = ctx.project.config.agent
        if not samples_remote(ctx.project):
            local = ctx.project.config.warehouse.type == "duckdb"
            if not local:
                _can_create_schemas(ctx)
            return cls(ctx.warehouse_path if local else None, pure, ctx)
        path = out_dir / SANDBOX_FILE
        console.info(f"copying a sample (at most {agent.sample_rows} rows per table) of the "
                     f"upstream tables into a local DuckDB sandbox ...")
        with ctx.adapter(read_only=True) as remote:
            sandbox = build_sandbox(remote, old, baseline, changes, rebuild, path,
                                    sample_rows=agent.sample_rows, console=console)
        for err in sandbox.baseline_errors:
            console.warn(f"sandbox baseline: {err}")
        data = Context(sandbox_project(ctx.project, path), ctx.console, warehouse_path=path)
        return cls(path, pure, data, sandbox, ctx)

    def describe(self, branch: str) -> str:
        if self.sandbox is not None:
            return f"branch {branch} of the {self.sandbox.describe()}"
        return f"warehouse branch {branch}" + (" (sandboxed)" if self.warehouse else "")

    def validate(self, project: Project, branch: str, rebuild: Sequence[str], *,
                 console: Console | None = None,
                 expected: Sequence[tuple[str, str]] = (),
                 keep_tables: Sequence[str] = ()) -> Validation:
        if self.sandbox is None:
            # keep_tables: incremental tables the drift plan keeps must equal a refresh
            # (not checked on a sampled sandbox, which holds only part of the rows).
            return validate_project(project, self.warehouse, branch, rebuild, pure=self.pure,
                                    console=console, expected_schema_changes=expected,
                                    keep_tables=keep_tables)
        if self.remote is not None:
            self.sandbox = self._add_reads(project, rebuild, self.sandbox, self.remote)
        sandbox = self.sandbox
        v = validate_project(sandbox_project(project, sandbox.path), sandbox.path,
                             branch, rebuild, pure=self.pure, console=console,
                             expected_schema_changes=expected, sampled=sandbox.sampled)
        return replace(v, where="sandbox", sandbox=sandbox.to_json())

    @staticmethod
    def _add_reads(project: Project, rebuild: Sequence[str], sandbox: Sandbox,
                   remote: Context) -> Sandbox:
        from rocky_engine.execution.plan import build_plan

        try:
            plan = build_plan(project, list(rebuild))
        except RockyError:
            return sandbox  # the compile step reports it
        reads = {s for name in plan.selected for s in plan.parsed[name].source_refs}
        copied = {t.table for t in sandbox.tables}
        if not reads - copied:
            return sandbox
        with remote.adapter(read_only=True) as adapter:
            return add_live_tables(adapter, sandbox, reads - copied, project.dialect)


class _Rollback(Exception):
    """Ends the probe transaction: nothing it did is kept."""


def _can_create_schemas(ctx: Context) -> None:
    """Validating on a warehouse branch creates a schema and records the branch and its
    builds in ``_rocky``: try exactly that in one transaction rolled back, so a missing
    grant is one line now (exit 2), not a failed validation after drafting."""
    from sqlglot import exp

    from rocky_engine.adapters.base import table_ref
    from rocky_engine.errors import WarehouseError
    from rocky_engine.execution import state

    probe = f"_rocky_probe_{os.getpid()}"
    where = f"the schema for the validation branch ({probe})"
    with ctx.adapter() as adapter:
        try:
            with adapter.transaction():
                adapter.create_schema(probe)
                where = f"the {state.STATE_SCHEMA} state tables"
                state.ensure_state(adapter)
                for table, column in (("runs", "run_id"), ("branches", "name"),
                                      ("branch_models", "branch")):
                    ref = table_ref(state.STATE_SCHEMA, table)
                    adapter.execute(exp.insert(exp.select(exp.column(column)).from_(ref)
                                               .where(exp.false()), ref, columns=[column]))
                    adapter.execute(exp.update(ref, {column: exp.convert(probe)},
                                               where=exp.false()))
                    adapter.execute(exp.delete(ref, where=exp.false()))
                raise _Rollback
        except _Rollback:
            pass
        except RockyError as exc:
            raise WarehouseError(
                f"cannot write {where} for validate_on = \"warehouse\": {exc.message}",
                hint='grant the agent\'s role CREATE on the database and SELECT, INSERT, '
                     'UPDATE, DELETE on the _rocky tables, or set [agent] validate_on = '
                     '"sandbox" (a local DuckDB copy; read access only)',
            ) from None
        finally:
            if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
                adapter.drop_schema(probe)


def samples_remote(project: Project) -> bool:
    """True when a repair is validated on a local sample of a remote warehouse."""
    return project.config.agent.validate_on == "sandbox" and \
        project.config.warehouse.type != "duckdb"
