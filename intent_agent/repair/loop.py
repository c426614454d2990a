"""The agent loop of ``rocky repair`` (DESIGN §4): detect → plan → draft → apply in a
worktree → validate on an isolated warehouse branch → commit → publish.

    >>> result = repair_project(Path("shop"), open_pr=False)   # doctest: +SKIP
    >>> result.status, result.branch                            # doctest: +SKIP
    ('validated', 'rocky/repair-5c1f0e9a7b21')

Statuses: ``no_drift`` (nothing to do), ``validated`` (committed on the branch, and
published with ``open_pr``), ``needs_review`` (a decision for a person: a diagnosis, no
commit), ``failed`` (patches drafted but not validated within ``agent.max_rounds``: no
commit). Prod objects are never written; the user's checkout is never touched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from intent_agent.github import GitHubClient, GitHubError, GitHubSettings
from intent_agent.gitops import CommitInfo, GitError, RepairWorkspace, branch_name
from intent_agent.prompting import clip
from intent_agent.repair.changes import SchemaChange, fingerprint, from_drift
from intent_agent.repair.offline import (
    CastCheck,
    Finding,
    ModelPatch,
    draft_offline,
    plan_findings,
    value_findings,
)
from intent_agent.repair.plan import RepairPlan, build_plan, relation_columns
from intent_agent.repair.pr_body import (
    PatchView,
    mermaid_blast_radius,
    render_body,
    render_review_body,
    render_title,
    unified_diff,
)
from intent_agent.repair.safety import Patch, UnsafePatch, check_patch
from intent_agent.repair.target import ValidationTarget
from intent_agent.repair.validate import Validation, warehouse_branch_name
from rocky_engine.console import Console, SilentConsole
from rocky_engine.context import Context
from rocky_engine.errors import RockyError
from rocky_engine.project import Project, load_project

NO_DRIFT, VALIDATED, NEEDS_REVIEW, FAILED = "no_drift", "validated", "needs_review", "failed"
_VALIDATION_LOCK = threading.Lock()
_PURE_KINDS = {"column_renamed", "table_renamed", "column_type_changed", "column_added",
               "column_nullability_changed", "table_added"}


@dataclass(frozen=True)
class FilePatch:
    path: str
    kind: str  # model | sidecar | source
    old_text: str
    new_text: str
    model: str | None = None
    drafted_by: str = "offline"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "model": self.model,
                "drafted_by": self.drafted_by}


@dataclass(frozen=True)
class RepairResult:
    status: str
    repair_id: str | None = None
    branch: str | None = None
    commit: str | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    pushed: bool = False
    patches: tuple[FilePatch, ...] = ()
    model_patches: tuple[ModelPatch, ...] = ()
    validation: Validation | None = None
    findings: tuple[Finding, ...] = ()
    changes: tuple[SchemaChange, ...] = ()
    pr_body_path: str | None = None
    provider: str = "offline"
    llm: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = field(default=())
    publish_error: str | None = None  # --open-pr was asked for and push/PR failed

    @property
    def exit_code(self) -> int:
        if self.publish_error:
            return 1
        return 0 if self.status in (NO_DRIFT, VALIDATED) else 1

    def to_json(self) -> dict[str, Any]:
        """The ``rocky repair --format json`` document (DESIGN §2; fields only ever added)."""
        return {
            "status": self.status,
            "branch": self.branch,
            "commit": self.commit,
            "pr_url": self.pr_url,
            "patches": [p.to_json() for p in self.patches],
            "validation": self.validation.to_json() if self.validation else {},
            "id": self.repair_id,
            "pr_number": self.pr_number,
            "pushed": self.pushed,
            "pr_body": self.pr_body_path,
            "changes": [c.to_json() for c in self.changes],
            "findings": [f.to_json() for f in self.findings],
            "provider": self.provider,
            "llm": list(self.llm),
            "notes": list(self.notes),
            "publish_error": self.publish_error,
        }


def repair_project(path: Path | str, *, console: Console | None = None, open_pr: bool = False,
                   env: Mapping[str, str] | None = None, provider: Any = None,
                   github_transport: Any = None) -> RepairResult:
    """Run the whole loop once for the project at ``path``."""
    env = os.environ if env is None else env
    console = console or SilentConsole()
    project = load_project(path)
    ctx = Context(project, console)
    console.info("detecting drift ...")
    report = ctx.drift(record=False)
    if not report.drifted:
        console.info("no drift: the live sources match sources/")
        return RepairResult(NO_DRIFT)
    changes = tuple(from_drift(c) for c in report.changes)
    rid = fingerprint(changes)
    for c in changes:
        console.info(f"  drift: {c.describe()}")
    if provider is None:
        from intent_agent.providers.factory import make_provider

        provider = make_provider(project.config.agent, env=env)
    gh = GitHubSettings.resolve(project.config.github, env)
    out_dir = project.root / ".rocky" / "repair" / rid
    git_branch = branch_name(rid)
    wh_branch = warehouse_branch_name(rid)
    base = RepairResult(NEEDS_REVIEW, rid, changes=changes, provider=provider.name)

    with RepairWorkspace.open(project.root, git_branch) as ws:
        old = load_project(ws.project_dir)
        try:
            from rocky_engine.drift import apply_changes_to_sources

            source_texts = apply_changes_to_sources(old, report.changes)
        except RockyError as exc:
            return _needs_review(base, [Finding(f"sources/ cannot be updated: {exc.message}")],
                                 out_dir, console)
        source_patches = [FilePatch(rel, "source", (old.root / rel).read_text(), text)
                          for rel, text in sorted(source_texts.items())]
        for fp in source_patches:
            _write(ws.project_dir, check_patch(Patch(fp.path, fp.new_text), ws.project_dir,
                                               known=(), dialect=old.dialect))
        live = load_project(ws.project_dir)
        from rocky_engine.compiler import compile_project
        from rocky_engine.lineage.graph import LineageGraph

        baseline = compile_project(old, use_cache=False)
        live_compile = compile_project(live, use_cache=False)
        plan = build_plan(old, live, changes, baseline, live_compile, report.impact,
                          _column_comments(ctx, live))
        graph = LineageGraph.from_compile(baseline, old.sources)
        known = set(live.models) | set(live.sources)
        pure = all(c.kind in _PURE_KINDS for c in changes)
        console.info(f"plan: {len(plan.models)} model(s) read a changed table; rebuild "
                     f"{', '.join(plan.rebuild) or 'nothing'}")

        target = ValidationTarget.prepare(ctx, old, baseline, changes, plan.rebuild, pure,
                                 out_dir, console)
        model_patches, findings, failures, llm_records = _draft(
            provider, plan, ws.project_dir, target, old, baseline, graph, known, wh_branch,
            project.config.agent.max_rounds, console)
        if failures and not findings:
            for f in failures:
                console.warn(f"not validated: {f.render()}")
            return replace(base, status=FAILED, findings=tuple(failures),
                           model_patches=tuple(model_patches), llm=tuple(llm_records))
        expected = [(p.model.lower(), col) for p in model_patches for col in p.dropped_outputs]
        if findings:
            return _needs_review(replace(base, model_patches=tuple(model_patches),
                                         llm=tuple(llm_records)), findings, out_dir, console,
                                 report.impact, _mermaid(graph, changes))

        console.info(f"validating on {target.describe(wh_branch)} ...")
        validation = target.validate(load_project(ws.project_dir), wh_branch, plan.rebuild,
                                     console=console, expected=expected,
                                     keep_tables=[p.model for p in report.incremental
                                                  if p.action == "keep"])
        file_patches = tuple(source_patches) + tuple(
            FilePatch(p.path, "model", p.old_sql, p.new_sql, p.model, p.drafted_by)
            for p in model_patches)
        result = replace(base, patches=file_patches, model_patches=tuple(model_patches),
                         validation=validation, llm=tuple(llm_records))
        mermaid = _mermaid(graph, changes)
        body = render_body(
            repair_id=rid, changes=changes, mermaid=mermaid, provider=provider.name,
            patches=[_view(fp, model_patches) for fp in file_patches],
            validation=validation.to_json(),
            models=sorted({r["model"] for r in llm_records if r.get("model")}),
            stats=[r["stats"] for r in llm_records if r.get("stats")],
        )
        body_path = _write_body(out_dir, body)
        if not validation.ok:
            for e in validation.errors:
                console.warn(e)
            return replace(result, status=FAILED, findings=tuple(
                Finding(e) for e in validation.errors), pr_body_path=body_path)
        message = render_title(changes, [p.model for p in model_patches]) + "\n\n" + "\n".join(
            f"- {c.describe()}" for c in changes) + f"\n\nrocky-repair-id: {rid}\n"
        try:
            info = ws.commit([fp.path for fp in file_patches], message)
        except GitError as exc:
            return replace(result, status=FAILED, findings=(Finding(exc.message),),
                           pr_body_path=body_path)
        result = replace(result, status=VALIDATED, branch=info.branch, commit=info.sha,
                         pr_body_path=body_path)
        console.info(f"committed {info.sha[:12]} on {info.branch}"
                     f"{'' if info.created else ' (unchanged: same fix as before)'}")
        if open_pr:
            result = _publish(ws, result, gh, render_title(
                changes, [p.model for p in model_patches]), body, info, console,
                github_transport)
        else:
            console.info(f"PR body written to {body_path}; push with --open-pr")
        return result


# ---------------------------------------------------------------------------- steps


def _publish(ws: RepairWorkspace, result: RepairResult, gh: GitHubSettings, title: str,
             body: str, info: CommitInfo, console: Console, transport: Any) -> RepairResult:
    if not gh.token or not gh.repo:
        missing = "GITHUB_TOKEN" if not gh.token else "the GitHub repository ([github] repo)"
        note = (f"{missing} is not set: branch {info.branch} committed locally, PR body in "
                f"{result.pr_body_path}")
        console.warn(note)
        return replace(result, notes=result.notes + (note,))
    try:
        ws.push(gh.remote)
        result = replace(result, pushed=True)
        console.info(f"pushed {info.branch} to {gh.remote}")
        client = GitHubClient(gh, transport=transport)
        try:
            pr = client.open_or_update_pr(branch=info.branch, title=title, body=body)
        finally:
            client.close()
    except (GitError, GitHubError) as exc:
        console.warn(exc.render())
        return replace(result, publish_error=exc.render())
    console.info(f"{'opened' if pr.created else 'updated'} pull request #{pr.number}: {pr.url}")
    return replace(result, pr_url=pr.url, pr_number=pr.number)


def _needs_review(base: RepairResult, findings: Sequence[Finding], out_dir: Path,
                  console: Console, impact: Sequence[Any] = (),
                  mermaid: str = "") -> RepairResult:
    for f in findings:
        console.warn(f"needs review: {f.render()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# rocky repair: needs review", ""] + [f"- {f.render()}" for f in findings]
    path = out_dir / "diagnosis.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = [c for c in base.changes if c.values_changed]
    if not values:
        return replace(base, status=NEEDS_REVIEW, findings=tuple(findings),
                       pr_body_path=None, notes=base.notes + (f"diagnosis written to {path}",))
    # Drift in values: the body a person reviews carries the diagnosis and the evidence
    # (and no patch: rocky does not guess what the new values mean).
    body = render_review_body(repair_id=base.repair_id or "", changes=base.changes,
                              findings=findings, impact=impact, mermaid=mermaid)
    body_path = _write_body(out_dir, body)
    return replace(base, status=NEEDS_REVIEW, findings=tuple(findings),
                   pr_body_path=body_path,
                   notes=base.notes + (f"diagnosis written to {path}",))


def _draft(provider: Any, plan: RepairPlan, project_dir: Path, target: ValidationTarget, old: Project,
           baseline: Any, graph: Any, known: set[str], wh_branch: str,
           max_rounds: int, console: Console
           ) -> tuple[list[ModelPatch], list[Finding], list[Finding], list[dict[str, Any]]]:
    """Patches written into the worktree, review findings, validation failures, LLM records."""
    if getattr(provider, "name", "offline") != "offline":
        findings = plan_findings(plan)
        if findings:
            return [], findings, [], []
        return _draft_llm(provider, plan, project_dir, target, wh_branch, known,
                          old.dialect, max_rounds, console)
    draft = draft_offline(plan, cast_check=_cast_checker(target.data), uses=_uses(graph, old),
                          columns=relation_columns(old, baseline), dialect=old.dialect)
    findings = list(draft.findings) + value_findings(plan)
    if not findings:
        for mp in draft.patches:
            try:
                _write(project_dir, check_patch(Patch(mp.path, mp.new_sql), project_dir,
                                                known=known, dialect=old.dialect))
            except UnsafePatch as exc:
                findings.append(Finding(f"patch refused: {exc.message}", mp.model))
    return list(draft.patches), findings, [], []


def _draft_llm(provider: Any, plan: RepairPlan, project_dir: Path, where: ValidationTarget,
               wh_branch: str, known: set[str], dialect: str, max_rounds: int,
               console: Console
               ) -> tuple[list[ModelPatch], list[Finding], list[Finding], list[dict[str, Any]]]:
    """Draft each planned model in turn; returns patches, review findings, failures, records."""
    from intent_agent.repair.llm import draft_with_llm

    patches: list[ModelPatch] = []
    findings: list[Finding] = []
    failures: list[Finding] = []
    records: list[dict[str, Any]] = []
    for mctx in plan.models:
        target = project_dir / mctx.path
        original = target.read_text(encoding="utf-8")
        rebuild = [mctx.model.lower(), *mctx.downstream]

        def check(sql: str, target: Path = target, rebuild: list[str] = rebuild) -> list[str]:
            # One worktree, one warehouse branch: candidates (fusion may ask in parallel)
            # are validated one at a time.
            with _VALIDATION_LOCK:
                target.write_text(sql if sql.endswith("\n") else sql + "\n", encoding="utf-8")
                try:
                    candidate = load_project(project_dir)
                except RockyError as exc:
                    return [exc.render()]
                v = where.validate(candidate, wh_branch, rebuild)
                return list(v.errors)

        console.info(f"drafting {mctx.model} with {provider.name} (max {max_rounds} rounds) ...")
        outcome = draft_with_llm(provider, mctx, check=check, max_rounds=max_rounds,
                                 available=sorted(known), dialect=dialect)
        for s in outcome.stats:
            records.append({"model_name": mctx.model, "model": s.model, "stats": s.render(),
                            "prompt_tokens": s.prompt_tokens,
                            "completion_tokens": s.completion_tokens, "cost": s.cost})
        records.extend({"model_name": mctx.model, "attempt": a.to_json()}
                       for a in outcome.attempts)
        if outcome.patch is None:
            target.write_text(original, encoding="utf-8")
            if outcome.finding is not None:
                (failures if outcome.exhausted else findings).append(outcome.finding)
            continue
        target.write_text(outcome.patch.new_sql, encoding="utf-8")
        patches.append(outcome.patch)
    return patches, findings, failures, records


_MAX_COMMENT_CHARS = 500  # a column comment is documentation, not a payload


def _column_comments(ctx: Context, live: Project) -> dict[str, str]:
    """The warehouse's column comments on declared sources (documentation, and data)."""
    out: dict[str, str] = {}
    try:
        with ctx.adapter(sandboxed=True) as adapter:
            for schema in sorted({t.schema for t in live.sources.values()}):
                for table in adapter.tables(schema):
                    for col in table.columns:
                        if col.comment:
                            out[f"{schema}.{table.name}.{col.name}".lower()] = clip(
                                col.comment, _MAX_COMMENT_CHARS)
    except RockyError:
        return {}
    return out


