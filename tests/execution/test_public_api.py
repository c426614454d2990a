from __future__ import annotations

from rocky_engine import execution
from rocky_engine.context import Context


def test_all_is_pinned() -> None:
    assert execution.__all__ == [
        "BranchDiff", "BranchInfo", "ColumnChange", "ModelDiff", "ModelRun", "Plan",
        "PromoteResult", "RunRecord", "RunResult", "SampleRows", "TestReport", "TestResult",
        "branch_schema", "build_plan", "open_with_retry", "parse_user_expression",
        "run_history", "select_models", "validate_branch_name",
    ]
    for name in execution.__all__:
        assert getattr(execution, name) is not None


def test_context_methods_exist() -> None:
    for name in ("run", "test", "branch_create", "branch_list", "branch_diff",
                 "branch_promote", "branch_drop"):
        assert callable(getattr(Context, name))


def test_every_command_documented_with_example(run_cli) -> None:
    for args in (["run"], ["test"], ["branch"], ["branch", "create"], ["branch", "list"],
                 ["branch", "diff"], ["branch", "promote"], ["branch", "drop"]):
        r = run_cli(*args, "--help")
        assert r.exit_code == 0, args
        assert "Example:" in r.stdout, args
        if args != ["branch"]:  # the group itself only dispatches
            assert "--project" in r.stdout and "--format" in r.stdout, args
