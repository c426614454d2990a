"""Pass 6 — check types: the rules sqlglot's ``annotate_types`` infers but never enforces.

Runs on the qualified, annotated tree; every finding points into the model file.

    >>> import sqlglot
    >>> from sqlglot.optimizer.annotate_types import annotate_types
    >>> from sqlglot.optimizer.qualify import qualify
    >>> site = Site("m", "m.sql", "SELECT s + 1 AS x FROM t WHERE d > 5")
    >>> schema = {"t": {"s": "VARCHAR", "d": "DATE"}}
    >>> tree = annotate_types(qualify(sqlglot.parse_one(site.text.sql, read="duckdb"),
    ...                               schema=schema), schema=schema)
    >>> [d.code for d in check_types(tree, site)]
    ['R111', 'R110']

Rules (rocky is deliberately stricter than the warehouse's implicit casts):

* comparison (``= <> < <= > >=``, ``IN``, ``BETWEEN``) of text with numbers, dates or booleans,
  and of dates with numbers — R110, or R115 when it is a join key (``JOIN ... ON a = b``).
  A string *literal* compares with anything (``date_col > '2024-01-01'`` is fine);
* arithmetic (``+ - * / % //``, unary minus) on text or booleans, and ``* / %`` on dates — R111;
* ``SUM`` of text or dates, ``AVG`` of text or booleans — R112;
* ``+``/``-`` of a number with a date or timestamp, except DATE ± a SMALLINT/INTEGER (what
  DuckDB has), and ``<``-style ordering of a boolean with a DECIMAL/DOUBLE — R111 / R110;
* values of one CASE / COALESCE / IF / NULLIF / GREATEST / LEAST that DuckDB cannot unify
  (text with non-text, a date with a number, a boolean with a DECIMAL, ...) — R550;
* a numeric function (ABS, ROUND, FLOOR, CEIL, SIGN, SQRT, LN, LOG, EXP, POWER, CBRT) of a
  non-numeric value — R551.
* UNION / INTERSECT / EXCEPT with different column counts (R113) or a column whose
  branches have different kinds of type (R114).

Unknown types never produce an error here: they are counted as W130 instead.
"""

from __future__ import annotations

from sqlglot import exp

from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.relations import relation_name
from rocky_engine.compiler.subjects import SourceTracer, subjects_of_nodes, unique
from rocky_engine.compiler.types import category, render
from rocky_engine.errors import Diagnostic, Subject

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ,
                exp.NullSafeNEQ, exp.Is)
_ORDERING = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.IntDiv)
_SYMBOL = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%",
           exp.IntDiv: "//"}
# Pairs of type kinds that never compare without an explicit CAST.
_INCOMPARABLE = {
    frozenset({"text", "numeric"}), frozenset({"text", "temporal"}),
    frozenset({"text", "boolean"}), frozenset({"temporal", "numeric"}),
    frozenset({"temporal", "boolean"}), frozenset({"interval", "numeric"}),
    frozenset({"interval", "text"}), frozenset({"interval", "temporal"}),
}


# What each node class is to the checks, decided once per class: an isinstance chain on
# every node of every model was most of this pass's time.
_SKIP, _CHECK = 0, 1
_ROLE: dict[type, int] = {}


# Expressions whose values DuckDB unifies to one type (what R550 checks).
_UNIFIED = (exp.Case, exp.Coalesce, exp.If, exp.Nullif, exp.Greatest, exp.Least)
_NUMERIC_FUNCTIONS = (exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Sign, exp.Sqrt, exp.Ln,
                      exp.Log, exp.Exp, exp.Pow, exp.Cbrt)
_T = exp.DType
_SMALL_INTS = {_T.TINYINT, _T.SMALLINT, _T.INT, _T.UTINYINT, _T.USMALLINT}
_INTS = _SMALL_INTS | {_T.BIGINT, _T.INT128, _T.UINT, _T.UBIGINT, _T.UINT128}
_DATE_TIMES = {_T.DATE, _T.TIMESTAMP, _T.TIMESTAMPNTZ, _T.TIMESTAMPTZ, _T.TIMESTAMPLTZ,
               _T.TIMESTAMP_S, _T.TIMESTAMP_MS, _T.TIMESTAMP_NS, _T.DATETIME}
# Pairs of fine kinds DuckDB unifies (CASE branches, COALESCE arguments); same kind always.
_UNIFIABLE = {frozenset({"int", "frac"}), frozenset({"int", "bool"}),
              frozenset({"date", "timestamp"})}


def _role(cls: type) -> int:
    found = _ROLE.get(cls)
    if found is None:
        checked = (*_COMPARISONS, exp.In, exp.Between, *_ARITHMETIC, exp.Neg, exp.Sum, exp.Avg,
                   exp.SetOperation, *_UNIFIED, *_NUMERIC_FUNCTIONS)
        found = _CHECK if issubclass(cls, checked) and not issubclass(cls, exp.Is) else _SKIP
        _ROLE[cls] = found
    return found