def _cast_checker(ctx: Context) -> Any:
    def check(table: str, column: str, to_type: str) -> CastCheck:
        schema, _, name = table.rpartition(".")
        col = exp.column(column, quoted=True)
        rel = exp.table_(name, db=schema, quoted=True)
        target = exp.DataType.build(to_type, dialect="duckdb")
        tried = exp.TryCast(this=col.copy(), to=target)
        with ctx.adapter(sandboxed=True) as adapter:
            live = adapter.table(schema, name)
            live_col = next((c for c in (live.columns if live else ())
                             if c.name.lower() == column.lower()), None)
            if live_col is None:
                return CastCheck(0, 0, 0, f"{table}.{column} not found in the warehouse")
            new_type = exp.DataType.build(live_col.type, dialect="duckdb")
            back = exp.Cast(this=tried.copy(), to=new_type)
            if new_type.is_type(*exp.DataType.TEXT_TYPES) and target.is_type(
                    *exp.DataType.NUMERIC_TYPES):
                # Text back from a number loses formatting, not value: compare as numbers.
                as_double = exp.DataType.build("DOUBLE")
                lossy_cond = exp.Cast(this=tried.copy(), to=as_double).is_(exp.null()).not_().and_(
                    exp.NullSafeNEQ(this=exp.TryCast(this=col.copy(), to=as_double),
                                    expression=exp.Cast(this=tried.copy(), to=as_double)))
            elif new_type.is_type(*exp.DataType.TEXT_TYPES):
                lossy_cond = exp.false()
            else:
                lossy_cond = tried.copy().is_(exp.null()).not_().and_(
                    exp.NullSafeNEQ(this=back, expression=col.copy()))
            query = exp.select(
                exp.Count(this=exp.Star()),
                exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(
                    this=col.copy().is_(exp.null()).not_().and_(tried.copy().is_(exp.null())))),
                exp.Filter(this=exp.Count(this=exp.Star()),
                           expression=exp.Where(this=lossy_cond)),
            ).from_(rel)
            try:
                rows, failures, lossy = adapter.fetchall(query)[0]
            except RockyError as exc:
                return CastCheck(0, 0, 0, exc.message)
        return CastCheck(int(rows), int(failures or 0), int(lossy or 0))

    return check


