"""``extract_lineage`` on qualified trees built here (no compiler): one test per construct."""

from __future__ import annotations

import pytest

from rocky_engine.lineage.edges import compose
from rocky_engine.lineage.extract import ColumnEdge, extract_lineage
from tests.lineage.corpus import qualified_tree, relation_of

SCHEMA = {
    "raw": {
        "orders": {"id": "INT", "customer_id": "INT", "amount": "DECIMAL(10,2)",
                   "status": "VARCHAR", "order_date": "DATE"},
        "customers": {"id": "INT", "name": "VARCHAR", "country": "VARCHAR"},
        "events": {"id": "INT", "tags": "VARCHAR[]"},
    },
}


def edges(sql: str, model: str = "m") -> set[tuple[str, str, str]]:
    found = extract_lineage(model, qualified_tree(sql, SCHEMA), relation_of)
    assert all(isinstance(e, ColumnEdge) for e in found)
    return {(e.kind, e.source, e.target) for e in found}


def value(sql: str) -> set[tuple[str, str, str]]:
    return {e for e in edges(sql) if e[0] not in ("filter", "join", "group")}


def test_rename_is_copy() -> None:
    assert edges("SELECT id AS order_id FROM raw.orders") == {
        ("copy", "raw.orders.id", "m.order_id")}


def test_star_expands_to_every_column() -> None:
    assert edges("SELECT * FROM raw.customers") == {
        ("copy", "raw.customers.id", "m.id"), ("copy", "raw.customers.name", "m.name"),
        ("copy", "raw.customers.country", "m.country")}


@pytest.mark.parametrize("expr", ["CAST(amount AS INT)", "TRY_CAST(amount AS INT)",
                                  "amount::INT"])
def test_cast_of_a_column_is_cast(expr: str) -> None:
    assert edges(f"SELECT {expr} AS a FROM raw.orders") == {("cast", "raw.orders.amount", "m.a")}


def test_function_is_transform_even_under_cast() -> None:
    assert edges("SELECT CAST(UPPER(status) AS TEXT) AS s FROM raw.orders") == {
        ("transform", "raw.orders.status", "m.s")}


def test_case_coalesce_and_multi_argument_functions_read_every_argument() -> None:
    got = edges("SELECT CASE WHEN status = 'x' THEN amount END AS a, "
                "COALESCE(customer_id, orders.id) AS b, CONCAT(status, name) AS c "
                "FROM raw.orders JOIN raw.customers ON orders.customer_id = customers.id")
    assert {("transform", "raw.orders.status", "m.a"), ("transform", "raw.orders.amount", "m.a"),
            ("transform", "raw.orders.customer_id", "m.b"), ("transform", "raw.orders.id", "m.b"),
            ("transform", "raw.orders.status", "m.c"),
            ("transform", "raw.customers.name", "m.c")} <= got


def test_cte_chain_composes_kinds_and_follows_renames() -> None:
    sql = """WITH a AS (SELECT amount AS x FROM raw.orders),
                  b AS (SELECT CAST(x AS DOUBLE) AS y FROM a),
                  c AS (SELECT y AS z, SUM(y) AS total FROM b GROUP BY y)
             SELECT z AS final, total FROM c"""
    assert value(sql) == {("cast", "raw.orders.amount", "m.final"),
                          ("aggregate", "raw.orders.amount", "m.total")}
    assert ("group", "raw.orders.amount", "m.final") in edges(sql)


def test_cte_used_twice_feeds_both_columns() -> None:
    sql = """WITH t AS (SELECT id, amount FROM raw.orders)
             SELECT a.amount AS a1, b.amount AS b1 FROM t AS a JOIN t AS b ON a.id = b.id"""
    got = edges(sql)
    assert {("copy", "raw.orders.amount", "m.a1"), ("copy", "raw.orders.amount", "m.b1"),
            ("join", "raw.orders.id", "m.a1"), ("join", "raw.orders.id", "m.b1")} == got


