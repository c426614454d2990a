"""Return types sqlglot's DuckDB typing leaves UNKNOWN or gets wrong, as annotator metadata.

``annotate_types`` looks each node class up in a metadata map (``{"returns": DType}`` or
``{"annotator": fn}``); :data:`METADATA` is DuckDB's map plus rocky's additions, checked
against DuckDB's own ``DESCRIBE`` by ``tests/compiler/test_types_vs_duckdb.py``.

    >>> import sqlglot
    >>> from sqlglot.optimizer.annotate_types import annotate_types
    >>> tree = annotate_types(sqlglot.parse_one("SELECT SPLIT_PART('a@b', '@', 2) AS x",
    ...                                         read="duckdb"),
    ...                       dialect="duckdb", expression_metadata=METADATA)
    >>> tree.selects[0].type.sql("duckdb")
    'TEXT'
"""

from __future__ import annotations

import functools
from typing import Any

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

T = exp.DType

_FIXED: dict[type[exp.Expr], str] = {
    exp.RegexpReplace: "VARCHAR",
    exp.RegexpExtract: "VARCHAR",
    exp.SplitPart: "VARCHAR",
    exp.Split: "VARCHAR[]",
    exp.Left: "VARCHAR",
    exp.Right: "VARCHAR",
    exp.Pad: "VARCHAR",
    exp.Replace: "VARCHAR",
    exp.Uuid: "UUID",
    exp.JSONExtract: "JSON",
    exp.JSONExtractScalar: "VARCHAR",
    exp.JSONKeys: "VARCHAR[]",
    exp.JSONType: "VARCHAR",
    exp.JSONObject: "JSON",
    exp.JSONArray: "JSON",
    exp.Median: "DOUBLE",
    exp.StrPosition: "BIGINT",
    exp.CurrentTimestamp: "TIMESTAMPTZ",
}

# Same type as the first argument.
_LIKE_ARG = (exp.ArgMax, exp.ArgMin, exp.First, exp.Last, exp.ArrayDistinct, exp.Trunc)

# DuckDB functions sqlglot parses as Anonymous: lower-case name -> return type.
_ANONYMOUS: dict[str, str] = {
    "date_part": "BIGINT", "datepart": "BIGINT", "date_sub": "BIGINT", "yearweek": "BIGINT",
    "isoyear": "BIGINT", "weekday": "BIGINT", "century": "BIGINT", "era": "BIGINT",
    "millisecond": "BIGINT", "microsecond": "BIGINT", "epoch_us": "BIGINT",
    "epoch_ns": "BIGINT", "strlen": "BIGINT", "gcd": "BIGINT", "lcm": "BIGINT",
    "hash": "UBIGINT", "cardinality": "UBIGINT", "json_array_length": "UBIGINT",
    "bit_count": "TINYINT", "now": "TIMESTAMPTZ", "get_current_timestamp": "TIMESTAMPTZ",
    "make_timestamptz": "TIMESTAMPTZ", "timezone": "TIMESTAMPTZ", "age": "INTERVAL",
    "to_months": "INTERVAL", "to_years": "INTERVAL", "to_weeks": "INTERVAL",
    "printf": "VARCHAR", "strip_accents": "VARCHAR", "nfc_normalize": "VARCHAR",
    "base64": "VARCHAR", "to_base64": "VARCHAR", "bar": "VARCHAR", "json_valid": "BOOLEAN",
    "to_json": "JSON", "jaccard": "DOUBLE", "even": "DOUBLE", "damerau_levenshtein": "BIGINT",
    "try_strptime": "TIMESTAMP", "regexp_split_to_array": "VARCHAR[]",
    "string_split_regex": "VARCHAR[]", "list_sum": "HUGEINT", "json_extract_path_text": "VARCHAR",
    "regexp_extract_all": "VARCHAR[]", "current_localtimestamp": "TIMESTAMP",
    "make_timestamp": "TIMESTAMP", "epoch": "DOUBLE", "format": "VARCHAR",
    "concat_ws": "VARCHAR", "md5": "VARCHAR", "sha256": "VARCHAR", "sha1": "VARCHAR",
}

_INTEGERS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UINT,
             T.UBIGINT, T.INT128}