def _uses(graph: Any, project: Project) -> Any:
    def uses(model: str, column: str) -> list[str]:
        out: list[str] = []
        node = f"{model}.{column}".lower()
        try:
            result = graph.downstream(node)
            out.extend(n for n in result.nodes if n != node)
        except RockyError:
            pass
        m = project.models.get(model.lower())
        if m is not None:
            side = m.sidecar
            low = column.lower()
            mentions = [f"{m.sidecar_path} (grain)" for g in (side.intent.grain if side.intent
                                                                 else []) if g.lower() == low]
            mentions += [f"{m.sidecar_path} [columns.{k}]" for k in side.columns
                         if k.lower() == low]
            for t in side.tests:
                cols = [getattr(t, "column", None), *(getattr(t, "columns", None) or [])]
                text = str(getattr(t, "expression", "") or "")
                if low in {str(c).lower() for c in cols if c} or low in text.lower():
                    mentions.append(f"{m.sidecar_path} test {t.type}")
            for u in side.unit_tests:
                if any(low in {k.lower() for k in row} for row in u.expect):
                    mentions.append(f"{m.sidecar_path} unit test {u.name!r}")
            out.extend(mentions)
        return out

    return uses


def _mermaid(graph: Any, changes: Sequence[SchemaChange]) -> str:
    roots: list[str] = []
    for c in changes:
        if c.column:
            roots.append(f"{c.table}.{c.column}".lower())
        elif c.kind in ("table_renamed", "table_removed"):
            roots.extend(graph.columns(c.table.lower()))
    edges: list[tuple[str, str, str]] = []
    found: list[str] = []
    for root in roots:
        try:
            result = graph.downstream(root)
        except RockyError:
            continue
        found.append(root)
        edges.extend((e.source, e.target, e.kind) for e in result.edges)
    return mermaid_blast_radius(edges[:200], found) if found else ""


def _view(fp: FilePatch, model_patches: Sequence[ModelPatch]) -> PatchView:
    mp = next((m for m in model_patches if m.path == fp.path), None)
    diff = unified_diff(fp.path, fp.old_text, fp.new_text)
    if mp is None:
        return PatchView(fp.path, diff, applied=("declared shape updated to the live table",))
    return PatchView(fp.path, diff, mp.model, mp.applied, mp.preserves, mp.drafted_by,
                     mp.explanation)


def _write(root: Path, patch: Patch) -> None:
    target = root / patch.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(patch.new_text, encoding="utf-8")


def _write_body(out_dir: Path, body: str) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "pr_body.md"
    path.write_text(body, encoding="utf-8")
    return str(path)
