"""Every type change x every kind of use: `rocky drift`'s verdict against DuckDB itself.

For each ordered pair of common types (integer family, decimal, double, varchar, date,
timestamp, boolean) a source column declared with the first type is retyped in the
warehouse to the second, and read by one model per kind of expression (copy, arithmetic,
comparison, join key, aggregate, window, CASE, function argument). Then:

* the model is ``broken`` in `rocky drift` exactly when DuckDB cannot build it on the
  retyped table (the model built before the change, or the case is not drift at all);
* when DuckDB builds it with a different output type, the model is at least ``affected``;
* every broken model's blame names the retyped column (structure, not text);
* the offline repair either casts back (and the patch builds with the old output types)
  or, when a cast would lose values, says ``needs_review`` — never a patch that fails.

All cases share one project, one warehouse and one `rocky drift` (two compiles), and the
DuckDB builds run in one in-memory database per side: a few seconds on 2 cores.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from rocky_engine.context import Context
from rocky_engine.drift import BROKEN

pytestmark = pytest.mark.slow

TYPES = {
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "dec": "DECIMAL(10,2)",
    "dbl": "DOUBLE",
    "str": "VARCHAR",
    "date": "DATE",
    "ts": "TIMESTAMP",
    "bool": "BOOLEAN",
}
# Three rows per type; the same values whatever the column's role, so a retyped column
# holds what a loader converting the old values would write.
VALUES = {
    "smallint": ["1", "2", "3"],
    "int": ["1", "2", "3"],
    "bigint": ["1", "2", "3"],
    "dec": ["1.50", "2.25", "3.00"],
    "dbl": ["1.5", "2.25", "3.0"],
    "str": ["'a1'", "'b2'", "'c3'"],
    "date": ["DATE '2024-01-01'", "DATE '2024-01-02'", "DATE '2024-01-03'"],
    "ts": ["TIMESTAMP '2024-01-01 10:00:00'", "TIMESTAMP '2024-01-02 11:00:00'",
           "TIMESTAMP '2024-01-03 12:00:00'"],
    "bool": ["true", "false", "true"],
}
# {c}: the retyped column; {k}: a companion column that keeps the old type.
USES = {
    "copy": "SELECT id, {c} AS v FROM raw.t",
    "arith_add": "SELECT id, {c} + 1 AS v FROM raw.t",
    "arith_mul": "SELECT id, {c} * 2 AS v FROM raw.t",
    "compare": "SELECT id, {c} < {k} AS v FROM raw.t",
    "filter": "SELECT id FROM raw.t WHERE {c} = {k}",
    "join_key": "SELECT a.id, b.id AS other FROM raw.t AS a JOIN raw.t AS b ON a.{c} = b.{k}",
    "sum": "SELECT SUM({c}) AS v FROM raw.t",
    "avg": "SELECT g, AVG({c}) AS v FROM raw.t GROUP BY g",
    "window_sum": "SELECT id, SUM({c}) OVER (PARTITION BY g) AS v FROM raw.t",
    "window_order": "SELECT id, ROW_NUMBER() OVER (ORDER BY {c}) AS v FROM raw.t",
    "case": "SELECT id, CASE WHEN id > 1 THEN {c} ELSE {k} END AS v FROM raw.t",
    "fn_abs": "SELECT id, ABS({c}) AS v FROM raw.t",
    "fn_coalesce": "SELECT id, COALESCE({c}, {k}) AS v FROM raw.t",
}
PAIRS = [(a, b) for a, b in itertools.permutations(TYPES, 2)]


@dataclass(frozen=True)
class Case:
    model: str
    use: str
    old: str
    new: str
    column: str
    sql: str


def _cases() -> list[Case]:
    out = []
    for (old, new), use in itertools.product(PAIRS, USES):
        column = f"c_{old}_{new}"
        sql = USES[use].format(c=column, k=f"k_{old}")
        out.append(Case(f"m_{use}_{old}_{new}", use, old, new, column, sql))
    return out


def _table_sql(live: bool) -> str:
    cols = ["id INTEGER", "g VARCHAR"]
    cols += [f"k_{t} {TYPES[t]}" for t in TYPES]
    cols += [f"c_{a}_{b} {TYPES[b if live else a]}" for a, b in PAIRS]
    rows = []
    for i in range(3):
        vals = [str(i + 1), f"'g{i % 2}'"] + [VALUES[t][i] for t in TYPES]
        vals += [VALUES[b if live else a][i] for a, b in PAIRS]
        rows.append("(" + ", ".join(vals) + ")")
    return (f"CREATE SCHEMA raw; CREATE TABLE raw.t ({', '.join(cols)}); "
            f"INSERT INTO raw.t VALUES {', '.join(rows)};")


def _build_all(conn: duckdb.DuckDBPyConnection, cases: list[Case]) -> dict[str, list[str] | None]:
    """Output types of each model built in ``conn`` (None when DuckDB cannot build it)."""
    conn.execute("CREATE SCHEMA out")
    built: dict[str, list[str] | None] = {}
    for case in cases:
        try:
            conn.execute(f"CREATE TABLE out.{case.model} AS {case.sql}")
            built[case.model] = [r[1] for r in conn.execute(
                f"DESCRIBE out.{case.model}").fetchall()]
        except duckdb.Error:
            built[case.model] = None
    return built


def _project(root: Path, cases: list[Case]) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        '[project]\nname = "matrix"\ndialect = "duckdb"\n\n'
        '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\nschema = "main"\n')
    lines = ['schema = "raw"', "", "[tables.t.columns]", 'id = "INTEGER"', 'g = "VARCHAR"']
    lines += [f'k_{t} = "{TYPES[t]}"' for t in TYPES]
    lines += [f'c_{a}_{b} = "{TYPES[a]}"' for a, b in PAIRS]
    (root / "sources" / "raw.toml").write_text("\n".join(lines) + "\n")
    for case in cases:
        (root / "models" / f"{case.model}.sql").write_text(case.sql + "\n")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cases = _cases()
    before = duckdb.connect()
    before.execute(_table_sql(live=False))
    after = duckdb.connect()
    after.execute(_table_sql(live=True))
    built_before = _build_all(before, cases)
    built_after = _build_all(after, cases)
    before.close()
    root = tmp_path_factory.mktemp("matrix") / "p"
    _project(root, cases)
    live = duckdb.connect(str(root / "warehouse.duckdb"))
    live.execute(_table_sql(live=True))
    live.close()
    ctx = Context.load(root)
    report = ctx.drift(read_values=False, record=False)
    return {"cases": cases, "before": built_before, "after": built_after, "report": report,
            "ctx": ctx, "after_conn": after}


def _verdicts(report: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in report.impact:  # type: ignore[attr-defined]
        if item.status == BROKEN or item.model not in out:
            out[item.model] = item.status
    return out


def test_every_retyped_column_is_a_change(matrix: dict[str, object]) -> None:
    report = matrix["report"]
    changed = {c.column for c in report.changes if c.kind == "column_type_changed"}  # type: ignore[attr-defined]
    assert changed == {f"c_{a}_{b}" for a, b in PAIRS}
    for c in report.changes:  # type: ignore[attr-defined]
        assert c.change in ("widening", "narrowing"), c


def test_broken_exactly_when_duckdb_cannot_build(matrix: dict[str, object]) -> None:
    cases: list[Case] = matrix["cases"]  # type: ignore[assignment]
    before, after = matrix["before"], matrix["after"]
    verdict = _verdicts(matrix["report"])
    wrong = []
    drift_cases = 0
    for case in cases:
        if before[case.model] is None:  # type: ignore[index]
            continue  # not a valid model before the change: not a drift case
        drift_cases += 1
        fails = after[case.model] is None  # type: ignore[index]
        says = verdict.get(case.model)
        if fails != (says == BROKEN):
            wrong.append(f"{case.model}: duckdb {'fails' if fails else 'builds'}, "
                         f"rocky says {says}  [{case.sql}]")
        elif not fails and after[case.model] != before[case.model] and says is None:  # type: ignore[index]
            wrong.append(f"{case.model}: output type {before[case.model]} -> "  # type: ignore[index]
                         f"{after[case.model]} but not reported  [{case.sql}]")  # type: ignore[index]
    assert drift_cases > 500
    assert wrong == [], f"{len(wrong)} of {drift_cases} disagree:\n" + "\n".join(wrong)


def test_broken_models_are_blamed_on_their_column(matrix: dict[str, object]) -> None:
    cases = {c.model: c for c in matrix["cases"]}  # type: ignore[attr-defined]
    report = matrix["report"]
    for item in report.impact:  # type: ignore[attr-defined]
        if item.status != BROKEN:
            continue
        case = cases[item.model]
        assert [(c.table, c.column) for c in item.causes] == [("raw.t", case.column)], item
        assert item.diagnostic is not None
        assert f"raw.t.{case.column}" in {s.node for s in item.diagnostic.subjects}, item


def test_offline_repair_casts_back_or_needs_review(matrix: dict[str, object]) -> None:
    from intent_agent.repair.changes import SchemaChange
    from intent_agent.repair.loop import _cast_checker
    from intent_agent.repair.offline import draft_model
    from intent_agent.repair.plan import ModelContext

    cases = {c.model: c for c in matrix["cases"]}  # type: ignore[attr-defined]
    before, conn = matrix["before"], matrix["after_conn"]
    real_check = _cast_checker(matrix["ctx"])
    memo: dict[tuple[str, str, str], object] = {}

    def check(table: str, column: str, to_type: str) -> object:
        key = (table, column, to_type)
        if key not in memo:
            memo[key] = real_check(table, column, to_type)
        return memo[key]

    broken = sorted({i.model for i in matrix["report"].impact if i.status == BROKEN})  # type: ignore[attr-defined]
    assert broken
    outcomes: dict[str, int] = {"patched": 0, "needs_review": 0}
    bad = []
    for model in broken:
        case = cases[model]
        change = SchemaChange("column_type_changed", "raw.t", case.column,
                              old_type=TYPES[case.old], new_type=TYPES[case.new])
        ctx = ModelContext(model, f"models/{model}.sql", case.sql, None, (), (), {},
                           (change,), (), (), (), (), ())
        patch, findings = draft_model(ctx, cast_check=check, uses=lambda m, c: [])
        if patch is None:
            # Never a guess: the cast back would lose values, and the finding says so.
            assert findings and all("not safe" in f.render() for f in findings), findings
            assert not memo[("raw.t", case.column, TYPES[case.old])].safe  # type: ignore[attr-defined]
            outcomes["needs_review"] += 1
            continue
        outcomes["patched"] += 1
        name = re.sub(r"\W", "_", model) + "_patched"
        try:
            conn.execute(f"CREATE TABLE out.{name} AS {patch.new_sql}")  # type: ignore[attr-defined]
            types = [r[1] for r in conn.execute(f"DESCRIBE out.{name}").fetchall()]  # type: ignore[attr-defined]
        except duckdb.Error as exc:
            bad.append(f"{model}: patch does not build: {exc}\n  {patch.new_sql}")
            continue
        if types != before[model]:  # type: ignore[index]
            bad.append(f"{model}: patched types {types} != before {before[model]}")  # type: ignore[index]
    assert bad == [], "\n".join(bad)
    assert outcomes["patched"] > 50 and outcomes["needs_review"] > 50, outcomes
