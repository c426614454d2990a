"""Prove a patched project in an isolated warehouse branch, on a sandboxed connection.

Steps, each recorded as evidence for the pull request:

1. **compile** — the patched project compiles with no errors;
2. **build** — the patched models and everything downstream build on branch
   ``repair_<id>`` (every other model is a zero-copy view over prod);
3. **tests** — the existing data and unit tests of those models, plus tests generated
   from their intent (grain unique and not null), pass on the branch;
4. **data diff** — against prod; for a pure rename or cast-back the rebuilt outputs must
   equal prod's. Incremental models are rebuilt whole on the branch (a full refresh, not
   new rows over a copy of prod's table), so an incremental model whose drift plan is
   ``keep`` proves it: its refreshed table must equal the table prod has stored.

Prod objects are never written; every connection runs with external access disabled::

    >>> v = validate_project(worktree_project, warehouse, "repair_1a2b", rebuild, pure=True)  # doctest: +SKIP
    >>> v.ok, v.errors                                                                      # doctest: +SKIP
    (True, ())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocky_engine.config import NotNullTest, UniqueTest
from rocky_engine.console import Console, SilentConsole
from rocky_engine.context import Context
from rocky_engine.errors import RockyError
from rocky_engine.project import Project


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    summary: str
    errors: tuple[str, ...] = ()
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, "errors": list(self.errors),
                "skipped": self.skipped}


@dataclass(frozen=True)
class DiffRow:
    model: str
    status: str
    prod_rows: int | None
    branch_rows: int | None
    changed: int
    only_in_prod: int
    only_in_branch: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "status": self.status, "prod_rows": self.prod_rows,
                "branch_rows": self.branch_rows, "changed": self.changed,
                "only_in_prod": self.only_in_prod, "only_in_branch": self.only_in_branch,
                "note": self.note}


@dataclass(frozen=True)
class Validation:
    warehouse_branch: str
    steps: tuple[Step, ...]
    diff: tuple[DiffRow, ...] = ()
    tests_run: int = 0
    intent_tests: tuple[str, ...] = field(default=())
    # Where it ran: "warehouse branch" or "sandbox"; the sandbox's record when there.
    where: str = "warehouse branch"
    sandbox: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps) and len(self.steps) == 4

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(f"{s.name}: {e}" for s in self.steps for e in s.errors)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "warehouse_branch": self.warehouse_branch,
                               "where": self.where, "sandbox": self.sandbox}
        for name in ("compile", "build", "tests", "data_diff"):
            s = self.step(name)
            out[name] = s.to_json() if s else {"ok": False, "summary": "not reached",
                                                "errors": [], "skipped": True}
        out["data_diff"]["models"] = [d.to_json() for d in self.diff]
        out["tests"]["intent_tests"] = list(self.intent_tests)
        return out


def warehouse_branch_name(repair_id: str) -> str:
    """The warehouse branch a repair validates in (``[a-z0-9_]{1,40}``).

    >>> warehouse_branch_name("3F9a-0c")
    'repair_3f9a_0c'
    """
    clean = "".join(ch if ch.isalnum() else "_" for ch in repair_id.lower())
    return f"repair_{clean}"[:40]


def validate_project(project: Project, warehouse: Path | None, branch: str,
                     rebuild: Sequence[str], *, pure: bool, console: Console | None = None,
                     expected_schema_changes: Sequence[tuple[str, str]] = (),
                     sampled: bool = False, keep_tables: Sequence[str] = ()) -> Validation:
    """Run the four steps; stop at the first that fails (later ones are 'not reached').

    ``warehouse`` is a DuckDB file standing in for the project's warehouse (a sandbox, or
    the original project's file when ``project`` is a worktree copy); None validates in
    the project's own warehouse. ``sampled``: the sources are samples (a sandbox of a
    remote warehouse), so tests that need whole tables (relationships, row_count) are
    reported, not counted as failures. ``keep_tables``: incremental models whose stored
    table the drift plan keeps; their refreshed branch table must equal prod's.
    """
    ctx = Context(project, console or SilentConsole(), warehouse_path=warehouse)
    steps: list[Step] = []
    compiled = _compile(project)
    steps.append(compiled)
    if not compiled.ok:
        return Validation(branch, tuple(steps))
    select = list(rebuild)
    build = _build(ctx, branch, select)
    steps.append(build)
    if not build.ok:
        return Validation(branch, tuple(steps))
    tests, count, intent = _tests(ctx, branch, select, sampled=sampled)
    steps.append(tests)
    if not tests.ok:
        return Validation(branch, tuple(steps), tests_run=count, intent_tests=intent)
    diff_step, rows = _diff(ctx, branch, select, pure=pure,
                            expected={(m.lower(), c.lower()) for m, c in expected_schema_changes},
                            keep={m.lower() for m in keep_tables})
    steps.append(diff_step)
    return Validation(branch, tuple(steps), tuple(rows), count, intent)


def _compile(project: Project) -> Step:
    from rocky_engine.compiler import compile_project

    try:
        result = compile_project(project, use_cache=False)
    except RockyError as exc:
        return Step("compile", False, "the patched project does not load", (exc.render(),))
    errors = tuple(d.headline() for d in result.errors)
    if errors:
        return Step("compile", False, f"{len(errors)} compile error(s)", errors)
    return Step("compile", True, f"{len(result.models)} models compile with no errors")


def _build(ctx: Context, branch: str, select: list[str]) -> Step:
    try:
        if branch in {b.name for b in ctx.branch_list()}:
            ctx.branch_drop(branch)  # a previous attempt: start clean
        # Prod views broken by the drift are skipped by branch_create (they cannot be
        # passed through); the run rebuilds them on the branch.
        ctx.branch_create(branch, sandboxed=True)
        if not select:
            return Step("build", True, "nothing to rebuild")
        # full_refresh: an incremental model is rebuilt from its SQL, not grown from a
        # copy of prod's table (which would trivially equal prod).
        result = ctx.run(select, branch=branch, sandboxed=True, full_refresh=True)
    except RockyError as exc:
        return Step("build", False, "the branch could not be built", (exc.render(),))
    failed = tuple(f"{m.name}: {m.error or m.skipped_because or m.status}" for m in result.models
                   if m.status != "success")
    failed += tuple(d.headline() for d in result.compile_errors)
    if failed:
        return Step("build", False, result.summary(), failed)
    return Step("build", True, f"built {len(result.models)} models on branch {branch}: "
                               f"{', '.join(m.name for m in result.models)}")


# Outcomes that depend on having every row: meaningless on a sample.
_WHOLE_TABLE_TESTS = {"relationships", "row_count"}


def _tests(ctx: Context, branch: str, select: list[str], *, sampled: bool = False
           ) -> tuple[Step, int, tuple[str, ...]]:
    from rocky_engine.execution.branches import branch_schema
    from rocky_engine.execution.data_tests import run_data_test

    try:
        report = ctx.test(select, branch=branch, sandboxed=True)
    except RockyError as exc:
        return Step("tests", False, "tests could not run", (exc.render(),)), 0, ()
    failures = report.failures()
    moot = [r for r in failures
            if sampled and r.status == "fail" and r.kind in _WHOLE_TABLE_TESTS]
    errors = [r.render().strip() for r in failures if r not in moot]
    counts = report.counts()
    # Tests generated from intent: the grain is a unique, non-null key.
    schema = branch_schema(ctx.project.config.warehouse.schema_, branch)
    names = set(ctx.project.models)
    intent: list[str] = []
    try:
        with ctx.adapter(sandboxed=True) as adapter:
            for name in select:
                model = ctx.project.models.get(name.lower())
                grain = list(model.sidecar.intent.grain) if model and model.sidecar.intent else []
                if not grain:
                    continue
                generated: list[Any] = [UniqueTest(type="unique", columns=grain)]
                generated += [NotNullTest(type="not_null", column=c) for c in grain]
                for test in generated:
                    result = run_data_test(adapter, test, name.lower(), schema, names,
                                           ctx.project.dialect)
                    intent.append(f"{name}: {result.name} ({result.status})")
                    if result.status in ("fail", "error"):
                        errors.append(f"intent test {result.render().strip()}")
    except RockyError as exc:
        errors.append(f"intent tests could not run: {exc.render()}")
    total = len(report.results) + len(intent)
    summary = (f"{counts['pass']} existing tests passed, {counts['fail'] - len(moot)} failed, "
               f"{counts['error']} errored; {len(intent)} intent tests")
    if moot:
        summary += (f"; {len(moot)} not judged on sampled rows ("
                    + ", ".join(f"{r.model}: {r.name}" for r in moot) + ")")
    return Step("tests", not errors, summary, tuple(errors)), total, tuple(intent)


def _diff(ctx: Context, branch: str, select: list[str], *, pure: bool,
          expected: set[tuple[str, str]], keep: set[str] = frozenset()  # type: ignore[assignment]
          ) -> tuple[Step, list[DiffRow]]:
    try:
        diff = ctx.branch_diff(branch, select, sandboxed=True)
    except RockyError as exc:
        return Step("data_diff", False, "data diff failed", (exc.render(),)), []
    rows: list[DiffRow] = []
    errors: list[str] = []
    compared = 0
    views = {n for n, m in ctx.project.models.items() if m.materialized == "view"}
    for m in diff.models:
        note = ""
        # A prod *view* already shows the drifted source types; a cast back differs from it
        # by design, so only column additions/removals count there.
        unexpected = [c for c in m.schema_changes
                      if (m.model, c.column.lower()) not in expected
                      and not (m.model in views and c.change == "type_changed")]
        if m.status == "error":
            # Prod views over a drifted source no longer resolve: nothing to compare with.
            note = f"prod not readable ({m.message}); not compared"
        elif m.status == "added":
            note = "not in prod yet; not compared"
        else:
            compared += 1
            differs = bool(m.changed or m.only_in_prod or m.only_in_branch)
            if m.model in keep:
                note = ("incremental: refreshed on the branch, differs from prod's stored table"
                        if differs or m.schema_changes else
                        "incremental: refreshed on the branch, equals prod's stored table "
                        "(the stored table can be kept)")
            if m.model in keep and (differs or m.schema_changes):
                errors.append(f"{m.model}: incremental model refreshed on the branch differs "
                              f"from prod's stored table (changed {m.changed}, only in prod "
                              f"{m.only_in_prod}, only in branch {m.only_in_branch}); the drift "
                              "plan to keep the stored table does not hold — it needs "
                              "`rocky run --full-refresh` after the fix")
            elif pure and differs:
                errors.append(f"{m.model}: outputs differ from prod (changed {m.changed}, only in "
                              f"prod {m.only_in_prod}, only in branch {m.only_in_branch}); a "
                              "pure rename must not change data")
            elif unexpected:
                errors.append(f"{m.model}: unexpected schema change "
                              f"{', '.join(c.column + ' ' + c.change for c in unexpected)}")
        rows.append(DiffRow(m.model, m.status, m.prod_rows, m.branch_rows, m.changed,
                            m.only_in_prod, m.only_in_branch, note))
    same = sum(1 for r in rows if r.status == "unchanged")
    summary = f"{compared} models compared with prod: {same} identical"
    if pure:
        summary += " (required: the change is a pure rename/cast)"
    return Step("data_diff", not errors, summary, tuple(errors)), rows
