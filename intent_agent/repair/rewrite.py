"""Mechanical SQL repairs as minimal text edits at the positions sqlglot's parser reports.

Each function takes a model's SQL text and one upstream change and returns the repaired
text. The AST decides *what* refers to the changed column (scopes, aliases, CTEs, joins,
correlated subqueries); the edit is made on the original text, so comments, layout and
every untouched token survive byte for byte::

    >>> rename_column("SELECT id, amount FROM raw.orders", table="raw.orders",
    ...               old="amount", new="total_amount")
    'SELECT id, total_amount AS amount FROM raw.orders'

Anything that needs judgement raises :class:`CannotRewrite` with the reason; the
offline repairer turns that into ``needs_review``, never a guess.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import Scope, build_scope

# Relation ("raw.orders" / "stg_orders", lower case) -> its column names, for unqualified
# references when a query reads several relations.
Columns = Mapping[str, Sequence[str]]


class CannotRewrite(Exception):
    """The change cannot be repaired mechanically; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Edit:
    start: int  # inclusive
    end: int  # exclusive
    text: str


@dataclass(frozen=True)
class _Ref:
    column: exp.Column
    scope: Scope


# ---------------------------------------------------------------------------- public


def rename_column(sql: str, *, table: str, old: str, new: str, dialect: str = "duckdb",
                  columns: Columns | None = None) -> str:
    """References to ``table.old`` now read ``new``; every output keeps its name.

    >>> rename_column("SELECT o.amount FROM raw.orders o WHERE o.amount > 0",
    ...               table="raw.orders", old="amount", new="total")
    'SELECT o.total AS amount FROM raw.orders o WHERE o.total > 0'
    """
    tree = _parse(sql, dialect)
    root = _root_scope(tree)
    _refuse_using(tree, old)
    refs = _refs_to_table(root, table, old, columns or {})
    if not refs:
        return sql
    new_ident = exp.to_identifier(new).sql(dialect=dialect)
    edits = []
    for ref in refs:
        ident = ref.column.this
        start, end = _span(ident)
        edits.append(_Edit(start, end, new_ident))
        if _is_bare_projection(ref.column):
            edits.append(_Edit(end, end, f" AS {sql[start:end]}"))
    return _apply(sql, edits)


def cast_column(sql: str, *, table: str, column: str, to_type: str, dialect: str = "duckdb",
                columns: Columns | None = None) -> str:
    """Every reference to ``table.column`` is read as ``CAST(column AS to_type)``.

    Used when an upstream type changed and every value converts back to the type the
    model relied on (the caller checks that against the data first).

    >>> cast_column("SELECT amount FROM raw.orders", table="raw.orders", column="amount",
    ...             to_type="DECIMAL(10,2)")
    'SELECT CAST(amount AS DECIMAL(10, 2)) AS amount FROM raw.orders'
    """
    tree = _parse(sql, dialect)
    root = _root_scope(tree)
    _refuse_using(tree, column)
    refs = _refs_to_table(root, table, column, columns or {})
    if not refs:
        return sql
    target = exp.DataType.build(to_type, dialect="duckdb")
    type_sql = target.sql(dialect=dialect)
    edits = []
    for ref in refs:
        parent = ref.column.parent
        if isinstance(parent, exp.Cast) and parent.this is ref.column and parent.to == target:
            continue  # already read as the wanted type
        start, end = _column_span(ref.column)
        text = f"CAST({sql[start:end]} AS {type_sql})"
        if _is_bare_projection(ref.column):
            ident_start, ident_end = _span(ref.column.this)
            text += f" AS {sql[ident_start:ident_end]}"
        edits.append(_Edit(start, end, text))
    return _apply(sql, edits)


