"""The importer's pure pieces: seed type inference, test mapping, reference translation."""

from __future__ import annotations

import pytest

from rocky_engine.importers.dbt._build import _incremental
from rocky_engine.importers.dbt._ir import DbtModel, DbtTest, DbtUnitTest
from rocky_engine.importers.dbt._sources import infer_seed_types
from rocky_engine.importers.dbt._tests import map_test, map_unit_test, parse_input
from rocky_engine.importers.dbt._translate import Translator


def test_seed_types_like_dbt() -> None:
    # What dbt-duckdb 1.11 gives the same CSV (checked against `dbt seed` + DESCRIBE).
    header = ["i", "big", "f", "d", "ts", "b", "s", "empty", "mixed", "yesno", "na"]
    rows = [["1", "3000000000", "1.5", "2024-01-02", "2024-01-02 10:00:00", "true", "x", "",
             "1", "yes", "1.5"],
            ["+2", "1", "2.0", "2024-02-03", "2024-01-02T11:00", "FALSE", "y", "", "a", "no",
             "NA"]]
    assert infer_seed_types(header, rows) == {
        "i": "INTEGER", "big": "BIGINT", "f": "DOUBLE", "d": "DATE", "ts": "TIMESTAMP",
        "b": "BOOLEAN", "s": "VARCHAR", "empty": "INTEGER", "mixed": "VARCHAR",
        "yesno": "VARCHAR", "na": "VARCHAR"}


def _t(test: str, column: str | None = None, ns: str | None = None, **kw) -> DbtTest:
    return DbtTest(test, ns, "m", column, kw)


def _resolve(text: str) -> str | None:
    parsed = parse_input(text)
    return {("ref", ("customers",)): "customers",
            ("source", ("raw", "c")): "raw.c"}.get(parsed) if parsed else None  # type: ignore[arg-type]


@pytest.mark.parametrize("test,expected", [
    (_t("not_null", "a"), {"type": "not_null", "column": "a"}),
    (_t("unique", "a"), {"type": "unique", "column": "a"}),
    (_t("accepted_values", "s", values=["x", "y"]),
     {"type": "accepted_values", "column": "s", "values": ["x", "y"]}),
    (_t("relationships", "cid", to="ref('customers')", field="id"),
     {"type": "relationships", "column": "cid", "to": "customers", "field": "id"}),
    (_t("relationships", "cid", to="source('raw', 'c')", field="id"),
     {"type": "relationships", "column": "cid", "to": "raw.c", "field": "id"}),
    (_t("expression_is_true", ns="dbt_utils", expression="a > 0"),
     {"type": "expression", "expression": "a > 0"}),
    (_t("expression_is_true", "a", ns="dbt_utils", expression="> 0"),
     {"type": "expression", "expression": "a > 0"}),
    (_t("accepted_range", "a", ns="dbt_utils", min_value=0, max_value=9, inclusive=False),
     {"type": "expression", "expression": "a > 0 AND a < 9"}),
    (_t("unique_combination_of_columns", ns="dbt_utils", combination_of_columns=["a", "b"]),
     {"type": "unique", "columns": ["a", "b"]}),
])
def test_generic_tests_map(test: DbtTest, expected: dict) -> None:
    assert map_test(test, _resolve) == (expected, None)


@pytest.mark.parametrize("test,reason", [
    (_t("is_even", "a", ns="my_pkg"), "custom generic test"),
    (_t("not_null", "a", ns="dbt_expectations"), "custom generic test"),
    (_t("relationships", "a", to="ref('ghost')", field="id"), "not an imported model"),
    (_t("accepted_values", "a", values=[1], quote=False), "quote: false"),
    (DbtTest("not_null", None, "m", "a", {}, where="x > 1"), "where: x > 1"),
    (_t("recency", ns="dbt_utils"), "no rocky equivalent"),
])
def test_tests_not_mapped_say_why(test: DbtTest, reason: str) -> None:
    mapped, why = map_test(test, _resolve)
    assert mapped is None and reason in (why or "")


def test_warn_severity_kept() -> None:
    t = DbtTest("not_null", None, "m", "a", {}, severity="warn")
    assert map_test(t, _resolve)[0] == {"type": "not_null", "column": "a", "severity": "warn"}


def test_unit_test_mapping() -> None:
    u = DbtUnitTest("t", "m", (("ref('customers')", "dict", ({"id": 1},)),), "dict", ({"n": 1},))
    assert map_unit_test(u, _resolve) == ({"name": "t", "given": {"customers": [{"id": 1}]},
                                           "expect": [{"n": 1}]}, None)
    csv = DbtUnitTest("t", "m", (("ref('customers')", "csv", ()),), "dict", ())
    assert "csv" in (map_unit_test(csv, _resolve)[1] or "")


def test_parse_input_forms() -> None:
    assert parse_input("ref('a')") == ("ref", ("a",))
    assert parse_input('ref("pkg", "a")') == ("ref", ("a",))
    assert parse_input("ref('a', v=2)") == ("ref", ("a",))
    assert parse_input("source('s', 't')") == ("source", ("s", "t"))
    assert parse_input("this") is None


def _model(**inc: object) -> DbtModel:
    return DbtModel("m", "p", "models/m.sql", ("main", "m"), "incremental", "select 1",
                    incremental=dict(inc))


def test_incremental_config_mapping() -> None:
    assert _incremental(_model(unique_key="id")) == {"strategy": "merge", "unique_key": ["id"]}
    assert _incremental(_model(unique_key=["a", "b"], incremental_strategy="delete+insert",
                               on_schema_change="append_new_columns")) == {
        "strategy": "delete+insert", "unique_key": ["a", "b"],
        "on_schema_change": "append_new_columns"}
    assert _incremental(_model(incremental_strategy="append")) is None  # no key, no watermark
    raw = ("select * from x {% if is_incremental() %}\n  where loaded_at >= (select max(loaded_at)"
           " from {{ this }})\n{% endif %}")
    assert _incremental(_model(incremental_strategy="append", raw_code=raw)) == {
        "strategy": "append", "watermark": "loaded_at"}
    assert _incremental(_model(unique_key="id", raw_code=raw)) == {
        "strategy": "merge", "unique_key": ["id"], "watermark": "loaded_at"}


def test_translator_keeps_aliases_and_ctes() -> None:
    t = Translator({("main", "stg_orders"): "stg_orders", ("main", "cust_v2"): "customers"},
                   "duckdb", "duckdb")
    out = t.translate('with x as (select * from "db"."main"."stg_orders") '
                      'select cust_v2.id from x join "db"."main"."cust_v2" on true', "m")
    assert out.refused is None and set(out.upstream) == {"stg_orders", "customers"}
    assert "FROM stg_orders" in (out.sql or "") and "JOIN customers AS cust_v2" in (out.sql or "")
    assert "reads main.nowhere" in (t.translate("select * from main.nowhere", "m").refused or "")
    assert "not a single SELECT" in (t.translate("delete from x", "m").refused or "")
    assert "does not parse" in (t.translate("select (", "m").refused or "")