def _build(text: str) -> exp.DataType:
    # A fresh copy of a parsed-once type: parsing "DECIMAL(38,2)" for every SUM in a project
    # cost more than the rest of the annotation of that SUM.
    return _parsed(text).copy()


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> exp.DataType:
    return exp.DataType.build(text, dialect="duckdb")


def _returns(text: str) -> dict[str, Any]:
    dtype = _build(text)
    return {"annotator": lambda self, e: self._set_type(e, dtype.copy())}


def _like_arg(self: Any, e: exp.Expr) -> None:
    self._set_type(e, e.this.type if e.this is not None and e.this.type else T.UNKNOWN)


def _ceil_floor(self: Any, e: exp.Expr) -> None:
    arg = e.this.type if e.this is not None else None
    if arg is not None and arg.this == T.DECIMAL and arg.expressions:
        self._set_type(e, _build(f"DECIMAL({arg.expressions[0].this.name},0)"))
    else:
        _like_arg(self, e)


def _float_wins(fallback: Any) -> Any:
    # DuckDB: any FLOAT/DOUBLE operand makes the arithmetic DOUBLE, even with a DECIMAL.
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        kinds = {getattr(side.type, "this", None) for side in (e.this, e.expression)}
        if kinds & {T.FLOAT, T.DOUBLE} and e.type is not None and e.type.this == T.DECIMAL:
            self._set_type(e, T.DOUBLE)

    return annotate


def _divide(fallback: Any) -> Any:
    # DuckDB's `/` is always floating-point division for numbers (`//` is integer division).
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        kinds = [getattr(side.type, "this", None) for side in (e.this, e.expression)]
        numeric = exp.DataType.NUMERIC_TYPES
        if all(k in numeric for k in kinds):
            self._set_type(e, T.DOUBLE)

    return annotate


def _round(self: Any, e: exp.Expr) -> None:
    arg = e.this.type if e.this is not None else None
    digits = e.args.get("decimals")
    if arg is not None and arg.this == T.DECIMAL and arg.expressions:
        scale = digits.name if isinstance(digits, exp.Literal) and digits.is_int else "0"
        self._set_type(e, _build(f"DECIMAL({arg.expressions[0].this.name},{scale})"))
    else:
        _like_arg(self, e)


def _sum(self: Any, e: exp.Expr) -> None:
    # DuckDB widens sums: DECIMAL(p,s) -> DECIMAL(38,s), integers -> HUGEINT, floats -> DOUBLE.
    arg = e.this.type if e.this is not None else None
    if arg is None or arg.this in (T.UNKNOWN, T.NULL):
        self._set_type(e, T.UNKNOWN if arg is None else arg.this)
    elif arg.this == T.DECIMAL:
        scale = arg.expressions[1].this.name if len(arg.expressions) > 1 else "3"
        self._set_type(e, _build(f"DECIMAL(38,{scale})"))
    elif arg.this in _INTEGERS:
        self._set_type(e, T.INT128)
    elif arg.this in (T.FLOAT, T.DOUBLE):
        self._set_type(e, T.DOUBLE)
    elif arg.this == T.BOOLEAN:
        self._set_type(e, T.INT128)
    else:
        self._set_type(e, arg)


def _anonymous(fallback: Any) -> Any:
    def annotate(self: Any, e: exp.Expr) -> None:
        known = _ANONYMOUS.get(e.name.lower())
        if known is not None:
            self._set_type(e, _build(known))
        elif fallback is not None:
            fallback(self, e)
        else:
            self._set_type(e, T.UNKNOWN)

    return annotate


def _metadata() -> dict[Any, dict[str, Any]]:
    md: dict[Any, dict[str, Any]] = dict(DuckDB.EXPRESSION_METADATA)
    for cls, text in _FIXED.items():
        md[cls] = _returns(text)
    for cls in _LIKE_ARG:
        md[cls] = {"annotator": _like_arg}
    md[exp.Sum] = {"annotator": _sum}
    md[exp.Ceil] = {"annotator": _ceil_floor}
    md[exp.Round] = {"annotator": _round}
    for cls in (exp.Add, exp.Sub, exp.Mul):
        md[cls] = {"annotator": _float_wins(md[cls]["annotator"])}
    md[exp.Div] = {"annotator": _divide(md[exp.Div]["annotator"])}
    md[exp.Anonymous] = {"annotator": _anonymous((md.get(exp.Anonymous) or {}).get("annotator"))}
    return md


METADATA = _metadata()
