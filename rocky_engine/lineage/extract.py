"""Column lineage of one model: every output column at once, from one walk over its scopes.

The compiler calls :func:`extract_lineage` once per model with the query after
``qualify`` + ``annotate_types`` (columns qualified, ``*`` expanded, identifiers
normalised) and stores the edges it returns::

    >>> import sqlglot
    >>> from sqlglot.optimizer.qualify import qualify
    >>> q = qualify(sqlglot.parse_one("SELECT id AS order_id, amount * 2 AS x FROM raw.orders"),
    ...             schema={"raw": {"orders": {"id": "INT", "amount": "INT"}}})
    >>> [(e.source, e.target, e.kind) for e in extract_lineage(
    ...     "m", q, lambda t: f"{t.db}.{t.name}")]   # doctest: +NORMALIZE_WHITESPACE
    [('raw.orders.id', 'm.order_id', 'copy'), ('raw.orders.amount', 'm.x', 'transform')]

Edge kinds. Value flow: ``copy`` (a bare column, maybe renamed), ``cast`` (CAST/TRY_CAST of
a column), ``transform`` (anything else), ``aggregate`` (under an aggregate function),
``window`` (the windowed value and the window's PARTITION BY / ORDER BY keys). Hops inside
one model (CTE chains, derived tables, UNION branches) compose: ``copy∘X = X``, otherwise
the strongest wins (aggregate > window > transform > cast > copy).

Influence: WHERE/HAVING/QUALIFY columns are ``filter``, JOIN ON keys ``join``, GROUP BY keys
``group``. They decide which rows exist, not a single value, so each influencing column gets
one edge to *every* output column of the model (deduplicated per source, target and kind).
Influence of an inner scope (a filtered CTE read by the final SELECT) propagates outwards
unchanged; a column that reaches a filter/join/group clause through value hops becomes an
influence edge of that clause's kind.

Subqueries: an ``IN``/``EXISTS`` subquery in a WHERE is part of the filter (its columns and
its own filters become ``filter`` edges). A scalar subquery in a SELECT list is part of
that one column's value: its output is at least a ``transform`` of what it reads, and the
columns of its own WHERE (correlated keys included) are ``transform`` edges of that
column only. ``UNNEST(x) AS t(a)`` makes ``t.a`` a transform of ``x``. ``COUNT(*)`` and
literals read no column: such an output has only the model's influence edges, if any.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.generator import Generator
from sqlglot.optimizer.scope import Scope, build_scope

from rocky_engine.lineage.edges import (
    AGGREGATE,
    CAST,
    COPY,
    FILTER,
    GROUP,
    INFLUENCE_KINDS,
    JOIN,
    KIND_ID,
    RANK,
    TRANSFORM,
    WINDOW,
    ColumnEdge,
    EdgePack,
    compose,
)

__all__ = ["ColumnEdge", "EdgePack", "SourceTracer", "extract_edges", "extract_lineage"]

_RANK = RANK
_MAX_EXPR = 80
_QUOTED_IDENT = re.compile(r'"([A-Za-z_][A-Za-z0-9_$]*)"')
# Wrappers that neither change a value nor combine it with anything.
_NEUTRAL = (exp.Alias, exp.Paren, exp.Subquery, exp.Distinct, exp.Order, exp.Ordered,
            exp.WindowSpec)


@dataclass(frozen=True)
class _Hop:
    """An upstream node reached from inside a model, with the composed kind so far."""

    node: str
    kind: str
    expression: str | _Lazy


class _Lazy:
    """SQL text rendered only if an edge ends up using it (rendering is the costly part)."""

    __slots__ = ("_text", "node", "prefix")

    def __init__(self, node: exp.Expr, prefix: str = "") -> None:
        self.node = node
        self.prefix = prefix
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _short(self.node, self.prefix)
        return self._text


def extract_lineage(model: str, qualified: exp.Expr,
                    relation_of: Callable[[exp.Table], str | None],
                    scope: Scope | None = None) -> tuple[ColumnEdge, ...]:
    """All column edges into the output columns of ``model``, value edges first.

    ``relation_of`` maps a physical table node to its rocky relation (a model name or
    ``schema.table``) and returns None for anything else; CTEs and derived tables are
    walked through, not asked about. ``scope``: the root scope of ``qualified`` when the
    caller already built it (the compiler does; building it again costs ~0.5 ms a model).
    """
    return tuple(extract_edges(model, qualified, relation_of, scope))


def extract_edges(model: str, qualified: exp.Expr,
                  relation_of: Callable[[exp.Table], str | None],
                  scope: Scope | None = None) -> EdgePack:
    """:func:`extract_lineage` in the compact form the compile cache stores.

    ``tuple(extract_edges(...)) == extract_lineage(...)``; influence edges are kept once,
    not once per output column (most of a project's edges), and equal node ids share one
    string object, so the pickled pack is small and quick to load.
    """
    root = build_scope(qualified) if scope is None else scope
    if root is None:
        return EdgePack(())
    walker = _Walker(relation_of)
    outputs = walker.outputs(root)
    influence = walker.influence(root)
    # One value edge per (source, target): the strongest kind when several paths meet.
    value_best: dict[tuple[str, str], _Hop] = {}
    target_ids: dict[str, str] = {}
    for name, hops in outputs:
        target = target_ids.setdefault(f"{model}.{name}", f"{model}.{name}")
        for hop in hops:
            key = (hop.node, target)
            prev = value_best.get(key)
            if prev is None or _RANK[hop.kind] > _RANK[prev.kind]:
                value_best[key] = hop
    # One string object per node id: the pickle stores it once and refers back to it.
    nodes: dict[str, str] = {}
    value = tuple((nodes.setdefault(node, node), target, KIND_ID[hop.kind],
                   str(hop.expression)) for (node, target), hop in value_best.items())
    inf = tuple((nodes.setdefault(hop.node, hop.node), KIND_ID[hop.kind], str(hop.expression))
                for hop in influence)
    return EdgePack(value, tuple(target_ids.values()), inf)


class SourceTracer:
    """The upstream column nodes any expression inside a qualified query reads.

    Diagnostics use it to name what they are about (``raw.orders.amount`` for a check on
    ``o.amount`` even when ``o`` is a CTE over ``raw.orders``).

        >>> import sqlglot
        >>> from sqlglot.optimizer.qualify import qualify
        >>> from sqlglot.optimizer.scope import build_scope
        >>> q = qualify(sqlglot.parse_one(
        ...     "WITH o AS (SELECT amount AS a FROM raw.orders) SELECT a + 1 AS x FROM o"),
        ...     schema={"raw": {"orders": {"amount": "INT"}}})
        >>> tracer = SourceTracer(build_scope(q), lambda t: f"{t.db}.{t.name}")
        >>> tracer.nodes(q.selects[0])
        ['raw.orders.amount']
    """

    def __init__(self, root: Scope | None,
                 relation_of: Callable[[exp.Table], str | None]) -> None:
        self._walker = _Walker(relation_of)
        self._relation_of = relation_of
        self._scopes: dict[int, Scope] = {}
        if root is not None:
            for scope in root.traverse():
                self._scopes[id(scope.expression)] = scope

    def scope_of(self, node: exp.Expr) -> Scope | None:
        """The innermost scope whose query contains ``node``."""
        current: exp.Expr | None = node
        while current is not None:
            found = self._scopes.get(id(current))
            if found is not None:
                return found
            current = current.parent
        return None

    def nodes(self, node: exp.Expr) -> list[str]:
        """Upstream node ids (``relation.column``) feeding ``node``, in first-seen order."""
        scope = self.scope_of(node)
        if scope is None:
            return []
        try:
            hops = self._walker._hops_of(scope, node, COPY, "", value=True)
        except RecursionError:
            return []
        return list(dict.fromkeys(h.node for h in hops))

    def output_nodes(self, scope: Scope | None, index: int) -> list[str]:
        """Upstream node ids of output column ``index`` of ``scope`` (a UNION merges branches)."""
        if scope is None:
            return []
        outputs = self._walker.outputs(scope)
        if index >= len(outputs):
            return []
        return list(dict.fromkeys(h.node for h in outputs[index][1]))

    def relation(self, table: exp.Table) -> str | None:
        return self._relation_of(table)

    def relations(self, scope: Scope | None, depth: int = 0) -> list[str]:
        """The stored relations a scope reads, through its CTEs and derived tables."""
        if scope is None or depth > 50:
            return []
        found: list[str] = []
        for _, source in _selected_sources(scope):
            if isinstance(source, Scope):
                found.extend(self.relations(source, depth + 1))
            elif isinstance(source, exp.Table):
                rel = self._relation_of(source)
                if rel is not None:
                    found.append(rel)
        if isinstance(scope.expression, exp.SetOperation):
            for branch in scope.set_operation_scopes:
                found.extend(self.relations(branch, depth + 1))
        return list(dict.fromkeys(found))


class _Walker:
    """Memoised per-scope results, so a CTE used twice is walked once."""

    def __init__(self, relation_of: Callable[[exp.Table], str | None]) -> None:
        self._relation_of = relation_of
        self._outputs: dict[int, list[tuple[str, list[_Hop]]]] = {}
        self._influence: dict[int, list[_Hop]] = {}
        self._by_name: dict[int, dict[str, list[_Hop]]] = {}
        self._active: set[int] = set()  # a recursive CTE reads itself: stop there

    # -- output columns -------------------------------------------------------------------

    def outputs(self, scope: Scope) -> list[tuple[str, list[_Hop]]]:
        """Each output column of ``scope`` (in order) with the upstream hops feeding it."""
        key = id(scope)
        cached = self._outputs.get(key)
        if cached is not None:
            return cached
        if key in self._active:
            return []
        self._active.add(key)
        try:
            result = self._compute_outputs(scope)
        finally:
            self._active.discard(key)
        self._outputs[key] = result
        return result

    def _compute_outputs(self, scope: Scope) -> list[tuple[str, list[_Hop]]]:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self._set_operation_outputs(scope)
        if isinstance(node, exp.UDTF):
            return self._udtf_outputs(scope, node)
        if not isinstance(node, exp.Select):
            return []
        result: list[tuple[str, list[_Hop]]] = []
        for projection in node.expressions:
            name = projection.alias_or_name
            hops = self._hops_of(scope, projection, COPY, _Lazy(projection), value=True)
            result.append((name, hops))
        return result

    def _udtf_outputs(self, scope: Scope, node: exp.UDTF) -> list[tuple[str, list[_Hop]]]:
        # UNNEST(e.tags) AS t(tag): every named output is computed from the arguments.
        alias = node.args.get("alias")
        names = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
        if not names and alias is not None and alias.name:
            names = [alias.name]
        hops = _dedup(self._hops_of(scope, node, COPY, _Lazy(node), value=True))
        return [(name, hops) for name in names]

    def _set_operation_outputs(self, scope: Scope) -> list[tuple[str, list[_Hop]]]:
        # UNION branches map positionally onto the names of the left-most branch.
        branches = [self.outputs(s) for s in scope.set_operation_scopes]
        if not branches:
            return []
        names = [name for name, _ in branches[0]]
        merged: list[tuple[str, list[_Hop]]] = []
        for i, name in enumerate(names):
            hops: list[_Hop] = []
            for branch in branches:
                if i < len(branch):
                    hops.extend(branch[i][1])
            merged.append((name, _dedup(hops)))
        return merged

    # -- influence ------------------------------------------------------------------------

    def influence(self, scope: Scope) -> list[_Hop]:
        """Columns deciding which rows ``scope`` produces (filter / join / group hops)."""
        key = id(scope)
        cached = self._influence.get(key)
        if cached is not None:
            return cached
        if key in self._active:
            return []
        self._active.add(key)
        try:
            result = _dedup(self._compute_influence(scope))
        finally:
            self._active.discard(key)
        self._influence[key] = result
        return result

    def _compute_influence(self, scope: Scope) -> list[_Hop]:
        node = scope.expression
        hops: list[_Hop] = []
        if isinstance(node, exp.SetOperation):
            for branch in scope.set_operation_scopes:
                hops.extend(self.influence(branch))
            return hops
        if not isinstance(node, exp.Select):
            return hops
        # Rows of a source scope (a filtered CTE, a grouped derived table) flow in here.
        for _, source in _selected_sources(scope):
            if isinstance(source, Scope):
                hops.extend(self.influence(source))
        for clause in ("where", "having", "qualify"):
            part = node.args.get(clause)
            if part is not None:
                hops.extend(self._influence_hops(scope, part.this, FILTER, clause.upper()))
        for join in node.args.get("joins") or ():
            on = join.args.get("on")
            if on is not None:
                hops.extend(self._influence_hops(scope, on, JOIN, "ON"))
        group = node.args.get("group")
        if group is not None:
            for key_expr in group.iter_expressions():
                hops.extend(self._influence_hops(scope, key_expr, GROUP, "GROUP BY"))
        return hops

    def _influence_hops(self, scope: Scope, part: exp.Expr, kind: str,
                        label: str) -> list[_Hop]:
        text = _Lazy(part, prefix=label + " ")
        hops = self._hops_of(scope, part, COPY, text, value=False)
        return [_Hop(h.node, kind, h.expression if h.kind in INFLUENCE_KINDS else text)
                for h in hops]

    # -- expressions ----------------------------------------------------------------------

    def _hops_of(self, scope: Scope, root: exp.Expr, kind: str, text: str | _Lazy, *,
                 value: bool) -> list[_Hop]:
        """Upstream hops of every column (and subquery) inside ``root``."""
        hops: list[_Hop] = []
        for leaf, leaf_kind in _leaves(root, kind):
            if isinstance(leaf, exp.Column):
                for hop in self._resolve_column(scope, leaf):
                    k = compose(hop.kind, leaf_kind)
                    expression = text if _RANK[leaf_kind] >= _RANK[hop.kind] else hop.expression
                    hops.append(_Hop(hop.node, k, expression))
            else:
                hops.extend(self._subquery_hops(scope, leaf, leaf_kind, text, value=value))
        return hops

    def _subquery_hops(self, scope: Scope, query: exp.Expr, kind: str, text: str | _Lazy, *,
                       value: bool) -> list[_Hop]:
        sub = _find_subquery_scope(scope, query)
        if sub is None:
            return []
        # A scalar subquery's value is computed from its rows: at least a transform.
        k = compose(TRANSFORM, kind) if value else kind
        hops = [_Hop(h.node, compose(h.kind, k), text)
                for _, col_hops in self.outputs(sub) for h in col_hops]
        influence = self.influence(sub)
        if value:
            hops.extend(_Hop(h.node, compose(TRANSFORM, k), h.expression) for h in influence)
        else:
            hops.extend(_Hop(h.node, FILTER, h.expression) for h in influence)
        return hops

    def _resolve_column(self, scope: Scope, column: exp.Column) -> list[_Hop]:
        source = _lookup_source(scope, column.table)
        if source is None:
            return []
        if isinstance(source, Scope):
            key = id(source)
            by_name = self._by_name.get(key)
            if by_name is None:
                by_name = {}
                for out_name, hops in self.outputs(source):
                    by_name.setdefault(out_name, hops)
                self._by_name[key] = by_name
            return by_name.get(column.name, [])
        if not isinstance(source, exp.Table):
            return []
        relation = self._relation_of(source)
        if relation is None:
            return []
        text = f"{column.table}.{column.name}" if column.table else column.name
        return [_Hop(f"{relation}.{column.name}", COPY, text)]


def _selected_sources(scope: Scope) -> Iterable[tuple[str, exp.Table | Scope]]:
    for alias, (_, source) in scope.selected_sources.items():
        yield alias, source


def _lookup_source(scope: Scope, alias: str) -> exp.Table | Scope | None:
    """The source an alias names, looking outwards for correlated references."""
    current: Scope | None = scope
    while current is not None:
        selected = current.selected_sources.get(alias)
        if selected is not None:
            return selected[1]
        found = current.sources.get(alias)
        if found is not None:
            return found
        current = current.parent
    return None


def _find_subquery_scope(scope: Scope, query: exp.Expr) -> Scope | None:
    while isinstance(query, exp.Subquery):  # a Subquery is itself a Query: unwrap it
        query = query.this
    for sub in scope.subquery_scopes:
        if sub.expression is query:
            return sub
    return None


# Node categories for _leaves, decided once per node class (isinstance chains per node
# were a third of the extraction time).
_LEAF, _WINDOW, _AGG, _CAST, _FILTER, _PASS, _TRANSFORM = range(7)
_CATEGORY: dict[type, int] = {}


def _category(cls: type) -> int:
    found = _CATEGORY.get(cls)
    if found is None:
        if issubclass(cls, (exp.Column, exp.Query)):
            found = _LEAF
        elif issubclass(cls, exp.Window):
            found = _WINDOW
        elif issubclass(cls, exp.AggFunc):
            found = _AGG
        elif issubclass(cls, exp.Cast):  # TRY_CAST is a Cast
            found = _CAST
        elif issubclass(cls, exp.Filter):
            found = _FILTER
        elif issubclass(cls, _NEUTRAL):
            found = _PASS
        else:
            found = _TRANSFORM
        _CATEGORY[cls] = found
    return found


def _leaves(root: exp.Expr, kind: str) -> list[tuple[exp.Expr, str]]:
    """Columns and nested queries under ``root``, each with the kind of the path to it."""
    found: list[tuple[exp.Expr, str]] = []
    stack: list[tuple[exp.Expr, str]] = [(root, kind)]
    while stack:
        node, k = stack.pop()
        category = _CATEGORY.get(type(node))
        if category is None:
            category = _category(type(node))
        if category == _LEAF:
            found.append((node, k))
            continue
        if category == _WINDOW:
            k = compose(k, WINDOW)
            this = node.this
            # The windowed function itself is the window hop, not a GROUP BY aggregate.
            if isinstance(this, exp.AggFunc):
                stack.extend([(c, k) for c in this.iter_expressions()])
            elif this is not None:
                stack.append((this, k))
            stack.extend([(c, k) for c in node.iter_expressions() if c is not this])
            continue
        if category == _FILTER:
            # agg FILTER (WHERE cond): the condition is part of the aggregate.
            k = compose(k, AGGREGATE)
        elif category == _AGG:
            k = compose(k, AGGREGATE)
        elif category == _CAST:
            k = compose(k, CAST)
        elif category == _TRANSFORM and k != AGGREGATE and k != WINDOW:
            k = compose(k, TRANSFORM)
        stack.extend([(c, k) for c in node.iter_expressions()])
    found.reverse()
    return found


def _dedup(hops: Iterable[_Hop]) -> list[_Hop]:
    seen: dict[tuple[str, str], _Hop] = {}
    for hop in hops:
        seen.setdefault((hop.node, hop.kind), hop)
    return list(seen.values())


def _short(node: exp.Expr, prefix: str = "") -> str:
    """Readable SQL of ``node`` (alias dropped, safe identifiers unquoted), cut to one line."""
    if isinstance(node, exp.Alias):
        node = node.this
    text = prefix + _QUOTED_IDENT.sub(r"\1", _generate(node))
    if len(text) > _MAX_EXPR:
        text = text[: _MAX_EXPR - 1] + "…"
    return text


_GENERATOR: list[Generator] = []


def _generate(node: exp.Expr) -> str:
    """Default-dialect SQL of ``node``, reusing one generator and never copying the tree."""
    if not _GENERATOR:
        _GENERATOR.append(Dialect.get_or_raise(None).generator())
    return _GENERATOR[0].generate(node, copy=False)
