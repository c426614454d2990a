"""A CTE named like the relation it reads resolves as the warehouse resolves it.

A non-recursive CTE is not visible inside its own body (nor in the CTEs written before
it), so in ``WITH stg_orders AS (SELECT * FROM stg_orders) SELECT ... FROM stg_orders``
the inner name is the *model* and the outer one the CTE. Each case is compiled, built in
DuckDB and compared with DuckDB's own ``DESCRIBE`` of the built model; the DAG edge and
the column lineage follow the same resolution.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from rocky_engine.compiler.tables import names_cte, table_refs
from rocky_engine.compiler.types import normalize
from rocky_engine.context import Context
from rocky_engine.execution.refs import bind, bound_sql, parse_model_sql

CASES: dict[str, tuple[str, list[str], dict[str, list[str]]]] = {
    # name: (sql, depends_on, {column: source columns its value lineage must reach})
    "shadow_model": (
        ("WITH stg_orders AS (SELECT * FROM stg_orders WHERE amount > 0)\n"
        "SELECT order_id, amount FROM stg_orders"),
        ["stg_orders"], {"amount": ["raw.orders.amount"], "order_id": ["raw.orders.id"]}),
    "shadow_payments": (
        ("WITH stg_payments AS (SELECT * FROM stg_payments)\n"
        "SELECT payment_id, paid_amount * 2 AS doubled FROM stg_payments"),
        ["stg_payments"], {"doubled": ["raw.payments.amount"]}),
    "shadow_source_name": (
        "WITH orders AS (SELECT * FROM raw.orders)\nSELECT id, amount FROM orders",
        [], {"amount": ["raw.orders.amount"]}),
    # The second CTE sees the first (its `stg_customers` is the CTE) but not itself (its
    # `stg_orders` is the model).
    "shadow_in_order": (
        ("WITH stg_customers AS (SELECT customer_id, country_code FROM stg_customers),\n"
        "stg_orders AS (\n"
        "    SELECT o.order_id, o.amount, c.country_code\n"
        "    FROM stg_orders AS o JOIN stg_customers AS c ON o.customer_id = c.customer_id)\n"
        "SELECT order_id, amount, country_code FROM stg_orders"),
        ["stg_customers", "stg_orders"],
        {"amount": ["raw.orders.amount"], "country_code": ["raw.customers.country"]}),
    "shadow_in_subquery": (
        ("SELECT t.order_id, t.amount FROM (\n"
        "    WITH stg_orders AS (SELECT * FROM stg_orders WHERE status = 'completed')\n"
        "    SELECT order_id, amount FROM stg_orders) AS t"),
        ["stg_orders"], {"amount": ["raw.orders.amount"]}),
    # WITH RECURSIVE keeps its own rule: the CTE sees itself, not the model.
    "shadow_recursive": (
        ("WITH RECURSIVE stg_orders AS (\n"
        "    SELECT 1 AS n UNION ALL SELECT n + 1 FROM stg_orders WHERE n < 5)\n"
        "SELECT n FROM stg_orders"),
        [], {}),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    from rocky_engine.scaffold import init_project

    root = tmp_path_factory.mktemp("shadow") / "shop"
    init_project(root, example="shop")
    for name, (sql, _, _) in CASES.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n", encoding="utf-8")
    ctx = Context.load(root)
    ctx.seed()
    result = ctx.compile(use_cache=False)
    run = ctx.run()
    return ctx, result, run


def test_compiles_clean(built) -> None:
    _, result, run = built
    problems = result.errors + result.warnings
    assert problems == [], [d.headline() for d in problems]
    assert run.ok


@pytest.mark.parametrize("name", sorted(CASES))
def test_dag_edges_follow_scoping(built, name: str) -> None:
    _, result, _ = built
    model = result.models[name]
    assert sorted(model.depends_on) == sorted(CASES[name][1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_types_match_duckdb_describe(built, name: str) -> None:
    ctx, result, _ = built
    compiled = [(c.name, normalize(c.type)) for c in result.models[name].columns]
    with ctx.adapter() as adapter:
        described = adapter.fetchall(f'DESCRIBE "main"."{name}"')
    assert compiled == [(row[0], normalize(row[1])) for row in described]


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n][2]))
def test_lineage_reaches_sources_through_the_cte(built, name: str) -> None:
    ctx, _, _ = built
    graph = ctx.lineage_graph()
    for column, sources in CASES[name][2].items():
        reached = {n for n in graph.upstream(f"{name}.{column}").nodes}
        for source in sources:
            assert source in reached, (name, column, sorted(reached))


def _tables(sql: str) -> list[tuple[exp.Table, bool]]:
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    return [(t, names_cte(t)) for t in tree.find_all(exp.Table)]


def test_names_cte_scoping_rules() -> None:
    found = _tables("WITH a AS (SELECT * FROM a), b AS (SELECT * FROM a JOIN b ON 1=1) "
                    "SELECT * FROM b, a")
    # Inside a: `a` is outside. Inside b: `a` is the CTE, `b` outside. Body: both CTEs.
    by_pos = sorted(found, key=lambda p: p[0].this.meta["start"])
    assert [flag for _, flag in by_pos] == [False, True, False, True, True]
    # A qualified name is never a CTE.
    assert [f for _, f in _tables("WITH a AS (SELECT 1) SELECT * FROM raw.a")] == [False]
    # A CTE of a subquery is not visible outside it.
    inner = _tables("SELECT * FROM (WITH a AS (SELECT 1 AS x) SELECT * FROM a) AS s, a")
    by_pos = sorted(inner, key=lambda p: p[0].this.meta["start"])
    assert [f for _, f in by_pos] == [True, False]
    assert [f for _, f in _tables("WITH RECURSIVE a AS (SELECT 1 UNION ALL SELECT 1 FROM a) "
                                  "SELECT * FROM a")] == [True, True]


def test_table_refs_keep_the_inner_model_reference() -> None:
    tree = sqlglot.parse_one("WITH m AS (SELECT * FROM m) SELECT * FROM m")
    refs = table_refs(tree)
    assert [(r.name, r.offset) for r in refs] == [("m", 25)]


def test_build_binds_the_inner_reference_to_the_target_schema() -> None:
    sql = CASES["shadow_model"][0]
    parsed = parse_model_sql("shadow_model", sql, "duckdb", {"stg_orders"}, set())
    assert parsed.model_refs == frozenset({"stg_orders"})
    target = {"stg_orders": ("main__dev", "stg_orders")}
    spliced = bound_sql(parsed, target, "duckdb")
    assert spliced is not None
    assert spliced.count('"main__dev"."stg_orders"') == 1
    assert spliced.rstrip().endswith("FROM stg_orders")  # the outer one is the CTE
    tree_sql = bind(parsed.tree, target).sql("duckdb")
    assert tree_sql.count('"main__dev"."stg_orders"') == 1


def test_branch_run_reads_the_branch_model(built) -> None:
    """On a branch the inner reference reads the branch's model, not prod's."""
    ctx, _, _ = built
    ctx.branch_create("dev")
    # Rebuild stg_orders on the branch only, keeping three orders: the branch build of
    # shadow_model must read that (prod keeps every order).
    path = ctx.project.root / "models" / "stg_orders.sql"
    path.write_text(path.read_text(encoding="utf-8") + "WHERE id <= 3\n", encoding="utf-8")
    branch_ctx = Context.load(ctx.project.root)
    assert branch_ctx.run(select=["stg_orders+"], branch="dev").ok
    with branch_ctx.adapter() as adapter:
        on_branch = adapter.fetchall('SELECT count(*) FROM "main__dev"."shadow_model"')[0][0]
        in_prod = adapter.fetchall('SELECT count(*) FROM "main"."shadow_model"')[0][0]
    assert on_branch <= 3 < in_prod
