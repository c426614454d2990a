"""Return types sqlglot's DuckDB typing leaves UNKNOWN or gets wrong, as annotator metadata.

``annotate_types`` looks each node class up in a metadata map (``{"returns": DType}`` or
``{"annotator": fn}``); :data:`METADATA` is DuckDB's map plus rocky's additions: function
return types, and DuckDB's own rules for literals, arithmetic and CASE/COALESCE/UNION
unification (:mod:`rocky_engine.compiler.coercion`). ``tests/compiler/test_type_parity.py``
checks them against DuckDB's ``DESCRIBE``.

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
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from rocky_engine.compiler.coercion import (
    DATE_TIMES,
    INTEGERS,
    arith,
    decimal,
    decimal_props,
    int_literal,
    known,
    literal_type,
    operand,
    unify,
    unify_set_operation,
)

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
    exp.StrPosition: "BIGINT",
    exp.CurrentTimestamp: "TIMESTAMPTZ",
    exp.Sign: "TINYINT",
    exp.Corr: "DOUBLE",
    exp.CovarPop: "DOUBLE",
    exp.CovarSamp: "DOUBLE",
}

# Same type as the first argument (LAG's default value is cast to it).
_LIKE_ARG = (exp.ArgMax, exp.ArgMin, exp.First, exp.Last, exp.ArrayDistinct, exp.Lag,
             exp.Lead, exp.Nullif)

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
    "product": "DOUBLE", "fsum": "DOUBLE", "favg": "DOUBLE", "geomean": "DOUBLE",
    "entropy": "DOUBLE",
}

_INTEGERS = INTEGERS
_NUMERIC = INTEGERS | {T.DOUBLE, T.FLOAT, T.DECIMAL}
_FRACTIONAL_PARTS = {"epoch", "julian"}  # DATE_PART units DuckDB returns as DOUBLE


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
    # DECIMAL(p,s) -> DECIMAL(p,0); integers -> DOUBLE (DuckDB has no integer CEIL/FLOOR).
    arg = e.this.type if e.this is not None else None
    props = decimal_props(arg) if arg is not None and arg.this == T.DECIMAL else None
    if props is not None:
        self._set_type(e, decimal(props[0], 0))
    elif arg is not None and arg.this in _INTEGERS:
        self._set_type(e, T.DOUBLE)
    else:
        _like_arg(self, e)


def _trunc(self: Any, e: exp.Expr) -> None:
    arg = e.this.type if e.this is not None else None
    props = decimal_props(arg) if arg is not None and arg.this == T.DECIMAL else None
    if props is not None and e.args.get("decimals") is None:
        self._set_type(e, decimal(props[0], 0))
    else:
        _like_arg(self, e)


def _arithmetic(op: str, fallback: Any) -> Any:
    """DuckDB's result type for numbers (:func:`coercion.arith`) and date/time differences."""
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        left, right = e.this, e.expression
        if not (known(left) and known(right)):
            return
        lo, ro = operand(left), operand(right)
        if lo is None or ro is None:
            return
        typed = arith(op, lo, ro)
        if typed is not None:
            self._set_type(e, typed)
        elif (moment := _temporal(op, lo.type.this, ro.type.this)) is not None:
            self._set_type(e, moment)

    return annotate


def _temporal(op: str, left: exp.DType, right: exp.DType) -> exp.DType | None:
    if op == "-" and left == T.DATE and right == T.DATE:
        return T.BIGINT  # days between two dates
    if op == "-" and left in DATE_TIMES and right in DATE_TIMES:
        return T.INTERVAL
    if op == "+" and {left, right} == {T.DATE, T.TIME}:
        return T.TIMESTAMP
    # INTERVAL arithmetic (how sqlglot writes DuckDB's `date_add(d, interval (n) day)`):
    # number * INTERVAL is an INTERVAL; a date/time moved by an INTERVAL keeps its kind,
    # except a DATE, which becomes a TIMESTAMP.
    if op == "*" and T.INTERVAL in (left, right) and {left, right} - {T.INTERVAL} <= _NUMERIC:
        return T.INTERVAL
    moved = right if left == T.INTERVAL and op == "+" else left
    if op in "+-" and T.INTERVAL in (left, right) and moved in DATE_TIMES:
        return T.TIMESTAMP if moved == T.DATE else moved
    return None


def _divide(fallback: Any) -> Any:
    # DuckDB's `/` is always floating-point division for numbers (`//` is integer division):
    # FLOAT when a FLOAT is divided by anything but a DOUBLE, else DOUBLE.
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        kinds = [getattr(side.type, "this", None) for side in (e.this, e.expression)]
        numeric = exp.DataType.NUMERIC_TYPES
        if all(k in numeric for k in kinds):
            single = T.FLOAT in kinds and T.DOUBLE not in kinds
            self._set_type(e, T.FLOAT if single else T.DOUBLE)

    return annotate


def _extract(fallback: Any) -> Any:
    def annotate(self: Any, e: exp.Expr) -> None:
        if e.this is not None and e.this.name.upper() == "EPOCH":
            self._set_type(e, T.DOUBLE)  # seconds with a fraction
        else:
            fallback(self, e)

    return annotate


