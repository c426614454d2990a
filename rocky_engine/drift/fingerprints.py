"""Value fingerprints: a small sketch of a column's values, kept to recognise it later.

When a column vanishes and another appears, the old one can no longer be read, so rename
evidence compares the new column's values with the *last known* values of the old one.
Fingerprints are stored in the warehouse's ``_rocky`` schema (state lives with the data)
whenever ``rocky drift`` sees a source table that matches its declaration.

A fingerprint is row/null/distinct counts, min/max, and a bottom-k sketch: the ``K``
smallest distinct 16-hex-digit md5 prefixes of the values as text. Two sketches estimate
the Jaccard similarity of the value sets. The same record carries the *value profile*
drift in values is judged on (``rocky_engine.drift.values``): magnitude quantiles for
numbers, top values for low-cardinality columns, text shapes, the duplicate rate of a
declared key, and how many rows the profile read (``rocky_engine.drift.profiling``
computes it, sampled on large tables).

    >>> a = Fingerprint(rows=3, nulls=0, distinct=3, min="1", max="3", sketch=("0a", "1b", "2c"))
    >>> similarity(a, a)
    1.0
    >>> b = Fingerprint(rows=3, nulls=0, distinct=3, min="1", max="9", sketch=("0a", "1b", "ff"))
    >>> round(similarity(a, b), 2)
    0.67
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref

K = 64
STATE_SCHEMA = "_rocky"
STATE_TABLE = "drift_fingerprints"


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    nulls: int
    distinct: int
    min: str | None
    max: str | None
    sketch: tuple[str, ...]
    # -- value profile (absent in fingerprints stored before it existed) --------------
    kind: str = ""                          # number | text | boolean | temporal | other
    sampled: int = 0                        # rows the profile read (== rows unless sampled)
    sample_nulls: int = 0                   # NULLs among them
    magnitude: tuple[float, ...] = ()       # p10, p50, p90 of |x| over non-zero numbers
    # Shares in basis points (1/10,000 of the non-NULL values read):
    top: tuple[tuple[str, int], ...] = ()     # every value, low-cardinality columns only
    shapes: tuple[tuple[str, int], ...] = ()  # the most common text shapes
    dup_rate: float | None = None           # 1 - distinct/non-null of a declared key

    @property
    def null_rate(self) -> float:
        """NULL share of the rows the profile read (of all rows without a profile)."""
        if self.sampled:
            return self.sample_nulls / self.sampled
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def profiled(self) -> bool:
        return self.sampled > 0

    def to_text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> Fingerprint:
        data = json.loads(text)
        return cls(rows=int(data["rows"]), nulls=int(data["nulls"]),
                   distinct=int(data["distinct"]), min=data.get("min"), max=data.get("max"),
                   sketch=tuple(data.get("sketch", ())), kind=str(data.get("kind", "")),
                   sampled=int(data.get("sampled", 0)),
                   sample_nulls=int(data.get("sample_nulls", 0)),
                   magnitude=tuple(float(x) for x in data.get("magnitude", ())),
                   top=tuple((str(v), int(n)) for v, n in data.get("top", ())),
                   shapes=tuple((str(v), int(n)) for v, n in data.get("shapes", ())),
                   dup_rate=None if data.get("dup_rate") is None else float(data["dup_rate"]))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two columns' distinct values (0..1)."""
    if not a.sketch and not b.sketch:
        return 1.0 if a.rows == b.rows and a.nulls == b.nulls else 0.0
    if not a.sketch or not b.sketch:
        return 0.0
    k = min(len(a.sketch), len(b.sketch))
    union = sorted(set(a.sketch) | set(b.sketch))[:k]
    sa, sb = set(a.sketch), set(b.sketch)
    both = sum(1 for h in union if h in sa and h in sb)
    return both / len(union)


def identical(a: Fingerprint, b: Fingerprint) -> bool:
    """Same values as far as rename evidence can tell (the value profile is not compared)."""
    return (a.rows, a.nulls, a.distinct, a.min, a.max, a.sketch) == \
        (b.rows, b.nulls, b.distinct, b.min, b.max, b.sketch)


