"""Output column names as DuckDB stores them: written case kept, upstream case kept.

DuckDB resolves identifiers case-insensitively (quoted or not) but keeps the case a name
was written with: ``CREATE TABLE t AS SELECT 1 AS "MiXeD", 2 AS Foo`` has columns
``MiXeD`` and ``Foo``, and ``SELECT mixed FROM t`` outputs ``MiXeD`` (the stored name,
not the spelling of the reference). sqlglot's ``qualify`` folds every identifier of the
DuckDB dialect to lower case, so the compiler records the written names before qualifying
(:func:`remember`) and rebuilds the output names afterwards (:func:`output_names`).

    >>> import sqlglot
    >>> from sqlglot import exp
    >>> from sqlglot.optimizer.qualify import qualify
    >>> from sqlglot.optimizer.scope import build_scope
    >>> tree = sqlglot.parse_one('SELECT 1 AS "MiXeD", 2 AS Foo', read="duckdb")
    >>> written = remember(tree.find_all(exp.Alias, exp.TableAlias))
    >>> q = qualify(tree, dialect="duckdb")
    >>> written.cased, [s.alias_or_name for s in q.selects]
    (True, ['mixed', 'foo'])
    >>> output_names(build_scope(q), {}, lambda t: None, written.renames)
    ['MiXeD', 'Foo']

Name *matching* stays case-insensitive everywhere (contracts, R107, lineage ids), as in
DuckDB; only the names reported (``rocky compile``, dependents' schemas) change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from rocky_engine.compiler.ir import CompiledColumn

Schemas = Mapping[str, Sequence[CompiledColumn]]
RelationOf = Callable[[exp.Table], "str | None"]

_NAME = "rocky_name"  # meta key on an alias Identifier: the name as written
_NAMES = "rocky_names"  # meta key on a TableAlias: its column list as written
_MAX_DEPTH = 50


@dataclass(frozen=True)
class Written:
    """What :func:`remember` found: whether any name is written with upper case, and the
    new names of ``* RENAME (a AS b)`` (folded -> written; qualify rebuilds those aliases
    from strings, so their spelling cannot travel on a node)."""

    cased: bool = False
    renames: Mapping[str, str] = field(default_factory=dict)


def remember(nodes: Iterable[exp.Expr]) -> Written:
    """Record the written spelling of each ``AS name`` / ``AS t(a, b)`` before qualify folds it.

    Qualify normalises identifiers in place, so the meta set here survives on the nodes.
    """
    renames: dict[str, str] = {}
    cased = False
    for node in nodes:
        if isinstance(node, exp.Alias):
            ident = node.args.get("alias")
            if isinstance(ident, exp.Identifier):
                name = ident.this
                ident.meta[_NAME] = name
                low = name.lower()
                cased = cased or low != name
                if node.arg_key == "rename":
                    renames[low] = name
        elif isinstance(node, exp.TableAlias):
            columns = node.args.get("columns")
            if columns:
                names = [c.name for c in columns]
                node.meta[_NAMES] = names
                cased = cased or any(n.lower() != n for n in names)
    return Written(cased, renames)


def needs_names(written: Written, upstream: Schemas) -> bool:
    """False when every name is lower case already: then qualify's folded names are right."""
    return written.cased or any(c.name.lower() != c.name
                                for cols in upstream.values() for c in cols)


def output_names(root: Scope, upstream: Schemas, relation_of: RelationOf,
                 renames: Mapping[str, str] | None = None) -> list[str]:
    """The names DuckDB gives the output columns of ``root`` (a qualified query's root scope).

    ``upstream`` holds the (case-preserving) columns of every relation the query reads;
    ``relation_of`` maps a physical table node to its key in ``upstream``; ``renames`` is
    what :func:`remember` returned.
    """
    return _Names(upstream, relation_of, renames or {}).of_scope(root, 0)


