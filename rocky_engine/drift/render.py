"""Text for people: what changed, how sure rocky is, what breaks, what to do next.

    >>> from rocky_engine.drift.report import Change, DriftReport
    >>> print(render_report(DriftReport()), end="")
    no drift: every declared source matches the warehouse
"""

from __future__ import annotations

from rocky_engine.drift.report import (
    BROKEN,
    COLUMN_ADDED,
    COLUMN_REMOVED,
    COLUMN_RENAMED,
    COLUMN_VALUES_CHANGED,
    TABLE_ADDED,
    TABLE_REMOVED,
    TABLE_RENAMED,
    DriftReport,
    Impact,
)


def render_report(report: DriftReport, *, verbose: bool = True) -> str:
    """The whole report as plain text (no colour codes: safe for logs and CI)."""
    if not report.drifted:
        lines = ["no drift: every declared source matches the warehouse"]
        lines.extend(f"note: {n}" for n in report.notes)
        return "\n".join(lines) + "\n"
    lines = [f"drift: {len(report.changes)} change(s) between sources/ and the warehouse", ""]
    for change in report.changes:
        lines.append(f"  {_marker(change.kind)} {change.describe()}")
        # A value change's first evidence line is already in its description.
        evidence = change.evidence[1:] if change.kind == COLUMN_VALUES_CHANGED \
            else change.evidence
        if verbose and evidence:
            lines.extend(f"      - {e}" for e in evidence)
        for cand in change.candidates if change.confidence is None else ():
            if cand.confidence:
                lines.append(f"      ? {cand.name}: confidence {cand.confidence:.2f}")
    lines.append("")
    lines.extend(_impact_lines(report))
    lines.append("")
    for plan in report.incremental:
        lines.append(f"incremental {plan.model}: {plan.action.replace('_', ' ')} — {plan.reason}")
        lines.append(f"      next run: {plan.next_run}")
    if report.incremental:
        lines.append("")
    lines.extend(f"note: {n}" for n in report.notes)
    lines.append(_next_step(report))
    return "\n".join(lines).rstrip() + "\n"


def _impact_lines(report: DriftReport) -> list[str]:
    """Impact grouped per model and status: one line of columns, then why and one path."""
    if not report.impact:
        return ["impact: no model reads what changed"]
    models = {i.model for i in report.impact}
    lines = [(f"impact: {len(report.broken)} broken, {len(report.affected)} affected "
              f"column(s) in {len(models)} model(s)")]
    groups: dict[tuple[str, str], list[Impact]] = {}
    for item in report.impact:
        groups.setdefault((item.model, item.status), []).append(item)
    width = max(len(m) for m in models)
    for (model, status), items in groups.items():
        columns = ", ".join(i.column or "*" for i in items)
        lines.append(f"  {model:<{width}}  {status:<8}  {columns}")
        reasons = list(dict.fromkeys(i.reason for i in items if i.reason))
        for reason in reasons[:3]:
            lines.append(f"  {'':<{width}}    {reason}")
        diag = next((i.diagnostic for i in items if i.diagnostic is not None), None)
        if diag is not None and status == BROKEN:
            lines.append(f"  {'':<{width}}    {diag.headline()}")
        first = items[0]
        if first.path:
            lines.append(f"  {'':<{width}}    e.g. {' -> '.join(first.path)}")
        risks = list(dict.fromkeys(r for i in items for r in i.at_risk))
        for risk in risks[:5]:
            lines.append(f"  {'':<{width}}    may no longer hold: {risk}")
    return lines


def _marker(kind: str) -> str:
    if kind in (COLUMN_ADDED, TABLE_ADDED):
        return "+"
    if kind in (COLUMN_REMOVED, TABLE_REMOVED):
        return "-"
    if kind in (COLUMN_RENAMED, TABLE_RENAMED):
        return ">"
    return "~"


def _next_step(report: DriftReport) -> str:
    if any(c.ambiguous for c in report.changes):
        ambiguous = "; ambiguous renames need a person: check the candidates above"
    else:
        ambiguous = ""
    values = ("; for changed values, --accept takes them as the new normal"
              if any(c.kind == COLUMN_VALUES_CHANGED for c in report.changes) else "")
    if report.impact:
        return ("next: `rocky repair` drafts and validates a fix on a branch; "
                "`rocky drift --accept` then records the new shape in sources/" + ambiguous
                + values)
    return "next: `rocky drift --accept` records the new shape in sources/" + ambiguous + values
