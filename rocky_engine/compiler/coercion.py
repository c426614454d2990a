"""DuckDB's implicit typing rules: the type of arithmetic, of literals, and of unified values.

sqlglot's annotator keeps the left operand's type for ``amount * 2`` and types ``1.5`` as
DOUBLE; DuckDB widens DECIMALs by rule and types ``1.5`` as ``DECIMAL(2,1)``. Contracts
pin DuckDB's real types, so rocky infers them with DuckDB's rules (checked against DuckDB's
own ``DESCRIBE`` by ``tests/compiler/test_type_parity.py``):

* ``+ -``: ``DECIMAL(max(scale + max integer digits, width) + 1, max scale)``;
* ``*``: widths and scales add; a product of DECIMALs up to 18 digits stays at 18 digits;
* ``%`` and value unification (CASE, COALESCE, GREATEST, VALUES, UNION columns):
  ``DECIMAL(max integer digits + max scale, max scale)``; any DOUBLE makes DOUBLE, a FLOAT
  makes FLOAT, DATE with TIMESTAMP makes TIMESTAMP;
* integers act as ``DECIMAL(10,0)`` (INTEGER), ``DECIMAL(19,0)`` (BIGINT) and so on, and an
  integer literal takes the other operand's integer type when its value fits
  (``smallint_col + 1`` is SMALLINT) — except across UNION branches.

Each function returns None where DuckDB has no such rule (text, dates in arithmetic); the
annotator then keeps sqlglot's type and the checks pass judge it.

    >>> dec = exp.DataType.build("DECIMAL(10,2)")
    >>> arith("+", Operand(dec), Operand(exp.DataType.build("INT"))).sql("duckdb")
    'DECIMAL(13, 2)'
    >>> arith("*", Operand(dec), Operand(exp.DataType.build("INT"), literal=2)).sql("duckdb")
    'DECIMAL(18, 2)'
    >>> literal_type("1.50").sql("duckdb")
    'DECIMAL(3, 2)'
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlglot import exp

T = exp.DType

_MAX_WIDTH = 38
_INT64_WIDTH = 18  # DuckDB keeps DECIMAL products in 64 bits when both inputs fit there

_SIGNED = (T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.INT128)
_UNSIGNED = (T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT, T.UINT128)
INTEGERS = frozenset(_SIGNED + _UNSIGNED)
_RANK = {t: i for group in (_SIGNED, _UNSIGNED) for i, t in enumerate(group)}
_DIGITS = {T.TINYINT: 3, T.SMALLINT: 5, T.INT: 10, T.BIGINT: 19, T.INT128: 38,
           T.UTINYINT: 3, T.USMALLINT: 5, T.UINT: 10, T.UBIGINT: 20, T.BOOLEAN: 1}
_RANGE = {t: (-(2 ** (8 * 2 ** i - 1)), 2 ** (8 * 2 ** i - 1) - 1) for i, t in enumerate(_SIGNED)}
_RANGE.update({t: (0, 2 ** (8 * 2 ** i) - 1) for i, t in enumerate(_UNSIGNED)})
_FLOATS = frozenset({T.FLOAT, T.DOUBLE})
_NUMBERS = INTEGERS | _FLOATS | {T.DECIMAL}
# DuckDB's TIMESTAMP is sqlglot's TIMESTAMPNTZ when parsed, TIMESTAMP when sqlglot infers it.
_DATE_TIMES = {T.DATE: 0, T.TIMESTAMP: 1, T.TIMESTAMPNTZ: 1, T.TIMESTAMP_S: 1, T.TIMESTAMP_MS: 1,
               T.TIMESTAMP_NS: 1, T.TIMESTAMPTZ: 2}
DATE_TIMES = frozenset(_DATE_TIMES)
_TEXT = frozenset(exp.DataType.TEXT_TYPES)


class Operand(NamedTuple):
    """An operand's type, and what DuckDB treats specially: integer and string literals."""

    type: exp.DataType
    literal: int | None = None  # the value of an integer literal
    text_literal: bool = False


def operand(node: exp.Expr) -> Operand | None:
    """The operand ``node`` is to DuckDB; None for a NULL (callers check for UNKNOWN first)."""
    dtype = node.type
    if dtype is None or dtype.this == T.NULL:
        return None
    return Operand(dtype, int_literal(node), _is_text_literal(node))


