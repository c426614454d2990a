"""The offline repairer: deterministic, mechanical fixes by AST rewrite — or a diagnosis.

    renamed column     references rewritten, output names kept          (rewrite.rename_column)
    type changed       CAST back to the type the model relied on, when   (rewrite.cast_column)
                       every live value converts without loss
    column removed     dropped from the SELECT list when nothing         (rewrite.drop_column)
                       downstream (models, tests, contracts) uses it
    table renamed      references rewritten                              (rewrite.rename_table)

Anything else — an ambiguous rename, a used column removed, a table removed, a type
change that would lose values — is a :class:`Finding` and the repair is ``needs_review``;
the offline repairer never guesses::

    >>> draft = draft_offline(plan, cast_check=check, uses=uses)   # doctest: +SKIP
    >>> [p.path for p in draft.patches], draft.findings            # doctest: +SKIP
    (['models/stg_orders.sql'], ())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intent_agent.repair.changes import SchemaChange
from intent_agent.repair.plan import ModelContext, RepairPlan
from intent_agent.repair.rewrite import (
    CannotRewrite,
    cast_column,
    drop_column,
    rename_column,
    rename_table,
)


@dataclass(frozen=True)
class Finding:
    """Why a repair needs a person: what, where, and what to consider."""

    reason: str
    model: str | None = None
    change: str | None = None

    def render(self) -> str:
        where = f"{self.model}: " if self.model else ""
        what = f" [{self.change}]" if self.change else ""
        return f"{where}{self.reason}{what}"

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "change": self.change, "reason": self.reason}


@dataclass(frozen=True)
class CastCheck:
    """What casting the live values back would do: rows that fail or change value."""

    rows: int
    failures: int
    lossy: int
    error: str | None = None

    @property
    def safe(self) -> bool:
        return self.error is None and self.failures == 0 and self.lossy == 0


@dataclass(frozen=True)
class ModelPatch:
    model: str
    path: str
    old_sql: str
    new_sql: str
    applied: tuple[str, ...]
    preserves: tuple[str, ...]
    dropped_outputs: tuple[str, ...] = ()
    drafted_by: str = "offline"
    explanation: str = ""


@dataclass(frozen=True)
class Draft:
    patches: tuple[ModelPatch, ...]
    findings: tuple[Finding, ...]


CastChecker = Callable[[str, str, str], CastCheck]  # live table, live column, to_type
UsesOf = Callable[[str, str], Sequence[str]]  # model, output column -> who uses it

_ORDER = {"column_type_changed": 0, "column_removed": 1, "column_renamed": 2, "table_renamed": 3}


def plan_findings(plan: RepairPlan) -> list[Finding]:
    """Changes no mechanical rewrite may settle, whoever drafts the patch."""
    readers: dict[str, list[str]] = {}
    for ctx in plan.models:
        for change in ctx.changes:
            readers.setdefault(change.table.lower(), []).append(ctx.model)
    findings = []
    for change in plan.changes:
        users = sorted(set(readers.get(change.table.lower(), [])))
        if change.kind == "column_renamed" and (change.ambiguous or not change.new_column):
            options = ", ".join(change.candidates) or "several columns"
            findings.append(Finding(
                f"ambiguous rename of {change.table}.{change.column} (candidates: {options}); "
                "rocky does not guess which column replaced it", change=change.describe()))
        elif change.kind == "table_removed" and users:
            findings.append(Finding(
                f"{change.table} was removed but {', '.join(users)} read it; a person must "
                "decide what replaces it", change=change.describe()))
    return findings


def value_findings(plan: RepairPlan) -> list[Finding]:
    """Drift in values is a change of meaning: the offline repairer diagnoses, never fixes.

    One finding per value change, with its evidence and figures and the models that read
    the table (a unit conversion or a new mapping is a decision for a person)."""
    readers: dict[str, list[str]] = {}
    for ctx in plan.models:
        for change in ctx.changes:
            readers.setdefault(change.table.lower(), []).append(ctx.model)
    out = []
    for change in plan.changes:
        if not change.values_changed:
            continue
        users = sorted(set(readers.get(change.table.lower(), [])))
        evidence = "; ".join(change.evidence)
        figures = change.figures()
        out.append(Finding(
            f"the values of {change.table}.{change.column} changed ({change.change}): "
            f"{evidence}" + (f" [{figures}]" if figures else "")
            + (f"; read by {', '.join(users)}" if users else "")
            + "; what the new values mean is a decision for a person: rocky does not guess "
            "a fix offline", change=change.describe()))
    return out


def draft_offline(plan: RepairPlan, *, cast_check: CastChecker, uses: UsesOf,
                  columns: Mapping[str, Sequence[str]] | None = None,
                  dialect: str = "duckdb") -> Draft:
    """Patch every planned model mechanically, or explain why it cannot be done."""
    findings = plan_findings(plan)
    patches = []
    for ctx in plan.models:
        patch, found = draft_model(ctx, cast_check=cast_check, uses=uses, columns=columns,
                                   dialect=dialect)
        findings.extend(found)
        if patch is not None:
            patches.append(patch)
    return Draft(tuple(patches), tuple(findings))


def draft_model(ctx: ModelContext, *, cast_check: CastChecker, uses: UsesOf,
                columns: Mapping[str, Sequence[str]] | None = None,
                dialect: str = "duckdb") -> tuple[ModelPatch | None, list[Finding]]:
    sql = ctx.sql
    applied: list[str] = []
    dropped: list[str] = []
    findings: list[Finding] = _rename_chains(ctx)
    if findings:
        return None, findings
    for change in sorted(ctx.changes, key=lambda c: _ORDER.get(c.kind, 9)):
        try:
            new_sql, note, gone = _apply(sql, change, ctx, cast_check, columns or {}, dialect)
        except CannotRewrite as exc:
            findings.append(Finding(exc.reason, ctx.model, change.describe()))
            continue
        for out in gone:
            users = list(uses(ctx.model, out))
            if users:
                findings.append(Finding(
                    f"{change.table}.{change.column} is gone and {ctx.model}.{out} depends on "
                    f"it, which is used by {', '.join(users[:5])}; dropping it changes them",
                    ctx.model, change.describe()))
        dropped.extend(gone)
        if new_sql != sql:
            applied.append(note)
            sql = new_sql
    if findings or sql == ctx.sql:
        return None, findings
    return ModelPatch(ctx.model, ctx.path, ctx.sql, sql, tuple(applied), ctx.intent_lines,
                      tuple(dropped)), findings


def _rename_chains(ctx: ModelContext) -> list[Finding]:
    """Renames applied one after another must not feed each other (a -> b, b -> c, swaps)."""
    renames = [c for c in ctx.changes if c.kind == "column_renamed" and c.new_column]
    olds = {(c.table.lower(), (c.column or "").lower()) for c in renames}
    return [Finding(f"{c.table}.{c.column} was renamed to {c.new_column}, a name another "
                    "renamed column had; rocky does not untangle chained renames", ctx.model,
                    c.describe())
            for c in renames if (c.table.lower(), (c.new_column or "").lower()) in olds]


def _apply(sql: str, change: SchemaChange, ctx: ModelContext, cast_check: CastChecker,
           columns: Mapping[str, Sequence[str]], dialect: str
           ) -> tuple[str, str, tuple[str, ...]]:
    kind = change.kind
    if kind == "column_renamed" and change.column and change.new_column and not change.ambiguous:
        out = rename_column(sql, table=change.table, old=change.column, new=change.new_column,
                            dialect=dialect, columns=columns)
        note = (f"{change.table}.{change.column} → {change.new_column}: references rewritten, "
                "output names kept")
        return out, note, ()
    if kind == "column_type_changed" and change.column and change.old_type:
        probe = rename_column(sql, table=change.table, old=change.column,
                              new=change.column + "__rocky_probe", dialect=dialect,
                              columns=columns)
        if probe == sql:
            return sql, "", ()  # the model does not read the column
        check = cast_check(change.table, change.column, change.old_type)
        if not check.safe:
            detail = check.error or (f"{check.failures} of {check.rows} values do not convert, "
                                     f"{check.lossy} would change value")
            raise CannotRewrite(
                f"{change.table}.{change.column} is now {change.new_type}; casting it back to "
                f"{change.old_type} is not safe ({detail})")
        out = cast_column(sql, table=change.table, column=change.column,
                          to_type=change.old_type, dialect=dialect, columns=columns)
        return out, (f"{change.table}.{change.column} read as CAST(... AS {change.old_type}) "
                     f"(every one of {check.rows} live values converts)"), ()
    if kind == "column_removed" and change.column:
        out, gone = drop_column(sql, table=change.table, column=change.column, dialect=dialect,
                                columns=columns)
        return out, f"{change.table}.{change.column} removed: dropped {', '.join(gone)}", gone
    if kind == "table_renamed" and change.new_table:
        out = rename_table(sql, table=change.table, new_table=change.new_table, dialect=dialect)
        return out, f"{change.table} → {change.new_table}: references rewritten", ()
    # column_added, nullability, table_added: nothing to rewrite. A removed table and an
    # ambiguous rename are settled by plan_findings (needs_review), whoever drafts.
    return sql, "", ()
