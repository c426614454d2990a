"""Type comparison for drift: canonical type names and widening vs narrowing.

A change is ``widening`` when every value of the old type converts to the new type
without loss *and* keeps its meaning (numbers stay numbers, text stays text); anything
else is ``narrowing``.

    >>> same_type("INT", "INTEGER")
    True
    >>> classify_type_change("INTEGER", "BIGINT")
    'widening'
    >>> classify_type_change("DECIMAL(10,2)", "DECIMAL(18,2)")
    'widening'
    >>> classify_type_change("DECIMAL(10,2)", "DOUBLE")
    'narrowing'
    >>> classify_type_change("VARCHAR(10)", "VARCHAR", dialect=None)
    'widening'
"""

from __future__ import annotations

import functools

from sqlglot import exp
from sqlglot.errors import ParseError

T = exp.DataType.Type

# Signed and unsigned integers with their bit widths.
_SIGNED = {T.TINYINT: 8, T.SMALLINT: 16, T.INT: 32, T.BIGINT: 64, T.INT128: 128}
_UNSIGNED = {T.UTINYINT: 8, T.USMALLINT: 16, T.UINT: 32, T.UBIGINT: 64, T.UINT128: 128}
# Decimal digits needed to hold every value of an integer of that many bits.
_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19, 128: 39}
_UDIGITS = {8: 3, 16: 5, 32: 10, 64: 20, 128: 39}
_FLOATS = {T.FLOAT: 24, T.DOUBLE: 53}  # mantissa bits: integers up to this width fit exactly
_TEXT = {T.TEXT, T.VARCHAR, T.CHAR, T.NCHAR, T.NVARCHAR, T.BPCHAR} if hasattr(T, "BPCHAR") else {
    T.TEXT, T.VARCHAR, T.CHAR, T.NCHAR, T.NVARCHAR}
_TIMESTAMPS = {T.TIMESTAMP_S: 0, T.TIMESTAMP_MS: 1, T.TIMESTAMP: 2, T.TIMESTAMPNTZ: 2,
               T.TIMESTAMP_NS: 3}


def parse_type(text: str, dialect: str | None = "duckdb") -> exp.DataType | None:
    """``text`` as a sqlglot DataType, or None when it is not a type sqlglot knows."""
    try:
        return exp.DataType.build(text, dialect=dialect)
    except (ParseError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def canonical_type(text: str, dialect: str | None = "duckdb") -> str:
    """The type as the dialect spells it, so aliases compare equal (INT == INTEGER)."""
    dt = parse_type(text, dialect)
    if dt is None:
        return " ".join(text.upper().split())
    return dt.sql(dialect=dialect).upper()


def same_type(a: str, b: str, dialect: str | None = "duckdb") -> bool:
    return canonical_type(a, dialect) == canonical_type(b, dialect)


def family(text: str, dialect: str | None = "duckdb") -> str:
    """A coarse family name: integer, decimal, float, text, date, timestamp, boolean, other."""
    dt = parse_type(text, dialect)
    if dt is None:
        return "other"
    t = dt.this
    if t in _SIGNED or t in _UNSIGNED:
        return "integer"
    if t in (T.DECIMAL, T.BIGDECIMAL):
        return "decimal"
    if t in _FLOATS:
        return "float"
    if t in _TEXT:
        return "text"
    if t == T.DATE:
        return "date"
    if t in _TIMESTAMPS or t in (T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return "timestamp"
    if t == T.BOOLEAN:
        return "boolean"
    return "other"


def classify_type_change(old: str, new: str, dialect: str | None = "duckdb") -> str:
    """``"widening"`` when every old value fits the new type unchanged, else ``"narrowing"``."""
    a, b = parse_type(old, dialect), parse_type(new, dialect)
    if a is None or b is None:
        return "narrowing"
    if a.sql(dialect=dialect) == b.sql(dialect=dialect):
        return "widening"
    return "widening" if _fits(a, b) else "narrowing"


def _fits(a: exp.DataType, b: exp.DataType) -> bool:
    ta, tb = a.this, b.this
    bits_a = _SIGNED.get(ta) or _UNSIGNED.get(ta)
    if bits_a:
        if tb in _SIGNED:
            # An unsigned value needs one more bit in a signed type.
            return _SIGNED[tb] > bits_a if ta in _UNSIGNED else _SIGNED[tb] >= bits_a
        if tb in _UNSIGNED:
            return ta in _UNSIGNED and _UNSIGNED[tb] >= bits_a
        if tb in (T.DECIMAL, T.BIGDECIMAL):
            p, s = _precision(b)
            return p - s >= (_UDIGITS if ta in _UNSIGNED else _DIGITS)[bits_a]
        if tb in _FLOATS:
            return _FLOATS[tb] >= bits_a
        return False
    if ta in (T.DECIMAL, T.BIGDECIMAL) and tb in (T.DECIMAL, T.BIGDECIMAL):
        pa, sa = _precision(a)
        pb, sb = _precision(b)
        return sb >= sa and pb - sb >= pa - sa
    if ta in _FLOATS and tb in _FLOATS:
        return _FLOATS[tb] >= _FLOATS[ta]
    if ta in _TEXT and tb in _TEXT:
        la, lb = _length(a), _length(b)
        return lb is None or (la is not None and lb >= la)
    if ta == T.DATE:
        return tb in _TIMESTAMPS
    if ta in _TIMESTAMPS and tb in _TIMESTAMPS:
        return _TIMESTAMPS[tb] >= _TIMESTAMPS[ta]
    return False


def _precision(dt: exp.DataType) -> tuple[int, int]:
    params = [_int(e) for e in dt.expressions]
    if not params or params[0] is None:
        return 18, 3  # DuckDB's default DECIMAL
    scale = params[1] if len(params) > 1 and params[1] is not None else 0
    return params[0], scale


def _length(dt: exp.DataType) -> int | None:
    return _int(dt.expressions[0]) if dt.expressions else None


def _int(node: exp.Expr) -> int | None:
    try:
        return int(node.name if node.name else node.sql())
    except ValueError:
        return None
