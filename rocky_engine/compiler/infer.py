"""Pass 4/5 — qualify every column against upstream schemas, expand ``*``, infer types.

    >>> import sqlglot
    >>> site = Site("m", "m.sql", "SELECT id, amount * 2 AS dbl FROM raw.orders")
    >>> tree = sqlglot.parse_one(site.text.sql, read="duckdb")
    >>> up = {"raw.orders": (CompiledColumn("id", "INTEGER", False),
    ...                      CompiledColumn("amount", "DECIMAL(10,2)", True))}
    >>> typed = infer_types(tree, site, up, "duckdb")
    >>> [(c.name, c.type) for c in typed.columns], typed.diagnostics
    ([('id', 'INTEGER'), ('dbl', 'DECIMAL(18,2)')], [])

Upstream relations are ``"schema.table"`` for sources and the bare model name for models; a
model's table node is re-homed into the private schema :data:`MODEL_DB` so a model and a
source table of the same name never collide. Unknown and ambiguous columns are reported
here (R104/R106) with the position of the column in the model file.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from rocky_engine.compiler.coercion import set_operation_types
from rocky_engine.compiler.functions import METADATA
from rocky_engine.compiler.ir import CompiledColumn
from rocky_engine.compiler.names import needs_names, output_names, remember
from rocky_engine.compiler.nullability import output_nullability
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.relations import MODEL_DB, relation_name
from rocky_engine.compiler.subjects import SourceTracer, column_in
from rocky_engine.compiler.table_functions import mentions_table_functions, name_table_functions
from rocky_engine.compiler.tables import physical_tables
from rocky_engine.compiler.types import parse_type, render
from rocky_engine.errors import Diagnostic, Subject

Schemas = Mapping[str, Sequence[CompiledColumn]]


@dataclass
class Typed:
    """The qualified, annotated tree (``None`` if qualification failed) and the outputs."""

    tree: exp.Query | None
    columns: tuple[CompiledColumn, ...] = ()
    diagnostics: list[Diagnostic] = field(default_factory=list)
    schema: MappingSchema | None = None
    # The root scope of ``tree``, built once and shared by the later passes (nullability,
    # lineage): each scope build is about half a millisecond per model.
    scope: Scope | None = None


@functools.lru_cache(maxsize=16)
def dialect_of(name: str) -> Dialect:
    """One dialect instance per name: sqlglot re-resolves a dialect *name* on every call."""
    return Dialect.get_or_raise(name)


@functools.lru_cache(maxsize=16)
def _lean_dialect(name: str) -> Dialect:
    """``name``'s dialect, but not typing every query result as a STRUCT.

    DuckDB's dialect makes ``annotate_types`` build (and deep-copy the column types into) a
    STRUCT type for every scope — a quarter of annotation time — which is only ever read for
    a table referenced as a column (``SELECT t FROM t``). Models without one use this.
    """
    lean = Dialect.get_or_raise(name)
    lean.QUERY_RESULTS_ARE_STRUCTS = False  # this instance only; never the shared class
    return lean


def _dtype(text: str) -> exp.DataType:
    return parse_type(text) or _UNKNOWN_TYPE


_UNKNOWN_TYPE = exp.DataType.build("UNKNOWN")


def infer_types(tree: exp.Query, site: Site, upstream: Schemas, dialect: str) -> Typed:
    """Qualify ``tree`` in place and annotate it; returns the output columns (in order)."""
    # DuckDB matches every identifier case-insensitively, so the mapping is built lower-case
    # and MappingSchema skips re-normalizing each name (half a millisecond per model).
    fold = dialect == "duckdb"
    low = site.text.sql.lower()
    if fold and mentions_table_functions(low):
        name_table_functions(tree)  # before the written names are recorded, and qualify
    mapping: dict[str, object] = {}
    # DuckDB keeps the written case of names (qualify folds it): note it before qualifying.
    aliases: list[exp.Expr] | None = [] if fold else None
    for table in physical_tables(tree, aliases):
        name = table.name.lower()
        if table.db:
            db = table.db.lower()
            rel = f"{db}.{name}"
        else:
            db, rel = MODEL_DB, name
            table.set("db", exp.to_identifier(MODEL_DB))
        cols = upstream.get(rel)
        if cols is not None:  # an unresolved reference was reported by resolve
            # DataType objects, not strings: MappingSchema would re-parse each string per model.
            mapping.setdefault(db, {})[name] = {  # type: ignore[index]
                (c.name.lower() if fold else c.name): _dtype(c.type) for c in cols}
    written = remember(aliases) if aliases is not None else None
    dialect_obj = dialect_of(dialect)
    schema = MappingSchema(mapping, dialect=dialect_obj, normalize=not fold)
    if "lateral" in low or "apply" in low:  # the only spellings that parse to exp.Lateral
        _unwrap_lateral_subqueries(tree)
    try:
        qualified = qualify(tree, schema=schema, dialect=dialect_obj,
                            validate_qualify_columns=False,
                            quote_identifiers=False, identify=False)
    except OptimizeError as exc:
        return Typed(None, diagnostics=[_optimize_error(exc, tree, site, upstream)])
    scopes = traverse_scope(qualified)
    problems = _check_columns(qualified, site, schema, scopes)
    if problems:
        return Typed(None, diagnostics=problems)
    annotate_schema = schema
    if fold and dialect_obj.QUERY_RESULTS_ARE_STRUCTS \
            and not any(scope.table_columns for scope in scopes):
        annotate_schema = MappingSchema(mapping, dialect=_lean_dialect(dialect), normalize=False)
    annotate_types(qualified, schema=annotate_schema, dialect=dialect_obj,
                   expression_metadata=METADATA if dialect == "duckdb" else None)
    root = scopes[-1] if scopes else None
    nullable = output_nullability(qualified, upstream, root)
    nullable += [None] * (len(qualified.selects) - len(nullable))
    selects = qualified.selects
    names = output_names(root, upstream, relation_name, written.renames) \
        if written is not None and root is not None and needs_names(written, upstream) else []
    if len(names) != len(selects):
        names = [sel.alias_or_name for sel in selects]
    # A UNION's selects are its first branch's; its column types unify all branches.
    types: list[exp.DataType | None] | None = None
    if isinstance(qualified, exp.SetOperation):
        types = list(set_operation_types(qualified) or ())
    if types is None or len(types) != len(selects):
        types = [sel.type for sel in selects]
    columns = tuple(
        CompiledColumn(names[i], render(types[i]), nullable[i])
        for i in range(len(selects))
    )
    return Typed(qualified, columns, [], schema, root)


def _unwrap_lateral_subqueries(tree: exp.Expr) -> None:
    """``LATERAL (SELECT ...) AS x`` → ``(SELECT ...) AS x``.

    DuckDB treats every derived table as lateral, so this keeps the meaning; sqlglot types
    the columns of a derived table but not of a LATERAL subquery.
    """
    for lateral in list(tree.find_all(exp.Lateral)):
        inner = lateral.this
        if isinstance(inner, exp.Subquery) and not lateral.args.get("view"):
            alias = lateral.args.get("alias")
            if alias is not None:
                inner.set("alias", alias)
            lateral.replace(inner)


_UNKNOWN_COL = re.compile(r"Unknown column: (\S+)")


def _optimize_error(exc: OptimizeError, tree: exp.Expr, site: Site,
                    upstream: Schemas) -> Diagnostic:
    m = _UNKNOWN_COL.search(str(exc))
    if m:
        name = m.group(1).strip("\"'`")
        node = next((c for c in tree.find_all(exp.Column) if c.name.lower() == name.lower()),
                    None)
        where = node.table if node is not None and node.table else ""
        candidates = _alias_columns(tree, where, upstream) if where else None
        if candidates is None:
            candidates = _candidates(tree, upstream)
        hint = _did_you_mean(name, candidates)
        if hint is None and where and 0 < len(candidates) <= 12:
            hint = f"`{where}` has: " + ", ".join(candidates)
        return site.at("R104", f'column "{name}" not found' + (f" in `{where}`" if where else ""),
                       node=node.this if node is not None else None, hint=hint,
                       subjects=_looked_up_in(tree, where, name))
    return site.at("R104", f"cannot resolve columns: {exc}", line=1, col=1)


def _looked_up_in(tree: exp.Expr, alias: str, name: str) -> tuple[Subject, ...] | None:
    """The stored relations an unknown ``alias.name`` was looked up in (before qualify)."""
    low = alias.lower()
    tables = [t for t in tree.find_all(exp.Table) if t.alias_or_name.lower() == low] \
        if alias else []
    ctes = {c.alias_or_name.lower(): c for c in tree.find_all(exp.CTE)}
    rels: list[str] = []
    for table in tables or list(tree.find_all(exp.Table)):
        cte = ctes.get(table.name.lower()) if table.db in ("", MODEL_DB) else None
        inner = [t for t in cte.find_all(exp.Table)] if cte is not None else [table]
        rels.extend(r for r in (relation_name(t) for t in inner) if r is not None)
    if not rels:
        return None
    return tuple(dict.fromkeys(Subject(r, name.lower()) for r in rels))


def _check_columns(tree: exp.Expr, site: Site, schema: MappingSchema,
                   scopes: list[Scope] | None = None) -> list[Diagnostic]:
    """Columns ``qualify`` left unqualified are unknown, or ambiguous between relations."""
    out: list[Diagnostic] = []
    tracer = SourceTracer(None, relation_name)
    for scope in traverse_scope(tree) if scopes is None else scopes:
        lambda_vars: set[str] | None = None  # found only when needed: most scopes have none
        for column in scope.unqualified_columns:
            name = column.name
            if isinstance(column.this, exp.Star):
                continue
            if lambda_vars is None:
                lambda_vars = _lambda_vars(scope.expression)
            if name.lower() in lambda_vars:
                continue
            owners = _owners(scope, name, schema)
            if len(owners) > 1:
                out.append(site.at(
                    "R106", f'column "{name}" is ambiguous: it is in '
                    + ", ".join(f"`{o}`" for o in owners),
                    node=column, hint=f"qualify it, e.g. `{owners[0]}.{name}`",
                    subjects=column_in(tracer, scope, owners, name) or None))
            else:
                out.append(site.at("R104", f'column "{name}" not found', node=column,
                                   hint=_did_you_mean(name, _scope_columns(scope, schema)),
                                   subjects=column_in(tracer, scope, scope.sources, name)
                                   or None))
    return out


def _lambda_vars(node: exp.Expr) -> set[str]:
    names: set[str] = set()
    for lam in node.find_all(exp.Lambda):
        names.update(e.name.lower() for e in lam.expressions)
    return names


def _owners(scope: Scope, name: str, schema: MappingSchema) -> list[str]:
    low = name.lower()
    return [alias for alias in scope.sources if low in _source_columns(scope, alias, schema)]


def _source_columns(scope: Scope, alias: str, schema: MappingSchema) -> list[str]:
    source = scope.sources.get(alias)
    if isinstance(source, Scope):
        return [s.lower() for s in source.expression.named_selects]  # type: ignore[attr-defined]
    if isinstance(source, exp.Table):
        try:
            return [c.lower() for c in schema.column_names(source)]
        except Exception:  # noqa: BLE001 - a table missing from the schema has no columns
            return []
    return []


def _scope_columns(scope: Scope, schema: MappingSchema) -> list[str]:
    names: list[str] = []
    for alias in scope.sources:
        names.extend(_source_columns(scope, alias, schema))
    for sel in scope.expression.selects if isinstance(scope.expression, exp.Select) else []:
        names.append(sel.alias_or_name)
    return names


def _candidates(tree: exp.Expr, upstream: Schemas) -> list[str]:
    names = [c.name for cols in upstream.values() for c in cols]
    names.extend(s.alias_or_name for s in tree.find_all(exp.Alias))
    return names


def _alias_columns(tree: exp.Expr, alias: str, upstream: Schemas) -> list[str] | None:
    """Columns of the relation a table alias names (a stored table, a CTE or a subquery)."""
    low = alias.lower()
    for table in tree.find_all(exp.Table):
        if table.alias_or_name.lower() == low:
            rel = relation_name(table)
            if rel is not None and rel in upstream:
                return [c.name for c in upstream[rel]]
            if not table.db or table.db == MODEL_DB:
                for cte in tree.find_all(exp.CTE):
                    if cte.alias_or_name.lower() == table.name.lower():
                        return list(cte.this.named_selects)
    for sub in tree.find_all(exp.Subquery):
        if sub.alias_or_name.lower() == low:
            return list(sub.this.named_selects) if isinstance(sub.this, exp.Query) else None
    return None


def _did_you_mean(name: str, candidates: list[str]) -> str | None:
    low = name.lower()
    pool = sorted({c.lower() for c in candidates} - {low})
    found = difflib.get_close_matches(low, pool, n=1, cutoff=0.6)
    return f'did you mean "{found[0]}"?' if found else None
