"""SQL types as rocky shows them (DuckDB spelling) and the categories the checks reason in.

    >>> render(exp.DataType.build("NUMERIC(10, 2)"))
    'DECIMAL(10,2)'
    >>> render(exp.DataType.build("TEXT")), render(exp.DataType.build("INT4"))
    ('VARCHAR', 'INTEGER')
    >>> category(exp.DataType.build("DATE")), comparable("DATE", "TIMESTAMP")
    ('temporal', True)
"""

from __future__ import annotations

import functools
import re

from sqlglot import exp
from sqlglot.errors import ParseError

from rocky_engine.compiler.ir import UNKNOWN

T = exp.DataType.Type

_SPELLING = {"INT": "INTEGER", "TEXT": "VARCHAR", "INT128": "HUGEINT", "UINT128": "UHUGEINT",
             "REAL": "FLOAT", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
             "TIMETZ": "TIME WITH TIME ZONE"}
_WORD = re.compile(r"\b(" + "|".join(_SPELLING) + r")\b")

_SIMPLE: dict[exp.DType, str] = {}  # filled on first use (printing ~120 types takes 40 ms)

_NUMERIC = set(exp.DataType.NUMERIC_TYPES)
_TEXT = set(exp.DataType.TEXT_TYPES) | {T.UUID}
_TEMPORAL = set(exp.DataType.TEMPORAL_TYPES)
_UNKNOWNISH = {T.UNKNOWN, T.NULL}


def render(dtype: exp.DataType | None) -> str:
    """DuckDB's spelling of a type; ``UNKNOWN`` when sqlglot could not infer one."""
    if dtype is None or dtype.this == T.UNKNOWN:
        return UNKNOWN
    if dtype.this == T.NULL:
        return "INTEGER"  # what DuckDB stores for an untyped NULL column
    params = dtype.expressions
    # Fast path (no SQL generation) for the plain and DECIMAL(p,s) types most columns have.
    if not _SIMPLE:
        _SIMPLE.update(_simple_spellings())
    if not params and not dtype.args.get("nested") and dtype.this in _SIMPLE:
        return _SIMPLE[dtype.this]
    if dtype.this == T.DECIMAL and len(params) == 2 and all(
            isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Literal) for p in params):
        return f"DECIMAL({params[0].this.name},{params[1].this.name})"
    return _render_sql(dtype.sql("duckdb"))


def _simple_spellings() -> dict[exp.DType, str]:
    out: dict[exp.DType, str] = {}
    for t in T:
        if t in (T.UNKNOWN, T.NULL, T.DECIMAL) or t in exp.DataType.NESTED_TYPES:
            continue
        try:
            out[t] = _render_sql(exp.DataType(this=t).sql("duckdb"))
        except Exception:  # noqa: BLE001, S112 - a type the generator cannot print stays slow-path
            continue
    return out


@functools.lru_cache(maxsize=4096)
def _render_sql(sql: str) -> str:
    return _WORD.sub(lambda m: _SPELLING[m.group(1)], sql).replace(", ", ",")


@functools.lru_cache(maxsize=4096)
def parse_type(text: str) -> exp.DataType | None:
    """A type string from a sources file or contract, or None if it is not a SQL type."""
    try:
        return exp.DataType.build(text, dialect="duckdb")
    except (ParseError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Canonical spelling of a type string (``"int4"`` → ``"INTEGER"``); input if unparsable."""
    dtype = parse_type(text)
    return text if dtype is None else render(dtype)


def category(dtype: exp.DataType | None) -> str:
    """numeric | text | temporal | interval | boolean | unknown | other."""
    if dtype is None or dtype.this in _UNKNOWNISH:
        return "unknown"
    t = dtype.this
    if t in _NUMERIC:
        return "numeric"
    if t in _TEXT:
        return "text"
    if t == T.INTERVAL:
        return "interval"
    if t in _TEMPORAL:
        return "temporal"
    if t == T.BOOLEAN:
        return "boolean"
    return "other"


def category_of(text: str) -> str:
    return category(parse_type(text)) if text != UNKNOWN else "unknown"


def comparable(left: str, right: str) -> bool:
    """Whether DuckDB compares the two types without an explicit CAST (unknowns pass)."""
    a, b = category_of(left), category_of(right)
    # DuckDB implicitly casts string *literals*; columns of text vs number/date do not mix.
    return "unknown" in (a, b) or "other" in (a, b) or a == b


def same_type(declared: str, inferred: str) -> bool:
    """Contract check: a bare ``DECIMAL``/``VARCHAR`` contract accepts any precision/length."""
    want, got = parse_type(declared), parse_type(inferred)
    if want is None or got is None:
        return declared.upper() == inferred.upper()
    if want.this != got.this:
        return False
    if want.this == T.DECIMAL and not want.expressions and "(" not in declared:
        return True
    return render(want) == render(got)

