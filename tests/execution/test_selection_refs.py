from __future__ import annotations

import pytest

from rocky_engine.dag import DAG
from rocky_engine.errors import ProblemError, UsageError
from rocky_engine.execution.refs import bind, parse_model_sql
from rocky_engine.execution.selection import Selector, select_models

DAG_ = DAG({"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["c", "d"]})


@pytest.mark.parametrize("sel, expected", [
    (["b"], {"b"}),
    (["+b"], {"a", "b"}),
    (["b+"], {"b", "c", "e"}),
    (["+c+"], {"a", "b", "c", "e"}),
    (["a", "d"], {"a", "d"}),
    (["a,d"], {"a", "d"}),
    (["d+", "+b"], {"a", "b", "d", "e"}),
    (["B"], {"b"}),
])
def test_selectors(sel: list[str], expected: set[str]) -> None:
    got = select_models(DAG_, sel)
    assert set(got) == expected
    order = DAG_.order()
    assert got == sorted(got, key=order.index)  # always DAG order


def test_no_selector_is_everything() -> None:
    assert select_models(DAG_, None) == DAG_.order()
    assert select_models(DAG_, []) == DAG_.order()


def test_unknown_model_suggests() -> None:
    with pytest.raises(UsageError) as err:
        select_models(DAG({"customers": []}), ["+custmers"])
    assert "custmers" in err.value.message and "customers" in (err.value.hint or "")


@pytest.mark.parametrize("bad", ["+", "++", "a+b", ""])
def test_bad_selector(bad: str) -> None:
    with pytest.raises(UsageError):
        Selector.parse(bad)


def test_bind_models_sources_and_cte_shadowing() -> None:
    sql = ("WITH stg AS (SELECT * FROM stg_orders) "
           "SELECT o.id, stg.id FROM stg JOIN raw.orders o ON o.id = stg.id "
           "JOIN stg_orders ON stg_orders.id = o.id")
    parsed = parse_model_sql("m", sql, "duckdb", {"stg_orders", "stg"}, {"raw"})
    # "stg" is a CTE here, not the model of the same name.
    assert parsed.model_refs == {"stg_orders"}
    assert parsed.source_refs == {"raw.orders"}
    out = bind(parsed.tree, {"stg_orders": ("main__b", "stg_orders"), "stg": ("x", "y")},
               {"raw.orders": ("ut", "src__raw__orders")}).sql("duckdb")
    assert '"main__b"."stg_orders" AS stg_orders' in out
    assert '"ut"."src__raw__orders" AS o' in out
    assert '"x"' not in out
    # The parsed tree itself is never modified.
    assert '"main__b"' not in parsed.tree.sql("duckdb")


def test_parse_refuses_non_select() -> None:
    with pytest.raises(ProblemError):
        parse_model_sql("m", "DELETE FROM t", "duckdb", set(), set())
    with pytest.raises(ProblemError):
        parse_model_sql("m", "SELECT FROM (", "duckdb", set(), set())
