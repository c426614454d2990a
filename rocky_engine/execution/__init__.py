"""Building and checking real data: run, branches, data/unit tests, data diff, state.

Planner (:mod:`.plan`) decides, runner (:mod:`.runner`) executes, through the adapter
seam only; :mod:`.state` keeps run history and the writer lock in ``_rocky``.

    >>> from rocky_engine.context import Context           # doctest: +SKIP
    >>> ctx = Context.load("shop")                         # doctest: +SKIP
    >>> ctx.run(select=["+customers"]).ok                  # doctest: +SKIP
    True
"""

from __future__ import annotations

from rocky_engine.execution.branches import (
    BranchInfo,
    PromoteResult,
    branch_schema,
    validate_branch_name,
)
from rocky_engine.execution.data_tests import TestResult, parse_user_expression
from rocky_engine.execution.diff import BranchDiff, ColumnChange, ModelDiff, SampleRows
from rocky_engine.execution.plan import Plan, build_plan
from rocky_engine.execution.results import ModelRun, RunResult
from rocky_engine.execution.selection import select_models
from rocky_engine.execution.state import RunRecord, open_with_retry, run_history
from rocky_engine.execution.testing import TestReport

__all__ = [
    "BranchDiff",
    "BranchInfo",
    "ColumnChange",
    "ModelDiff",
    "ModelRun",
    "Plan",
    "PromoteResult",
    "RunRecord",
    "RunResult",
    "SampleRows",
    "TestReport",
    "TestResult",
    "branch_schema",
    "build_plan",
    "open_with_retry",
    "parse_user_expression",
    "run_history",
    "select_models",
    "validate_branch_name",
]
