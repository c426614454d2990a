from __future__ import annotations

import json
from pathlib import Path

import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.errors import ConfigError
from rocky_engine.execution.data_tests import parse_user_expression

from .conftest import make_ctx, snapshot

FAILING_TESTS = '''
[[tests]]
type = "not_null"
column = "first_order_date"

[[tests]]
type = "unique"
columns = ["country_code", "revenue_rank_in_country"]

[[tests]]
type = "unique"
column = "country_code"

[[tests]]
type = "accepted_values"
column = "country_code"
values = ["US", "GB"]

[[tests]]
type = "relationships"
column = "customer_id"
to = "raw.orders"
field = "customer_id"

[[tests]]
type = "expression"
expression = "completed_orders > 1"

[[tests]]
type = "row_count"
max = 10

[[tests]]
type = "row_count"
min = 1
max = 100

[[tests]]
type = "expression"
expression = "lifetime_revenue > 1000000"
severity = "warn"
name = "big spenders only"

[[tests]]
type = "relationships"
column = "customer_id"
to = "stg_customers"
field = "customer_id"
'''


def _add_tests(root: Path, text: str, model: str = "customers") -> None:
    side = root / "models" / f"{model}.toml"
    side.write_text(side.read_text() + text)


def test_example_project_tests_pass(built_shop: Path, run_cli) -> None:
    report = make_ctx(built_shop).test()
    assert report.ok, [r.render() for r in report.failures()]
    kinds = {r.kind for r in report.results}
    assert {"unique", "not_null", "accepted_values", "relationships", "expression",
            "row_count", "unit"} <= kinds
    r = run_cli("test", "--project", str(built_shop), "--format", "json")
    assert r.exit_code == 0
    payload = json.loads(r.stdout)
    assert payload["ok"] and payload["counts"]["fail"] == 0


def test_failing_data_tests_report_counts_and_examples(built_shop: Path, run_cli) -> None:
    _add_tests(built_shop, FAILING_TESTS)
    report = make_ctx(built_shop).test(["customers"])
    by = {r.name: r for r in report.results}
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        (no_orders,) = a.fetchall("SELECT count(*) FROM main.customers "
                                  "WHERE first_order_date IS NULL")[0]
        (not_us_gb,) = a.fetchall("SELECT count(*) FROM main.customers "
                                  "WHERE country_code NOT IN ('US', 'GB')")[0]
    nn = by["not_null(first_order_date)"]
    assert nn.status == "fail" and nn.failing_rows == no_orders > 0
    assert 0 < len(nn.examples) <= 5 and "customer_id" in nn.columns
    assert by["unique(country_code, revenue_rank_in_country)"].status in ("pass", "fail")
    uq = by["unique(country_code)"]
    assert uq.status == "fail" and uq.columns == ("country_code", "n") and uq.examples
    av = by["accepted_values(country_code)"]
    assert av.status == "fail" and av.failing_rows == not_us_gb
    rel = by["relationships(customer_id -> raw.orders.customer_id)"]
    assert rel.status == "fail" and rel.failing_rows > 0
    assert by["relationships(customer_id -> stg_customers.customer_id)"].status == "pass"
    assert by["expression(completed_orders > 1)"].status == "fail"
    rc = by["row_count(max=10)"]
    assert rc.status == "fail" and "expected at most 10" in rc.message
    assert by["row_count(min=1, max=100)"].status == "pass"
    assert by["big spenders only"].status == "warn"
    assert not report.ok
    r = run_cli("test", "--project", str(built_shop), "-s", "customers")
    assert r.exit_code == 1
    assert "FAIL  customers: not_null(first_order_date)" in r.output


def test_warn_only_does_not_fail(built_shop: Path, run_cli) -> None:
    _add_tests(built_shop, '''
[[tests]]
type = "expression"
expression = "lifetime_revenue > 1000000"
severity = "warn"
''')
    r = run_cli("test", "--project", str(built_shop), "-s", "customers")
    assert r.exit_code == 0 and "1 warned" in r.output


