"""Parse a model once and bind its references to the schema it is built in.

Model SQL names other models by bare name (``FROM stg_orders``) and sources as
``schema.table`` (``FROM raw.orders``). Building into prod (``main``), a branch
(``main__b``) or a unit-test schema means pointing those names at other objects: the
tree is parsed once and each build gets a rebound copy.

    >>> parsed = parse_model_sql("m", "SELECT id FROM stg_orders", "duckdb", {"stg_orders"}, set())
    >>> sorted(parsed.model_refs)
    ['stg_orders']
    >>> bind(parsed.tree, {"stg_orders": ("main__b", "stg_orders")}).sql("duckdb")
    'SELECT id FROM "main__b"."stg_orders" AS stg_orders'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from rocky_engine.errors import Location, ProblemError


@dataclass(frozen=True)
class ParsedModel:
    """A model's parsed SELECT and what it reads (lower-case names)."""

    name: str
    tree: exp.Query
    model_refs: frozenset[str]
    source_refs: frozenset[str]  # "schema.table"


def parse_model_sql(name: str, sql: str, dialect: str, model_names: set[str],
                    source_schemas: set[str], *, path: str = "") -> ParsedModel:
    """Parse one model; references are classified, nothing is rewritten yet."""
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise ProblemError(
            f"model {name} does not parse: {err.get('description', exc)}",
            location=Location(path, int(err.get("line") or 0), int(err.get("col") or 0)),
            hint="run `rocky compile` for the full diagnostics",
        ) from None
    if not isinstance(tree, exp.Query):
        raise ProblemError(f"model {name} is not a SELECT statement", location=Location(path, 1),
                           hint="a model is exactly one SELECT (CTEs are fine)")
    ctes = _cte_names(tree)
    models: set[str] = set()
    sources: set[str] = set()
    for table in tree.find_all(exp.Table):
        kind, key = _classify(table, ctes, model_names, source_schemas)
        if kind == "model":
            models.add(key)
        elif kind == "source":
            sources.add(key)
    return ParsedModel(name, tree, frozenset(models), frozenset(sources))


def bind(tree: exp.Query, models: Mapping[str, tuple[str, str]],
         sources: Mapping[str, tuple[str, str]] | None = None) -> exp.Query:
    """A copy of ``tree`` whose model (and optionally source) references point elsewhere.

    ``models`` maps a lower-case model name to ``(schema, relation)``; ``sources`` maps
    ``"schema.table"`` the same way. A rewritten table keeps its original name as alias,
    so ``stg_orders.amount`` still resolves.
    """
    out = tree.copy()
    ctes = _cte_names(out)
    model_names = set(models)
    source_schemas = {k.split(".", 1)[0] for k in sources or {}}
    for table in list(out.find_all(exp.Table)):
        kind, key = _classify(table, ctes, model_names, source_schemas)
        target = models.get(key) if kind == "model" else (
            (sources or {}).get(key) if kind == "source" else None)
        if target is None:
            continue
        original = table.name
        table.set("this", exp.to_identifier(target[1], quoted=True))
        table.set("db", exp.to_identifier(target[0], quoted=True))
        table.set("catalog", None)
        if not table.args.get("alias"):
            table.set("alias", exp.TableAlias(this=exp.to_identifier(original)))
    return out


@contextmanager
def bound(parsed: ParsedModel, models: Mapping[str, tuple[str, str]]) -> Iterator[exp.Query]:
    """Like :func:`bind` for model references, without copying: ``parsed.tree`` is
    rebound in place for the duration of the block and restored afterwards.

    A build generates SQL once from the tree; copying a large tree per model costs more
    than the rest of the bookkeeping together.
    """
    tree = parsed.tree
    saved: list[tuple[exp.Table, dict[str, Any]]] = []
    ctes = _cte_names(tree)
    for table in list(tree.find_all(exp.Table)):
        kind, key = _classify(table, ctes, parsed.model_refs, set())
        target = models.get(key) if kind == "model" else None
        if target is None:
            continue
        saved.append((table, {k: table.args.get(k) for k in ("this", "db", "catalog",
                                                               "alias")}))
        original = table.name
        table.set("this", exp.to_identifier(target[1], quoted=True))
        table.set("db", exp.to_identifier(target[0], quoted=True))
        table.set("catalog", None)
        if not table.args.get("alias"):
            table.set("alias", exp.TableAlias(this=exp.to_identifier(original)))
    parent, arg_key = tree.parent, tree.arg_key
    try:
        yield tree
    finally:
        for table, args in saved:
            for key, value in args.items():
                table.set(key, value)
        tree.parent, tree.arg_key = parent, arg_key  # building a statement re-parents it


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _classify(table: exp.Table, ctes: set[str], model_names: set[str] | frozenset[str],
              source_schemas: set[str]) -> tuple[str, str]:
    if not isinstance(table.this, exp.Identifier) or table.args.get("catalog"):
        return "other", ""
    name = table.name.lower()
    db = table.args.get("db")
    if db is None:
        if name in model_names and name not in ctes:
            return "model", name
        return "other", ""
    schema = db.name.lower()
    if schema in source_schemas:
        return "source", f"{schema}.{name}"
    return "other", ""
