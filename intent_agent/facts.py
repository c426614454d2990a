"""What rocky knows about one model, gathered for explain, gen-tests and the prompts.

Everything here is deterministic: the structured intent, the typed schema and the column
lineage from the compiler, and the SQL's structure (relations read, filters, joins,
aggregations, windows, the grain the SQL can guarantee)::

    >>> facts = model_facts(load_project("shop"), "customers")   # doctest: +SKIP
    >>> facts.grain_check.status                                  # doctest: +SKIP
    'inherited'
    >>> facts.column("customer_id").origins                       # doctest: +SKIP
    ('raw.customers.id',)

LLM providers receive these facts (rendered by the prompt templates) and add prose; they
never replace them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from rocky_engine.errors import Location, UsageError
from rocky_engine.project import Model, Project

GRAIN_STATUSES = ("guaranteed", "inherited", "unverified", "not_guaranteed", "invalid",
                  "undeclared")


@dataclass(frozen=True)
class ColumnFacts:
    name: str
    type: str | None  # None when the compiler is unavailable or could not infer it
    kind: str  # copy | cast | transform | aggregate | window | literal
    expression: str
    sources: tuple[str, ...] = ()  # direct upstream nodes (relation.column), one hop
    origins: tuple[str, ...] = ()  # root nodes (sources or models without lineage)
    intent: str | None = None
    contract_type: str | None = None
    contract_nullable: bool | None = None


@dataclass(frozen=True)
class FilterFacts:
    scope: str  # "final" or the CTE / subquery name
    clause: str  # where | having | qualify
    condition: str
    equalities: tuple[tuple[str, str], ...] = ()  # (column, literal) pairs required by it


@dataclass(frozen=True)
class JoinFacts:
    scope: str
    side: str  # inner | left | right | full | cross
    relation: str
    on: str


@dataclass(frozen=True)
class GrainCheck:
    status: str  # one of GRAIN_STATUSES
    reason: str
    covered_by_test: bool = False


@dataclass(frozen=True)
class RelationFacts:
    """A relation the model reads, with the columns the prompt may show."""

    name: str
    kind: str  # model | source | unknown
    description: str | None
    columns: tuple[tuple[str, str, str | None], ...]  # (name, type, description)
    grain: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelFacts:
    name: str
    path: str
    sql: str
    materialized: str
    purpose: str | None
    grain: tuple[str, ...]
    rules: tuple[str, ...]
    columns: tuple[ColumnFacts, ...]
    reads: tuple[str, ...]
    filters: tuple[FilterFacts, ...]
    joins: tuple[JoinFacts, ...]
    group_by: tuple[str, ...]
    aggregations: tuple[str, ...]
    windows: tuple[str, ...]
    grain_check: GrainCheck
    upstream: tuple[RelationFacts, ...]
    typed: bool  # types and lineage came from the compiler
    compile_messages: tuple[str, ...] = ()
    stray_contracts: tuple[str, ...] = ()  # [columns.X] entries for columns not output
    dialect: str = "duckdb"

    def column(self, name: str) -> ColumnFacts | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def to_prompt(self) -> dict[str, Any]:
        """A plain, JSON-able view for templates (dataclasses render poorly in Jinja)."""
        from dataclasses import asdict

        return asdict(self)


def model_facts(project: Project, name: str, compiled: Any | None = None) -> ModelFacts:
    """Gather the facts of model ``name``; ``compiled`` is a CompileResult when the caller has one."""
    model = project.model(name)
    if model is None:
        close = _close(name, [m.name for m in project.models.values()])
        raise UsageError(f"no model named `{name}`",
                         hint=f"did you mean `{close}`?" if close else "see `rocky compile`")
    if compiled is None:
        compiled = _try_compile(project)
    tree = _parse(model, project.dialect)
    structure = _Structure(project, model, tree)
    columns = _columns(project, model, tree, compiled)
    intent = model.sidecar.intent
    grain = tuple(intent.grain) if intent else ()
    check = _grain_check(project, model, tree, grain, [c.name for c in columns])
    cm = compiled.models.get(model.name.lower()) if compiled is not None else None
    messages: tuple[str, ...] = ()
    if compiled is not None:
        messages = tuple(d.headline() for d in compiled.diagnostics_for(model.name))
    return ModelFacts(
        name=model.name, path=model.path, sql=model.sql, materialized=model.materialized,
        purpose=intent.purpose if intent else model.sidecar.description,
        grain=grain, rules=tuple(intent.rules) if intent else (),
        columns=tuple(columns), reads=tuple(structure.reads), filters=tuple(structure.filters),
        joins=tuple(structure.joins), group_by=tuple(structure.group_by),
        aggregations=tuple(structure.aggregations), windows=tuple(structure.windows),
        grain_check=check, upstream=tuple(_upstream(project, structure.reads, compiled)),
        typed=cm is not None and cm.status == "ok", compile_messages=messages,
        dialect=project.dialect,
        stray_contracts=tuple(k for k in model.sidecar.columns
                              if k.lower() not in {c.name.lower() for c in columns}),
    )


# ---------------------------------------------------------------------------- compiler


def _try_compile(project: Project) -> Any:
    from rocky_engine.compiler import compile_project

    return compile_project(project)


def _parse(model: Model, dialect: str) -> exp.Expr:
    try:
        tree = sqlglot.parse_one(model.sql, dialect=dialect)
    except (ParseError, TokenError) as exc:
        raise UsageError(f"model {model.name} does not parse: {str(exc).splitlines()[0]}",
                         location=Location(model.path),
                         hint="run `rocky compile` for the full diagnostic") from None
    if not isinstance(tree, exp.Query):
        raise UsageError(f"model {model.name} is not a SELECT", location=Location(model.path))
    return tree


# ---------------------------------------------------------------------------- columns


def _columns(project: Project, model: Model, tree: exp.Expr,
             compiled: Any | None) -> list[ColumnFacts]:
    final = _final_select(tree)
    contracts = {k.lower(): v for k, v in model.sidecar.columns.items()}
    cm = compiled.models.get(model.name.lower()) if compiled is not None else None
    # A model that failed to compile has no lineage: read what we can off its SQL instead.
    lineage_ok = cm is not None and cm.status == "ok"
    direct, roots, kinds = (_lineage_maps(compiled, model.name) if lineage_ok
                            else ({}, {}, {}))
    out = []
    projections = final.expressions if final is not None else []
    names = ([c.name for c in cm.columns] if cm is not None and cm.columns
             else [p.alias_or_name for p in projections])
    by_name = {p.alias_or_name.lower(): p for p in projections}
    for name in names:
        proj = by_name.get(name.lower())
        body = proj.unalias() if proj is not None else None
        col_type = None
        if cm is not None:
            c = cm.column(name)
            col_type = c.type if c is not None and c.known else None
        node = f"{model.name.lower()}.{name.lower()}"
        contract = contracts.get(name.lower())
        out.append(ColumnFacts(
            name=name, type=col_type,
            # The lineage kind composes hops through CTEs (COALESCE over a SUM is an
            # aggregate); the syntactic kind is the fallback.
            kind=_column_kind(body, kinds.get(node)),
            expression=body.sql(dialect=project.dialect) if body is not None else "",
            # With lineage, its edges (none for a constant or COUNT(*), which is right);
            # without, one hop read off the SQL.
            sources=(tuple(sorted(direct.get(node, ()))) if lineage_ok
                     else _naive_sources(body, final)),
            origins=tuple(sorted(roots.get(node, ()))),
            intent=contract.intent if contract else None,
            contract_type=contract.type if contract else None,
            contract_nullable=contract.nullable if contract else None,
        ))
    return out


def _lineage_maps(compiled: Any, model: str
                  ) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, str]]:
    """Direct value sources of each column of ``model``, their roots across the DAG, and
    the strongest value kind reaching each column."""
    from rocky_engine.lineage import VALUE_KINDS

    rank = {k: i for i, k in enumerate(VALUE_KINDS)}
    incoming: dict[str, set[str]] = {}
    prefix = model.lower() + "."
    kinds: dict[str, str] = {}
    for cm in compiled.models.values():
        for edge in cm.lineage:
            kind = getattr(edge, "kind", "")
            if kind not in rank:
                continue
            target = edge.target.lower()
            incoming.setdefault(target, set()).add(edge.source.lower())
            if target.startswith(prefix) and rank[kind] > rank.get(kinds.get(target, ""), -1):
                kinds[target] = kind
    direct = {t: s for t, s in incoming.items() if t.startswith(prefix)}
    roots: dict[str, set[str]] = {}
    for target, sources in direct.items():
        seen: set[str] = set()
        stack = list(sources)
        found: set[str] = set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            ups = incoming.get(node)
            if ups:
                stack.extend(ups)
            else:
                found.add(node)
        roots[target] = found
    return direct, roots, kinds


def _naive_sources(body: exp.Expr | None, final: exp.Select | None) -> tuple[str, ...]:
    """Without the compiler: the columns an expression names, qualified by their table alias."""
    if body is None or final is None:
        return ()
    aliases = {alias: rel for alias, rel in _relations(final).items()}
    out = set()
    for col in body.find_all(exp.Column):
        rel = aliases.get(col.table.lower()) if col.table else (
            next(iter(aliases.values())) if len(aliases) == 1 else None)
        out.add(f"{rel}.{col.name.lower()}" if rel else col.name.lower())
    return tuple(sorted(out))


def _column_kind(body: exp.Expr | None, lineage_kind: str | None) -> str:
    syntactic = _kind(body)
    # A window at the top is what the column *is*, whatever its inputs went through.
    if syntactic == "window" or not lineage_kind:
        return syntactic
    return lineage_kind


def _kind(body: exp.Expr | None) -> str:
    if body is None:
        return "transform"
    if isinstance(body, exp.Column):
        return "copy"
    if body.find(exp.Window):
        return "window"
    if body.find(exp.AggFunc):
        return "aggregate"
    if isinstance(body, (exp.Cast, exp.TryCast)) and isinstance(body.this, exp.Column):
        return "cast"
    if not body.find(exp.Column):
        return "literal"
    return "transform"


# ---------------------------------------------------------------------------- structure


class _Structure:
    """Relations read, filters, joins, grouping and aggregation, per scope."""

    def __init__(self, project: Project, model: Model, tree: exp.Expr) -> None:
        self.reads: list[str] = []
        self.filters: list[FilterFacts] = []
        self.joins: list[JoinFacts] = []
        self.group_by: list[str] = []
        self.aggregations: list[str] = []
        self.windows: list[str] = []
        ctes = _ctes(tree)
        d = project.dialect
        for table in tree.find_all(exp.Table):
            if table.name.lower() in ctes and not table.db:
                continue
            rel = _relation_name(table)
            if rel not in self.reads:
                self.reads.append(rel)
        for select in tree.find_all(exp.Select):
            scope = _scope_name(select)
            for clause in ("where", "having", "qualify"):
                node = select.args.get(clause)
                if node is not None:
                    cond = node.this
                    self.filters.append(FilterFacts(scope, clause, cond.sql(dialect=d),
                                                    tuple(_equalities(cond))))
            for join in select.args.get("joins") or []:
                side = (join.side or join.kind or "inner").lower()
                on = join.args.get("on")
                self.joins.append(JoinFacts(scope, side, _source_label(join.this, ctes),
                                            on.sql(dialect=d) if on is not None else ""))
            group = select.args.get("group")
            if group is not None:
                keys = ", ".join(g.sql(dialect=d) for g in group.expressions)
                self.group_by.append(f"{scope}: {keys}")
            for agg in select.find_all(exp.AggFunc):
                if _owning_select(agg) is select and not agg.find_ancestor(exp.Window):
                    text = agg.sql(dialect=d)
                    if text not in self.aggregations:
                        self.aggregations.append(text)
            for win in select.find_all(exp.Window):
                if _owning_select(win) is select:
                    self.windows.append(win.sql(dialect=d))


def _equalities(cond: exp.Expr) -> list[tuple[str, str]]:
    """``col = 'literal'`` / ``col IN (...)`` conjuncts: what a rule about values can check."""
    out = []
    for part in cond.flatten() if isinstance(cond, exp.And) else [cond]:
        if isinstance(part, exp.EQ):
            col, lit = part.this, part.expression
            if isinstance(lit, exp.Column) and isinstance(col, exp.Literal):
                col, lit = lit, col
            if isinstance(col, exp.Column) and isinstance(lit, exp.Literal):
                out.append((col.name.lower(), lit.name))
        elif isinstance(part, exp.In) and isinstance(part.this, exp.Column):
            for lit in part.expressions:
                if isinstance(lit, exp.Literal):
                    out.append((part.this.name.lower(), lit.name))
    return out


def _owning_select(node: exp.Expr) -> exp.Select | None:
    return node.find_ancestor(exp.Select)


def _scope_name(select: exp.Select) -> str:
    parent = select.parent
    if isinstance(parent, exp.CTE):
        return parent.alias
    if isinstance(parent, exp.Subquery):
        return parent.alias or "subquery"
    return "final"


def _ctes(tree: exp.Expr) -> dict[str, exp.Expr]:
    return {cte.alias.lower(): cte.this for cte in tree.find_all(exp.CTE)}


def _relation_name(table: exp.Table) -> str:
    return f"{table.db}.{table.name}".lower() if table.db else table.name.lower()


def _source_label(node: exp.Expr, ctes: dict[str, exp.Expr]) -> str:
    if isinstance(node, exp.Table):
        return _relation_name(node)
    return f"({node.alias or 'subquery'})"


def _final_select(tree: exp.Expr) -> exp.Select | None:
    if isinstance(tree, exp.Select):
        return tree
    if isinstance(tree, exp.Subquery):
        return _final_select(tree.this)
    return None  # UNION & co: no single projection list


def _relations(select: exp.Select) -> dict[str, str]:
    """alias -> relation label for the FROM and JOIN items of one SELECT."""
    out: dict[str, str] = {}
    items = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append(from_.this)
    items.extend(j.this for j in select.args.get("joins") or [])
    for item in items:
        label = _relation_name(item) if isinstance(item, exp.Table) else (item.alias or "subquery")
        out[(item.alias_or_name or label).lower()] = label
    return out


# ---------------------------------------------------------------------------- grain


@dataclass(frozen=True)
class _Key:
    columns: frozenset[str]
    basis: str  # "group" (the SQL guarantees it) | "declared" (an upstream model's grain)
    via: str


def _grain_check(project: Project, model: Model, tree: exp.Expr, grain: tuple[str, ...],
                 outputs: list[str]) -> GrainCheck:
    covered = _unique_test_covers(model, grain)
    if not grain:
        return GrainCheck("undeclared", "the intent declares no grain", covered)
    missing = [g for g in grain if g.lower() not in {o.lower() for o in outputs}]
    if missing:
        return GrainCheck("invalid", f"grain column(s) {', '.join(missing)} are not output "
                                     f"columns of {model.name}", covered)
    ctes = _ctes(tree)
    final = _final_select(tree)
    if final is None:
        return GrainCheck("unverified", "a set operation (UNION/INTERSECT/EXCEPT) builds the "
                                        "rows; rocky cannot prove uniqueness", covered)
    key, problem = _select_key(project, final, ctes)
    want = frozenset(g.lower() for g in grain)
    if key is not None and key.columns <= want:
        if key.columns < want:
            return GrainCheck(key.basis == "group" and "guaranteed" or "inherited",
                              f"{key.via} makes ({', '.join(sorted(key.columns))}) unique, "
                              f"so the declared grain is unique too", covered)
        status = "guaranteed" if key.basis == "group" else "inherited"
        return GrainCheck(status, key.via, covered)
    if key is not None:
        return GrainCheck(
            "not_guaranteed",
            f"{key.via} yields one row per ({', '.join(sorted(key.columns))}), which is finer "
            f"than the declared grain ({', '.join(grain)})", covered)
    if problem:
        return GrainCheck("not_guaranteed", problem, covered)
    return GrainCheck("unverified", "uniqueness depends on upstream data that declares no "
                                    "grain" + (" (a unique test checks it)" if covered else ""),
                      covered)


def _select_key(project: Project, select: exp.Select,
                ctes: dict[str, exp.Expr]) -> tuple[_Key | None, str | None]:
    """The set of output columns known to be unique for ``select``, and a fan-out problem."""
    outputs = {p.alias_or_name.lower(): p.unalias() for p in select.expressions}
    group = select.args.get("group")
    if group is not None:
        keys = [g.sql().lower() for g in group.expressions]
        names = set()
        for key in keys:
            name = next((n for n, body in outputs.items() if body.sql().lower() == key
                         or (isinstance(body, exp.Column) and body.name.lower() == key)), None)
            if name is None:
                return None, (f"GROUP BY {key} is not an output column, so several rows can "
                              f"share the same output key")
            names.add(name)
        return _Key(frozenset(names), "group", f"GROUP BY {', '.join(keys)}"), None
    if select.args.get("distinct") is not None and not select.args["distinct"].args.get("on"):
        return _Key(frozenset(outputs), "group", "SELECT DISTINCT"), None
    from_ = select.args.get("from_")
    if from_ is None:
        return None, None
    base_key, base_basis, base_via = _item_key(project, from_.this, ctes)
    base_alias = from_.this.alias_or_name.lower()
    for join in select.args.get("joins") or []:
        jkey, _, _ = _item_key(project, join.this, ctes)
        label = join.this.alias_or_name.lower()
        on = join.args.get("on")
        bound = set()
        if on is not None:
            for eq in on.find_all(exp.EQ):
                for side in (eq.this, eq.expression):
                    if isinstance(side, exp.Column) and side.table.lower() == label:
                        bound.add(side.name.lower())
        if jkey is None or not jkey <= bound:
            return None, (f"the join to {_source_label(join.this, ctes)} on "
                          f"{on.sql() if on is not None else '(no condition)'} is not on a "
                          f"unique key of it, so rows can repeat")
    if base_key is None:
        return None, None
    # `SELECT *` / `SELECT base.*` passes every base column through under its own name.
    star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and p.is_star
                                           and p.table.lower() in ("", base_alias))
               for p in select.expressions)
    renamed = set()
    for col in base_key:
        name = next((n for n, body in outputs.items() if isinstance(body, exp.Column)
                     and body.name.lower() == col
                     and (not body.table or body.table.lower() == base_alias)), None)
        if name is None and star:
            name = col
        if name is None:
            return None, None
        renamed.add(name)
    return _Key(frozenset(renamed), base_basis, base_via), None


def _item_key(project: Project, item: exp.Expr, ctes: dict[str, exp.Expr]
              ) -> tuple[frozenset[str] | None, str, str]:
    if isinstance(item, exp.Table):
        name = item.name.lower()
        if not item.db and name in ctes:
            inner = ctes[name]
            if isinstance(inner, exp.Select):
                key, _ = _select_key(project, inner, ctes)
                if key is not None:
                    return key.columns, key.basis, f"{key.via} in {name}"
            return None, "", ""
        if not item.db:
            upstream = project.model(name)
            if upstream is not None and upstream.sidecar.intent and upstream.sidecar.intent.grain:
                grain = frozenset(g.lower() for g in upstream.sidecar.intent.grain)
                return grain, "declared", (f"one row per row of {upstream.name}, whose declared "
                                           f"grain is ({', '.join(sorted(grain))})")
        return None, "", ""
    if isinstance(item, exp.Subquery) and isinstance(item.this, exp.Select):
        key, _ = _select_key(project, item.this, ctes)
        if key is not None:
            return key.columns, key.basis, key.via
    return None, "", ""


def _unique_test_covers(model: Model, grain: tuple[str, ...]) -> bool:
    want = {g.lower() for g in grain}
    for test in model.sidecar.tests:
        if test.type == "unique" and {k.lower() for k in test.key} == want:
            return True
    return False


# ---------------------------------------------------------------------------- upstream


def _upstream(project: Project, reads: list[str], compiled: Any | None) -> list[RelationFacts]:
    out = []
    for rel in reads:
        if "." in rel:
            src = project.sources.get(rel)
            if src is None:
                out.append(RelationFacts(rel, "unknown", None, ()))
                continue
            out.append(RelationFacts(rel, "source", src.description, tuple(
                (c.name, c.type, c.description) for c in src.columns)))
            continue
        m = project.model(rel)
        if m is None:
            out.append(RelationFacts(rel, "unknown", None, ()))
            continue
        intent = m.sidecar.intent
        specs = {k.lower(): v for k, v in m.sidecar.columns.items()}
        cm = compiled.models.get(m.name.lower()) if compiled is not None else None
        if cm is not None and cm.columns:
            cols = tuple((c.name, c.type, _describe(specs.get(c.name.lower())))
                         for c in cm.columns)
        else:
            cols = tuple((name, spec.type or "", _describe(spec))
                         for name, spec in m.sidecar.columns.items())
        out.append(RelationFacts(m.name, "model", intent.purpose if intent else None, cols,
                                 tuple(intent.grain) if intent else ()))
    return out


def _describe(spec: Any | None) -> str | None:
    return (spec.intent or spec.description) if spec is not None else None


def _close(word: str, candidates: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, candidates, n=1)
    return found[0] if found else None
