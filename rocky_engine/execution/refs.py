"""Parse a model once and bind its references to the schema it is built in.

Model SQL names other models by bare name (``FROM stg_orders``) and sources as
``schema.table`` (``FROM raw.orders``). Building into prod (``main``), a branch
(``main__b``) or a unit-test schema means pointing those names at other objects.

A build does not need a syntax tree: the parse records *where* each table reference sits
in the text (:class:`TableRef`), and :func:`bound_sql` splices the target names in at
those spans — the model's own SQL, untouched elsewhere, in its own dialect. The facts are
cached per SQL text (:mod:`rocky_engine.execution.refcache`), so a warm ``rocky run``
parses nothing. The tree is still there, parsed on first use, for :func:`bind` (unit
tests, another dialect than the warehouse's).

    >>> parsed = parse_model_sql("m", "SELECT id FROM stg_orders", "duckdb", {"stg_orders"}, set())
    >>> sorted(parsed.model_refs)
    ['stg_orders']
    >>> bound_sql(parsed, {"stg_orders": ("main__b", "stg_orders")}, "duckdb")
    'SELECT id FROM "main__b"."stg_orders" AS stg_orders'
    >>> bind(parsed.tree, {"stg_orders": ("main__b", "stg_orders")}).sql("duckdb")
    'SELECT id FROM "main__b"."stg_orders" AS stg_orders'
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from rocky_engine.compiler.tables import names_cte
from rocky_engine.errors import Location, ProblemError


@dataclass(frozen=True)
class TableRef:
    """One table reference as written: lower-case parts and the span of its name.

    ``plain`` is False for what never names a model or source (a table function, a
    catalog-qualified name). ``start``/``end`` (inclusive) locate the name identifier in
    the SQL text, -1 when the parser gave no trustworthy position. ``cte`` is True when a
    CTE visible at that place has the name (then it is not a model).
    """

    name: str
    db: str | None
    plain: bool
    start: int
    end: int
    aliased: bool
    cte: bool = False


@dataclass(frozen=True)
class SqlScan:
    """What the run needs from one model's SQL text, independent of the project.

    ``statement_end`` is where the SELECT ends (trailing ``;`` and comments dropped), or
    None when the text cannot be spliced (several statements).
    """

    tables: tuple[TableRef, ...]
    statement_end: int | None


@dataclass(frozen=True)
class ParsedModel:
    """A model's SELECT, what it reads (lower-case names) and where it names them."""

    name: str
    model_refs: frozenset[str]
    source_refs: frozenset[str]  # "schema.table"
    sql: str = ""
    dialect: str = ""
    scan: SqlScan | None = None
    _tree: list[exp.Query] = field(default_factory=list, repr=False, compare=False)

    @property
    def tree(self) -> exp.Query:
        """The parsed SELECT (parsed on first use; never modified by :func:`bind`)."""
        if not self._tree:
            tree = sqlglot.parse_one(self.sql, dialect=self.dialect)
            assert isinstance(tree, exp.Query)
            self._tree.append(tree)
        return self._tree[0]


def parse_model_sql(name: str, sql: str, dialect: str, model_names: set[str],
                    source_schemas: set[str], *, path: str = "",
                    scan: SqlScan | None = None) -> ParsedModel:
    """Classify one model's references; nothing is rewritten yet.

    ``scan`` is a cached :func:`scan_sql` of the same text and dialect (then nothing is
    parsed).
    """
    tree = None
    if scan is None:
        tree = _parse(name, sql, dialect, path)
        scan = _scan(tree, sql, dialect)
    models: set[str] = set()
    sources: set[str] = set()
    for ref in scan.tables:
        kind, key = _classify_ref(ref, model_names, source_schemas)
        if kind == "model":
            models.add(key)
        elif kind == "source":
            sources.add(key)
    parsed = ParsedModel(name, frozenset(models), frozenset(sources), sql, dialect, scan)
    if tree is not None:
        parsed._tree.append(tree)
    return parsed


def scan_sql(name: str, sql: str, dialect: str, *, path: str = "") -> SqlScan:
    """Parse ``sql`` and record its table references (raises like :func:`parse_model_sql`)."""
    return _scan(_parse(name, sql, dialect, path), sql, dialect)


def bound_sql(parsed: ParsedModel, models: Mapping[str, tuple[str, str]],
              dialect: str) -> str | None:
    """The model's SELECT text with its model references pointing at ``models`` targets.

    Same meaning as ``bind(parsed.tree, models).sql(dialect)`` — a rewritten reference
    keeps its original name as alias — but spliced into the text the user wrote. None
    when that is not possible (another dialect than the model's, a reference without a
    position): use :func:`bind` then.
    """
    scan = parsed.scan
    if scan is None or scan.statement_end is None or dialect != parsed.dialect:
        return None
    sql = parsed.sql
    pieces: list[str] = []
    at = 0
    for ref in scan.tables:
        if _classify_ref(ref, parsed.model_refs, frozenset())[0] != "model":
            continue
        target = models.get(ref.name)
        if target is None:
            continue
        if ref.start < at:
            return None  # no position (or overlapping): let the tree do it
        pieces.append(sql[at:ref.start])
        pieces.append(_qualified(target[0], target[1], dialect))
        if not ref.aliased:
            pieces.append(" AS " + sql[ref.start:ref.end + 1])
        at = ref.end + 1
    pieces.append(sql[at:scan.statement_end])
    return "".join(pieces)