def test_union_maps_positionally() -> None:
    sql = ("SELECT id AS k, amount AS v FROM raw.orders "
           "UNION ALL SELECT id, LENGTH(name) FROM raw.customers")
    assert edges(sql) == {("copy", "raw.orders.id", "m.k"), ("copy", "raw.customers.id", "m.k"),
                          ("copy", "raw.orders.amount", "m.v"),
                          ("transform", "raw.customers.name", "m.v")}


def test_window_value_and_keys_are_window() -> None:
    got = edges("SELECT SUM(amount) OVER (PARTITION BY customer_id ORDER BY order_date) AS w "
                "FROM raw.orders")
    assert got == {("window", "raw.orders.amount", "m.w"),
                   ("window", "raw.orders.customer_id", "m.w"),
                   ("window", "raw.orders.order_date", "m.w")}


def test_aggregate_beats_window_when_composed() -> None:
    got = value("SELECT SUM(SUM(amount)) OVER (ORDER BY order_date) AS w FROM raw.orders "
                "GROUP BY order_date")
    assert ("aggregate", "raw.orders.amount", "m.w") in got
    assert ("window", "raw.orders.order_date", "m.w") in got


def test_influence_edges_reach_every_output_column() -> None:
    got = edges("SELECT o.id, c.name FROM raw.orders AS o JOIN raw.customers AS c "
                "ON o.customer_id = c.id WHERE o.status = 'ok'")
    for target in ("m.id", "m.name"):
        assert ("join", "raw.orders.customer_id", target) in got
        assert ("join", "raw.customers.id", target) in got
        assert ("filter", "raw.orders.status", target) in got


def test_group_and_having() -> None:
    got = edges("SELECT customer_id, COUNT(*) AS n FROM raw.orders GROUP BY customer_id "
                "HAVING MAX(amount) > 1")
    assert ("group", "raw.orders.customer_id", "m.n") in got
    assert ("filter", "raw.orders.amount", "m.customer_id") in got
    assert not any(e[2] == "m.n" and e[0] in ("copy", "aggregate") for e in got)


def test_filter_inside_cte_propagates_out() -> None:
    got = edges("WITH f AS (SELECT id FROM raw.orders WHERE status = 'x') SELECT id FROM f")
    assert ("filter", "raw.orders.status", "m.id") in got


def test_subquery_filter_and_scalar_subquery() -> None:
    got = edges("SELECT id, (SELECT MAX(amount) FROM raw.orders) AS top FROM raw.customers "
                "WHERE id IN (SELECT customer_id FROM raw.orders WHERE status = 'x')")
    assert ("aggregate", "raw.orders.amount", "m.top") in got
    assert ("filter", "raw.orders.customer_id", "m.id") in got
    assert ("filter", "raw.orders.status", "m.top") in got


def test_literals_have_no_edges() -> None:
    assert edges("SELECT 1 AS one, 'a' AS b, NULL AS c") == set()


def test_recursive_cte_terminates() -> None:
    sql = """WITH RECURSIVE r AS (SELECT id AS n FROM raw.orders
                                UNION ALL SELECT n + 1 FROM r WHERE n < 10)
             SELECT n FROM r"""
    assert ("copy", "raw.orders.id", "m.n") in edges(sql)


def test_unnest_reads_its_argument_and_values_are_literals() -> None:
    got = edges("SELECT e.id, t.tag FROM raw.events AS e, UNNEST(e.tags) AS t(tag)")
    assert ("transform", "raw.events.tags", "m.tag") in got
    assert edges("SELECT a FROM (VALUES (1), (2)) AS v(a)") == set()


def test_value_edges_come_first_and_are_unique() -> None:
    found = extract_lineage("m", qualified_tree(
        "SELECT amount + amount AS a FROM raw.orders WHERE amount > 0", SCHEMA), relation_of)
    kinds = [e.kind for e in found]
    assert kinds == ["transform", "filter"]


def test_compose_rule() -> None:
    assert compose("copy", "copy") == "copy"
    assert compose("copy", "window") == "window"
    assert compose("cast", "transform") == "transform"
    assert compose("aggregate", "cast") == "aggregate"
    assert compose("window", "transform") == "window"
