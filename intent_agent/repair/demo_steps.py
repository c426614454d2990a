"""The drift → repair chapter of ``rocky demo`` (appended to ``demo._later_steps()``).

An upstream column is renamed and another retyped in the demo warehouse; ``rocky drift``
shows the blast radius; ``rocky repair`` (offline) drafts the fix, validates it on an
isolated warehouse branch and commits it on a git branch; the demo then shows that
branch, the rendered pull request body, and the data diff proving only the fix changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import click

from rocky_engine.console import TerminalConsole
from rocky_engine.context import Context

_RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"
_RETYPE = "ALTER TABLE raw.payments ALTER amount TYPE VARCHAR"


class _State:
    result: object | None = None


def repair_steps() -> list[tuple[str, Callable[[Context], None]]]:
    state = _State()
    return [
        ("git init && git commit   (rocky repair commits its fix on a git branch)", _git_init),
        ("rocky drift --check   (before the change: no drift; column fingerprints recorded)",
         _baseline_drift),
        (("upstream drift: raw.orders.amount renamed to total_amount, raw.payments.amount "
          "retyped to VARCHAR"), _drift_upstream),
        ("rocky drift", _show_drift),
        ("rocky repair", lambda ctx: _repair(ctx, state)),
        ("the validated branch (git show --stat)", lambda ctx: _show_branch(ctx, state)),
        ("the rendered pull request body", lambda ctx: _show_body(ctx, state)),
        ("rocky branch diff: prod vs the repair branch (only the fix changed)",
         lambda ctx: _show_diff(ctx, state)),
    ]


def _git(root: Path, *args: str) -> str:
    env_args = ["-c", "user.name=rocky demo", "-c", "user.email=demo@rocky.invalid"]
    out = subprocess.run(["git", *env_args, *args], cwd=root, check=True, capture_output=True,
                         text=True)
    return out.stdout


def _git_init(ctx: Context) -> None:
    root = ctx.project.root
    with ctx.adapter() as adapter:
        built = adapter.relations(ctx.project.config.warehouse.schema_)
    if not all(name in built for name in ctx.project.models):
        result = ctx.run()  # prod must exist for the data diff to mean something
        click.echo(result.summary())
    if not (root / ".git").exists():
        _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    if _git(root, "status", "--porcelain").strip():
        _git(root, "commit", "-q", "-m", "shop project")
    click.echo(_git(root, "log", "--oneline", "-1").strip())


def _baseline_drift(ctx: Context) -> None:
    report = ctx.drift()  # records value fingerprints: later renames are judged on values too
    if report.drifted:
        raise RuntimeError("the example project drifted before the demo changed anything")
    click.echo(f"no drift: {len(ctx.project.sources)} source tables match sources/ "
               "(exit 0 with --check)")


def _drift_upstream(ctx: Context) -> None:
    with ctx.adapter() as adapter:
        for sql in (_RENAME, _RETYPE):
            adapter.execute(sql)
            click.echo(f"  {sql}")


def _show_drift(ctx: Context) -> None:
    from rocky_engine.drift.render import render_report

    click.echo(render_report(ctx.drift(record=False)))


def _repair(ctx: Context, state: _State) -> None:
    from intent_agent.repair.cli import _text
    from intent_agent.repair.loop import VALIDATED, repair_project

    result = repair_project(ctx.project.root, console=TerminalConsole(), env={})
    _text(result)
    state.result = result
    if result.status != VALIDATED:
        raise click.ClickException(f"the demo repair ended {result.status}")


def _show_branch(ctx: Context, state: _State) -> None:
    result = state.result
    branch = getattr(result, "branch", None)
    click.echo(_git(ctx.project.root, "show", "--stat", "--format=%h %s%n%n%b", str(branch)))
    click.echo(_git(ctx.project.root, "show", "--format=", str(branch), "--", "models/"))
    click.echo("your checkout is untouched: "
               + (_git(ctx.project.root, "status", "--short", "--branch").splitlines()[0]))


def _show_body(ctx: Context, state: _State) -> None:
    path = Path(str(getattr(state.result, "pr_body_path", "")))
    lines = path.read_text(encoding="utf-8").splitlines()
    click.echo(f"{path} ({len(lines)} lines; with GITHUB_TOKEN and --open-pr it becomes the "
               "pull request):\n")
    # The opening and the validation evidence; the Mermaid graph and diffs are in the file.
    start = next((i for i, ln in enumerate(lines) if ln.startswith("### Validation")), len(lines))
    end = next((i for i, ln in enumerate(lines) if ln.startswith("### Drafted")), len(lines))
    click.echo("\n".join(lines[:10]))
    click.echo("\n[... drift table, Mermaid blast radius, patches as diffs ...]\n")
    click.echo("\n".join(lines[start:end]).rstrip())


def _show_diff(ctx: Context, state: _State) -> None:
    validation = getattr(state.result, "validation", None)
    branch = getattr(validation, "warehouse_branch", "")
    diff = ctx.branch_diff(branch)
    for model in diff.models:
        click.echo(model.render())
        if model.status == "error":
            click.echo("      (the prod view itself is broken by the drift: that is what this "
                       "branch fixes)")
    click.echo("prod tables rebuilt on the branch hold exactly the same rows as prod: the "
               "repair changed the SQL, not the data")
