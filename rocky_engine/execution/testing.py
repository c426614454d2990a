"""``rocky test``: every selected model's data tests, then its unit tests.

    >>> report = run_tests(project, adapter, plan, schema="main")   # doctest: +SKIP
    >>> report.ok, report.counts()                                     # doctest: +SKIP
    (True, {'pass': 14, 'fail': 0, 'warn': 0, 'error': 0})
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.console import Console, SilentConsole
from rocky_engine.execution.data_tests import TestResult, run_data_test
from rocky_engine.execution.plan import Plan, compiled_column_types
from rocky_engine.execution.refs import ParsedModel
from rocky_engine.execution.unit_tests import run_unit_test
from rocky_engine.project import Project

_STATUSES = ("pass", "fail", "warn", "error")


@dataclass(frozen=True)
class TestReport:
    """All test outcomes of one ``rocky test``; ``ok`` unless a test failed or errored."""

    __test__ = False  # not a pytest class

    schema: str
    results: tuple[TestResult, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not any(r.status in ("fail", "error") for r in self.results)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in _STATUSES}

    def failures(self) -> list[TestResult]:
        return [r for r in self.results if r.status in ("fail", "error")]

    def summary(self) -> str:
        c = self.counts()
        return (f"{len(self.results)} tests on {self.schema} in {self.seconds:.2f}s: "
                f"{c['pass']} passed, {c['fail']} failed, {c['warn']} warned, "
                f"{c['error']} errored")

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "schema": self.schema, "seconds": round(self.seconds, 4),
                "counts": self.counts(), "tests": [r.to_json() for r in self.results]}


def run_tests(project: Project, adapter: WarehouseAdapter, plan: Plan, *, schema: str,
              compiled: Any = None, console: Console | None = None) -> TestReport:
    console = console or SilentConsole()
    started = time.perf_counter()
    names = set(project.models)
    results: list[TestResult] = []
    for name in plan.selected:
        model = project.models[name]
        for test in model.sidecar.tests:
            results.append(run_data_test(adapter, test, name, schema, names, project.dialect))
            console.line(results[-1].render())
        for unit in model.sidecar.unit_tests:
            types = _input_types(project, adapter, plan.parsed[name], compiled, schema)
            results.append(run_unit_test(project, adapter, plan.parsed[name], unit,
                                         target_models=_target_models(project, adapter,
                                                                      compiled),
                                         input_types=types))
            console.line(results[-1].render())
    return TestReport(schema, tuple(results), time.perf_counter() - started)


def _target_models(project: Project, adapter: WarehouseAdapter, compiled: Any) -> Any:
    """Qualified trees for a warehouse of another dialect (None: the model's own SQL)."""
    if compiled is None or adapter.dialect == project.dialect:
        return None
    cached = getattr(compiled, "_rocky_target_models", None)
    if cached is None or cached.target != adapter.dialect:
        from rocky_engine.compiler.target import TargetModels

        cached = TargetModels(project, compiled, adapter.dialect)
        object.__setattr__(compiled, "_rocky_target_models", cached)
    return cached


def _input_types(project: Project, adapter: WarehouseAdapter, parsed: ParsedModel,
                 compiled: Any, schema: str) -> dict[str, dict[str, str]]:
    """Column types of each input: sources as declared, models as compiled (else as built)."""
    out: dict[str, dict[str, str]] = {}
    for ref in parsed.source_refs:
        source = project.sources.get(ref)
        out[ref] = {c.name.lower(): c.type for c in source.columns} if source else {}
    for ref in parsed.model_refs:
        types = compiled_column_types(compiled, ref)
        if not types:
            table = adapter.table(schema, ref)
            types = {c.name.lower(): c.type for c in table.columns} if table else {}
        out[ref] = types
    return out