def known(node: exp.Expr | None) -> bool:
    """Whether ``node`` has a type (NULL counts: it unifies with anything)."""
    return node is not None and node.type is not None and node.type.this != T.UNKNOWN


def int_literal(node: exp.Expr) -> int | None:
    """The value of an integer literal (``-1`` and ``(1)`` included), else None."""
    negate = False
    while True:
        if isinstance(node, exp.Paren):
            node = node.this
        elif isinstance(node, exp.Neg):
            negate, node = not negate, node.this
        else:
            break
    if isinstance(node, exp.Literal) and not node.is_string and node.is_int:
        value = int(node.this)
        return -value if negate else value
    return None


def _is_text_literal(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and node.is_string


def literal_type(text: str) -> exp.DataType:
    """DuckDB's type of a number literal: INTEGER/BIGINT/HUGEINT, DECIMAL(w,s) or DOUBLE."""
    return _literal_type(text).copy()


@functools.lru_cache(maxsize=1024)
def _literal_type(text: str) -> exp.DataType:
    if text.isdigit():
        value = int(text)
        for kind in (T.INT, T.BIGINT, T.INT128):
            if value <= _RANGE[kind][1]:
                return exp.DataType(this=kind)
        return exp.DataType(this=T.DOUBLE)
    whole, dot, frac = text.partition(".")
    if dot and (whole + frac).isdigit() and len(whole + frac) <= _MAX_WIDTH:
        # DuckDB counts the digits as written: `00.50` is DECIMAL(4,2), `1.5` DECIMAL(2,1).
        return decimal(len(whole + frac), len(frac))
    return exp.DataType(this=T.DOUBLE)


def decimal(width: int, scale: int) -> exp.DataType:
    return _decimal(width, scale).copy()


@functools.lru_cache(maxsize=2048)
def _decimal(width: int, scale: int) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({width},{scale})")


def decimal_props(dtype: exp.DataType) -> tuple[int, int] | None:
    """(width, scale) DuckDB gives a DECIMAL or integer type in DECIMAL arithmetic."""
    if dtype.this == T.DECIMAL:
        params = [p.this.name if isinstance(p, exp.DataTypeParam) else p.name
                  for p in dtype.expressions]
        if not params:
            return 18, 3  # DuckDB's DECIMAL default
        if not all(p.isdigit() for p in params):
            return None
        return int(params[0]), int(params[1]) if len(params) > 1 else 0
    digits = _DIGITS.get(dtype.this)
    return None if digits is None else (digits, 0)


def _fits(value: int, kind: exp.DType) -> bool:
    low, high = _RANGE[kind]
    return low <= value <= high


def _max_int(a: exp.DType, b: exp.DType, arithmetic: bool) -> exp.DType | None:
    if a == b:
        return a
    if (a in _SIGNED) == (b in _SIGNED):
        return a if _RANK[a] > _RANK[b] else b
    signed, unsigned = (a, b) if a in _SIGNED else (b, a)
    if _RANK[signed] > _RANK[unsigned]:
        return signed
    if unsigned == T.UINT128:
        return None
    if unsigned == T.UBIGINT:
        return T.INT128
    # Arithmetic on mixed sign below 64 bits runs in BIGINT; unification takes the next
    # signed type that holds the unsigned one (USMALLINT -> INTEGER).
    return T.BIGINT if arithmetic else _SIGNED[_RANK[unsigned] + 1]


def _adopt_literals(left: Operand, right: Operand) -> tuple[Operand, Operand]:
    # An integer literal that fits the other side's integer type is bound as that type.
    lk, rk = left.type.this, right.type.this
    if right.literal is not None and lk in INTEGERS and left.literal is None \
            and _fits(right.literal, lk):
        return left, left._replace(literal=right.literal)
    if left.literal is not None and rk in INTEGERS and right.literal is None \
            and _fits(left.literal, rk):
        return right._replace(literal=left.literal), right
    return left, right


def arith(op: str, left: Operand, right: Operand) -> exp.DataType | None:
    """Type of ``left <op> right`` for numbers (``+ - * % //``); None: not DuckDB-numeric."""
    if left.type.this not in _NUMBERS or right.type.this not in _NUMBERS:
        return None
    left, right = _adopt_literals(left, right)
    lk, rk = left.type.this, right.type.this
    if T.DOUBLE in (lk, rk):
        return exp.DataType(this=T.DOUBLE)
    if T.FLOAT in (lk, rk):
        return exp.DataType(this=T.FLOAT)
    if lk in INTEGERS and rk in INTEGERS:
        kind = _max_int(lk, rk, arithmetic=True)
        return None if kind is None else exp.DataType(this=kind)
    if op == "//":  # on DECIMALs DuckDB's integer division is floating-point
        return exp.DataType(this=T.DOUBLE)
    lp, rp = decimal_props(left.type), decimal_props(right.type)
    if lp is None or rp is None:
        return None
    if op == "*":
        return _multiply(lp, rp)
    if op == "%":
        # Modulo runs in the operands' common DECIMAL, or in DOUBLE when none holds both.
        if max(lp[0] - lp[1], rp[0] - rp[1]) + max(lp[1], rp[1]) > _MAX_WIDTH:
            return exp.DataType(this=T.DOUBLE)
        return _common_decimal(lp, rp, with_integer=True)
    return _add(lp, rp)


def _add(a: tuple[int, int], b: tuple[int, int]) -> exp.DataType:
    scale = max(a[1], b[1])
    whole = max(a[0] - a[1], b[0] - b[1])
    width = max(scale + whole, a[0], b[0]) + 1
    return decimal(min(width, _MAX_WIDTH), scale)


def _multiply(a: tuple[int, int], b: tuple[int, int]) -> exp.DataType | None:
    width, scale = a[0] + b[0], a[1] + b[1]
    if scale > _MAX_WIDTH:
        return None  # DuckDB refuses the multiplication
    if width > _INT64_WIDTH and max(a[0], b[0]) <= _INT64_WIDTH and scale < _INT64_WIDTH:
        width = _INT64_WIDTH
    return decimal(min(width, _MAX_WIDTH), scale)


def _common_decimal(a: tuple[int, int], b: tuple[int, int], with_integer: bool) -> exp.DataType:
    scale = max(a[1], b[1])
    whole = max(a[0] - a[1], b[0] - b[1])
    if whole + scale <= _MAX_WIDTH:
        return decimal(whole + scale, scale)
    # Past 38 digits DuckDB caps the width of DECIMAL-with-integer and, for two DECIMALs,
    # gives up decimal places to keep the integer digits.
    return decimal(_MAX_WIDTH, scale if with_integer else _MAX_WIDTH - whole)


def common(left: Operand, right: Operand, adopt_literals: bool = True) -> exp.DataType | None:
    """The one type DuckDB gives two values of a CASE/COALESCE/UNION column; None: no rule.

    ``adopt_literals`` is off for UNION branches: a ``SELECT 1`` branch stays INTEGER.
    """
    if adopt_literals:
        left, right = _adopt_literals(left, right)
    lk, rk = left.type.this, right.type.this
    if lk == rk and lk != T.DECIMAL:
        return left.type
    # A string literal is cast to the other side's type (`COALESCE(date_col, '2024-01-01')`).
    if left.text_literal and rk not in _TEXT:
        return right.type
    if right.text_literal and lk not in _TEXT:
        return left.type
    if lk in _TEXT and rk in _TEXT:
        return exp.DataType(this=T.VARCHAR)
    if lk in _DATE_TIMES and rk in _DATE_TIMES:
        return left.type if _DATE_TIMES[lk] > _DATE_TIMES[rk] else right.type
    if T.BOOLEAN in (lk, rk):
        other = right if lk == T.BOOLEAN else left
        return other.type if other.type.this in _NUMBERS else None
    if lk not in _NUMBERS or rk not in _NUMBERS:
        return None
    if T.DOUBLE in (lk, rk):
        return exp.DataType(this=T.DOUBLE)
    if T.FLOAT in (lk, rk):
        return exp.DataType(this=T.FLOAT)
    if lk in INTEGERS and rk in INTEGERS:
        kind = _max_int(lk, rk, arithmetic=False)
        return None if kind is None else exp.DataType(this=kind)
    lp, rp = decimal_props(left.type), decimal_props(right.type)
    if lp is None or rp is None:
        return None
    return _common_decimal(lp, rp, with_integer=lk != rk)


def unify(operands: Iterable[Operand | None], adopt_literals: bool = True) -> exp.DataType | None:
    """:func:`common` folded over several values; NULLs (None) are skipped."""
    acc: Operand | None = None
    for item in operands:
        if item is None:
            continue
        if acc is None:
            acc = item
            continue
        merged = common(acc, item, adopt_literals)
        if merged is None:
            return None
        # Two literals merge to a literal only when they are the same value; keep it simple.
        acc = Operand(merged, acc.literal if acc.literal == item.literal else None,
                      acc.text_literal and item.text_literal)
    return None if acc is None else acc.type


SET_OPERATION_TYPES = "rocky_column_types"
"""``meta`` key of a UNION/INTERSECT/EXCEPT node: its output column types (DuckDB's rules)."""


def set_operation_types(node: exp.Expr) -> list[exp.DataType] | None:
    """The column types :func:`unify_set_operation` gave a set operation, if it did."""
    found = _set_operation_columns(node)
    return None if found is None else [t for _, t in found]


def _set_operation_columns(node: exp.Expr) -> list[tuple[str, exp.DataType]] | None:
    found = node.meta.get(SET_OPERATION_TYPES) if node.meta else None
    return found if isinstance(found, list) else None


def unify_set_operation(self: Any, e: exp.SetOperation) -> None:
    """Annotator: each column of a set operation gets its branches' common type.

    sqlglot keeps the left branch's type when it cannot coerce the right one into it
    (``SELECT int_col UNION ALL SELECT dec_col`` stays INTEGER); DuckDB unifies the two.
    """
    current: list[tuple[str, Any]] = self._setop_column_types.get(id(e)) or []
    branches = [_branch_types(side.unnest()) for side in (e.this, e.expression)]
    left, right = branches
    pairs: list[tuple[exp.DataType | None, exp.DataType | None]] | None = None
    if current and left is not None and right is not None:
        if e.args.get("by_name"):
            lnames, rnames = _branch_names(e.this.unnest()), _branch_names(e.expression.unnest())
            if lnames is not None and rnames is not None:
                ltypes, rtypes = dict(zip(lnames, left)), dict(zip(rnames, right))
                # A column missing from one branch is NULL there: it keeps the other's type.
                pairs = [(ltypes.get(name, _NULL), rtypes.get(name, _NULL))
                         for name, _ in current]
        elif len(left) == len(right) == len(current):
            pairs = list(zip(left, right))
    if pairs is not None:
        merged: list[tuple[str, Any]] = []
        for (name, fallback), (lt, rt) in zip(current, pairs):
            typed = None
            if lt is not None and rt is not None:
                typed = unify((_typed_operand(lt), _typed_operand(rt)), adopt_literals=False)
            merged.append((name, typed if typed is not None else fallback))
        self._setop_column_types[id(e)] = merged
        current = merged
    e.meta[SET_OPERATION_TYPES] = [(name, _as_datatype(t)) for name, t in current]
    self._set_type(e, T.UNKNOWN)  # what sqlglot gives a set operation


def _branch_types(side: exp.Expr) -> list[exp.DataType | None] | None:
    """A branch's column types; None (unknown) for a column whose type is not known."""
    if isinstance(side, exp.SetOperation):
        types = set_operation_types(side)
        return None if types is None else [None if t.this == T.UNKNOWN else t for t in types]
    if not isinstance(side, exp.Query):
        return None
    return [s.type if s.type is not None and s.type.this != T.UNKNOWN else None
            for s in side.selects]


def _branch_names(side: exp.Expr) -> list[str] | None:
    if isinstance(side, exp.SetOperation):
        columns = _set_operation_columns(side)
        return None if columns is None else [name for name, _ in columns]
    return [s.alias_or_name for s in side.selects] if isinstance(side, exp.Query) else None


_NULL = exp.DataType(this=T.NULL)


def _typed_operand(dtype: exp.DataType) -> Operand | None:
    return None if dtype.this == T.NULL else Operand(dtype)


def _as_datatype(dtype: exp.DataType | exp.DType | None) -> exp.DataType:
    if isinstance(dtype, exp.DataType):
        return dtype
    return exp.DataType(this=dtype if dtype is not None else T.UNKNOWN)
