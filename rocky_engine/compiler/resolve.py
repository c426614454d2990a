"""Pass 2 — resolve references: bare name → model, ``schema.table`` → declared source.

    >>> cat = Catalog(frozenset({"stg_orders"}), frozenset({"raw"}), frozenset({"raw.orders"}))
    >>> written = (TableRef("", "", "stg_orders"), TableRef("", "raw", "orders"))
    >>> refs, diags = resolve_references(written, Site("m", "m.sql", ""), cat)
    >>> [(r.kind, r.name) for r in refs]
    [('model', 'stg_orders'), ('source', 'raw.orders')]

Works on :class:`TableRef` records (found by :mod:`.tables`, cached with the parse) rather
than trees, so a warm compile resolves references without parsing. A CTE shadows a model
where the warehouse makes it visible (``WITH stg_orders AS (...) SELECT * FROM stg_orders``
reads the CTE, while ``stg_orders`` inside that CTE's own body is the model; see
:func:`rocky_engine.compiler.tables.names_cte`). Anything else is R102/R103/R105 with a
did-you-mean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rocky_engine.compiler.ir import Reference, TableRef
from rocky_engine.compiler.positions import Site
from rocky_engine.errors import Diagnostic, Subject


@dataclass(frozen=True)
class Catalog:
    """The relations a reference may name: lower-case model names, source schemas and tables."""

    models: frozenset[str]
    source_schemas: frozenset[str]
    sources: frozenset[str]  # "schema.table"


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

    # The subject is the relation the reference names (``raw.orders``, ``stg_orders``).
    named = (Subject(".".join(p for p in (ref.catalog.lower(), db, name) if p)),)

    def at(code: str, message: str, hint: str) -> Diagnostic:
        if ref.offset >= 0:
            return site.at(code, message, offset=ref.offset, width=ref.width, hint=hint,
                           subjects=named)
        return site.at(code, message, line=1, col=1, hint=hint, subjects=named)

    if ref.catalog:
        return None, at("R103", f"`{ref.text}`: three-part names are not allowed in models",
                        "write `schema.table` for a declared source, or a model name")
    if not db:
        if name in catalog.models:
            return Reference("model", name), None
        guess = _close(name, catalog.models | catalog.sources)
        hint = f"did you mean `{guess}`?" if guess else \
            "a bare name must be a model in models/; sources are written `schema.table`"
        return None, at("R102", f"unknown model `{ref.name}`", hint)
    fqn = f"{db}.{name}"
    if db in catalog.source_schemas:
        if fqn in catalog.sources:
            return Reference("source", fqn), None
        tables = {s.split(".", 1)[1] for s in catalog.sources if s.startswith(db + ".")}
        guess = _close(name, tables)
        hint = f"did you mean `{db}.{guess}`?" if guess else \
            f"declare it under [tables.{ref.name}] in the sources file for `{db}`"
        return None, at("R105", f"source table `{fqn}` is not declared", hint)
    guess = _close(fqn, catalog.sources) or _close(db, catalog.source_schemas)
    if guess and "." not in guess:
        guess = f"{guess}.{name}"
    hint = f"did you mean `{guess}`?" if guess else \
        f"declare schema `{ref.db}` in a file under sources/"
    return None, at("R103", f"source schema `{ref.db}` is not declared (in `{fqn}`)", hint)


def _close(word: str, candidates: set[str] | frozenset[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
