"""The types a target warehouse gives a model's columns, where they differ from DuckDB's.

The compiler types models with DuckDB's rules (the project dialect). Spark types some
results differently: ``SUM`` of ``DECIMAL(p,s)`` is ``DECIMAL(p+10,s)`` (DuckDB:
``DECIMAL(38,s)``), ``AVG`` of a decimal stays a decimal, ``RANK()`` and ``ROW_NUMBER()``
are ``INT``, ``SUM`` of integers is ``BIGINT``, integer division is ``BIGINT``. This pass
re-types every model's qualified tree with Spark's rules, in DAG order (a model reads
its upstream models' Spark types), so ``rocky compile`` can report the types the tables
will really have (``warehouse_type`` in the JSON output).

    >>> types = target_types(project, compiled, "spark")        # doctest: +SKIP
    >>> types["order_payments"]["total_paid"]                   # doctest: +SKIP
    'DECIMAL(20,2)'
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.annotate_types import annotate_types

from rocky_engine.compiler.ir import UNKNOWN, CompileResult
from rocky_engine.compiler.relations import MODEL_DB
from rocky_engine.compiler.target import TargetModels
from rocky_engine.compiler.types import render as render_type
from rocky_engine.project import Project

T = exp.DataType.Type
_INTEGERS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT}
_FLOATS = {T.FLOAT, T.DOUBLE}


def _decimal_args(dtype: exp.DataType | None) -> tuple[int, int] | None:
    if dtype is None or dtype.this != T.DECIMAL:
        return None
    params = [int(e.this.name) if isinstance(e.this, exp.Literal) else int(e.name)
              for e in dtype.expressions] if dtype.expressions else []
    if len(params) == 2:
        return params[0], params[1]
    if len(params) == 1:
        return params[0], 0
    return 10, 0  # Spark's DECIMAL without arguments


def _spark_sum(self: Any, e: exp.Sum) -> exp.Expr:
    arg = e.this.type if e.this is not None else None
    dec = _decimal_args(arg)
    if dec is not None:
        p, s = dec
        self._set_type(e, exp.DataType.build(f"DECIMAL({min(38, p + 10)},{s})"))
    elif arg is not None and arg.this in _INTEGERS:
        self._set_type(e, exp.DataType.build("BIGINT"))
    elif arg is not None and arg.this in _FLOATS:
        self._set_type(e, exp.DataType.build("DOUBLE"))
    else:
        self._annotate_by_args(e, "this", "expressions", promote=True)
    return e


def _spark_avg(self: Any, e: exp.Avg) -> exp.Expr:
    dec = _decimal_args(e.this.type if e.this is not None else None)
    if dec is not None:
        p, s = dec
        self._set_type(e, exp.DataType.build(f"DECIMAL({min(38, p + 4)},{min(38, s + 4)})"))
    else:
        self._set_type(e, exp.DataType.build("DOUBLE"))
    return e


_INT_DIGITS = {T.TINYINT: 3, T.SMALLINT: 5, T.INT: 10, T.BIGINT: 20}


def _as_decimal(node: exp.Expr) -> tuple[int, int] | None:
    """The DECIMAL(p,s) Spark sees an operand as in decimal arithmetic (None: not exact)."""
    if isinstance(node, exp.Literal) and not node.is_string and node.is_int:
        return max(1, len(node.name.lstrip("-"))), 0  # DecimalType.fromLiteral
    dtype = node.type
    dec = _decimal_args(dtype)
    if dec is not None:
        return dec
    if dtype is not None and dtype.this in _INT_DIGITS:
        return _INT_DIGITS[dtype.this], 0
    return None


def _bounded(p: int, s: int) -> exp.DataType:
    if p > 38:  # spark.sql.decimalOperations.allowPrecisionLoss (the default)
        digits = p - s
        s = max(38 - digits, min(s, 6))
        p = 38
    return exp.DataType.build(f"DECIMAL({p},{s})")


def _spark_arith(self: Any, e: exp.Binary) -> exp.Expr:
    left, right = e.left, e.right
    lt, rt = left.type, right.type
    decimal_involved = any(_decimal_args(t) is not None for t in (lt, rt))
    a, b = _as_decimal(left), _as_decimal(right)
    if not decimal_involved or a is None or b is None:
        self._annotate_binary(e)
        return e
    (p1, s1), (p2, s2) = a, b
    if isinstance(e, exp.Add | exp.Sub):
        s = max(s1, s2)
        out = _bounded(max(p1 - s1, p2 - s2) + s + 1, s)
    elif isinstance(e, exp.Mul):
        out = _bounded(p1 + p2 + 1, s1 + s2)
    else:
        s = max(6, s1 + p2 + 1)
        out = _bounded(p1 - s1 + s2 + s, s)
    self._set_type(e, out)
    return e


def _metadata(target: str) -> dict[type, dict[str, Any]]:
    base = dict(Dialect.get_or_raise(target).EXPRESSION_METADATA)
    if target == "spark":
        base[exp.Sum] = {"annotator": _spark_sum}
        base[exp.Avg] = {"annotator": _spark_avg}
        for op in (exp.Add, exp.Sub, exp.Mul, exp.Div):
            base[op] = {"annotator": _spark_arith}
    return base


TARGETS = ("spark",)


def target_types(project: Project, compiled: CompileResult, target: str,
                 models: TargetModels | None = None) -> dict[str, dict[str, str]]:
    """Model -> column -> type on ``target`` (rocky's spelling), for every model that
    compiles; empty for targets typed as DuckDB types them."""
    if target not in TARGETS:
        return {}
    models = models or TargetModels(project, compiled, target)
    metadata = _metadata(target)
    schema: dict[str, Any] = {}
    for src in project.sources.values():
        cols = {c.name: _sql_type(c.type, target) for c in src.columns}
        schema.setdefault(src.schema.lower(), {})[src.name.lower()] = cols
    out: dict[str, dict[str, str]] = {}
    for name in compiled.order:
        cm = compiled.models.get(name)
        if cm is None or cm.status != "ok":
            continue
        tree = models.tree(name)
        if tree is None:
            continue
        try:
            typed = annotate_types(tree.copy(), schema=schema, dialect=target,
                                   expression_metadata=metadata)
        except Exception:  # noqa: BLE001, S112 - sqlglot cannot re-type it: DuckDB's types
            continue
        types: dict[str, str] = {}
        for select, col in zip(typed.selects, cm.columns, strict=False):
            dtype = select.type
            if dtype is None or dtype.this == T.UNKNOWN or col.type == UNKNOWN:
                types[col.name] = col.type
            else:
                types[col.name] = _canonical(dtype)
        out[name] = types
        schema.setdefault(MODEL_DB.lower(), {})[name] = {
            c: _sql_type(t, target) for c, t in types.items()}
    return out


def _sql_type(canonical: str, target: str) -> str:
    try:
        return exp.DataType.build(canonical, dialect="duckdb").sql(dialect=target)
    except Exception:  # noqa: BLE001
        return canonical


def _canonical(dtype: exp.DataType) -> str:
    if dtype.this in (T.VARCHAR, T.TEXT, T.CHAR):
        return "VARCHAR"
    if dtype.this == T.TIMESTAMPNTZ:
        return "TIMESTAMP"
    return render_type(dtype)
