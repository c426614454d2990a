"""Pass 2 — resolve references: bare name → model, ``schema.table`` → declared source.

    >>> import sqlglot
    >>> cat = Catalog(frozenset({"stg_orders"}), frozenset({"raw"}), frozenset({"raw.orders"}))
    >>> tree = sqlglot.parse_one("SELECT * FROM stg_orders JOIN raw.orders USING (id)")
    >>> refs, diags = resolve_references(table_refs(tree), Site("m", "m.sql", ""), cat)
    >>> [(r.kind, r.name) for r in refs]
    [('model', 'stg_orders'), ('source', 'raw.orders')]

Works on :class:`TableRef` records (cached by the parse pass) rather than trees, so a warm
compile resolves references without parsing. CTE names shadow models
(``WITH stg_orders AS (...) SELECT * FROM stg_orders`` reads the CTE). Anything else is
R102/R103/R105 with a did-you-mean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import NamedTuple

from sqlglot import exp

from rocky_engine.compiler.ir import Reference
from rocky_engine.compiler.positions import Site, span
from rocky_engine.errors import Diagnostic


@dataclass(frozen=True)
class Catalog:
    """The relations a reference may name: lower-case model names, source schemas and tables."""

    models: frozenset[str]
    source_schemas: frozenset[str]
    sources: frozenset[str]  # "schema.table"


class TableRef(NamedTuple):
    """A stored-relation name as written in a model: parts as written, offsets into the file."""

    catalog: str
    db: str
    name: str
    offset: int = -1
    width: int = 1

    @property
    def text(self) -> str:
        return ".".join(p for p in (self.catalog, self.db, self.name) if p)


def cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def physical_tables(tree: exp.Expression) -> list[exp.Table]:
    """Table nodes naming a stored relation (not table functions, not CTEs)."""
    ctes = cte_names(tree)
    out = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # table function such as range(10) or read_csv(...)
        if not table.args.get("db") and table.name.lower() in ctes:
            continue
        out.append(table)
    return out


def table_refs(tree: exp.Expression) -> tuple[TableRef, ...]:
    """Every stored-relation reference of a parsed model, in order of appearance."""
    out = []
    for table in physical_tables(tree):
        sp = span(table.this) if not table.db else span(table)
        if sp is not None and table.db:
            # span(table) may include the alias; keep the name parts only.
            parts = [p for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p]
            spans = [s for s in (span(p) for p in parts) if s is not None]
            sp = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else sp
        offset, width = (sp[0], sp[1] - sp[0] + 1) if sp else (-1, 1)
        out.append(TableRef(table.catalog, table.db, table.name, offset, width))
    return tuple(out)


def resolve_references(refs: tuple[TableRef, ...], site: Site,
                       catalog: Catalog) -> tuple[tuple[Reference, ...], list[Diagnostic]]:
    found: dict[Reference, None] = {}
    diags: list[Diagnostic] = []
    for ref in refs:
        resolved, problem = resolve_table(ref, site, catalog)
        if resolved is not None:
            found[resolved] = None
        if problem is not None:
            diags.append(problem)
    return tuple(found), diags


def resolve_table(ref: TableRef, site: Site,
                  catalog: Catalog) -> tuple[Reference | None, Diagnostic | None]:
    name, db = ref.name.lower(), ref.db.lower()
    pos = {"offset": ref.offset, "width": ref.width} if ref.offset >= 0 else {"line": 1, "col": 1}
    if ref.catalog:
        return None, site.at(
            "R103", f"`{ref.text}`: three-part names are not allowed in models", **pos,
            hint="write `schema.table` for a declared source, or a model name")
    if not db:
        if name in catalog.models:
            return Reference("model", name), None
        guess = _close(name, catalog.models | catalog.sources)
        hint = f"did you mean `{guess}`?" if guess else \
            "a bare name must be a model in models/; sources are written `schema.table`"
        return None, site.at("R102", f"unknown model `{ref.name}`", **pos, hint=hint)
    fqn = f"{db}.{name}"
    if db in catalog.source_schemas:
        if fqn in catalog.sources:
            return Reference("source", fqn), None
        tables = {s.split(".", 1)[1] for s in catalog.sources if s.startswith(db + ".")}
        guess = _close(name, tables)
        hint = f"did you mean `{db}.{guess}`?" if guess else \
            f"declare it under [tables.{ref.name}] in the sources file for `{db}`"
        return None, site.at("R105", f"source table `{fqn}` is not declared", **pos, hint=hint)
    guess = _close(fqn, catalog.sources) or _close(db, catalog.source_schemas)
    if guess and "." not in guess:
        guess = f"{guess}.{name}"
    hint = f"did you mean `{guess}`?" if guess else \
        f"declare schema `{ref.db}` in a file under sources/"
    return None, site.at("R103", f"source schema `{ref.db}` is not declared (in `{fqn}`)",
                         **pos, hint=hint)


def _close(word: str, candidates: set[str] | frozenset[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