def describe_match(old: Fingerprint, new: Fingerprint, old_name: str) -> tuple[float, str]:
    """``(similarity, evidence)``: a new column against ``old_name``'s last known values."""
    if identical(old, new):
        return 1.0, (f"values identical to the last known values of {old_name} "
                     f"({new.rows} rows, {new.distinct} distinct, same min/max and nulls)")
    sim = similarity(old, new)
    if sim >= 0.8:
        return sim, f"values near-identical to the last known {old_name} ({sim:.0%} overlap)"
    return sim, f"values differ from the last known {old_name} ({sim:.0%} overlap)"


# ---------------------------------------------------------------------------- warehouse


_STATE_COLUMNS = (("schema_name", "VARCHAR"), ("table_name", "VARCHAR"),
                  ("column_name", "VARCHAR"), ("fingerprint", "VARCHAR"),
                  ("taken_at", "TIMESTAMP"))


def _state_table() -> exp.Table:
    return table_ref(STATE_SCHEMA, STATE_TABLE)


def load(adapter: WarehouseAdapter) -> dict[tuple[str, str, str], Fingerprint]:
    """Stored fingerprints keyed by lower-case ``(schema, table, column)``; empty when none."""
    if adapter.table(STATE_SCHEMA, STATE_TABLE) is None:
        return {}
    rows = adapter.fetchall(
        exp.select("schema_name", "table_name", "column_name", "fingerprint").from_(_state_table())
    )
    found: dict[tuple[str, str, str], Fingerprint] = {}
    for schema, table, column, text in rows:
        try:
            found[(schema.lower(), table.lower(), column.lower())] = Fingerprint.from_text(text)
        except (ValueError, KeyError, TypeError):
            continue  # a damaged row is just missing evidence, never an error
    return found


def store(adapter: WarehouseAdapter, schema: str, table: str,
          prints: dict[str, Fingerprint]) -> None:
    """Replace the stored fingerprints of one table (one transaction)."""
    store_many(adapter, {(schema, table): prints})


def store_many(adapter: WarehouseAdapter,
               tables: Mapping[tuple[str, str], dict[str, Fingerprint]]) -> None:
    """Replace the stored fingerprints of each ``(schema, table)`` given, all in one
    transaction and one insert."""
    if not tables:
        return
    adapter.create_schema(STATE_SCHEMA)
    columns = [exp.ColumnDef(this=exp.to_identifier(name), kind=exp.DataType.build(kind))
               for name, kind in _STATE_COLUMNS]
    adapter.execute(exp.Create(this=exp.Schema(this=_state_table(), expressions=columns),
                               kind="TABLE", exists=True))
    now = datetime.now(UTC).replace(tzinfo=None)
    one = exp.and_(
        exp.EQ(this=exp.func("lower", exp.column("schema_name")), expression=exp.Placeholder()),
        exp.EQ(this=exp.func("lower", exp.column("table_name")), expression=exp.Placeholder()))
    with adapter.transaction():
        names: list[tuple[str, str]] = list(tables)
        for start in range(0, len(names), _BATCH):
            chunk = names[start:start + _BATCH]
            adapter.execute(
                exp.delete(_state_table()).where(exp.or_(*(one.copy() for _ in chunk))),
                [part.lower() for name in chunk for part in name])
        rows: list[tuple[object, ...]] = [
            (schema, table, column, fp.to_text(), now)
            for (schema, table), prints in tables.items() for column, fp in prints.items()]
        for start in range(0, len(rows), _BATCH):
            batch = rows[start:start + _BATCH]
            adapter.execute(
                exp.insert(exp.values([tuple(exp.Placeholder() for _ in range(5))
                                       for _ in batch]), _state_table()),
                [value for row in batch for value in row])


_BATCH = 500  # rows (or tables) per statement: well under every driver's parameter limit
