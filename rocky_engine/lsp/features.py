"""What the editor asks about a place in a file: hover, definition, references, completion,
code actions. Plain data in and out (0-based lines and characters); no LSP library here.

    >>> live = LiveProject.open("shop")                                     # doctest: +SKIP
    >>> hover(live, "models/customers.sql", 20, 8).markdown                 # doctest: +SKIP
    '**customer_id** `INTEGER` · not null ...'

A model buffer is qualified with the compiler's own typing pass against the live schemas of
what it reads, so a column at the cursor resolves to the relation that produces it exactly
as ``rocky compile`` resolves it (CTEs and derived tables followed). Lineage comes from
each model's edges as last compiled, walked on demand, so it follows unsaved edits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from rocky_engine.compiler.infer import infer_types
from rocky_engine.compiler.ir import CompiledColumn
from rocky_engine.compiler.positions import Site, span
from rocky_engine.compiler.relations import MODEL_DB, relation_name
from rocky_engine.compiler.resolve import Catalog, resolve_table
from rocky_engine.compiler.tables import table_refs
from rocky_engine.compiler.types import normalize
from rocky_engine.errors import Diagnostic
from rocky_engine.lineage.edges import ColumnEdge, compose
from rocky_engine.lineage.graph import split_node
from rocky_engine.lsp.live import LiveProject


@dataclass(frozen=True)
class Place:
    """A location: a project-relative file and a 0-based range (end exclusive)."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class HoverInfo:
    markdown: str
    place: Place | None = None


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # "model" | "source" | "column" | "schema"
    detail: str = ""


@dataclass(frozen=True)
class Fix:
    """A code action: replace ``place`` (in ``place.file``) with ``text``."""

    title: str
    place: Place
    text: str
    diagnostic: Diagnostic | None = None


