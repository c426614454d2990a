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
)


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

    def describe(self) -> str:
        col = f"{self.table}.{self.column}" if self.column else self.table
        if self.kind == "column_renamed":
            return f"{col} renamed to {self.new_column}"
        if self.kind == "column_type_changed":
            return f"{col} changed type {self.old_type} → {self.new_type}"
        if self.kind == "table_renamed":
            return f"{self.table} renamed to {self.new_table}"
        return f"{col}: {self.kind.replace('_', ' ')}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = list(self.candidates)
        return data


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
    )


def fingerprint(changes: Iterable[SchemaChange]) -> str:
    """A short stable id for a set of changes: re-runs on the same drift get the same id.

    >>> fingerprint([SchemaChange("column_removed", "raw.t", column="x")])
    'e4da8478b4b8'
    """
    keys = sorted(
        json.dumps([c.kind, c.table.lower(), (c.column or "").lower(), (c.new_column or "").lower(),
                    (c.new_table or "").lower(), c.old_type or "", c.new_type or ""])
        for c in changes
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


def _type_text(value: Any) -> str | None:
    return None if value is None else str(value)
