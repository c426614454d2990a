"""The dialect layer: one query tree, rendered for whichever warehouse runs it.

Models are written (and typed) in ``[project] dialect``. An adapter whose ``dialect``
differs renders every statement through :func:`render` from the *qualified* tree (``*``
and ``* EXCLUDE (...)`` already expanded to columns by the compiler), after the target's
fix-ups; what the target cannot express is an :class:`Unsupported` finding — a located
compile diagnostic (``rocky compile --target postgres``), never a SQL error at run time.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT DATE_TRUNC('month', CAST(d AS DATE)) AS m", "duckdb")
    >>> render(tree, "postgres")
    "SELECT CAST(DATE_TRUNC('MONTH', CAST(d AS DATE)) AS TIMESTAMP) AS m"
    >>> [u.construct for u in unsupported(sqlglot.parse_one("SELECT {'a': 1} AS s"), "postgres")]
    ['struct literal']
    >>> normalize_type("numeric(10,2)", "postgres"), normalize_type("character varying", "postgres")
    ('DECIMAL(10,2)', 'VARCHAR')

Adding a warehouse: give its adapter a ``dialect`` (a sqlglot dialect name) and, when
sqlglot needs help, register :class:`TargetRules` for it in :data:`RULES` (fix-ups that
rewrite a tree to keep DuckDB's meaning, refusals for what has no equivalent, and the
type names the warehouse reports). Everything else — which functions exist, how they are
spelled — is sqlglot's own transpilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import ErrorLevel, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError

from rocky_engine.adapters import spark_dialect as _spark
from rocky_engine.errors import WarehouseError

T = exp.DataType.Type
Fixup = Callable[[exp.Expr], exp.Expr]
Refusal = Callable[[exp.Expr], "str | None"]


@dataclass(frozen=True)
class Unsupported:
    """A construct of a query that the target warehouse cannot run as written."""

    construct: str
    target: str
    node: exp.Expr | None = None
    detail: str = ""

    def message(self) -> str:
        extra = f": {self.detail}" if self.detail else ""
        return f"{self.construct} cannot be expressed on {self.target}{extra}"


class DialectError(WarehouseError):
    """A statement holds a construct the warehouse cannot express (see ``findings``)."""

    code = "R400"

    def __init__(self, findings: list[Unsupported]) -> None:
        first = findings[0]
        super().__init__(first.message(), hint="rewrite it with constructs both dialects "
                                               "have; `rocky compile --target "
                                               f"{first.target}` lists every one")
        self.findings = findings


@dataclass(frozen=True)
class TargetRules:
    """What one target warehouse needs beyond sqlglot's own transpilation.

    ``fixups`` rewrite a (copied) tree before generation so it keeps the project
    dialect's meaning; ``refusals`` name, per node, a construct the target lacks (None:
    fine); ``type_names`` maps the warehouse's reported type names onto sqlglot-parsable
    ones before :func:`normalize_type`; ``generator`` overrides settings of sqlglot's
    generator for the target where its spelling is wrong.
    """

    fixups: tuple[Fixup, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    type_names: dict[str, str] = field(default_factory=dict)
    generator: tuple[tuple[str, object], ...] = ()


# ---------------------------------------------------------------------------- postgres


def _pg_date_trunc(node: exp.Expr) -> exp.Expr:
    # DATE_TRUNC of a DATE is timestamptz on Postgres (the date is promoted to
    # timestamptz), TIMESTAMP on DuckDB: cast to the type the compiler inferred.
    if not isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)) or \
            isinstance(node.parent, exp.Cast):
        return node
    want = node.type if node.type is not None and node.type.this in (
        T.DATE, T.TIMESTAMP) else None
    if want is None:
        arg = node.this
        arg_type = arg.to if isinstance(arg, exp.Cast) else arg.type
        if arg_type is not None and arg_type.this == T.DATE:
            want = exp.DataType.build("TIMESTAMP")
    if want is None:
        return node
    return exp.Cast(this=node.copy(), to=want.copy())


def _pg_round(node: exp.Expr) -> exp.Expr:
    # Postgres has round(numeric, int) but no round(double precision, int).
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        arg = node.this
        typ = arg.type
        if typ is None or typ.this in (T.DOUBLE, T.FLOAT, T.UNKNOWN) or \
                typ.this not in exp.DataType.NUMERIC_TYPES:
            out = node.copy()
            out.set("this", exp.Cast(this=arg.copy(), to=exp.DataType.build("DECIMAL")))
            if typ is not None and typ.this in (T.DOUBLE, T.FLOAT):
                return exp.Cast(this=out, to=exp.DataType.build("DOUBLE"))
            return out
    return node


def _pg_qualify(node: exp.Expr) -> exp.Expr:
    # sqlglot's own QUALIFY elimination for Postgres moves the outer ORDER BY/LIMIT into
    # the subquery, where it orders nothing. Wrap it ourselves: window terms and the
    # table columns the filter or the ordering need are computed inside, filtered,
    # ordered and limited outside, and only the selected columns come out.
    if not isinstance(node, exp.Select) or not node.args.get("qualify"):
        return node
    inner = node.copy()
    cond = inner.args["qualify"].this
    tail = {key: inner.args.get(key) for key in ("order", "limit", "offset")}
    for key in ("qualify", "order", "limit", "offset"):
        inner.set(key, None)
    names = [s.alias_or_name for s in inner.selects]
    taken = {n.lower() for n in names}
    lifted: list[exp.Expr] = []

    def lift(expr: exp.Expr) -> exp.Expr:
        alias = f"_rocky_q{len(lifted)}"
        while alias in taken:
            alias += "_"
        taken.add(alias)
        lifted.append(exp.alias_(expr.copy(), alias))
        return exp.column(alias)

    def outside(expr: exp.Expr) -> exp.Expr:
        # Windows and table-qualified columns are evaluated inside; bare names are
        # output columns, visible outside as they are.
        return expr.transform(
            lambda n: lift(n) if isinstance(n, exp.Window)
            or (isinstance(n, exp.Column) and n.table) else n)

    outer = exp.select(*[exp.column(n, quoted=True) for n in names]).where(outside(cond))
    if tail["order"] is not None:
        outer.set("order", outside(tail["order"]))
    for key in ("limit", "offset"):
        if tail[key] is not None:
            outer.set(key, tail[key])
    if lifted:
        inner.select(*lifted, copy=False)
    return outer.from_(inner.subquery("_q"), copy=False)


_PG_MISSING = {
    exp.Struct: "struct literal",
    exp.PivotAny: "PIVOT",
    exp.Pivot: "PIVOT / UNPIVOT",
    exp.Lambda: "lambda function",
    exp.ArrayFilter: "list_filter",
    exp.Transform: "list_transform",
}


def _pg_refuse(node: exp.Expr) -> str | None:
    for kind, name in _PG_MISSING.items():
        if type(node) is kind:
            return name
    if isinstance(node, exp.TableSample):
        # Postgres samples a percentage by SYSTEM (pages) or BERNOULLI (rows), as DuckDB's
        # `USING SAMPLE 10%` (SYSTEM) does; a row count or another method has no equivalent.
        method = node.args.get("method")
        if not (method is not None and method.name.upper() in ("SYSTEM", "BERNOULLI")
                and node.args.get("percent") is not None and node.args.get("size") is None):
            return "USING SAMPLE / TABLESAMPLE (Postgres: SYSTEM or BERNOULLI, a percentage)"
    if isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")
                                       or node.args.get("rename")):
        return "SELECT * EXCLUDE/REPLACE (unexpanded)"
    # A function sqlglot does not model would be passed through by name, and Postgres
    # has none of DuckDB's extra functions (list_*, epoch_ms, ...).
    if isinstance(node, exp.Anonymous) and node.name.lower() not in _PG_PASS_THROUGH:
        return f"function {node.name}()"
    if isinstance(node, exp.DataType) and node.this in (T.STRUCT, T.MAP, T.UNION,
                                                         T.INT128, T.UINT128, T.UBIGINT,
                                                         T.UINT, T.USMALLINT, T.UTINYINT):
        from rocky_engine.compiler.types import render as render_type

        return f"type {render_type(node)}"
    return None


# Functions sqlglot parses as Anonymous in DuckDB that Postgres has under the same name.
_PG_PASS_THROUGH = frozenset({
    "md5", "initcap", "repeat", "translate", "gen_random_uuid", "pi", "sign", "cbrt",
    "degrees", "radians", "factorial", "gcd", "lcm", "bit_length", "ascii", "chr",
})


RULES: dict[str, TargetRules] = {
    "postgres": TargetRules(
        fixups=(_pg_date_trunc, _pg_round, _pg_qualify),
        refusals=(_pg_refuse,),
        type_names={"\"char\"": "CHAR(1)", "name": "VARCHAR", "oid": "BIGINT",
                    "regclass": "VARCHAR", "xid": "BIGINT"},
    ),
    # Spark: QUALIFY kept as written (sqlglot's rewrite is switched off for Spark when
    # spark_dialect is imported); DATE_TRUNC gives a TIMESTAMP there as on Postgres.
    "spark": TargetRules(fixups=(_pg_date_trunc, _spark.lateral), refusals=(_spark.refuse,),
                         # sqlglot writes a sample's seed as `SEED (n)`; Spark reads
                         # `REPEATABLE (n)`.
                         generator=(("TABLESAMPLE_SEED_KEYWORD", "REPEATABLE"),)),
}


# ---------------------------------------------------------------------------- API


def rules(target: str) -> TargetRules:
    return RULES.get(target, TargetRules())


def unsupported(tree: exp.Expr, target: str) -> list[Unsupported]:
    """Every construct of ``tree`` the target cannot express, outermost first."""
    found: list[Unsupported] = []
    refusals = rules(target).refusals
    if refusals:
        for node in tree.walk():
            for refuse in refusals:
                name = refuse(node)
                if name:
                    found.append(Unsupported(name, target, node))
                    break
    # What sqlglot itself reports it cannot generate (after the fix-ups).
    gen = _dialect(target).generator(unsupported_level=ErrorLevel.IGNORE)
    for setting, value in rules(target).generator:
        setattr(gen, setting, value)
    gen.generate(_fixed(tree, target), copy=True)
    for message in dict.fromkeys(gen.unsupported_messages):
        found.append(Unsupported(_construct_of(message), target, None, message))
    return found


def render(tree: exp.Expr, target: str, *, checked: bool = False) -> str:
    """``tree`` as SQL for ``target``; raises :class:`DialectError` if it cannot be.

    The tree is not modified. For the project's own dialect this is plain generation.
    ``checked``: the caller already ran :func:`unsupported` (``rocky run`` checks every
    model first), so only sqlglot's own generation errors are reported (one generation
    instead of two).
    """
    findings = [u for u in unsupported(tree, target)] if target in RULES and \
        not checked else []
    if findings:
        raise DialectError(findings)
    gen = _dialect(target).generator(unsupported_level=ErrorLevel.IGNORE)
    for setting, value in rules(target).generator:
        setattr(gen, setting, value)
    fixed = _fixed(tree, target)
    sql = gen.generate(fixed, copy=fixed is tree)
    if gen.unsupported_messages:
        raise DialectError([Unsupported(_construct_of(m), target, None, m)
                            for m in gen.unsupported_messages])
    return sql


def _fixed(tree: exp.Expr, target: str) -> exp.Expr:
    fixups = rules(target).fixups
    if not fixups:
        return tree
    out = tree.copy()
    for fix in fixups:
        out = out.transform(fix, copy=False)
    return out


def _construct_of(message: str) -> str:
    return message.split(" is not supported")[0].split(" not supported")[0].strip() or message


@functools.lru_cache(maxsize=16)
def _dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name)


@functools.lru_cache(maxsize=4096)
def normalize_type(text: str, warehouse_dialect: str) -> str:
    """A type name as the warehouse reports it, in rocky's spelling (DuckDB's names).

    Lengths the project dialect does not keep are dropped (``character varying(20)`` is
    ``VARCHAR``, as DuckDB reports any VARCHAR), so drift, contracts and lineage compare
    like with like. Unknown names come back upper-cased.
    """
    from rocky_engine.compiler.types import render as render_type

    raw = text.strip()
    raw = rules(warehouse_dialect).type_names.get(raw.lower(), raw)
    try:
        dtype = exp.DataType.build(raw, dialect=warehouse_dialect)
    except (ParseError, ValueError):
        return raw.upper()
    if dtype.this in (T.VARCHAR, T.CHAR, T.NVARCHAR, T.NCHAR, T.TEXT, T.BPCHAR):
        return "VARCHAR"
    if dtype.this in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME, T.TIMETZ) and dtype.expressions:
        dtype = exp.DataType(this=dtype.this)
    return render_type(dtype)


def type_sql(canonical: str, target: str) -> str:
    """A type in rocky's spelling (DuckDB's) as ``target`` writes it in DDL."""
    return exp.DataType.build(canonical, dialect="duckdb").sql(dialect=target)