def bind(tree: exp.Query, models: Mapping[str, tuple[str, str]],
         sources: Mapping[str, tuple[str, str]] | None = None) -> exp.Query:
    """A copy of ``tree`` whose model (and optionally source) references point elsewhere.

    ``models`` maps a lower-case model name to ``(schema, relation)``; ``sources`` maps
    ``"schema.table"`` the same way. A rewritten table keeps its original name as alias,
    so ``stg_orders.amount`` still resolves.
    """
    out = tree.copy()
    model_names = set(models)
    source_schemas = {k.split(".", 1)[0] for k in sources or {}}
    for table in list(out.find_all(exp.Table)):
        kind, key = _classify(table, model_names, source_schemas)
        target = models.get(key) if kind == "model" else (
            (sources or {}).get(key) if kind == "source" else None)
        if target is None:
            continue
        _retarget(table, target)
    return out


@contextmanager
def bound(parsed: ParsedModel, models: Mapping[str, tuple[str, str]]) -> Iterator[exp.Query]:
    """Like :func:`bind` for model references, without copying: ``parsed.tree`` is
    rebound in place for the duration of the block and restored afterwards.
    """
    tree = parsed.tree
    saved: list[tuple[exp.Table, dict[str, Any]]] = []
    for table in list(tree.find_all(exp.Table)):
        kind, key = _classify(table, parsed.model_refs, set())
        target = models.get(key) if kind == "model" else None
        if target is None:
            continue
        saved.append((table, {k: table.args.get(k) for k in ("this", "db", "catalog",
                                                               "alias")}))
        _retarget(table, target)
    parent, arg_key = tree.parent, tree.arg_key
    try:
        yield tree
    finally:
        for table, args in saved:
            for key, value in args.items():
                table.set(key, value)
        tree.parent, tree.arg_key = parent, arg_key  # building a statement re-parents it


def _parse(name: str, sql: str, dialect: str, path: str) -> exp.Query:
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
    return tree


def _scan(tree: exp.Query, sql: str, dialect: str) -> SqlScan:
    refs = []
    for table in tree.find_all(exp.Table):
        this, db = table.this, table.args.get("db")
        plain = isinstance(this, exp.Identifier) and not table.args.get("catalog")
        start, end = _span(this, sql) if plain else (-1, -1)
        refs.append(TableRef(table.name.lower(), db.name.lower() if db is not None else None,
                             plain, start, end, bool(table.args.get("alias")),
                             plain and db is None and names_cte(table)))
    # Text order, so splicing walks the SQL once; unknown positions (-1) sort first and
    # make bound_sql fall back to the tree.
    refs.sort(key=lambda r: r.start)
    return SqlScan(tuple(refs), _statement_end(sql, dialect))


def _span(ident: exp.Expr, sql: str) -> tuple[int, int]:
    """The identifier's span in ``sql`` if the text there really is that identifier."""
    meta = ident.meta if isinstance(ident, exp.Identifier) else {}
    start, end = meta.get("start"), meta.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end:
        return -1, -1
    text = sql[start:end + 1]
    name = ident.name
    if ident.args.get("quoted"):
        # An escaped quote inside the name fails this test: the tree does that one.
        ok = len(text) >= 2 and text[0] in "\"`[" and text[1:-1] == name
    else:
        ok = text.lower() == name.lower()
    return (start, end) if ok else (-1, -1)


def _statement_end(sql: str, dialect: str) -> int | None:
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except Exception:  # noqa: BLE001 - it parsed, so this is a tokenizer quirk: no splicing
        return None
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    if not tokens or any(t.token_type == TokenType.SEMICOLON for t in tokens):
        return None
    return tokens[-1].end + 1


@functools.lru_cache(maxsize=65536)
def _qualified(schema: str, name: str, dialect: str) -> str:
    return exp.Table(this=exp.to_identifier(name, quoted=True),
                     db=exp.to_identifier(schema, quoted=True)).sql(dialect=dialect)


def _retarget(table: exp.Table, target: tuple[str, str]) -> None:
    original = table.name
    table.set("this", exp.to_identifier(target[1], quoted=True))
    table.set("db", exp.to_identifier(target[0], quoted=True))
    table.set("catalog", None)
    if not table.args.get("alias"):
        table.set("alias", exp.TableAlias(this=exp.to_identifier(original)))


def _classify_ref(ref: TableRef, model_names: set[str] | frozenset[str],
                  source_schemas: set[str] | frozenset[str]) -> tuple[str, str]:
    # The same decision as _classify, from the recorded facts.
    if not ref.plain:
        return "other", ""
    if ref.db is None:
        if ref.name in model_names and not ref.cte:
            return "model", ref.name
        return "other", ""
    if ref.db in source_schemas:
        return "source", f"{ref.db}.{ref.name}"
    return "other", ""


def _classify(table: exp.Table, model_names: set[str] | frozenset[str],
              source_schemas: set[str]) -> tuple[str, str]:
    if not isinstance(table.this, exp.Identifier) or table.args.get("catalog"):
        return "other", ""
    name = table.name.lower()
    db = table.args.get("db")
    if db is None:
        if name in model_names and not names_cte(table):
            return "model", name
        return "other", ""
    schema = db.name.lower()
    if schema in source_schemas:
        return "source", f"{schema}.{name}"
    return "other", ""