def _epoch_ms(fallback: Any) -> Any:
    # EPOCH_MS(number) is a TIMESTAMP, EPOCH_MS(timestamp) the milliseconds as BIGINT.
    def annotate(self: Any, e: exp.Expr) -> None:
        arg = e.this.type if e.this is not None else None
        if arg is not None and arg.this in DATE_TIMES:
            self._set_type(e, T.BIGINT)
        else:
            fallback(self, e)

    return annotate


def _array(fallback: Any) -> Any:
    # `[1.5, 2]`: the elements unify like COALESCE's arguments (DECIMAL(11,1)[]).
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        items = e.expressions
        if not items or not all(known(n) for n in items):
            return
        typed = unify(operand(n) for n in items)
        if typed is not None:
            self._set_type(e, exp.DataType(this=T.ARRAY, expressions=[typed], nested=True))

    return annotate


def _unifying(values: Callable[[exp.Expr], list[exp.Expr | None]], fallback: Any) -> Any:
    """CASE/COALESCE/GREATEST/IF: the values' common type by DuckDB's rules."""
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        nodes = [n for n in values(e) if n is not None]
        if not nodes or not all(known(n) for n in nodes):
            return
        typed = unify(operand(n) for n in nodes)
        if typed is not None:
            self._set_type(e, typed)

    return annotate


def _case_values(e: exp.Expr) -> list[exp.Expr | None]:
    return [i.args.get("true") for i in e.args.get("ifs") or []] + [e.args.get("default")]


def _literal(self: Any, e: exp.Expr) -> None:
    # DuckDB: `1` INTEGER, `3000000000` BIGINT, `1.50` DECIMAL(3,2), `1e3` DOUBLE.
    self._set_type(e, T.VARCHAR if e.is_string else literal_type(e.this))
    e.meta["nonnull"] = True


def _round(self: Any, e: exp.Expr) -> None:
    arg = e.this.type if e.this is not None else None
    props = decimal_props(arg) if arg is not None and arg.this == T.DECIMAL else None
    if props is not None:
        digits = e.args.get("decimals")
        wanted = 0 if digits is None else int_literal(digits)
        # ROUND never adds decimal places, and a negative precision rounds to an integer.
        scale = props[1] if wanted is None else max(0, min(wanted, props[1]))
        self._set_type(e, decimal(props[0], scale))
    elif arg is not None and arg.this in _ROUND_UNSIGNED:
        self._set_type(e, _ROUND_UNSIGNED[arg.this])  # ROUND has only signed overloads
    else:
        _like_arg(self, e)


_ROUND_UNSIGNED = {T.UTINYINT: T.BIGINT, T.USMALLINT: T.BIGINT, T.UINT: T.BIGINT,
                   T.UBIGINT: T.INT128, T.UINT128: T.DOUBLE}


def _avg(self: Any, e: exp.Expr) -> None:
    # Numbers average as DOUBLE; DuckDB also averages dates, timestamps and intervals.
    arg = e.this.type if e.this is not None else None
    kind = arg.this if arg is not None else None
    if kind == T.DATE:
        self._set_type(e, T.TIMESTAMP_NS)
    elif kind in DATE_TIMES or kind == T.INTERVAL:
        self._set_type(e, arg)
    else:
        self._set_type(e, T.DOUBLE)


def _bracket(fallback: Any) -> Any:
    def annotate(self: Any, e: exp.Expr) -> None:
        fallback(self, e)
        base = e.this.type if e.this is not None else None
        if base is not None and base.this in _TEXT and e.type is not None \
                and e.type.this == T.UNKNOWN:
            self._set_type(e, base)  # `text[1]` and `text[1:2]` are substrings

    return annotate


_TEXT = set(exp.DataType.TEXT_TYPES)


def _median(self: Any, e: exp.Expr) -> None:
    # An interpolating quantile keeps a DECIMAL/FLOAT type; integers interpolate as DOUBLE.
    arg = e.this.type if e.this is not None else None
    if arg is None or arg.this in _INTEGERS or arg.this == T.UNKNOWN:
        self._set_type(e, T.DOUBLE)
    elif arg.this == T.DATE:
        self._set_type(e, T.TIMESTAMP)
    else:
        self._set_type(e, arg)


def _sum(self: Any, e: exp.Expr) -> None:
    # DuckDB widens sums: DECIMAL(p,s) -> DECIMAL(38,s), integers -> HUGEINT, floats -> DOUBLE.
    arg = e.this.type if e.this is not None else None
    if arg is None or arg.this in (T.UNKNOWN, T.NULL):
        self._set_type(e, T.UNKNOWN if arg is None else arg.this)
    elif arg.this == T.DECIMAL and (props := decimal_props(arg)) is not None:
        self._set_type(e, decimal(38, props[1]))
    elif arg.this == T.UINT128:
        self._set_type(e, T.DOUBLE)
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
        name = e.name.lower()
        found = _ANONYMOUS.get(name)
        if name in ("date_part", "datepart") and e.expressions \
                and e.expressions[0].name.lower() in _FRACTIONAL_PARTS:
            found = "DOUBLE"
        if found is not None:
            self._set_type(e, _build(found))
        elif fallback is not None:
            fallback(self, e)
        else:
            self._set_type(e, T.UNKNOWN)

    return annotate


