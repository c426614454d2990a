"""``rocky repair``: a thin wrapper over :func:`intent_agent.repair.repair_project`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from rocky_engine.cli._app import Options, emit, global_options, pass_options

if TYPE_CHECKING:
    from intent_agent.repair.loop import RepairResult

# The agent loop is imported when the command runs, so `rocky --help` stays fast.


@click.command("repair")
@click.option("--open-pr", is_flag=True, default=False,
              help="Push the branch to [github] remote and open or update a pull request "
                   "(token from GITHUB_TOKEN). Without a token the PR body is written to a file.")
@global_options
@pass_options
def repair_cmd(opts: Options, open_pr: bool) -> int:
    """Repair upstream schema drift: patch the models from their intent, prove the fix on an
    isolated warehouse branch, commit it on git branch rocky/repair-<id>.

    Your checkout, current branch and uncommitted work are never touched (the fix is made
    in a separate git worktree) and prod is never written. Exit 0 when there is no drift or
    the fix validated; 1 when it needs review or failed.

    \b
    Example:
        rocky repair
        GITHUB_TOKEN=... rocky repair --open-pr --format json
    """
    from intent_agent.repair.loop import repair_project

    result = repair_project(opts.project, console=opts.console(), open_pr=open_pr)
    emit(opts, result.to_json(), lambda: _text(result))
    return result.exit_code


def _text(r: RepairResult) -> None:
    from intent_agent.repair.loop import NEEDS_REVIEW, NO_DRIFT, VALIDATED

    if r.status == NO_DRIFT:
        click.echo("no drift: nothing to repair")
        return
    colour = {VALIDATED: "green", NEEDS_REVIEW: "yellow"}.get(r.status, "red")
    click.secho(f"repair {r.repair_id}: {r.status}", fg=colour, bold=True)
    for c in r.changes:
        click.echo(f"  drift   {c.describe()}")
    for p in r.patches:
        click.echo(f"  patch   {p.path}" + (f"  ({p.drafted_by})" if p.kind == "model" else ""))
    if r.validation is not None:
        data = r.validation.to_json()
        for name in ("compile", "build", "tests", "data_diff"):
            step = data[name]
            mark = "ok  " if step["ok"] else ("--  " if step.get("skipped") else "FAIL")
            click.echo(f"  {mark}    {name.replace('_', ' ')}: {step['summary']}")
    for f in r.findings:
        click.echo(f"  review  {f.render()}")
    if r.branch:
        click.echo(f"branch  {r.branch}  commit {r.commit[:12] if r.commit else '-'}")
    if r.validation is not None and r.validation.ok:
        click.echo(f"evidence: rocky branch diff {r.validation.warehouse_branch}")
    if r.pr_url:
        click.echo(f"pull request: {r.pr_url}")
    elif r.pr_body_path:
        click.echo(f"PR body: {r.pr_body_path}")
    for note in r.notes:
        click.echo(f"note: {note}")
    if r.status == NEEDS_REVIEW:
        click.echo("next: decide the fix by hand (the diagnosis above says why rocky did not "
                   "guess), then `rocky drift --accept`")