class _Names:
    """Memoised per scope: a CTE read by many columns is named once."""

    def __init__(self, upstream: Schemas, relation_of: RelationOf,
                 renames: Mapping[str, str]) -> None:
        self.upstream = upstream
        self.relation_of = relation_of
        self.renames = renames
        self.memo: dict[int, list[str]] = {}
        # Lookups by folded name, built once per scope / table node (stars read every column).
        self.by_low: dict[int, dict[str, str]] = {}

    def of_scope(self, scope: Scope, depth: int) -> list[str]:
        key = id(scope)
        found = self.memo.get(key)
        if found is None:
            self.memo[key] = found = [] if depth > _MAX_DEPTH else self._compute(scope, depth)
        return found

    def _compute(self, scope: Scope, depth: int) -> list[str]:
        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            # A set operation's columns are named by its left-most branch.
            branches = scope.set_operation_scopes
            names = self.of_scope(branches[0], depth + 1) if branches \
                else [s.alias_or_name for s in expr.selects]
        elif isinstance(expr, exp.Select):
            names = [self._select(sel, scope, depth) for sel in expr.selects]
        else:  # VALUES, UNNEST, ...: named by their own alias list, if any
            names = [s.alias_or_name for s in getattr(expr, "selects", ())]
            own = _alias_names(expr) or []
            return [*own, *names[len(own):]]
        holder = expr.parent
        renamed = _alias_names(holder) if isinstance(holder, (exp.Subquery, exp.CTE)) else None
        if renamed:  # (SELECT ...) AS t(a, b): renames positionally, maybe only a prefix
            names = [*renamed[:len(names)], *names[len(renamed):]]
        return names

    def _select(self, sel: exp.Expr, scope: Scope, depth: int) -> str:
        inner = sel
        if isinstance(sel, exp.Alias):
            ident = sel.args.get("alias")
            written = ident.meta.get(_NAME) if isinstance(ident, exp.Identifier) \
                and ident._meta else None
            if written is not None:
                return str(written)
            inner = sel.this  # an alias qualify added: the name comes from what it reads
            if isinstance(inner, exp.Column) and inner.name != sel.alias:
                # Only ``* RENAME (a AS b)`` makes qualify alias a column to another name.
                return self.renames.get(sel.alias, sel.alias)
        if isinstance(inner, exp.Coalesce):  # USING (k) expands to COALESCE(a.k, b.k) AS k
            inner = inner.this
        if isinstance(inner, exp.Column) and not inner.is_star:
            found = self._column(inner, scope, depth)
            if found is not None:
                return found
        return sel.alias_or_name

    def _column(self, column: exp.Column, scope: Scope, depth: int) -> str | None:
        """The stored name of the column a reference reads (matched case-insensitively)."""
        source = _lookup_source(scope, column.table)
        if source is None:
            return None
        key = id(source)
        by_low = self.by_low.get(key)
        if by_low is None:
            by_low = {}
            for name in self._source_names(source, depth):
                by_low.setdefault(name.lower(), name)  # the first of equal names wins
            self.by_low[key] = by_low
        return by_low.get(column.name.lower())

    def _source_names(self, source: exp.Table | Scope, depth: int) -> Sequence[str]:
        if isinstance(source, Scope):
            return self.of_scope(source, depth + 1)
        if not isinstance(source, exp.Table):
            return ()
        relation = self.relation_of(source)
        cols = self.upstream.get(relation) if relation is not None else None
        if cols is None:
            return ()
        names = [c.name for c in cols]
        renamed = _alias_names(source)
        if renamed:  # FROM t AS x(a, b)
            names = [*renamed[:len(names)], *names[len(renamed):]]
        return names


def _alias_names(node: exp.Expr) -> list[str] | None:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias._meta:
        found = alias.meta.get(_NAMES)
        return list(found) if found else None
    return None


def _lookup_source(scope: Scope, alias: str) -> exp.Table | Scope | None:
    """The source an alias names, looking outwards for correlated (LATERAL) references."""
    current: Scope | None = scope
    while current is not None:
        found = current.sources.get(alias)
        if found is not None:
            return found
        current = current.parent
    return None
