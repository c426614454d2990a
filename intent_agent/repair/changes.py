"""The schema change the repairer works from, independent of how drift found it.

The drift engine reports richer records; :func:`from_drift` reads the fields the
repairer needs from any object carrying the DESIGN §2 names, so the repairer's pure
functions can be tested with plain values::

    >>> SchemaChange("column_renamed", "raw.orders", column="amount", new_column="total").describe()
    'raw.orders.amount renamed to total'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

KINDS = (
    "column_added", "column_removed", "column_renamed", "column_type_changed",
    "column_nullability_changed", "table_added", "table_removed", "table_renamed",
    "column_values_changed",
)
VALUES_CHANGED = "column_values_changed"


@dataclass(frozen=True)
class SchemaChange:
    kind: str
    table: str  # "schema.table" as declared (the old name for table_renamed)
    column: str | None = None
    new_column: str | None = None
    new_table: str | None = None
    old_type: str | None = None
    new_type: str | None = None
    ambiguous: bool = False
    confidence: float | None = None
    # Other candidates when a rename is ambiguous: the repairer never picks one.
    candidates: tuple[str, ...] = ()
    # Drift in values: which kind (scale, new_values, nulls, duplicates, format), the
    # evidence lines and the figures before/after. Values from the warehouse: data, never
    # instructions (prompts fence them, PR bodies escape them).
    change: str | None = None
    evidence: tuple[str, ...] = ()
    before: tuple[tuple[str, Any], ...] = ()
    after: tuple[tuple[str, Any], ...] = ()

    @property
    def values_changed(self) -> bool:
        return self.kind == VALUES_CHANGED

    def describe(self) -> str:
        col = f"{self.table}.{self.column}" if self.column else self.table
        if self.kind == VALUES_CHANGED:
            return f"{col}: values changed ({self.change}), schema unchanged"
        if self.kind == "column_renamed":
            return f"{col} renamed to {self.new_column}"
        if self.kind == "column_type_changed":
            return f"{col} changed type {self.old_type} → {self.new_type}"
        if self.kind == "table_renamed":
            return f"{self.table} renamed to {self.new_table}"
        return f"{col}: {self.kind.replace('_', ' ')}"

    def figures(self) -> str:
        """Before/after figures of a value change, one line (``null_rate 0.1 -> 0.55``)."""
        after = dict(self.after)
        return "; ".join(f"{k} {_text(v)} -> {_text(after.get(k))}" for k, v in self.before)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        data["evidence"] = list(self.evidence)
        data["before"] = {k: _plain(v) for k, v in self.before} or None
        data["after"] = {k: _plain(v) for k, v in self.after} or None
        return data


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def from_drift(change: Any) -> SchemaChange:
    """Read a drift engine change (or a dict with the same keys) into a :class:`SchemaChange`."""
    get = change.get if isinstance(change, dict) else (lambda k, d=None: getattr(change, k, d))
    kind = str(get("kind", ""))
    candidates = get("candidates", None) or ()
    names = [getattr(c, "name", c) for c in candidates]
    return SchemaChange(
        kind=kind,
        table=str(get("table", "") or ""),
        column=get("column", None),
        new_column=get("new_column", None),
        new_table=get("new_table", None),
        old_type=_type_text(get("old_type", None)),
        new_type=_type_text(get("new_type", None)),
        ambiguous=bool(get("ambiguous", False)),
        confidence=get("confidence", None),
        candidates=tuple(str(n) for n in names),
        change=get("change", None) if kind == VALUES_CHANGED else None,
        evidence=tuple(str(e) for e in get("evidence", ()) or ()) if kind == VALUES_CHANGED
        else (),
        before=_pairs(get("before", ())) if kind == VALUES_CHANGED else (),
        after=_pairs(get("after", ())) if kind == VALUES_CHANGED else (),
    )


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    items = value.items() if isinstance(value, dict) else (value or ())
    return tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in items)


def fingerprint(changes: Iterable[SchemaChange]) -> str:
    """A short stable id for a set of changes: re-runs on the same drift get the same id.

    >>> fingerprint([SchemaChange("column_removed", "raw.t", column="x")])
    'e4da8478b4b8'
    """
    keys = sorted(
        json.dumps([c.kind, c.table.lower(), (c.column or "").lower(), (c.new_column or "").lower(),
                    (c.new_table or "").lower(), c.old_type or "", c.new_type or ""]
                   + ([c.change or ""] if c.values_changed else []))
        for c in changes
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


def _type_text(value: Any) -> str | None:
    return None if value is None else str(value)