@pytest.mark.parametrize("text", [
    "1; DROP TABLE main.customers",
    "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
    "DROP TABLE main.customers",
    "lifetime_revenue >= ",
])
def test_expression_tests_refuse_statements(built_shop: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        parse_user_expression(text, "duckdb")
    _add_tests(built_shop, f'\n[[tests]]\ntype = "expression"\nexpression = "{text}"\n')
    prod = snapshot(built_shop)
    report = make_ctx(built_shop).test(["customers"])
    bad = [r for r in report.results if r.kind == "expression" and r.status == "error"]
    assert len(bad) == 1 and not report.ok
    assert snapshot(built_shop) == prod


def test_missing_column_is_an_error_not_a_crash(built_shop: Path) -> None:
    _add_tests(built_shop, '\n[[tests]]\ntype = "not_null"\ncolumn = "no_such_column"\n')
    report = make_ctx(built_shop).test(["customers"])
    (err,) = [r for r in report.results if r.status == "error"]
    assert "no_such_column" in err.message


UNIT_FAIL = '''
[[unit_tests]]
name = "wrong expectation"
given.stg_customers = [{ customer_id = 7, customer_name = "Ada", country_code = "GB" }]
given.order_payments = [{ order_id = 1, customer_id = 7, status = "completed", amount = 10 }]
expect = [{ customer_id = 7, lifetime_revenue = 11 }]

[[unit_tests]]
name = "expects nothing but gets a row"
given.stg_customers = [{ customer_id = 7 }]
expect = []

[[unit_tests]]
name = "reads an input it does not have"
given.raw_orders = [{ id = 1 }]
expect = []

[[unit_tests]]
name = "no such output column"
given.stg_customers = [{ customer_id = 7 }]
expect = [{ customer_id = 7, nope = 1 }]

[[unit_tests]]
name = "customers without orders have zero revenue, any order of rows"
given.stg_customers = [{ customer_id = 2, country_code = "US" }, { customer_id = 1, country_code = "US" }]
expect = [{ customer_id = 1, lifetime_revenue = 0, completed_orders = 0 }, { customer_id = 2, lifetime_revenue = 0, completed_orders = 0 }]
'''


def test_unit_tests_pass_and_fail(seeded_shop: Path) -> None:
    # Unit tests do not need the models built: inputs come from the given rows.
    _add_tests(seeded_shop, UNIT_FAIL)
    report = make_ctx(seeded_shop).test(["customers"])
    by = {r.name: r for r in report.results if r.kind == "unit"}
    assert by["returned orders are not revenue"].status == "pass"
    wrong = by["wrong expectation"]
    assert wrong.status == "fail" and wrong.failing_rows == 2
    assert wrong.columns[0] == "row" and {e[0] for e in wrong.examples} == {
        "missing", "unexpected"}
    assert by["expects nothing but gets a row"].status == "fail"
    assert by["reads an input it does not have"].status == "error"
    assert "raw_orders" in by["reads an input it does not have"].message
    assert "nope" in by["no such output column"].message
    assert by["customers without orders have zero revenue, any order of rows"].status == "pass"
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        assert not [s for s in a.schemas() if s.startswith("_rocky_ut_")]


def test_unit_test_with_source_inputs(seeded_shop: Path) -> None:
    _add_tests(seeded_shop, '''
[[unit_tests]]
name = "status is lower-cased"
given."raw.orders" = [{ id = 1, customer_id = 2, status = "SHIPPED", amount = 5.5 }]
expect = [{ order_id = 1, status = "shipped", amount = 5.5 }]
''', model="stg_orders")
    report = make_ctx(seeded_shop).test(["stg_orders"])
    (unit,) = [r for r in report.results if r.kind == "unit"]
    assert unit.status == "pass", unit.render()