# ---------------------------------------------------------------------------- text


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(self, line: int, col: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        return min(self.starts[line] + col, len(self.text))

    def position(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo, offset - self.starts[lo]

    def place(self, file: str, start: int, end: int) -> Place:
        """``end`` inclusive, as sqlglot spans are."""
        a, b = self.position(start), self.position(end + 1)
        return Place(file, a[0], a[1], b[0], b[1])


# ---------------------------------------------------------------------------- analysis


@dataclass
class _Analysis:
    rel: str
    model: str
    text: _Text
    tree: exp.Query | None  # qualified and typed
    scopes: list[Scope]
    relations: dict[str, str]  # written alias or name (lower) -> relation name


_CACHE: dict[str, tuple[int, str, _Analysis]] = {}


def _analyse(live: LiveProject, rel: str) -> _Analysis | None:
    model = live.model_of(rel)
    text = live.text_of(rel)
    if model is None or text is None or live.project is None or rel != model.path:
        return None
    hit = _CACHE.get(rel)
    if hit is not None and hit[0] == live.version and hit[1] == text:
        return hit[2]
    analysis = _analysis_of(live, rel, model.name.lower(), text)
    _CACHE[rel] = (live.version, text, analysis)
    return analysis


def _analysis_of(live: LiveProject, rel: str, name: str, text: str) -> _Analysis:
    assert live.project is not None
    project = live.project
    src = _Text(text)
    try:
        tree = sqlglot.parse_one(text, dialect=project.dialect)
    except sqlglot.errors.SqlglotError:
        return _Analysis(rel, name, src, None, [], {})
    if not isinstance(tree, exp.Query):
        return _Analysis(rel, name, src, None, [], {})
    relations: dict[str, str] = {}
    upstream: dict[str, Sequence[CompiledColumn]] = {}
    catalog = _catalog(live)
    for ref in table_refs(tree):
        resolved, _ = resolve_table(ref, Site(name, rel, text), catalog)
        if resolved is None:
            continue
        cols = _columns(live, resolved.name)
        if cols is not None:
            upstream[resolved.name] = cols
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier):
            written = (f"{table.db}.{table.name}" if table.db else table.name).lower()
            if written in upstream:
                relations[(table.alias or table.name).lower()] = written
    typed = infer_types(tree, Site(name, rel, text), upstream, project.dialect)
    scopes = traverse_scope(typed.tree) if typed.tree is not None else []
    return _Analysis(rel, name, src, typed.tree, scopes, relations)


def _catalog(live: LiveProject) -> Catalog:
    project = live.project
    assert project is not None
    return Catalog(
        models=frozenset(project.models),
        source_schemas=frozenset(t.schema.lower() for t in project.sources.values())
        | frozenset(s.lower() for s in project.source_files),
        sources=frozenset(project.sources))


def _columns(live: LiveProject, relation: str) -> Sequence[CompiledColumn] | None:
    assert live.project is not None and live.state is not None
    source = live.project.sources.get(relation)
    if source is not None:
        return tuple(CompiledColumn(c.name, normalize(c.type), c.nullable)
                     for c in source.columns)
    model = live.state.models.get(relation)
    return model.columns if model is not None else None


def _node_at(tree: exp.Expr, offset: int) -> exp.Identifier | None:
    best: exp.Identifier | None = None
    best_start = -1
    for ident in tree.find_all(exp.Identifier):
        meta = ident._meta
        if not meta or "start" not in meta:
            continue
        if meta["start"] <= offset <= meta["end"] + 1 and meta["start"] >= best_start:
            best, best_start = ident, meta["start"]
    return best


def _scope_of(analysis: _Analysis, node: exp.Expr) -> Scope | None:
    for scope in analysis.scopes:
        if any(c is node for c in scope.columns):
            return scope
    return None


def _origin(analysis: _Analysis, column: exp.Column,
            depth: int = 0) -> tuple[str | None, str, exp.Expr | None]:
    """(relation, column name, defining expression in this file or None) of a reference."""
    scope = _scope_of(analysis, column)
    name = column.name
    if scope is None or depth > 20:
        return None, name, None
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        return relation_name(source), name, None
    if isinstance(source, Scope):
        for sel in source.expression.selects if isinstance(source.expression, exp.Query) \
                else ():
            if sel.alias_or_name.lower() == name.lower():
                inner = sel.this if isinstance(sel, exp.Alias) else sel
                if isinstance(inner, exp.Column) and _scope_of(analysis, inner) is not None:
                    rel, col, defined = _origin(analysis, inner, depth + 1)
                    return rel, col, defined or sel
                return None, name, sel
    return None, name, None


def _output_of(analysis: _Analysis, ident: exp.Identifier) -> exp.Expr | None:
    """The projection of the model's final SELECT that ``ident`` names (its alias or column)."""
    tree = analysis.tree
    if tree is None:
        return None
    for sel in _final_selects(tree):
        alias = sel.args.get("alias") if isinstance(sel, exp.Alias) else None
        if alias is ident or (isinstance(sel, exp.Column) and sel.this is ident):
            return sel
    return None


def _final_selects(tree: exp.Expr) -> list[exp.Expr]:
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    return list(tree.selects) if isinstance(tree, exp.Query) else []


# ---------------------------------------------------------------------------- lineage


def _edges(live: LiveProject, model: str) -> list[ColumnEdge]:
    assert live.state is not None
    compiled = live.state.models.get(model)
    if compiled is None:
        return []
    lineage: Any = compiled.lineage
    packed = getattr(lineage, "packed", None)
    if packed is not None:
        lineage = packed()
    out: list[ColumnEdge] = []
    for e in lineage:
        out.append(e if isinstance(e, ColumnEdge) else ColumnEdge(*e))
    return out


def origins(live: LiveProject, node: str) -> list[tuple[str, str]]:
    """The source columns ``node`` (``model.column``) is computed from, with the composed
    value-edge kind, following unsaved edits (``[("raw.orders.amount", "copy"), ...]``)."""
    assert live.state is not None
    models = live.state.models
    found: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    stack: list[tuple[str, str]] = [(node, "copy")]
    while stack:
        current, kind = stack.pop()
        relation, _ = split_node(current, models)
        if relation not in models:
            if current != node:
                found[current] = kind if current not in found else max(
                    found[current], kind, key=lambda k: _RANK.get(k, 0))
            continue
        if (current, kind) in seen:
            continue
        seen.add((current, kind))
        for e in _edges(live, relation):
            if e.target.lower() == current.lower() and e.is_value:
                stack.append((e.source, compose(kind, e.kind) if current != node else e.kind))
    return sorted(found.items())


_RANK = {"copy": 0, "cast": 1, "transform": 2, "window": 3, "aggregate": 4}


class _Reverse:
    """source node -> nodes it feeds, kept per model and refreshed when a model changes."""

    def __init__(self) -> None:
        self.per_model: dict[str, tuple[object, list[ColumnEdge]]] = {}
        self.index: dict[str, set[str]] = {}

    def refresh(self, live: LiveProject) -> None:
        assert live.state is not None
        models = live.state.models
        for name in list(self.per_model):
            if name not in models:
                self._drop(name)
        for name, compiled in models.items():
            held = self.per_model.get(name)
            if held is not None and held[0] is compiled:
                continue
            if held is not None:
                self._drop(name)
            edges = _edges(live, name)
            self.per_model[name] = (compiled, edges)
            for e in edges:
                self.index.setdefault(e.source.lower(), set()).add(e.target)

    def _drop(self, name: str) -> None:
        _, edges = self.per_model.pop(name)
        for e in edges:
            targets = self.index.get(e.source.lower())
            if targets is not None:
                targets.discard(e.target)

    def downstream(self, node: str) -> list[str]:
        out: list[str] = []
        seen = {node.lower()}
        stack = [node]
        while stack:
            for target in sorted(self.index.get(stack.pop().lower(), ())):
                if target.lower() not in seen:
                    seen.add(target.lower())
                    out.append(target)
                    stack.append(target)
        return out


_REVERSE: dict[int, _Reverse] = {}


# ---------------------------------------------------------------------------- hover


def hover(live: LiveProject, rel: str, line: int, col: int) -> HoverInfo | None:
    analysis = _analyse(live, rel)
    if analysis is None or analysis.tree is None:
        return None
    offset = analysis.text.offset(line, col)
    ident = _node_at(analysis.tree, offset)
    if ident is None:
        return None
    place = _ident_place(analysis, ident)
    parent = ident.parent
    if isinstance(parent, exp.Table):
        rel_name = relation_name(parent) if parent.this is ident else None
        if rel_name is None and parent.args.get("db") is ident and parent.db != MODEL_DB:
            return None
        return HoverInfo(_relation_markdown(live, rel_name), place) if rel_name else None
    if isinstance(parent, exp.Column) and parent.this is ident:
        relation, column, defined = _origin(analysis, parent)
        if relation is not None:
            return HoverInfo(_column_markdown(live, relation, column), place)
        typ = parent.type.sql("duckdb") if parent.type is not None else "UNKNOWN"
        where = f"\n\ncomputed here: `{_clip(defined.sql(live.project.dialect))}`" \
            if defined is not None and live.project is not None else ""
        return HoverInfo(f"**{column}** `{normalize(typ)}`{where}", place)
    out = _output_of(analysis, ident)
    if out is not None:
        return HoverInfo(_column_markdown(live, analysis.model, out.alias_or_name), place)
    if isinstance(parent, exp.Alias) and parent.args.get("alias") is ident \
            and live.project is not None:  # a projection of a CTE or derived table
        typ = parent.type.sql("duckdb") if parent.type is not None else "UNKNOWN"
        return HoverInfo(f"**{parent.alias}** `{normalize(typ)}`\n\ncomputed here: "
                         f"`{_clip(parent.this.sql(dialect=live.project.dialect))}`", place)
    return None


def _ident_place(analysis: _Analysis, ident: exp.Identifier) -> Place:
    meta = ident._meta or {}
    return analysis.text.place(analysis.rel, meta["start"], meta["end"])


def _relation_markdown(live: LiveProject, relation: str) -> str:
    assert live.project is not None
    project = live.project
    cols = _columns(live, relation) or ()
    lines: list[str] = []
    source = project.sources.get(relation)
    if source is not None:
        lines.append(f"**{source.fqn}** · source table ({source.file})")
        if source.description:
            lines.append(source.description)
    else:
        model = project.models.get(relation)
        if model is None:
            return f"**{relation}**"
        lines.append(f"**{model.name}** · model ({model.materialized}, {model.path})")
        intent = model.sidecar.intent
        if intent is not None:
            lines.append(f"purpose: {intent.purpose}")
            if intent.grain:
                lines.append("grain: " + ", ".join(intent.grain))
            for rule in intent.rules:
                lines.append(f"- rule: {rule}")
        elif model.sidecar.description:
            lines.append(model.sidecar.description)
    lines.append("")
    lines.append("| column | type | null |")
    lines.append("|---|---|---|")
    for c in cols:
        lines.append(f"| {c.name} | `{c.type}` | {_null(c.nullable)} |")
    return "\n".join(lines)


def _column_markdown(live: LiveProject, relation: str, column: str) -> str:
    assert live.project is not None
    project = live.project
    cols = _columns(live, relation) or ()
    col = next((c for c in cols if c.name.lower() == column.lower()), None)
    typ = col.type if col is not None else "UNKNOWN"
    nullable = _null(col.nullable if col is not None else None)
    name = col.name if col is not None else column
    lines = [f"**{name}** `{typ}` · {nullable}", f"`{relation}.{name}`"]
    intent = _column_intent(live, relation, name)
    if intent:
        lines.append(intent)
    if relation in (live.state.models if live.state is not None else {}):
        found = origins(live, f"{relation}.{name}")
        if found:
            lines.append("")
            lines.append("comes from:")
            lines.extend(f"- `{node}` ({kind})" for node, kind in found)
        else:
            lines.append("")
            lines.append("comes from no upstream column (a constant or a generated value)")
    elif relation in project.sources:
        lines.append(f"declared in {project.sources[relation].file}")
    return "\n".join(lines)


def _column_intent(live: LiveProject, relation: str, column: str) -> str | None:
    assert live.project is not None
    source = live.project.sources.get(relation)
    if source is not None:
        c = source.column(column)
        return c.description if c is not None else None
    model = live.project.models.get(relation)
    if model is None:
        return None
    for key, spec in model.sidecar.columns.items():
        if key.lower() == column.lower():
            return spec.intent or spec.description
    return None


def _null(value: bool | None) -> str:
    return "nullable" if value else ("not null" if value is False else "nullability unknown")


def _clip(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


# ---------------------------------------------------------------------------- definition


def definition(live: LiveProject, rel: str, line: int, col: int) -> Place | None:
    analysis = _analyse(live, rel)
    if analysis is None or analysis.tree is None or live.project is None:
        return None
    ident = _node_at(analysis.tree, analysis.text.offset(line, col))
    if ident is None:
        return None
    parent = ident.parent
    if isinstance(parent, exp.Table):
        relation = relation_name(parent)
        return _relation_place(live, relation) if relation else None
    if isinstance(parent, exp.Column) and parent.this is ident:
        relation, column, defined = _origin(analysis, parent)
        if relation is not None:
            return column_place(live, relation, column)
        if defined is not None:
            sp = span(defined)
            if sp is not None:
                return analysis.text.place(rel, *sp)
    return None


def _relation_place(live: LiveProject, relation: str) -> Place | None:
    assert live.project is not None
    project = live.project
    model = project.models.get(relation)
    if model is not None:
        return Place(model.path, 0, 0, 0, 0)
    source = project.sources.get(relation)
    if source is None:
        return None
    text = live.text_of(source.file) or ""
    pat = re.compile(rf"^\s*\[\s*tables\s*\.\s*\"?{re.escape(source.name)}\"?\s*(\]|\.)")
    for i, line_text in enumerate(text.splitlines()):
        if pat.search(line_text):
            return Place(source.file, i, 0, i, len(line_text))
    return Place(source.file, 0, 0, 0, 0)


def column_place(live: LiveProject, relation: str, column: str) -> Place | None:
    """Where ``relation.column`` is defined: its projection in the model, or its line in
    the sources file."""
    assert live.project is not None
    project = live.project
    model = project.models.get(relation)
    if model is not None:
        text = live.text_of(model.path)
        if text is None:
            return None
        try:
            tree = sqlglot.parse_one(text, dialect=project.dialect)
        except sqlglot.errors.SqlglotError:
            return Place(model.path, 0, 0, 0, 0)
        for sel in _final_selects(tree):
            if sel.alias_or_name.lower() == column.lower():
                sp = span(sel)
                if sp is not None:
                    return _Text(text).place(model.path, *sp)
        return Place(model.path, 0, 0, 0, 0)
    source = project.sources.get(relation)
    if source is None:
        return None
    table = _relation_place(live, relation)
    text = live.text_of(source.file) or ""
    lines = text.splitlines()
    start = table.line if table is not None else 0
    pat = re.compile(rf"^\s*\"?{re.escape(column)}\"?\s*=")
    inline = re.compile(rf"[{{,]\s*\"?{re.escape(column)}\"?\s*=")
    for i in range(start, len(lines)):
        if pat.search(lines[i]) or inline.search(lines[i]):
            return Place(source.file, i, 0, i, len(lines[i]))
    return table


# ---------------------------------------------------------------------------- references


def references(live: LiveProject, rel: str, line: int, col: int, *,
               include_declaration: bool = False) -> list[Place]:
    """Every downstream column the column at the cursor feeds, as definition places."""
    node = _column_node_at(live, rel, line, col)
    if node is None or live.state is None:
        return []
    reverse = _REVERSE.setdefault(id(live), _Reverse())
    reverse.refresh(live)
    out: list[Place] = []
    relation, column = split_node(node, live.state.models.keys() | (
        live.project.sources.keys() if live.project is not None else set()))
    if include_declaration:
        here = column_place(live, relation, column)
        if here is not None:
            out.append(here)
    for target in reverse.downstream(node):
        model, name = split_node(target, live.state.models)
        place = column_place(live, model, name)
        if place is not None:
            out.append(place)
    return out


def _column_node_at(live: LiveProject, rel: str, line: int, col: int) -> str | None:
    analysis = _analyse(live, rel)
    if analysis is None or analysis.tree is None:
        return None
    ident = _node_at(analysis.tree, analysis.text.offset(line, col))
    if ident is None:
        return None
    parent = ident.parent
    if isinstance(parent, exp.Column) and parent.this is ident:
        relation, column, _ = _origin(analysis, parent)
        return f"{relation}.{column}" if relation is not None else None
    out = _output_of(analysis, ident)
    if out is not None:
        return f"{analysis.model}.{out.alias_or_name}"
    return None


# ---------------------------------------------------------------------------- completion


_AFTER_RELATION = re.compile(r"\b(from|join)\s+([\w.]*)$", re.IGNORECASE)
_QUALIFIED = re.compile(r"([A-Za-z_][\w]*)\.([\w]*)$")
_FROM_ITEM = re.compile(
    r"\b(?:from|join)\s+([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)(?:\s+(?:as\s+)?([A-Za-z_][\w]*))?",
    re.IGNORECASE)
_NOT_ALIAS = {"on", "where", "join", "left", "right", "inner", "outer", "full", "cross",
              "group", "order", "limit", "union", "using", "natural", "qualify", "having",
              "window", "lateral", "as"}


MAX_ITEMS = 200  # more is never read; the editor asks again as the word grows
_WORD = re.compile(r"[\w]*$")


def completion(live: LiveProject, rel: str, line: int, col: int
               ) -> tuple[list[Completion], bool]:
    """The items for the cursor, filtered by the word being typed, and whether the list
    was cut at :data:`MAX_ITEMS` (the editor then asks again as the word grows)."""
    text = live.text_of(rel)
    if text is None or live.project is None or live.state is None:
        return [], False
    project = live.project
    src = _Text(text)
    before = text[:src.offset(line, col)]
    word = _WORD.search(before).group(0).lower()  # type: ignore[union-attr]
    after_rel = _AFTER_RELATION.search(before)
    if after_rel is not None:
        typed = after_rel.group(2)
        if "." in typed:
            schema = typed.split(".", 1)[0].lower()
            return _cut([Completion(t.name, "source", f"{t.fqn} · source table")
                         for t in project.sources.values() if t.schema.lower() == schema],
                        word)
        return _cut(_relation_items(live), word)
    scope = _in_scope(text)
    qualified = _QUALIFIED.search(before)
    if qualified is not None:
        prefix = qualified.group(1).lower()
        if prefix in scope:
            return _cut(_column_items(live, scope[prefix]), word)
        schemas = {t.schema.lower() for t in project.sources.values()}
        if prefix in schemas:
            return _cut([Completion(t.name, "source", f"{t.fqn} · source table")
                         for t in project.sources.values() if t.schema.lower() == prefix],
                        word)
        return [], False
    items: list[Completion] = []
    seen: set[str] = set()
    for relation in dict.fromkeys(scope.values()):
        for item in _column_items(live, relation):
            if item.label.lower() not in seen:
                seen.add(item.label.lower())
                items.append(item)
    # Relation names too once a word is started (a bare list of 10,000 models helps nobody).
    return _cut(items + (_relation_items(live) if word else []), word)


def _cut(items: list[Completion], word: str) -> tuple[list[Completion], bool]:
    if word:
        items = [i for i in items if i.label.lower().startswith(word)]
    return items[:MAX_ITEMS], len(items) > MAX_ITEMS


def _in_scope(text: str) -> dict[str, str]:
    """Written alias or name (lower) -> relation, for every FROM/JOIN item of the buffer."""
    out: dict[str, str] = {}
    for m in _FROM_ITEM.finditer(text):
        name = m.group(1).lower()
        alias = (m.group(2) or "").lower()
        out[name] = name
        out[name.rsplit(".", 1)[-1]] = name
        if alias and alias not in _NOT_ALIAS:
            out[alias] = name
    return out


_RELATIONS: dict[int, tuple[int, list[Completion]]] = {}


def _relation_items(live: LiveProject) -> list[Completion]:
    """Every model and source table (remembered per project version)."""
    assert live.project is not None
    held = _RELATIONS.get(id(live))
    if held is not None and held[0] == live.version:
        return held[1]
    items = [Completion(m.name, "model", _model_detail(m.sidecar))
             for m in live.project.models.values()]
    items += [Completion(t.fqn, "source", "source table" + (f" · {t.description}"
                                                           if t.description else ""))
              for t in live.project.sources.values()]
    _RELATIONS[id(live)] = (live.version, items)
    return items


def _model_detail(sidecar: Any) -> str:
    intent = sidecar.intent
    return "model" + (f" · {intent.purpose}" if intent is not None else "")


def _column_items(live: LiveProject, relation: str) -> list[Completion]:
    cols = _columns(live, relation)
    if cols is None:
        return []
    return [Completion(c.name, "column", f"{c.type} · {relation}") for c in cols]


# ---------------------------------------------------------------------------- code actions


_DID_YOU_MEAN = re.compile(r"did you mean [`\"]([^`\"]+)[`\"]\?")
_CAST_TO = re.compile(r"^CAST it to ([A-Z][A-Z0-9_ ]*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?)")
_AS_ALIAS = re.compile(r"^(.*?)\s+AS\s+(\"?[\w]+\"?)\s*$", re.IGNORECASE | re.DOTALL)


def code_actions(live: LiveProject, rel: str, diagnostics: Iterable[Diagnostic]) -> list[Fix]:
    """Fixes the hints of ``diagnostics`` name: a did-you-mean replacement, a CAST."""
    text = live.text_of(rel)
    if text is None:
        return []
    src = _Text(text)
    out: list[Fix] = []
    for d in diagnostics:
        if not d.hint or not d.line:
            continue
        line, col = d.line - 1, d.col - 1
        end = max(d.end_col, d.col)
        place = Place(rel, line, col, line, end)
        start = src.offset(line, col)
        written = text[start:src.offset(line, end)]
        m = _DID_YOU_MEAN.search(d.hint)
        if m is not None:
            out.append(Fix(f"Replace `{written}` with `{m.group(1)}`", place, m.group(1), d))
            continue
        m = _CAST_TO.match(d.hint)
        if m is not None and written:
            target = m.group(1).strip()
            alias = _AS_ALIAS.match(written)
            expr, name = (alias.group(1), alias.group(2)) if alias else (written, written)
            out.append(Fix(f"CAST to {target}", place, f"CAST({expr} AS {target}) AS {name}", d))
    return out

