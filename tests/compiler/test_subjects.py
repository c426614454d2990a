"""Every diagnostic code names its subjects: the lineage node ids it is about.

Drift blames a model's new errors on upstream changes through these (never through the
message text), so each code is checked here against the corpus case that emits it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rocky_engine.codes import CODES
from rocky_engine.errors import Subject
from tests.compiler.conftest import CORPUS, compile_dir

# corpus case -> (model, subject node ids) of its diagnostic with the case's code
EXPECTED: dict[str, list[tuple[str, list[str]]]] = {
    "I140_upstream_failed": [("bad", ["bad_upstream"])],
    "R101_syntax_error": [("bad", ["bad"])],
    "R101_unterminated_string": [("bad", ["bad"])],
    "R102_unknown_model": [("bad", ["stg_order"])],
    "R103_three_part_name": [("bad", ["warehouse.raw.orders"])],
    "R103_undeclared_source_schema": [("bad", ["rawdata.orders"])],
    "R104_unknown_column": [("bad", ["stg_orders.amout"])],
    "R104_unknown_column_in_cte": [("bad", ["stg_orders.status"])],
    "R104_unknown_column_in_where": [("bad", ["stg_orders.stauts"])],
    "R104_unknown_qualified_column": [("bad", ["stg_orders.totl"])],
    "R105_unknown_source_table": [("bad", ["raw.order"])],
    "R106_ambiguous_column": [("bad", ["raw.orders.id", "raw.payments.id"])],
    "R107_duplicate_output_column": [("bad", ["bad.amount", "stg_orders.amount"])],
    "R108_dependency_cycle": [("cycle_a", ["cycle_a", "cycle_b"]),
                              ("cycle_b", ["cycle_a", "cycle_b"])],
    "R109_not_a_query": [("bad", ["bad"])],
    "R110_date_greater_than_number": [("bad", ["stg_orders.order_date"])],
    "R110_varchar_equals_number": [("bad", ["stg_orders.status"])],
    "R111_varchar_plus_number": [("bad", ["stg_orders.status"])],
    "R111_timestamp_plus_integer": [("bad", ["raw.payments.paid_at"])],
    "R112_sum_of_varchar": [("bad", ["stg_orders.status"])],
    "R113_union_arity": [("bad", ["stg_orders", "raw.payments"])],
    "R114_union_types": [("bad", ["stg_orders.amount", "raw.payments.method"])],
    "R115_join_key_types": [("bad", ["stg_orders.customer_id", "stg_customers.email"])],
    "R120_contract_column_missing": [("bad", ["bad.revenue"])],
    "R121_contract_type_mismatch": [("bad", ["bad.order_id"])],
    "R122_contract_nullability": [("bad", ["bad.status"])],
    "R122_contract_nullable_outer_join": [("bad", ["bad.order_id"])],
    "R123_invalid_contract_type": [("bad", ["bad.order_id"])],
    "R550_case_text_and_number": [("bad", ["stg_orders.amount", "stg_orders.status"])],
    "R551_round_of_varchar": [("bad", ["stg_orders.status"])],
    "W130_unknown_type": [("bad", ["bad.scored", "stg_orders.amount"])],
    "W131_stale_intent": [("bad", ["bad"])],
}

# Codes without a corpus case, with the files that make them.
EXTRA: dict[str, tuple[dict[str, str], str, list[str]]] = {
    "W132": ({"models/bad.sql": "SELECT customer_id, COUNT(*) FROM stg_orders GROUP BY 1\n"},
             "bad", ["bad._col_1"]),
    "R124": ({"models/bad.sql": "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x\n"},
             "bad", ["bad"]),
    # [incremental] checks: about the model (located in its sidecar).
    "W601": ({"models/bad.sql": "SELECT CASE WHEN customer_id > 1 THEN 1 END AS k "
                                "FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[incremental]\n'
                                 'strategy = "delete+insert"\nunique_key = ["k"]\n'},
             "bad", ["bad"]),
    "R600": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["nope"]\n'}, "bad", ["bad"]),
    "R601": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["id"]\nwatermark = "nope"\n'}, "bad", ["bad"]),
    "R602": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["d"]\n'}, "bad", ["bad"]),
    "R603": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["id"]\nwatermark = "s"\n'}, "bad", ["bad"]),
    "R604": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["id"]\nwatermark = "n"\nlookback = "2 days"\n'}, "bad", ["bad"]),
    "W600": ({"models/bad.sql": "SELECT customer_id AS id, CAST(1.5 AS DOUBLE) AS d, 'x' AS s, customer_id AS n FROM stg_customers\n",
              "models/bad.toml": 'materialized = "incremental"\n[intent]\npurpose = "x"\ngrain = ["id"]\n[incremental]\nunique_key = ["n"]\n'}, "bad", ["bad"]),
}


def _case(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "p"
    shutil.copytree(CORPUS / "base", root)
    shutil.copytree(CORPUS / "broken" / name, root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("expected.txt"))
    return root


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_corpus_case_names_its_subjects(tmp_path: Path, case: str) -> None:
    code = case.split("_", 1)[0]
    result = compile_dir(_case(tmp_path, case), use_cache=False)
    got = [(d.model, [s.node for s in d.subjects]) for d in result.diagnostics if d.code == code]
    assert got == EXPECTED[case]
    for d in result.diagnostics:
        assert d.subjects, f"{d.code} has no subjects"
        assert d.to_json()["subjects"] == [s.to_json() for s in d.subjects]


@pytest.mark.parametrize("code", sorted(EXTRA))
def test_code_outside_the_corpus_names_its_subjects(make_project, code: str) -> None:  # type: ignore[no-untyped-def]
    files, model, nodes = EXTRA[code]
    result = compile_dir(make_project(files), use_cache=False)
    got = [(d.model, [s.node for s in d.subjects]) for d in result.diagnostics if d.code == code]
    assert got == [(model, nodes)]


def test_internal_error_is_about_the_model(make_project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rocky_engine.compiler import model as model_mod

    def boom(tree, site, tracer=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr(model_mod, "check_types", boom)
    result = compile_dir(make_project(), use_cache=False)
    assert {(d.code, tuple(s.node for s in d.subjects)) for d in result.diagnostics} == {
        ("R199", ("stg_orders",)), ("R199", ("stg_customers",))}


def test_not_expressible_on_the_target_is_about_the_model(make_project) -> None:  # type: ignore[no-untyped-def]
    from rocky_engine.compiler.target import check_target
    from rocky_engine.project import load_project

    root = make_project({"models/odd.sql": "SELECT customer_id, {'a': 1} AS s\n"
                                           "FROM stg_customers\n"})
    project = load_project(root)
    compiled = compile_dir(root, use_cache=False)
    found = [d for d in check_target(project, compiled, "postgres") if d.code == "R400"]
    assert found and all([s.node for s in d.subjects] == ["odd"] for d in found)


def test_every_code_is_checked_here() -> None:
    covered = {c.split("_", 1)[0] for c in EXPECTED} | set(EXTRA) | {"R199", "R400"}
    assert set(CODES) - covered == set()


def test_check_through_a_cte_names_the_source_column(make_project) -> None:  # type: ignore[no-untyped-def]
    sql = ("WITH o AS (SELECT status AS s FROM raw.orders)\n"
           "SELECT s * 2 AS x FROM o\n")
    result = compile_dir(make_project({"models/bad.sql": sql}), use_cache=False)
    [d] = [d for d in result.diagnostics if d.code == "R111"]
    assert d.subjects == (Subject("raw.orders", "status"),)