def check_types(tree: exp.Expr, site: Site, tracer: SourceTracer | None = None,
                ) -> list[Diagnostic]:
    """Every finding names its subjects: the upstream columns the offending operands read."""
    out: list[Diagnostic] = []
    if tracer is None:
        from sqlglot.optimizer.scope import build_scope

        tracer = SourceTracer(build_scope(tree), relation_name)
    about = _Subjects(site, tracer)
    for node in tree.walk():
        role = _ROLE.get(type(node))
        if role is None:
            role = _role(type(node))
        if role == _SKIP:
            continue
        if isinstance(node, _COMPARISONS):
            if not isinstance(node, exp.Is):
                _comparison(node, node.this, node.expression, site, out, about)
        elif isinstance(node, exp.In):
            for item in node.expressions:
                _comparison(node, node.this, item, site, out, about)
        elif isinstance(node, exp.Between):
            for bound in (node.args.get("low"), node.args.get("high")):
                if bound is not None:
                    _comparison(node, node.this, bound, site, out, about)
        elif isinstance(node, _ARITHMETIC):
            _arithmetic(node, site, out, about)
        elif isinstance(node, exp.Neg):
            kind = _kind(node.this)
            if kind in ("text", "boolean", "temporal"):
                out.append(site.at("R111", f"unary minus on {_describe(node.this)}", node=node,
                                   hint="CAST it to a numeric type first",
                                   subjects=about(node.this)))
        elif isinstance(node, (exp.Sum, exp.Avg)) and not isinstance(node.this, exp.Star):
            _aggregate(node, site, out, about)
        elif isinstance(node, exp.SetOperation):
            _set_operation(node, site, out, about)
        elif isinstance(node, _UNIFIED):
            _unified(node, site, out, about)
        elif isinstance(node, _NUMERIC_FUNCTIONS):
            _numeric_function(node, site, out, about)
    return out


def _fine(node: exp.Expr | None) -> str:
    """int | frac | text | bool | date | timestamp | time | interval | unknown | other."""
    kind = _kind(node)
    if kind in ("unknown", "other", "text", "boolean", "interval"):
        return "bool" if kind == "boolean" else kind
    t = node.type.this if node is not None and node.type is not None else None
    if kind == "numeric":
        return "int" if t in _INTS else "frac"
    if t == _T.DATE:
        return "date"
    return "timestamp" if t in _DATE_TIMES else "time"


def _values(node: exp.Expr) -> list[exp.Expr]:
    """The values an expression unifies (not its conditions)."""
    if isinstance(node, exp.Case):
        vals = [i.args.get("true") for i in node.args.get("ifs") or ()]
        vals.append(node.args.get("default"))
    elif isinstance(node, exp.If):
        vals = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, exp.Nullif):
        vals = [node.this, node.expression]
    else:
        vals = [node.this, *node.expressions]
    return [v for v in vals if v is not None and not isinstance(v, exp.Null)]


def _unified(node: exp.Expr, site: Site, out: list[Diagnostic], about: _Subjects) -> None:
    seen: list[tuple[exp.Expr, str]] = []
    for value in _values(node):
        kind = _fine(value)
        if kind in ("unknown", "other") or _is_string_literal(value):
            continue
        for other, other_kind in seen:
            if other_kind != kind and frozenset({kind, other_kind}) not in _UNIFIABLE:
                name = node.key.upper()
                out.append(site.at(
                    "R550", f"{name} mixes {_describe(other)} with {_describe(value)}",
                    node=node, hint="CAST the values to one type",
                    subjects=about(other, value)))
                return
        seen.append((value, kind))


def _numeric_function(node: exp.Expr, site: Site, out: list[Diagnostic],
                      about: _Subjects) -> None:
    arg = node.this
    if arg is None or _is_string_literal(arg):
        return
    if _fine(arg) in ("text", "bool", "date", "timestamp", "time", "interval"):
        out.append(site.at(
            "R551", f"{node.key.upper()} of non-numeric {_describe(arg)}", node=node,
            hint="CAST it to a numeric type first", subjects=about(arg)))


class _Subjects:
    """The subjects of a finding: upstream columns of its operands, else the model."""

    def __init__(self, site: Site, tracer: SourceTracer) -> None:
        self._site = site
        self.tracer = tracer

    def __call__(self, *nodes: exp.Expr) -> tuple[Subject, ...]:
        found: list[Subject] = []
        for node in nodes:
            found.extend(subjects_of_nodes(self.tracer.nodes(node)))
        return unique(found) or (Subject(self._site.relation),)


def _kind(node: exp.Expr | None) -> str:
    if node is None:
        return "unknown"
    if isinstance(node, exp.Null):
        return "unknown"
    return category(node.type)