def _values(self: Any, e: exp.Expr) -> None:
    """``VALUES (1), (2.5)``: each column's values get the column's common type.

    sqlglot reads a VALUES column's type off its values when the enclosing query is typed;
    giving every value the unified type makes that read DuckDB's type (``DECIMAL(11,1)``).
    """
    rows = [row.expressions for row in e.expressions if isinstance(row, exp.Tuple)]
    if len(rows) > 1 and len({len(r) for r in rows}) == 1:
        for column in zip(*rows):
            if all(known(n) for n in column):
                typed = unify(operand(n) for n in column)
                if typed is not None:
                    for node in column:
                        self._set_type(node, typed.copy())
    self._set_type(e, T.UNKNOWN)


def _series(self: Any, e: exp.Expr) -> None:
    """``range``/``generate_series`` as list functions: ``BIGINT[]`` for numbers (whatever
    their width), ``TIMESTAMP[]`` from dates or timestamps, ``TIMESTAMPTZ[]`` from those."""
    bounds = [e.args.get(k) for k in ("start", "end")]
    kinds = {b.type.this for b in bounds if b is not None and b.type is not None} - {T.NULL}
    element: exp.DType | None = None
    if kinds <= set(_INTEGERS):  # range(NULL) is BIGINT too
        element = T.BIGINT
    elif kinds == {T.TIMESTAMPTZ}:
        element = T.TIMESTAMPTZ
    elif kinds and kinds <= {T.DATE, T.TIMESTAMP, T.TIMESTAMPNTZ, T.DATETIME}:
        element = T.TIMESTAMP
    if element is None:
        self._set_type(e, T.UNKNOWN)
    else:
        self._set_type(e, exp.DataType(this=T.ARRAY, expressions=[exp.DataType(this=element)],
                                       nested=True))


def _fallback(md: dict[Any, dict[str, Any]], cls: type[exp.Expr]) -> Any:
    """The annotator ``md`` has for ``cls`` as a function (``returns`` specs included)."""
    spec = md.get(cls) or {}
    if "annotator" in spec:
        return spec["annotator"]
    returns = spec.get("returns", T.UNKNOWN)
    return lambda self, e: self._set_type(e, returns)


def _metadata() -> dict[Any, dict[str, Any]]:
    md: dict[Any, dict[str, Any]] = dict(DuckDB.EXPRESSION_METADATA)
    for cls, text in _FIXED.items():
        md[cls] = _returns(text)
    for cls in _LIKE_ARG:
        md[cls] = {"annotator": _like_arg}
    md[exp.Literal] = {"annotator": _literal}
    md[exp.Sum] = {"annotator": _sum}
    for cls in (exp.Ceil, exp.Floor):
        md[cls] = {"annotator": _ceil_floor}
    md[exp.Trunc] = {"annotator": _trunc}
    md[exp.Round] = {"annotator": _round}
    for cls in (exp.Median, exp.PercentileCont):
        md[cls] = {"annotator": _median}
    for cls, op in ((exp.Add, "+"), (exp.Sub, "-"), (exp.Mul, "*"), (exp.Mod, "%"),
                    (exp.IntDiv, "//")):
        md[cls] = {"annotator": _arithmetic(op, md[cls]["annotator"])}
    md[exp.Div] = {"annotator": _divide(md[exp.Div]["annotator"])}
    md[exp.Extract] = {"annotator": _extract(_fallback(md, exp.Extract))}
    md[exp.UnixToTime] = {"annotator": _epoch_ms(_fallback(md, exp.UnixToTime))}
    md[exp.Array] = {"annotator": _array(_fallback(md, exp.Array))}
    md[exp.Values] = {"annotator": _values}
    md[exp.GenerateSeries] = {"annotator": _series}
    md[exp.Avg] = {"annotator": _avg}
    md[exp.Bracket] = {"annotator": _bracket(_fallback(md, exp.Bracket))}
    md[exp.Case] = {"annotator": _unifying(_case_values, md[exp.Case]["annotator"])}
    md[exp.If] = {"annotator": _unifying(lambda e: [e.args.get("true"), e.args.get("false")],
                                         md[exp.If]["annotator"])}
    for cls in (exp.Coalesce, exp.Greatest, exp.Least):
        md[cls] = {"annotator": _unifying(lambda e: [e.this, *e.expressions],
                                          md[cls]["annotator"])}
    for cls in (exp.Union, exp.Intersect, exp.Except):
        md[cls] = {"annotator": unify_set_operation}
    md[exp.Anonymous] = {"annotator": _anonymous((md.get(exp.Anonymous) or {}).get("annotator"))}
    return md


METADATA = _metadata()
