"""Data tests from sidecars: each is a query for the *failing* rows of one relation.

``not_null``, ``unique`` (one or several columns), ``accepted_values``,
``relationships`` (to a model or a ``schema.table``), ``expression`` (a boolean SQL
expression every row must satisfy; NULL counts as satisfied, as in ``WHERE NOT``) and
``row_count`` (min/max). Every query is a sqlglot tree; sidecar text (the expression)
is parsed as exactly one expression and anything else is rejected.

    >>> parse_user_expression("lifetime_revenue >= 0", "duckdb").sql()
    'lifetime_revenue >= 0'
    >>> parse_user_expression("1; DROP TABLE x", "duckdb")
    Traceback (most recent call last):
    ...
    rocky_engine.errors.ConfigError: expected exactly one SQL expression, got 2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.config import (  # test_name: re-exported for callers
    IDENT_RE,
    AcceptedValuesTest,
    ExpressionTest,
    NotNullTest,
    RelationshipsTest,
    RowCountTest,
    UniqueTest,
    test_name,
)
from rocky_engine.errors import ConfigError, WarehouseError

EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class TestResult:
    """One data or unit test outcome. ``status``: pass | fail | warn | error."""

    __test__ = False  # not a pytest class

    model: str
    name: str
    kind: str
    status: str
    failing_rows: int = 0
    message: str = ""
    columns: tuple[str, ...] = ()
    examples: tuple[tuple[Any, ...], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model, "name": self.name, "kind": self.kind, "status": self.status,
            "failing_rows": self.failing_rows, "message": self.message,
            "examples": [dict(zip(self.columns, (_jsonable(v) for v in row)))
                         for row in self.examples],
        }

    def render(self) -> str:
        label = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "error": "ERROR"}[self.status]
        text = f"  {label:<5} {self.model}: {self.name}"
        if self.message:
            text += f" — {self.message}"
        for row in self.examples:
            text += "\n        " + ", ".join(f"{c}={v!r}" for c, v in zip(self.columns, row))
        return text


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def parse_user_expression(text: str, dialect: str) -> exp.Expr:
    """One boolean-ish SQL expression from user (or LLM) text; statements are refused."""
    try:
        parsed = [e for e in sqlglot.parse(text, dialect=dialect) if e is not None]
    except (ParseError, TokenError) as exc:
        raise ConfigError(f"cannot parse expression {text!r}: {exc}") from None
    if len(parsed) != 1:
        raise ConfigError(f"expected exactly one SQL expression, got {len(parsed)}")
    tree = parsed[0]
    if not isinstance(tree, exp.Condition) or isinstance(tree, exp.Query):
        raise ConfigError(f"expected an expression, got a {type(tree).__name__} statement")
    if any(isinstance(node, (exp.Query, exp.Table)) for node in tree.walk()):
        raise ConfigError("subqueries and table references are not allowed in a test expression")
    return tree


def run_data_test(adapter: WarehouseAdapter, test: Any, model: str, schema: str,
                  model_names: set[str], dialect: str) -> TestResult:
    """Run one sidecar test against ``schema.model``; never raises for a bad test."""
    name, kind = test_name(test), str(test.type)
    try:
        status, count, message, cols, rows = _evaluate(adapter, test, model, schema,
                                                       model_names, dialect)
    except (WarehouseError, ConfigError) as exc:
        return TestResult(model, name, kind, "error", message=exc.message)
    if status == "fail" and test.severity == "warn":
        status = "warn"
    return TestResult(model, name, kind, status, count, message, cols, rows)


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _evaluate(adapter: WarehouseAdapter, test: Any, model: str, schema: str,
              model_names: set[str], dialect: str
              ) -> tuple[str, int, str, tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    rel = table_ref(schema, model)
    if isinstance(test, RowCountTest):
        n = adapter.row_count(schema, model)
        too_few = test.min is not None and n < test.min
        too_many = test.max is not None and n > test.max
        if too_few or too_many:
            bound = f"at least {test.min}" if too_few else f"at most {test.max}"
            return "fail", n, f"{n} rows, expected {bound}", (), ()
        return "pass", 0, f"{n} rows", (), ()
    if isinstance(test, UniqueTest):
        keys = [_col(k) for k in test.key]
        dupes = (exp.select(*keys, exp.Count(this=exp.Star()).as_("n")).from_(rel)
                 .group_by(*keys).having(exp.Count(this=exp.Star()) > 1))
        groups, total = adapter.fetchall(
            exp.select(exp.Count(this=exp.Star()), exp.Sum(this=exp.column("n")))
            .from_(dupes.subquery("d")))[0]
        if not groups:
            return "pass", 0, "", (), ()
        cols, rows = adapter.fetch_with_columns(dupes.order_by(exp.Ordered(
            this=exp.column("n"), desc=True)).limit(EXAMPLE_ROWS))
        return ("fail", int(total), f"{groups} duplicated key value(s) over {int(total)} rows",
                tuple(cols), tuple(rows))
    if isinstance(test, AcceptedValuesTest):
        c = _col(test.column)
        bad = (exp.select(c, exp.Count(this=exp.Star()).as_("n")).from_(rel)
               .where(exp.and_(exp.Not(this=c.is_(exp.null())),
                               exp.Not(this=c.isin(*[exp.convert(v) for v in test.values]))))
               .group_by(c))
        groups, total = adapter.fetchall(
            exp.select(exp.Count(this=exp.Star()), exp.Sum(this=exp.column("n")))
            .from_(bad.subquery("d")))[0]
        if not groups:
            return "pass", 0, "", (), ()
        cols, rows = adapter.fetch_with_columns(bad.limit(EXAMPLE_ROWS))
        return ("fail", int(total), f"{int(total)} rows with {groups} value(s) not accepted",
                tuple(cols), tuple(rows))
    if isinstance(test, NotNullTest):
        where: exp.Expr = _col(test.column).is_(exp.null())
        label = f"{test.column} is NULL"
    elif isinstance(test, ExpressionTest):
        where = exp.Not(this=exp.Paren(this=parse_user_expression(test.expression, dialect)))
        label = f"violate {test.expression}"
    elif isinstance(test, RelationshipsTest):
        to = _resolve_to(test.to, schema, model_names)
        child = exp.column(test.column, table="c", quoted=True)
        parent = exp.column(test.field, table="p", quoted=True)
        source: exp.Expr = exp.alias_(rel, "c", table=True)
        exists = exp.Exists(this=exp.select(exp.Literal.number(1))
                            .from_(exp.alias_(to, "p", table=True)).where(parent.eq(child)))
        where = exp.and_(exp.Not(this=child.is_(exp.null())), exp.Not(this=exists))
        label = f"{test.column} not found in {test.to}.{test.field}"
    else:  # pragma: no cover - the sidecar union is closed
        raise ConfigError(f"unknown test type {test.type!r}")
    failing = exp.select(exp.Star()).from_(
        source if isinstance(test, RelationshipsTest) else rel).where(where)
    (count,) = adapter.fetchall(exp.select(exp.Count(this=exp.Star()))
                                .from_(failing.subquery("f")))[0]
    if not count:
        return "pass", 0, "", (), ()
    cols, rows = adapter.fetch_with_columns(failing.limit(EXAMPLE_ROWS))
    return "fail", int(count), f"{count} rows where {label}", tuple(cols), tuple(rows)


def _resolve_to(to: str, schema: str, model_names: set[str]) -> exp.Table:
    parts = to.split(".")
    if not all(IDENT_RE.match(p) for p in parts) or len(parts) > 2:
        raise ConfigError(f"relationships `to` must be a model name or schema.table, got {to!r}")
    if len(parts) == 2:
        return table_ref(parts[0], parts[1])
    if parts[0].lower() not in model_names:
        raise ConfigError(f"relationships `to` names no model: {to!r}")
    return table_ref(schema, parts[0].lower())
