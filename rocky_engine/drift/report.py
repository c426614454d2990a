"""The records drift produces: a change, an impacted model column, the whole report.

    >>> c = Change(kind="column_removed", table="raw.orders", column="status")
    >>> c.to_json()["kind"], c.to_json()["new_column"]
    ('column_removed', None)
    >>> DriftReport(changes=(c,)).drifted
    True

The JSON shape is the contract of DESIGN §2 (``changes`` and ``impact``); fields may be
added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rocky_engine.errors import Diagnostic

COLUMN_ADDED = "column_added"
COLUMN_REMOVED = "column_removed"
COLUMN_RENAMED = "column_renamed"
COLUMN_TYPE_CHANGED = "column_type_changed"
COLUMN_NULLABILITY_CHANGED = "column_nullability_changed"
TABLE_ADDED = "table_added"
TABLE_REMOVED = "table_removed"
TABLE_RENAMED = "table_renamed"
COLUMN_VALUES_CHANGED = "column_values_changed"

KINDS = (
    COLUMN_ADDED, COLUMN_REMOVED, COLUMN_RENAMED, COLUMN_TYPE_CHANGED,
    COLUMN_NULLABILITY_CHANGED, TABLE_ADDED, TABLE_REMOVED, TABLE_RENAMED,
    COLUMN_VALUES_CHANGED,
)
# Changes after which readers of the old column / table cannot compile.
BREAKING_KINDS = (COLUMN_REMOVED, COLUMN_RENAMED, TABLE_REMOVED, TABLE_RENAMED)
# ``change`` of a column_values_changed.
VALUE_CHANGES = ("scale", "new_values", "nulls", "duplicates", "format")

BROKEN = "broken"
AFFECTED = "affected"


@dataclass(frozen=True)
class LiveColumn:
    """A column as the warehouse has it now (1-based ``ordinal``)."""

    name: str
    type: str
    nullable: bool = True
    ordinal: int = 0


@dataclass(frozen=True)
class Candidate:
    """One possible rename target with the evidence for it."""

    name: str
    confidence: float
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class Change:
    """One difference between ``sources/*.toml`` and the live warehouse.

    ``table`` is ``schema.table`` as declared (the old name); ``new_table`` / ``new_column``
    are set for renames. ``change`` is ``widening``/``narrowing`` for type changes,
    ``loosening``/``tightening`` for nullability changes, and one of ``VALUE_CHANGES`` for
    ``column_values_changed`` (with ``evidence`` lines and ``before``/``after`` figures).
    """

    kind: str
    table: str
    column: str | None = None
    new_column: str | None = None
    new_table: str | None = None
    old_type: str | None = None
    new_type: str | None = None
    change: str | None = None
    nullable_from: bool | None = None
    nullable_to: bool | None = None
    confidence: float | None = None
    evidence: tuple[str, ...] = ()
    ambiguous: bool = False
    candidates: tuple[Candidate, ...] = ()
    # column_added: where and how the column now exists; table_added: its columns.
    position: int | None = None
    nullable: bool | None = None
    columns: tuple[LiveColumn, ...] = ()
    source_file: str | None = None
    # column_values_changed: the figures the verdict rests on, last known and now.
    before: tuple[tuple[str, Any], ...] = ()
    after: tuple[tuple[str, Any], ...] = ()

    def ref(self) -> dict[str, Any]:
        """A short reference to this change (what an impact says caused it)."""
        return {"kind": self.kind, "table": self.table, "column": self.column,
                "new_column": self.new_column, "new_table": self.new_table,
                "change": self.change}

    @property
    def source_node(self) -> str | None:
        """The lineage node id of the declared column this change is about."""
        return f"{self.table}.{self.column}".lower() if self.column else None

    def describe(self) -> str:
        """One line for people, e.g. ``raw.orders.amount renamed to total (confidence 0.93)``."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.kind == COLUMN_ADDED:
            text = f"{where} added ({self.new_type})"
        elif self.kind == COLUMN_REMOVED:
            text = f"{where} removed"
        elif self.kind == COLUMN_RENAMED:
            text = f"{where} renamed to {self.new_column}"
        elif self.kind == COLUMN_TYPE_CHANGED:
            text = f"{where} type {self.old_type} -> {self.new_type} ({self.change})"
        elif self.kind == COLUMN_NULLABILITY_CHANGED:
            text = (f"{where} {'now allows NULL' if self.nullable_to else 'is now NOT NULL'}"
                    f" ({self.change})")
        elif self.kind == TABLE_ADDED:
            text = f"{where} added ({len(self.columns)} columns, not declared)"
        elif self.kind == TABLE_REMOVED:
            text = f"{where} removed"
        elif self.kind == TABLE_RENAMED:
            text = f"{where} renamed to {self.new_table}"
        elif self.kind == COLUMN_VALUES_CHANGED:
            text = f"{where} values changed ({self.change})"
            if self.evidence:
                text += f": {self.evidence[0]}"
        else:
            text = f"{where} {self.kind}"
        if self.confidence is not None:
            text += f" (confidence {self.confidence:.2f})"
        if self.ambiguous:
            names = " or ".join(c.name for c in self.candidates)
            text += f" — ambiguous rename? candidates: {names} (not guessed)"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "column": self.column,
            "new_column": self.new_column,
            "new_table": self.new_table,
            "old_type": self.old_type,
            "new_type": self.new_type,
            "change": self.change,
            "nullable_from": self.nullable_from,
            "nullable_to": self.nullable_to,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "ambiguous": self.ambiguous,
            "candidates": [c.to_json() for c in self.candidates],
            "position": self.position,
            "columns": [
                {"name": c.name, "type": c.type, "nullable": c.nullable} for c in self.columns
            ],
            "source_file": self.source_file,
            "before": _figures(self.before) if self.kind == COLUMN_VALUES_CHANGED else None,
            "after": _figures(self.after) if self.kind == COLUMN_VALUES_CHANGED else None,
        }


def _figures(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in pairs}


@dataclass(frozen=True)
class Impact:
    """A model column hit by a change: ``broken`` (no longer compiles) or ``affected``.

    ``path`` is the lineage path from the changed source column to this column, node ids
    such as ``("raw.orders.amount", "stg_orders.amount", "customers.lifetime_revenue")``.
    """

    model: str
    column: str | None
    status: str
    source: str | None = None
    path: tuple[str, ...] = ()
    reason: str = ""
    diagnostic: Diagnostic | None = None
    # The change(s) that caused it (for ``broken``: those the new errors are blamed on).
    causes: tuple[Change, ...] = ()
    # Value drift: the intent rules, column intents and tests that may no longer hold.
    at_risk: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "column": self.column,
            "status": self.status,
            "source": self.source,
            "path": list(self.path),
            "reason": self.reason,
            "diagnostic": self.diagnostic.to_json() if self.diagnostic else None,
            "caused_by": [c.ref() for c in self.causes],
            "at_risk": list(self.at_risk),
        }


@dataclass(frozen=True)
class DriftReport:
    """Everything ``rocky drift`` found. ``notes`` explain limits (e.g. no old data to compare)."""

    changes: tuple[Change, ...] = ()
    impact: tuple[Impact, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # What the changes mean for incremental models' stored tables
    # (rocky_engine.drift.incremental.IncrementalPlan: keep | append_new_columns | full_refresh).
    incremental: tuple[Any, ...] = field(default=())

    @property
    def drifted(self) -> bool:
        return bool(self.changes)

    @property
    def broken(self) -> tuple[Impact, ...]:
        return tuple(i for i in self.impact if i.status == BROKEN)

    @property
    def affected(self) -> tuple[Impact, ...]:
        return tuple(i for i in self.impact if i.status == AFFECTED)

    @property
    def impacted_models(self) -> list[str]:
        return sorted({i.model for i in self.impact})

    def to_json(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "changes": [c.to_json() for c in self.changes],
            "impact": [i.to_json() for i in self.impact],
            "notes": list(self.notes),
            "incremental": [p.to_json() for p in self.incremental],
        }