def drop_column(sql: str, *, table: str, column: str, dialect: str = "duckdb",
                columns: Columns | None = None) -> tuple[str, tuple[str, ...]]:
    """Remove the projections that read ``table.column``; return the new SQL and the
    model's output columns that disappeared (the caller checks nobody uses them).

    Only projections may read the column: a use in WHERE, JOIN, GROUP BY or anywhere
    else changes what the model means, and raises :class:`CannotRewrite`.

    >>> drop_column("SELECT id, note FROM raw.t", table="raw.t", column="note")
    ('SELECT id FROM raw.t', ('note',))
    """
    tree = _parse(sql, dialect)
    root = _root_scope(tree)
    _refuse_using(tree, column)
    tokens = _tokens(sql, dialect)
    items: dict[int, tuple[exp.Select, int, exp.Expr]] = {}
    dropped: list[str] = []
    pending: list[tuple[Callable[[Any], bool], str, str]] = [
        (lambda src: _is_table(src, table), column, f"{table}.{column}")
    ]
    seen_targets: set[tuple[int, str]] = set()
    while pending:
        matches, name, label = pending.pop()
        for ref in _refs(root, matches, name, columns or {}, label):
            select, index, item = _projection_of(ref.column, label)
            if id(item) in items:
                continue
            items[id(item)] = (select, index, item)
            out = item.alias_or_name
            owner = ref.scope if ref.scope.expression is select else _scope_of(root, select)
            if owner is None or owner.is_root:
                dropped.append(out)
                continue
            target = (id(owner), out.lower())
            if target not in seen_targets:
                seen_targets.add(target)
                pending.append((_is_scope(owner), out, f"{out} (from a CTE/subquery)"))
    if not items:
        return sql, ()
    by_select: dict[int, list[int]] = {}
    selects: dict[int, exp.Select] = {}
    for select, index, _item in items.values():
        by_select.setdefault(id(select), []).append(index)
        selects[id(select)] = select
    edits: list[_Edit] = []
    for select_id, indexes in by_select.items():
        select = selects[select_id]
        if len(set(indexes)) >= len(select.expressions):
            raise CannotRewrite(f"dropping {table}.{column} would leave a SELECT with no columns")
        edits.extend(_drop_items(sql, tokens, select, sorted(set(indexes))))
    return _apply(sql, edits), tuple(dict.fromkeys(dropped))


def rename_table(sql: str, *, table: str, new_table: str, dialect: str = "duckdb") -> str:
    """References to ``table`` now read ``new_table``; an implicit alias is kept explicit,
    so ``orders.id`` still resolves.

    >>> rename_table("SELECT orders.id FROM raw.orders", table="raw.orders",
    ...              new_table="raw.orders_v2")
    'SELECT orders.id FROM raw.orders_v2 AS orders'
    """
    tree = _parse(sql, dialect)
    new_ref = exp.to_table(new_table)
    new_sql = exp.Table(this=exp.to_identifier(new_ref.name),
                        db=exp.to_identifier(new_ref.db) if new_ref.db else None).sql(dialect=dialect)
    old_name = table.split(".")[-1]
    edits = []
    for node in tree.find_all(exp.Table):
        if not _is_table(node, table):
            continue
        start, _ = _span(node.args["db"]) if node.args.get("db") else _span(node.this)
        _, end = _span(node.this)
        text = new_sql
        if not node.alias and new_ref.name.lower() != old_name.lower():
            text += f" AS {sql[_span(node.this)[0]:end]}"
        edits.append(_Edit(start, end, text))
    return _apply(sql, edits)


def referenced_columns(sql: str, *, table: str, dialect: str = "duckdb",
                       columns: Columns | None = None, known: Sequence[str] = ()) -> set[str]:
    """Lower-case names of ``table``'s columns (among ``known``) the SQL reads."""
    tree = _parse(sql, dialect)
    root = _root_scope(tree)
    return {name.lower() for name in known
            if _refs_to_table(root, table, name, columns or {})}


# ---------------------------------------------------------------------------- resolution


def _parse(sql: str, dialect: str) -> exp.Expr:
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except (ParseError, TokenError) as exc:
        raise CannotRewrite(f"the model does not parse: {str(exc).splitlines()[0]}") from None
    if tree is None:
        raise CannotRewrite("the model is empty")
    return tree


def _root_scope(tree: exp.Expr) -> Scope:
    root = build_scope(tree)
    if root is None:
        raise CannotRewrite("the model is not a query rocky can analyse")
    return root


def _scope_of(root: Scope, select: exp.Expr) -> Scope | None:
    return next((s for s in root.traverse() if s.expression is select), None)


def _is_scope(scope: Scope) -> Callable[[Any], bool]:
    return lambda source: source is scope


def _is_table(node: Any, fqn: str) -> bool:
    if not isinstance(node, exp.Table):
        return False
    schema, _, name = fqn.lower().rpartition(".")
    return node.name.lower() == name and (node.db or "").lower() == schema


