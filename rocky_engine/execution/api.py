"""What :class:`~rocky_engine.context.Context` delegates to for run, test and branches.

Each function opens the warehouse (waiting a bounded time for another writer), calls the
library and closes it again; the Context methods are one-line wrappers around these. They
take a :class:`Session` (what they need of a Context), so this module does not import the
facade that imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.execution import branches as _branches
from rocky_engine.execution.plan import build_plan, compile_gate, has_errors
from rocky_engine.execution.results import RunResult
from rocky_engine.execution.state import open_with_retry

if TYPE_CHECKING:
    from rocky_engine.console import Console
    from rocky_engine.execution.diff import BranchDiff
    from rocky_engine.execution.testing import TestReport
    from rocky_engine.project import Project


class Session(Protocol):
    """What these functions use of a :class:`~rocky_engine.context.Context`."""

    project: Project
    console: Console

    @property
    def warehouse_dialect(self) -> str: ...

    def open_adapter(self, *, read_only: bool = False, sandboxed: bool = False,
                     create: bool = True) -> WarehouseAdapter: ...


@contextmanager
def open_warehouse(ctx: Session, *, sandboxed: bool = False) -> Iterator[WarehouseAdapter]:
    """A read-write connection, retried while another process holds the file."""
    adapter = open_with_retry(lambda: ctx.open_adapter(sandboxed=sandboxed),
                              timeout=getattr(ctx, "lock_timeout", None))
    try:
        yield adapter
    finally:
        adapter.close()


def run(ctx: Session, select: Sequence[str] | None = None, branch: str | None = None, *,
        sandboxed: bool = False, threads: int | None = None,
        before_each: Callable[[str], None] | None = None,
        full_refresh: bool = False) -> RunResult:
    from rocky_engine.execution.runner import run_plan

    base = ctx.project.config.warehouse.schema_
    schema = _branches.branch_schema(base, branch) if branch else base
    started = time.perf_counter()
    compiled, diagnostics = compile_gate(ctx.project)
    models = None
    if ctx.warehouse_dialect != ctx.project.dialect:
        from rocky_engine.compiler.target import TargetModels, check_target

        models = TargetModels(ctx.project, compiled, ctx.warehouse_dialect)
        diagnostics = diagnostics + tuple(check_target(ctx.project, compiled,
                                                       ctx.warehouse_dialect, models))
    if models is not None:
        models.save()
    if has_errors(diagnostics):
        for d in diagnostics:
            ctx.console.line(d.headline())
        return RunResult("", schema, branch, (), (), time.perf_counter() - started,
                         diagnostics=diagnostics)
    plan = build_plan(ctx.project, select)
    with open_warehouse(ctx, sandboxed=sandboxed) as adapter:
        result = run_plan(ctx.project, adapter, plan, branch=branch, console=ctx.console,
                          lock_timeout=getattr(ctx, "lock_timeout", None),
                          threads=threads or ctx.project.config.warehouse.threads,
                          before_each=before_each, full_refresh=full_refresh,
                          target_models=models)
    if models is not None:
        models.save()
    return RunResult(result.run_id, result.schema, result.branch, result.selected,
                     result.models, time.perf_counter() - started, diagnostics,
                     result.recovered_from)


def test(ctx: Session, select: Sequence[str] | None = None, branch: str | None = None, *,
         sandboxed: bool = False) -> TestReport:
    from rocky_engine.execution.testing import run_tests

    base = ctx.project.config.warehouse.schema_
    schema = _branches.branch_schema(base, branch) if branch else base
    compiled = None
    try:
        compiled, _ = compile_gate(ctx.project)
    except Exception:  # noqa: BLE001 - types are a nicety for unit tests, not a requirement
        compiled = None
    plan = build_plan(ctx.project, select)
    with open_warehouse(ctx, sandboxed=sandboxed) as adapter:
        if branch:
            _branches.require_branch(adapter, base, branch)
        return run_tests(ctx.project, adapter, plan, schema=schema, compiled=compiled,
                         console=ctx.console)


def branch_create(ctx: Session, name: str, *, sandboxed: bool = False) -> _branches.BranchInfo:
    base = ctx.project.config.warehouse.schema_
    _branches.validate_branch_name(name)
    order = build_plan(ctx.project).dag.order()
    with open_warehouse(ctx, sandboxed=sandboxed) as adapter:
        return _branches.create_branch(adapter, base, name, order,
                                       timeout=getattr(ctx, "lock_timeout", None))


def branch_list(ctx: Session) -> list[_branches.BranchInfo]:
    with open_warehouse(ctx) as adapter:
        return _branches.list_branches(adapter, ctx.project.config.warehouse.schema_)


def branch_diff(ctx: Session, name: str, select: Sequence[str] | None = None, *,
                sandboxed: bool = False) -> BranchDiff:
    from rocky_engine.execution.diff import diff_branch

    base = ctx.project.config.warehouse.schema_
    _branches.validate_branch_name(name)
    models = build_plan(ctx.project, select).selected if select else None
    grains = {n: list(m.sidecar.intent.grain) for n, m in ctx.project.models.items()
              if m.sidecar.intent is not None and m.sidecar.intent.grain}
    with open_warehouse(ctx, sandboxed=sandboxed) as adapter:
        return diff_branch(adapter, base, name, models=models, grains=grains)


def branch_promote(ctx: Session, name: str, *,
                   after_each: Callable[[str], None] | None = None,
                   step: Callable[[str], None] | None = None) -> _branches.PromoteResult:
    base = ctx.project.config.warehouse.schema_
    _branches.validate_branch_name(name)
    with open_warehouse(ctx) as adapter:
        return _branches.promote_branch(adapter, base, name,
                                        timeout=getattr(ctx, "lock_timeout", None),
                                        after_each=after_each, step=step)


def branch_drop(ctx: Session, name: str) -> _branches.BranchInfo:
    base = ctx.project.config.warehouse.schema_
    _branches.validate_branch_name(name)
    with open_warehouse(ctx) as adapter:
        return _branches.drop_branch(adapter, base, name,
                                     timeout=getattr(ctx, "lock_timeout", None))
