"""The repair job the engine's drift sensor requests (``rocky.dagster`` entry point ``repair``).

``rocky_definitions`` finds :func:`repair_job` through the entry-point group, so the engine
never imports the agent. The job runs :func:`~intent_agent.repair.repair_project` once and
records its outcome on the Dagster run: tags ``rocky/repair_status``, ``rocky/repair_branch``,
``rocky/pr_url`` (and ``rocky/pr_body``), and the same as the op's output metadata.

Whether it opens a pull request follows the project's config — a GitHub repository set in
``[github] repo`` (or ``GITHUB_REPOSITORY``) — unless the run config says otherwise::

    ops:
      rocky_repair:
        config:
          open_pr: false
"""

# No `from __future__ import annotations`: Dagster reads the op's `context` and `config`
# annotations as objects, not strings.

import os
from pathlib import Path

import dagster as dg

from rocky_engine.errors import RockyError
from rocky_engine.integrations.dagster import LogConsole
from rocky_engine.project import load_project

STATUS_TAG = "rocky/repair_status"
BRANCH_TAG = "rocky/repair_branch"
PR_URL_TAG = "rocky/pr_url"
PR_BODY_TAG = "rocky/pr_body"


class RepairConfig(dg.Config):
    """``open_pr``: None follows the project ([github] repo or GITHUB_REPOSITORY set)."""

    open_pr: bool | None = None


def repair_job(project_root: Path, job_name: str) -> dg.JobDefinition:
    """A one-op job: ``rocky repair`` of ``project_root``, its outcome on the run."""
    root = Path(project_root)

    @dg.op(name="rocky_repair", out=dg.Out(dg.Nothing),
           description="Repair the drift: draft, validate in isolation, commit on a branch, "
                       "open or update the pull request.")
    def _repair(context: dg.OpExecutionContext, config: RepairConfig) -> dg.Output[None]:
        from intent_agent.repair.loop import FAILED, repair_project

        try:
            open_pr = config.open_pr if config.open_pr is not None else _configured(root)
            result = repair_project(root, console=LogConsole(context.log), open_pr=open_pr)
        except RockyError as exc:
            context.instance.add_run_tags(context.run_id, {STATUS_TAG: "error"})
            raise dg.Failure(description=exc.render()) from None
        tags = {STATUS_TAG: result.status, BRANCH_TAG: result.branch or "",
                PR_URL_TAG: result.pr_url or "", PR_BODY_TAG: result.pr_body_path or ""}
        context.instance.add_run_tags(context.run_id, {k: v for k, v in tags.items() if v})
        meta = {
            "status": result.status, "branch": result.branch or "",
            "pr_url": dg.MetadataValue.url(result.pr_url) if result.pr_url else "",
            "pr_body": result.pr_body_path or "", "commit": result.commit or "",
            "open_pr": open_pr,
            "repair": dg.MetadataValue.json(result.to_json()),
        }
        if result.status == FAILED or result.publish_error:
            reason = result.publish_error or "; ".join(f.render() for f in result.findings) \
                or "the patch could not be validated"
            raise dg.Failure(description=f"repair {result.status}: {reason}", metadata=meta)
        for note in result.notes:
            context.log.info(note)
        return dg.Output(None, metadata=meta)

    @dg.job(name=job_name, description=f"rocky repair of {root.name}: the agent loop, "
                                       "requested by the drift sensor once per new drift.")
    def _job() -> None:
        _repair()

    return _job


def _configured(root: Path) -> bool:
    """True when the project names a GitHub repository to open the pull request on."""
    return bool(load_project(root).config.github.repo or os.environ.get("GITHUB_REPOSITORY"))