def _relation_key(node: exp.Table) -> str:
    return f"{node.db}.{node.name}".lower() if node.db else node.name.lower()


def _refs_to_table(root: Scope, table: str, column: str, columns: Columns) -> list[_Ref]:
    return _refs(root, lambda src: _is_table(src, table), column, columns, f"{table}.{column}")


def _refs(root: Scope, matches: Callable[[Any], bool], column: str, columns: Columns,
          label: str) -> list[_Ref]:
    """Every column node, in every scope, that reads ``column`` of a source ``matches`` picks."""
    found: list[_Ref] = []
    seen: set[int] = set()
    low = column.lower()
    for scope in root.traverse():
        for col in scope.columns:
            if id(col) in seen or col.name.lower() != low or isinstance(col.this, exp.Star):
                continue
            seen.add(id(col))
            if col.table:
                source = _lookup(scope, col.table)
                if source is not None and matches(source):
                    found.append(_Ref(col, scope))
                continue
            # Unqualified: which of the relations this scope reads can provide the name?
            candidates = [(src, _provides(src, low, columns))
                          for _, src in _selected(scope)]
            hits = [src for src, provides in candidates if matches(src)]
            if not hits:
                continue
            others = [p for src, p in candidates if not matches(src) and p is not False]
            if others:
                raise CannotRewrite(
                    f"`{col.name}` is not qualified and more than one relation in the query "
                    f"may provide it; cannot tell whether it is {label}"
                )
            found.append(_Ref(col, scope))
        _refuse_star(scope, matches, label)
    return found


def _selected(scope: Scope) -> list[tuple[str, Any]]:
    return [(name, src) for name, (_node, src) in scope.selected_sources.items()]


def _lookup(scope: Scope | None, name: str) -> Any:
    low = name.lower()
    while scope is not None:
        for key, (_node, src) in scope.selected_sources.items():
            if key.lower() == low:
                return src
        scope = scope.parent
    return None


def _provides(source: Any, column: str, columns: Columns) -> bool | None:
    """True / False when known, None when the relation's columns are unknown."""
    if isinstance(source, Scope):
        select = source.expression
        if not isinstance(select, exp.Select):
            names = getattr(select, "named_selects", None)
            return None if names is None else column in {n.lower() for n in names}
        if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
               for e in select.expressions):
            return None
        return column in {n.lower() for n in select.named_selects}
    if isinstance(source, exp.Table):
        known = columns.get(_relation_key(source))
        return None if known is None else column in {c.lower() for c in known}
    return None


def _refuse_star(scope: Scope, matches: Callable[[Any], bool], label: str) -> None:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    for item in select.expressions:
        star_table = None
        if isinstance(item, exp.Star):
            sources = [src for _, src in _selected(scope)]
            if any(matches(src) for src in sources):
                raise CannotRewrite(f"`SELECT *` reads {label}; list the columns explicitly")
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            star_table = item.table
            if star_table and matches(_lookup(scope, star_table)):
                raise CannotRewrite(f"`{star_table}.*` reads {label}; list the columns explicitly")


def _refuse_using(tree: exp.Expr, column: str) -> None:
    for join in tree.find_all(exp.Join):
        for ident in join.args.get("using") or []:
            if getattr(ident, "name", "").lower() == column.lower():
                raise CannotRewrite(f"`{column}` is a USING join key; rewrite the join with ON")


def _is_bare_projection(col: exp.Column) -> bool:
    parent = col.parent
    return isinstance(parent, exp.Select) and any(e is col for e in parent.expressions)


def _projection_of(col: exp.Column, label: str) -> tuple[exp.Select, int, exp.Expr]:
    node: exp.Expr = col
    while node.parent is not None:
        parent = node.parent
        if isinstance(parent, exp.Select):
            for index, item in enumerate(parent.expressions):
                if item is node:
                    return parent, index, item
            break
        if isinstance(parent, (exp.Subquery, exp.Query)):
            break
        node = parent
    clause = node.arg_key.upper().replace("_", " ") if node.arg_key else "the query"
    raise CannotRewrite(f"{label} is used in {clause}, not only selected; removing it changes "
                        "what the model means")


# ---------------------------------------------------------------------------- text edits


