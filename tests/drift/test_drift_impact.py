"""The impact rules on hand-built compile results and lineage, no warehouse."""

from __future__ import annotations

from rocky_engine.compiler.ir import CompiledColumn, CompiledModel, CompileResult
from rocky_engine.dag import DAG
from rocky_engine.drift.impact import map_impact
from rocky_engine.drift.report import Change
from rocky_engine.errors import Diagnostic, Severity, Subject
from rocky_engine.lineage import ColumnEdge, LineageGraph

MODELS = {"stg": ("id", "amount"), "mart": ("total", "n")}
EDGES = [
    ColumnEdge("raw.t.id", "stg.id", "copy", "id"),
    ColumnEdge("raw.t.amount", "stg.amount", "copy", "amount"),
    ColumnEdge("stg.amount", "mart.total", "aggregate", "SUM(amount)"),
    ColumnEdge("stg.id", "mart.n", "aggregate", "COUNT(id)"),
]


def _result(types: dict[str, dict[str, str]],
            errors: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> CompileResult:
    """``errors``: model -> (message, subject node ids)."""
    models = {
        name: CompiledModel(name, f"models/{name}.sql", "view",
                            "error" if name in (errors or {}) else "ok",
                            tuple(CompiledColumn(c, t) for c, t in cols.items()))
        for name, cols in types.items()
    }
    diags = [Diagnostic("R104", Severity.ERROR, msg, file=f"models/{m}.sql", line=1, col=8,
                        model=m, subjects=tuple(_subject(n) for n in nodes))
             for m, (msg, nodes) in (errors or {}).items()]
    return CompileResult(models, diags, ["stg", "mart"], DAG({"stg": [], "mart": ["stg"]}))


def _subject(node: str) -> Subject:
    if node in ("raw.t", "stg", "mart"):
        return Subject(node)
    relation, _, column = node.rpartition(".")
    return Subject(relation, column)


BASE_TYPES = {"stg": {"id": "INTEGER", "amount": "DECIMAL(10,2)"},
              "mart": {"total": "DECIMAL(38,2)", "n": "BIGINT"}}
GRAPH = LineageGraph.from_edges(models=MODELS, sources={"raw.t": ("id", "amount", "note")},
                                edges=EDGES)


def test_removed_and_used_is_broken_with_diagnostic_and_downstream() -> None:
    live = _result({"stg": {}, "mart": {}}, {"stg": ('column "amount" not found', ("raw.t.amount",))})
    impact = map_impact([Change("column_removed", "raw.t", "amount")],
                        baseline=_result(BASE_TYPES), live=live, graph=GRAPH)
    got = {(i.model, i.column): i for i in impact}
    assert set(got) == {("stg", "amount"), ("mart", "total")}
    assert all(i.status == "broken" for i in impact)
    assert got[("stg", "amount")].diagnostic is not None
    assert got[("mart", "total")].path == ("raw.t.amount", "stg.amount", "mart.total")
    assert "depends on broken stg.amount" in got[("mart", "total")].reason


def test_removed_and_unused_has_no_impact() -> None:
    impact = map_impact([Change("column_removed", "raw.t", "note")],
                        baseline=_result(BASE_TYPES), live=_result(BASE_TYPES), graph=GRAPH)
    assert impact == []


def test_narrowing_flows_into_the_aggregate_as_affected() -> None:
    live_types = {"stg": {"id": "INTEGER", "amount": "DOUBLE"},
                  "mart": {"total": "DOUBLE", "n": "BIGINT"}}
    change = Change("column_type_changed", "raw.t", "amount", old_type="DECIMAL(10,2)",
                    new_type="DOUBLE", change="narrowing")
    impact = map_impact([change], baseline=_result(BASE_TYPES), live=_result(live_types),
                        graph=GRAPH)
    assert [(i.model, i.column, i.status) for i in impact] == [
        ("stg", "amount", "affected"), ("mart", "total", "affected")]
    assert "becomes DOUBLE" in impact[1].reason


def test_widening_that_keeps_output_types_is_safe() -> None:
    change = Change("column_type_changed", "raw.t", "id", old_type="INTEGER",
                    new_type="BIGINT", change="widening")
    live_types = {"stg": {"id": "BIGINT", "amount": "DECIMAL(10,2)"},
                  "mart": {"total": "DECIMAL(38,2)", "n": "BIGINT"}}
    impact = map_impact([change], baseline=_result(BASE_TYPES), live=_result(live_types),
                        graph=GRAPH)
    # stg.id's type changes (reported, values unchanged); COUNT(id) is BIGINT either way.
    assert [(i.model, i.column) for i in impact] == [("stg", "id")]
    assert "values unchanged" in impact[0].reason


def test_a_contract_error_naming_the_column_is_broken() -> None:
    change = Change("column_type_changed", "raw.t", "amount", old_type="DECIMAL(10,2)",
                    new_type="DOUBLE", change="narrowing")
    live = _result({"stg": {}, "mart": {}},
                   {"stg": ('column "amount" is DOUBLE but its contract says DECIMAL(10,2)',
                            ("stg.amount",))})
    impact = map_impact([change], baseline=_result(BASE_TYPES), live=live, graph=GRAPH)
    assert {(i.model, i.column, i.status) for i in impact} == {
        ("stg", "amount", "broken"), ("mart", "total", "broken")}


def test_a_table_removal_breaks_every_reader() -> None:
    live = _result({"stg": {}, "mart": {}}, {"stg": ("source table `raw.t` is not declared", ("raw.t",))})
    impact = map_impact([Change("table_removed", "raw.t")], baseline=_result(BASE_TYPES),
                        live=live, graph=GRAPH)
    assert {(i.model, i.column) for i in impact if i.status == "broken"} == {
        ("stg", "id"), ("stg", "amount"), ("mart", "total"), ("mart", "n")}


def test_errors_that_existed_before_are_not_drift() -> None:
    before = _result(BASE_TYPES, {"mart": ("something old", ("mart",))})
    impact = map_impact([Change("column_added", "raw.t", "x")], baseline=before,
                        live=before, graph=GRAPH)
    assert impact == []


def test_a_new_error_is_broken_whatever_its_wording() -> None:
    # R111-like: the text names nothing on the path in quotes; the subjects do the blaming.
    change = Change("column_type_changed", "raw.t", "amount", old_type="DECIMAL(10,2)",
                    new_type="VARCHAR", change="narrowing")
    for text in ("arithmetic `/` on `t.amount` (VARCHAR)", "zzz", ""):
        live = _result({"stg": {}, "mart": {}}, {"stg": (text, ("raw.t.amount",))})
        impact = map_impact([change], baseline=_result(BASE_TYPES), live=live, graph=GRAPH)
        got = {(i.model, i.column): i for i in impact}
        assert {k: i.status for k, i in got.items()} == {
            ("stg", "amount"): "broken", ("mart", "total"): "broken"}, text
        assert got[("stg", "amount")].causes == (change,)
        assert got[("stg", "amount")].to_json()["caused_by"][0]["column"] == "amount"


def test_blame_goes_to_the_change_the_subjects_name() -> None:
    widened = Change("column_type_changed", "raw.t", "id", old_type="INTEGER",
                     new_type="BIGINT", change="widening")
    retyped = Change("column_type_changed", "raw.t", "amount", old_type="DECIMAL(10,2)",
                     new_type="VARCHAR", change="narrowing")
    live = _result({"stg": {}, "mart": {}}, {"stg": ("anything", ("raw.t.amount",))})
    impact = map_impact([widened, retyped], baseline=_result(BASE_TYPES), live=live,
                        graph=GRAPH)
    got = {(i.model, i.column): i for i in impact}
    # The model cannot be built: every reached column is broken, blamed on the retype only.
    assert all(i.status == "broken" for i in impact)
    assert {i.causes for i in impact} == {(retyped,)}
    assert got[("stg", "id")].source == "raw.t.id"


def test_a_failing_model_with_unrelated_subjects_is_still_broken() -> None:
    change = Change("column_type_changed", "raw.t", "amount", old_type="DECIMAL(10,2)",
                    new_type="VARCHAR", change="narrowing")
    live = _result({"stg": {}, "mart": {}}, {"stg": ("?", ("raw.other.x",))})
    impact = map_impact([change], baseline=_result(BASE_TYPES), live=live, graph=GRAPH)
    assert {(i.model, i.column, i.status) for i in impact} >= {
        ("stg", "amount", "broken"), ("mart", "total", "broken")}
    assert all(i.causes == () for i in impact if i.model == "stg")
