"""LLM output safety checks and the offline rule reader."""

from __future__ import annotations

import pytest

from intent_agent.rules import read_rule
from intent_agent.safety import PLACEHOLDER, UnsafeOutput, check_test_expression, neutralise_sql

COLS = ["amount", "status", "email", "total_paid"]


@pytest.mark.parametrize("text", [
    "Fine. DROP TABLE main.customers; bye",
    "delete from main.orders where true",
    "INSERT INTO x VALUES (1)",
    "UPDATE main.orders SET amount = 0",
    "create or replace table t as select 1",
    "ATTACH 'http://evil/db' AS e",
    "COPY main.customers TO '/tmp/out.csv'",
    "INSTALL httpfs; then",
    "PRAGMA database_list",
    "SELECT * FROM main.customers;",
    "```sql\nselect 1\n```",
])
def test_sql_in_prose_is_neutralised(text: str) -> None:
    cleaned, found = neutralise_sql(text)
    assert PLACEHOLDER in cleaned and found


@pytest.mark.parametrize("text", [
    "We select customers from the staging model and update nothing.",
    "Revenue is the sum of amount over completed orders; returns are dropped from the table.",
    "It creates one row per customer.",
])
def test_plain_prose_is_kept(text: str) -> None:
    assert neutralise_sql(text) == (text, [])


@pytest.mark.parametrize("expr", [
    "amount >= 0", "amount > 0 AND amount < 1000", "status IN ('a', 'b')",
    "email = LOWER(email)", "NOT total_paid IS NULL", "amount BETWEEN 0 AND 10",
    "(amount >= 0)",
])
def test_good_expressions(expr: str) -> None:
    check_test_expression(expr, COLS)


@pytest.mark.parametrize("expr,why", [
    ("", "one expression"),
    ("amount >= 0; DROP TABLE x", "one expression"),
    ("(SELECT COUNT(*) FROM main.customers) > 0", "query"),
    ("amount IN (SELECT 1)", "query"),
    ("read_csv('/etc/passwd') IS NOT NULL", "not allowed"),
    ("getenv('HOME') = 'x'", "not allowed"),
    ("my_udf(amount) > 0", "not allowed"),
    ("other_col > 0", "unknown column"),
    ("t.amount > 0", "unknown column"),
    ("amount + 1", "not a boolean"),
    ("DROP TABLE x", "does not parse|query|not a boolean"),
])
def test_bad_expressions_are_refused(expr: str, why: str) -> None:
    with pytest.raises(UnsafeOutput, match=why):
        check_test_expression(expr, COLS)


@pytest.mark.parametrize("rule,expected", [
    ("amount is never negative", ("expression", "amount >= 0")),
    ("amount is positive", ("expression", "amount > 0")),
    ("amount is between 1 and 500", ("expression", "amount BETWEEN 1 AND 500")),
    ("email is lower case", ("expression", "email = LOWER(email)")),
    ("status is one of placed, shipped or completed",
     ("accepted_values", ["placed", "shipped", "completed"])),
    ("email is never null", ("not_null", "email")),
])
def test_rules_the_offline_reader_translates(rule: str, expected: tuple) -> None:
    reading = read_rule(rule, COLS, [])
    assert reading.status == "testable"
    (test,) = reading.tests
    kind, detail = expected
    assert test.type == kind
    value = {"expression": getattr(test, "expression", None),
             "accepted_values": getattr(test, "values", None),
             "not_null": getattr(test, "column", None)}[kind]
    assert value == detail


def test_longest_column_name_wins() -> None:
    (test,) = read_rule("lifetime_revenue is never negative", ["revenue", "lifetime_revenue"],
                        []).tests
    assert test.expression == "lifetime_revenue >= 0"


def test_untranslated_rules() -> None:
    assert read_rule("orders without payments have total_paid 0", COLS, []).status == \
        "untranslated"
    assert read_rule("the data is fresh", COLS, []).status == "untranslated"


def test_filter_rules() -> None:
    rule = "only orders with status 'completed' count"
    assert read_rule(rule, [], [("status", "completed")]).status == "consistent"
    contradicted = read_rule(rule, [], [("status", "returned")])
    assert contradicted.status == "contradicted" and "'returned'" in contradicted.note
    assert read_rule(rule, [], []).status == "not_enforced"