def _span(node: exp.Expr) -> tuple[int, int]:
    meta = node.meta
    if "start" not in meta or "end" not in meta:
        raise CannotRewrite(f"no source position for `{node.sql()}`")
    return int(meta["start"]), int(meta["end"]) + 1


def _column_span(col: exp.Column) -> tuple[int, int]:
    start, end = _span(col.this)
    for part in ("table", "db", "catalog"):
        ident = col.args.get(part)
        if isinstance(ident, exp.Identifier) and "start" in ident.meta:
            start = min(start, int(ident.meta["start"]))
    return start, end


def _apply(sql: str, edits: list[_Edit]) -> str:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise CannotRewrite("overlapping edits; the query is too tangled to patch mechanically")
    out = sql
    for edit in reversed(ordered):
        out = out[: edit.start] + edit.text + out[edit.end:]
    return out


def _tokens(sql: str, dialect: str) -> list[Any]:
    try:
        return list(Dialect.get_or_raise(dialect).tokenize(sql))
    except TokenError as exc:
        raise CannotRewrite(f"the model does not tokenize: {exc}") from None


_LIST_END = {"FROM", "WHERE", "GROUP_BY", "HAVING", "QUALIFY", "WINDOW", "ORDER_BY", "LIMIT",
             "UNION", "INTERSECT", "EXCEPT", "INTO", "SEMICOLON"}


def _drop_items(sql: str, tokens: list[Any], select: exp.Select, indexes: list[int]
                ) -> list[_Edit]:
    """Delete projection items by index, with their separating comma, keeping layout."""
    anchor = _first_position(select.expressions[indexes[0]])
    spans = _item_spans(tokens, anchor)
    if len(spans) != len(select.expressions):
        raise CannotRewrite("could not locate the SELECT list in the model text")
    edits = []
    for i in indexes:
        start_tok, end_tok = spans[i]
        start, end = tokens[start_tok].start, tokens[end_tok].end + 1
        if i + 1 < len(spans):
            # "a, b" -> "b": remove through the comma up to the next item's first token.
            end = tokens[spans[i + 1][0]].start
        elif i > 0:
            # last item: remove from the end of the previous item (its comma included).
            start = tokens[spans[i - 1][1]].end + 1
        edits.append(_Edit(start, end, ""))
    # Adjacent deletions may touch; merge them so _apply sees no overlap.
    merged: list[_Edit] = []
    for e in sorted(edits, key=lambda e: e.start):
        if merged and e.start <= merged[-1].end:
            merged[-1] = _Edit(merged[-1].start, max(merged[-1].end, e.end), "")
        else:
            merged.append(e)
    return merged


def _first_position(item: exp.Expr) -> int:
    positions = [int(n.meta["start"]) for n in item.walk() if "start" in n.meta]
    if not positions:
        raise CannotRewrite(f"no source position for `{item.sql()}`")
    return min(positions)


def _item_spans(tokens: list[Any], anchor: int) -> list[tuple[int, int]]:
    depth = []
    d = 0
    for tok in tokens:
        depth.append(d)
        name = tok.token_type.name
        if name == "L_PAREN":
            d += 1
        elif name == "R_PAREN":
            d -= 1
    index = next((i for i, t in enumerate(tokens) if t.start <= anchor <= t.end), None)
    if index is None:
        raise CannotRewrite("could not locate the SELECT list in the model text")
    # Walk left to this item's own SELECT: the first SELECT at the current paren level.
    level = depth[index]
    i = index
    while i >= 0:
        name = tokens[i].token_type.name
        if name == "L_PAREN" and depth[i] < level:
            level = depth[i]
        elif name == "SELECT" and depth[i] == level:
            break
        i -= 1
    if i < 0:
        raise CannotRewrite("could not locate the SELECT list in the model text")
    j = i + 1
    while j < len(tokens) and tokens[j].token_type.name in {"DISTINCT", "ALL"}:
        j += 1
    spans: list[tuple[int, int]] = []
    start = j
    while j < len(tokens):
        name = tokens[j].token_type.name
        if depth[j] < level or (depth[j] == level and (name in _LIST_END or
                                                        (name == "R_PAREN"))):
            break
        if depth[j] == level and name == "COMMA":
            spans.append((start, j - 1))
            start = j + 1
        j += 1
    spans.append((start, j - 1))
    return spans
