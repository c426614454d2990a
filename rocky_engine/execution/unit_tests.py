"""Unit tests: given rows for a model's inputs, the model must return the expected rows.

Each test runs in a throwaway schema: every input the model reads (models and sources)
becomes a table there, filled from ``given`` with the input's column types (columns not
given are NULL, inputs not given are empty); the model SQL is bound to those tables and
materialised; expected and actual rows are compared on the expected columns only,
order-insensitively (``EXCEPT ALL`` both ways, expected values cast to the actual
column types). The schema is dropped afterwards whatever happens.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import ParseError

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.config import UnitTest
from rocky_engine.errors import WarehouseError
from rocky_engine.execution.data_tests import EXAMPLE_ROWS, TestResult
from rocky_engine.execution.refs import ParsedModel, bind
from rocky_engine.project import Project

if TYPE_CHECKING:
    from rocky_engine.compiler.target import TargetModels

_ACTUAL, _EXPECTED = "rocky__actual", "rocky__expected"


def run_unit_test(project: Project, adapter: WarehouseAdapter, parsed: ParsedModel,
                  test: UnitTest, *, input_types: Mapping[str, Mapping[str, str]],
                  target_models: TargetModels | None = None) -> TestResult:
    """Run one unit test of ``parsed``; ``input_types[ref]`` are the known input columns.

    ``target_models`` gives the qualified tree when the warehouse speaks another dialect.
    """
    model, name = parsed.name, test.name
    given = {k.lower(): v for k, v in test.given.items()}
    inputs = sorted(parsed.model_refs | parsed.source_refs)
    unknown = sorted(set(given) - set(inputs))
    if unknown:
        return TestResult(model, name, "unit", "error",
                          message=f"given {', '.join(unknown)}, which {model} does not read "
                                  f"(it reads {', '.join(inputs) or 'nothing'})")
    schema = f"_rocky_ut_{uuid.uuid4().hex[:10]}"
    try:
        adapter.create_schema(schema)
        models_map: dict[str, tuple[str, str]] = {}
        sources_map: dict[str, tuple[str, str]] = {}
        for ref in inputs:
            rel = "src__" + ref.replace(".", "__") if "." in ref else ref
            (sources_map if "." in ref else models_map)[ref] = (schema, rel)
            types = _input_columns(input_types.get(ref, {}), given.get(ref, []))
            adapter.create_table_as(schema, rel, _rows_query(types, given.get(ref, []),
                                                             adapter.dialect))
        query = target_models.bound(parsed.name, models_map, sources_map) \
            if target_models is not None else bind(parsed.tree, models_map, sources_map)
        adapter.create_table_as(schema, _ACTUAL, query)
        return _compare(adapter, schema, model, test)
    except WarehouseError as exc:
        return TestResult(model, name, "unit", "error", message=exc.message)
    finally:
        try:
            adapter.drop_schema(schema, cascade=True)
        except WarehouseError:
            pass  # the schema was never created; nothing to clean


def _compare(adapter: WarehouseAdapter, schema: str, model: str, test: UnitTest) -> TestResult:
    catalog = adapter.table(schema, _ACTUAL)
    actual_types = {c.name.lower(): c.type for c in (catalog.columns if catalog else ())}
    if not test.expect:
        n = adapter.row_count(schema, _ACTUAL)
        if n == 0:
            return TestResult(model, test.name, "unit", "pass")
        cols, rows = adapter.fetch_with_columns(
            exp.select(exp.Star()).from_(table_ref(schema, _ACTUAL)).limit(EXAMPLE_ROWS))
        return TestResult(model, test.name, "unit", "fail", n,
                          f"expected no rows, got {n}", tuple(cols), tuple(rows))
    columns = list(dict.fromkeys(k.lower() for row in test.expect for k in row))
    missing_cols = [c for c in columns if c not in actual_types]
    if missing_cols:
        return TestResult(model, test.name, "unit", "fail",
                          message=f"{model} has no column(s) {', '.join(missing_cols)} "
                                  f"(it returns {', '.join(actual_types)})")
    expect_rows = [{k.lower(): v for k, v in row.items()} for row in test.expect]
    adapter.create_table_as(schema, _EXPECTED, _rows_query(
        {c: actual_types[c] for c in columns}, expect_rows, adapter.dialect))

    def side(table: str) -> exp.Select:
        return exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(
            table_ref(schema, table))

    cols, missing = adapter.fetch_with_columns(side(_EXPECTED).except_(side(_ACTUAL),
                                                                       distinct=False))
    _, extra = adapter.fetch_with_columns(side(_ACTUAL).except_(side(_EXPECTED),
                                                                distinct=False))
    if not missing and not extra:
        return TestResult(model, test.name, "unit", "pass")
    examples = tuple(("missing", *r) for r in missing[:EXAMPLE_ROWS]) + \
        tuple(("unexpected", *r) for r in extra[:EXAMPLE_ROWS])
    return TestResult(
        model, test.name, "unit", "fail", len(missing) + len(extra),
        f"{len(missing)} expected row(s) missing, {len(extra)} unexpected row(s)",
        ("row", *cols), examples)


def _input_columns(known: Mapping[str, str], rows: list[dict[str, Any]]) -> dict[str, str]:
    """Declared/inferred columns first, then any given column they lack (typed by value)."""
    out = {k.lower(): v for k, v in known.items()}
    for row in rows:
        for key, value in row.items():
            if key.lower() not in out:
                out[key.lower()] = _type_of(value)
    return out or {"rocky__empty": "INTEGER"}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, _dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, _dt.date):
        return "DATE"
    return "VARCHAR"


def _datatype(text: str, dialect: str) -> exp.DataType:
    try:
        return exp.DataType.build(text, dialect=dialect)
    except (ParseError, ValueError):
        return exp.DataType.build("VARCHAR")


def _literal(value: Any) -> exp.Expr:
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return exp.Literal.string(value.isoformat())
    return exp.convert(value)


def _rows_query(types: Mapping[str, str], rows: list[dict[str, Any]],
                dialect: str) -> exp.Query:
    """``SELECT CAST(v AS t) AS c, …`` per row, glued with UNION ALL (empty: WHERE FALSE)."""
    built = {c: _datatype(t, dialect) for c, t in types.items()}
    if not rows:
        return exp.select(*[exp.cast(exp.null(), t).as_(c, quoted=True)
                            for c, t in built.items()]).where(exp.false())
    selects = []
    for row in rows:
        low = {k.lower(): v for k, v in row.items()}
        selects.append(exp.select(*[
            exp.cast(_literal(low.get(c)) if c in low else exp.null(), t).as_(c, quoted=True)
            for c, t in built.items()]))
    query: exp.Query = selects[0]
    for s in selects[1:]:
        query = query.union(s, distinct=False)
    return query
