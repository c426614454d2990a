"""Infer whether each output column can be NULL (``None`` when rocky cannot tell).

    >>> import sqlglot
    >>> from sqlglot.optimizer.qualify import qualify
    >>> from sqlglot.schema import MappingSchema
    >>> up = {"raw.t": (CompiledColumn("id", "INTEGER", False), CompiledColumn("x", "INTEGER", True))}
    >>> tree = qualify(sqlglot.parse_one("SELECT id, x, COUNT(*) AS n, COALESCE(x, 0) AS y "
    ...                                  "FROM raw.t GROUP BY id, x"),
    ...                schema=MappingSchema({"raw": {"t": {"id": "INT", "x": "INT"}}}))
    >>> output_nullability(tree, up)
    [False, True, False, False]

Deliberately conservative: a contract check (R122) fires only on ``True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from rocky_engine.compiler.ir import CompiledColumn
from rocky_engine.compiler.relations import relation_name

Schemas = Mapping[str, Sequence[CompiledColumn]]

_NEVER_NULL = (exp.Count, exp.RowNumber, exp.CurrentDate, exp.CurrentTimestamp)
_RANKS = {"rank", "dense_rank", "row_number", "ntile", "percent_rank", "cume_dist"}
_MAYBE_NULL = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue, exp.Null,
               exp.Div, exp.Nullif, exp.TryCast)


def output_nullability(tree: exp.Query, upstream: Schemas,
                       scope: Scope | None = None) -> list[bool | None]:
    """One entry per output column; ``scope`` is ``tree``'s root scope if already built."""
    if scope is None:
        scope = build_scope(tree)
    if scope is None:
        return [None] * len(tree.selects)
    return _Nullability(upstream).of_scope(scope, 0)


class _Nullability:
    """Memoised per scope: a CTE read by many columns is analysed once."""

    def __init__(self, upstream: Schemas) -> None:
        self.upstream = upstream
        self.memo: dict[int, list[bool | None]] = {}
        self._columns: dict[str, dict[str, bool | None]] = {}

    def column(self, relation: str, name: str) -> bool | None:
        """Declared nullability of ``relation.name`` (first match, case-insensitive)."""
        by_name = self._columns.get(relation)
        if by_name is None:
            by_name = {}
            for c in self.upstream.get(relation) or ():
                by_name.setdefault(c.name.lower(), c.nullable)
            self._columns[relation] = by_name
        return by_name.get(name.lower())

    def of_scope(self, scope: Scope, depth: int) -> list[bool | None]:
        key = id(scope)
        found = self.memo.get(key)
        if found is None:
            found = _scope_nullability(scope, self, depth)
            self.memo[key] = found
        return found


def _scope_nullability(scope: Scope, ctx: _Nullability,
                       depth: int) -> list[bool | None]:
    expr: Any = scope.expression
    if isinstance(expr, exp.SetOperation) or depth > 20:
        branches = [ctx.of_scope(s, depth + 1) for s in scope.set_operation_scopes]
        if not branches:
            return [None] * len(expr.selects)
        return [_any(vals) for vals in zip(*branches)]
    if not isinstance(expr, exp.Select):
        return [None] * len(expr.selects)
    outer = _outer_joined(expr)
    return [_expr_nullable(sel.unalias(), scope, ctx, outer, depth) for sel in expr.selects]


def _outer_joined(select: exp.Select) -> set[str]:
    """Aliases on the side of an outer join that can be all-NULL."""
    aliases: set[str] = set()
    from_ = select.args.get("from_") or select.args.get("from")
    left = [from_.this.alias_or_name] if from_ is not None else []
    for join in select.args.get("joins") or []:
        side = (join.side or "").upper()
        name = join.this.alias_or_name
        if side in ("LEFT", "FULL"):
            aliases.add(name)
        if side in ("RIGHT", "FULL"):
            aliases.update(left)
        left.append(name)
    return aliases


def _expr_nullable(node: exp.Expr, scope: Scope, ctx: _Nullability, outer: set[str],
                   depth: int) -> bool | None:
    if isinstance(node, exp.Literal):
        return False
    if isinstance(node, exp.Boolean):
        return False
    if isinstance(node, _NEVER_NULL):
        return False
    if isinstance(node, exp.Window):
        fn = node.this
        if isinstance(fn, _NEVER_NULL) or fn.key in _RANKS:
            return False
        if isinstance(fn, _MAYBE_NULL):
            return True
        return _expr_nullable(fn, scope, ctx, outer, depth)
    if isinstance(node, _MAYBE_NULL):
        return True
    if isinstance(node, exp.Column):
        return _column_nullable(node, scope, ctx, outer, depth)
    if isinstance(node, exp.Coalesce):
        parts = [node.this, *node.expressions]
        vals = [_expr_nullable(p, scope, ctx, outer, depth) for p in parts]
        if any(v is False for v in vals):
            return False
        return _any(vals)
    if isinstance(node, exp.Case):
        if node.args.get("default") is None:
            return True
        vals = [_expr_nullable(i.args["true"], scope, ctx, outer, depth)
                for i in node.args.get("ifs") or []]
        vals.append(_expr_nullable(node.args["default"], scope, ctx, outer, depth))
        return _any(vals)
    if isinstance(node, (exp.Subquery, exp.Select)):
        return True  # a scalar subquery yields NULL on no rows
    if isinstance(node, (exp.Paren, exp.Cast, exp.Neg, exp.Binary, exp.Func, exp.Not)):
        kids = [k for k in node.iter_expressions() if not isinstance(k, exp.DataType)]
        if not kids:
            return None
        return _any([_expr_nullable(k, scope, ctx, outer, depth) for k in kids])
    return None


def _column_nullable(col: exp.Column, scope: Scope, ctx: _Nullability, outer: set[str],
                     depth: int) -> bool | None:
    table = col.table
    if table in outer:
        return True
    source = scope.sources.get(table)
    if isinstance(source, exp.Table):
        return ctx.column(relation_name(source) or "", col.name)
    if isinstance(source, Scope) and depth < 20:
        inner = ctx.of_scope(source, depth + 1)
        names = [n.lower() for n in source.expression.named_selects]  # type: ignore[attr-defined]
        if col.name.lower() in names and len(inner) == len(names):
            return inner[names.index(col.name.lower())]
    return None


def _any(vals: list[bool | None] | tuple[bool | None, ...]) -> bool | None:
    if any(v is True for v in vals):
        return True
    if all(v is False for v in vals):
        return False
    return None