def _is_string_literal(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and node.is_string


def _describe(node: exp.Expr) -> str:
    text = node.sql("duckdb")
    if len(text) > 40:
        text = text[:37] + "..."
    return f"`{text}` ({render(node.type)})"


def _comparison(node: exp.Expr, left: exp.Expr, right: exp.Expr, site: Site,
                out: list[Diagnostic], about: _Subjects) -> None:
    if isinstance(right, (exp.Subquery, exp.Select)) or _is_string_literal(left) \
            or _is_string_literal(right):
        return
    a, b = _kind(left), _kind(right)
    if frozenset({a, b}) not in _INCOMPARABLE and not (
            isinstance(node, _ORDERING) and {_fine(left), _fine(right)} == {"bool", "frac"}):
        return
    join = _join_key(node)
    code = "R115" if join else "R110"
    what = "join key" if join else "comparison"
    out.append(site.at(
        code, f"{what} compares {_describe(left)} with {_describe(right)}", node=node,
        hint="CAST one side so both have the same type", subjects=about(left, right)))


def _join_key(node: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, (exp.Select, exp.Join)):
        if not isinstance(parent, (exp.And, exp.Paren)):
            return False
        parent = parent.parent
    return isinstance(parent, exp.Join) and isinstance(node, exp.EQ)


def _arithmetic(node: exp.Binary, site: Site, out: list[Diagnostic], about: _Subjects) -> None:
    symbol = _SYMBOL.get(type(node), "?")
    if isinstance(node, (exp.Add, exp.Sub)) and _date_plus_number(node) is False:
        side = node.this if _kind(node.this) == "temporal" else node.expression
        out.append(site.at(
            "R111", f"arithmetic `{symbol}` of {_describe(node.this)} and "
            f"{_describe(node.expression)}", node=node,
            hint="add an INTERVAL (e.g. + INTERVAL 1 DAY); only a DATE takes +/- an INTEGER",
            subjects=about(side)))
        return
    for side in (node.this, node.expression):
        kind = _kind(side)
        bad = kind in ("text", "boolean") or (
            kind == "temporal" and isinstance(node, (exp.Mul, exp.Div, exp.Mod, exp.IntDiv)))
        if bad:
            out.append(site.at(
                "R111", f"arithmetic `{symbol}` on {_describe(side)}", node=node,
                hint="CAST it to a numeric type first" if kind != "temporal"
                else "use date functions (date_diff, + INTERVAL) for dates",
                subjects=about(side)))
            return


def _date_plus_number(node: exp.Binary) -> bool | None:
    """None unless the operands are a date/time and a number; then whether DuckDB has it:
    ``DATE ± SMALLINT/INTEGER`` and ``INTEGER + DATE`` only (not BIGINT, DECIMAL, TIMESTAMP)."""
    left, right = node.this, node.expression
    kinds = (_kind(left), _kind(right))
    if set(kinds) != {"temporal", "numeric"}:
        return None
    date, number = (left, right) if kinds[0] == "temporal" else (right, left)
    if isinstance(node, exp.Sub) and date is right:
        return False  # number - date
    small = number.type is not None and number.type.this in _SMALL_INTS
    return _fine(date) == "date" and small


def _aggregate(node: exp.Expr, site: Site, out: list[Diagnostic], about: _Subjects) -> None:
    arg = node.this
    kind = _kind(arg)
    name = "SUM" if isinstance(node, exp.Sum) else "AVG"
    bad = {"SUM": ("text", "temporal"), "AVG": ("text", "boolean")}[name]
    if kind in bad:
        out.append(site.at("R112", f"{name} of non-numeric {_describe(arg)}", node=node,
                           hint="aggregate a numeric column, or CAST it",
                           subjects=about(arg)))


def _set_operation(node: exp.SetOperation, site: Site, out: list[Diagnostic],
                   about: _Subjects) -> None:
    if node.args.get("by_name"):
        return  # UNION BY NAME matches columns by name, not position
    left, right = node.left, node.right
    if not isinstance(left, exp.Query) or not isinstance(right, exp.Query):
        return
    lsel, rsel = left.selects, right.selects
    op = node.key.upper()
    if any(isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star)
           for s in (*lsel, *rsel)):
        return  # an unexpanded star: the arity is not known
    if len(lsel) != len(rsel):
        out.append(site.at(
            "R113", f"{op} branches have {len(lsel)} and {len(rsel)} columns", node=right,
            width=6, hint="both sides of a set operation need the same number of columns",
            subjects=tuple(Subject(r) for r in about.tracer.relations(
                about.tracer.scope_of(node))) or None))
        return
    for i, (a, b) in enumerate(zip(lsel, rsel), 1):
        ka, kb = _kind(a), _kind(b)
        if "unknown" in (ka, kb) or ka == kb or "other" in (ka, kb):
            continue
        if _is_string_literal(a.unalias()) or _is_string_literal(b.unalias()):
            continue
        out.append(site.at(
            "R114", f"{op} column {i} (`{a.alias_or_name}`) is {render(a.type)} in one branch "
            f"and {render(b.type)} in the other", node=b,
            hint="CAST the branches to the same type", subjects=about(a, b)))
