"""The Dagster repair job: the drift sensor's request, run end to end on the example project."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from fakes.github_api import FakeGitHub
from repair_helpers import alter_warehouse, checkout_state, git

from intent_agent.dagster_jobs import BRANCH_TAG, PR_BODY_TAG, PR_URL_TAG, STATUS_TAG
from intent_agent.repair.changes import fingerprint, from_drift
from rocky_engine.context import Context
from rocky_engine.integrations.dagster import DRIFT_TAG, drift_fingerprint, rocky_definitions


@pytest.fixture(autouse=True)
def _no_github_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


def _request(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.RunRequest:
    sensor = defs.resolve_sensor_def("shop_drift")
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(tick.run_requests) == 1, tick.skip_message
    return tick.run_requests[0]


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest,
         run_config: dict | None = None) -> tuple[dg.ExecuteInProcessResult, dict[str, str]]:
    job = defs.resolve_job_def("shop_repair")
    result = job.execute_in_process(instance=instance, tags=request.tags,
                                    run_config=run_config or {}, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return result, dict(run.tags)


def test_sensor_fingerprint_is_the_repair_id(shop_repo: Path) -> None:
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    report = Context.load(shop_repo).drift(read_values=False, record=False)
    assert drift_fingerprint(report) == fingerprint(from_drift(c) for c in report.changes)


def test_drift_to_repair_branch_and_local_pr_body(shop_repo: Path) -> None:
    """Offline provider, local git, no token: the branch is committed, the PR body written."""
    before = checkout_state(shop_repo)
    defs = rocky_definitions(shop_repo)
    instance = dg.DagsterInstance.ephemeral()
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    request = _request(defs, instance)
    key = request.tags[DRIFT_TAG]
    # open_pr asked for, but no GITHUB_TOKEN: the PR body stays local.
    result, tags = _run(defs, instance, request,
                        {"ops": {"rocky_repair": {"config": {"open_pr": True}}}})
    assert result.success
    assert tags[STATUS_TAG] == "validated"
    assert tags[BRANCH_TAG] == f"rocky/repair-{key}"
    assert PR_URL_TAG not in tags
    body = Path(tags[PR_BODY_TAG])
    assert body.is_file() and body.is_relative_to(shop_repo / ".rocky")
    text = body.read_text()
    assert "amount" in text and "total" in text
    # The op's output metadata carries the same.
    meta = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT)
    out = meta.step_output_data.metadata
    assert out["status"].value == "validated" and out["branch"].value == tags[BRANCH_TAG]
    assert out["open_pr"].value is True
    # The branch exists in the user's repository; their checkout is untouched.
    assert git(shop_repo, "rev-parse", "--verify", tags[BRANCH_TAG])
    patched = git(shop_repo, "show", f"{tags[BRANCH_TAG]}:models/stg_orders.sql")
    assert "total" in patched
    assert checkout_state(shop_repo) == before


def test_pr_opened_when_the_project_names_a_repository(
        shop_repo: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = shop_repo / "rocky.toml"
    toml.write_text(toml.read_text() + '\n[github]\nrepo = "acme/shop"\n')
    git(shop_repo, "commit", "-qam", "publish repairs to acme/shop")
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    defs = rocky_definitions(shop_repo)
    instance = dg.DagsterInstance.ephemeral()
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    result, tags = _run(defs, instance, _request(defs, instance))  # open_pr from the config
    assert result.success
    assert tags[STATUS_TAG] == "validated"
    assert tags[PR_URL_TAG] == fake_github.pulls[1]["html_url"]
    assert fake_github.pulls[1]["head"]["ref"] == tags[BRANCH_TAG]


def test_needs_review_is_recorded_without_failing(shop_repo: Path) -> None:
    defs = rocky_definitions(shop_repo)
    instance = dg.DagsterInstance.ephemeral()
    # A used column removed: a judgement call, so a diagnosis and no branch.
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders DROP COLUMN status")
    result, tags = _run(defs, instance, _request(defs, instance))
    assert result.success
    assert tags[STATUS_TAG] == "needs_review"
    assert BRANCH_TAG not in tags


def test_repair_error_fails_the_run_with_the_message(tmp_path: Path,
                                                     shop_repo: Path) -> None:
    defs = rocky_definitions(shop_repo)
    instance = dg.DagsterInstance.ephemeral()
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    request = _request(defs, instance)
    (shop_repo / "rocky.toml").write_text("[project]\nname = 'shop'\nbogus = 1\n")
    result, tags = _run(defs, instance, request)
    assert not result.success
    assert tags[STATUS_TAG] == "error"
    failure = next(e for e in result.all_events
                   if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "bogus" in failure.step_failure_data.user_failure_data.description


def test_a_pr_that_cannot_be_opened_fails_the_run_but_keeps_the_branch(
        shop_repo: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/shop")  # open_pr from the environment
    defs = rocky_definitions(shop_repo)
    instance = dg.DagsterInstance.ephemeral()
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total")
    request = _request(defs, instance)
    fake_github.fail_next(422, message="head branch is invalid")
    result, tags = _run(defs, instance, request)
    assert not result.success
    assert tags[STATUS_TAG] == "validated"
    assert tags[BRANCH_TAG] == f"rocky/repair-{request.tags[DRIFT_TAG]}"
    assert PR_URL_TAG not in tags and fake_github.pulls == {}
    failure = next(e for e in result.all_events
                   if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "refused the pull request" in failure.step_failure_data.user_failure_data.description
    assert fake_github.token not in failure.step_failure_data.user_failure_data.description
