"""The project graph: composition across models, both directions, depth, value-only, errors,
and the index file (round trip, staleness, corruption)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rocky_engine.errors import UsageError
from rocky_engine.lineage import ColumnEdge, LineageGraph
from rocky_engine.lineage.store import INDEX_FILE, fingerprint, load_fresh_graph, save_graph
from tests.lineage.conftest import CORPUS
from tests.lineage.corpus import ExtractedProject


def _graph() -> LineageGraph:
    return LineageGraph.from_edges(
        models={"stg": ("id", "amt", "st"), "mart": ("id", "total"), "lonely": ("one",)},
        sources={"raw.t": ("id", "amount", "status", "unused")},
        edges=[
            ColumnEdge("raw.t.id", "stg.id", "copy", "t.id"),
            ColumnEdge("raw.t.amount", "stg.amt", "cast", "CAST(t.amount AS INT)"),
            ColumnEdge("raw.t.status", "stg.st", "copy", "t.status"),
            ColumnEdge("stg.id", "mart.id", "copy", "stg.id"),
            ColumnEdge("stg.amt", "mart.total", "aggregate", "SUM(stg.amt)"),
            ColumnEdge("stg.st", "mart.id", "filter", "WHERE st = 'x'"),
            ColumnEdge("stg.st", "mart.total", "filter", "WHERE st = 'x'"),
            ColumnEdge("stg.id", "mart.id", "group", "GROUP BY stg.id"),
            ColumnEdge("stg.id", "mart.total", "group", "GROUP BY stg.id"),
        ])


def _triples(result) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {(e.kind, e.source, e.target) for e in result.edges}


def test_upstream_of_a_column_composes_across_models() -> None:
    result = _graph().upstream("mart.total")
    assert _triples(result) == {
        ("aggregate", "stg.amt", "mart.total"), ("cast", "raw.t.amount", "stg.amt"),
        ("filter", "stg.st", "mart.total"), ("copy", "raw.t.status", "stg.st"),
        ("group", "stg.id", "mart.total"), ("copy", "raw.t.id", "stg.id")}
    assert result.nodes[0] == "mart.total"
    assert result.roots == ("mart.total",)


def test_value_only_drops_influence() -> None:
    result = _graph().upstream("mart.total", value_only=True)
    assert _triples(result) == {("aggregate", "stg.amt", "mart.total"),
                                ("cast", "raw.t.amount", "stg.amt")}


def test_downstream_of_a_source_column_is_the_blast_radius() -> None:
    result = _graph().downstream("raw.t.status")
    # The filter on stg.st influences every column of mart.
    assert set(result.nodes) == {"raw.t.status", "stg.st", "mart.id", "mart.total"}
    assert ("filter", "stg.st", "mart.id") in _triples(result)
    assert _graph().downstream("raw.t.status", value_only=True).nodes == (
        "raw.t.status", "stg.st")


def test_depth_limits_hops() -> None:
    g = _graph()
    assert set(g.upstream("mart.total", depth=1).nodes) == {
        "mart.total", "stg.amt", "stg.st", "stg.id"}
    assert g.upstream("mart.total", depth=0).nodes == ("mart.total",)
    assert g.upstream("mart.total", depth=0).edges == ()
    with pytest.raises(UsageError):
        g.upstream("mart.total", depth=-1)


def test_model_root_means_all_its_columns() -> None:
    result = _graph().upstream("mart", depth=1)
    assert result.roots == ("mart.id", "mart.total")
    assert {"stg.id", "stg.amt", "stg.st"} <= set(result.nodes)


def test_source_relation_and_unused_column_are_valid_roots() -> None:
    g = _graph()
    assert g.downstream("raw.t.unused").nodes == ("raw.t.unused",)
    assert set(g.downstream("raw.t").roots) == {"raw.t.id", "raw.t.amount", "raw.t.status",
                                                 "raw.t.unused"}
    assert g.upstream("lonely.one").edges == ()


def test_roots_are_case_insensitive() -> None:
    assert _graph().upstream("MART.Total").roots == ("mart.total",)


@pytest.mark.parametrize(("root", "message", "hint"), [
    ("mrt.total", "unknown model or column", "did you mean `mart.total`?"),
    ("mart.totl", "has no column `totl`", "did you mean `mart.total`?"),
    ("mart.zzz", "has no column `zzz`", "its columns: id, total"),
    ("raw.tt.id", "unknown model or column", "did you mean `raw.t.id`?"),
    ("nothing_like_it", "unknown model or column", "give a model"),
])
def test_unknown_roots_are_usage_errors_with_suggestions(root: str, message: str,
                                                         hint: str) -> None:
    with pytest.raises(UsageError) as info:
        _graph().upstream(root)
    assert message in info.value.message
    assert info.value.hint is not None and hint in info.value.hint
    assert info.value.exit_code == 2


def test_unknown_direction() -> None:
    with pytest.raises(UsageError):
        _graph().query("mart", "sideways")


def test_json_shape_is_the_design_contract() -> None:
    doc = _graph().upstream("mart.id").to_json()
    assert set(doc) >= {"root", "direction", "nodes", "edges"}
    assert doc["root"] == "mart.id" and doc["direction"] == "upstream"
    assert all("id" in n for n in doc["nodes"])  # type: ignore[union-attr]
    assert all({"from", "to", "kind"} <= set(e) for e in doc["edges"])  # type: ignore[union-attr]


def test_corpus_graph_reaches_sources_through_three_models(corpus: ExtractedProject) -> None:
    result = corpus.graph().upstream("mart.revenue", value_only=True)
    assert [(e.kind, e.source, e.target) for e in result.edges] == [
        ("aggregate", "joined.order_amount", "mart.revenue"),
        ("copy", "renamed_orders.order_amount", "joined.order_amount"),
        ("copy", "raw.orders.amount", "renamed_orders.order_amount")]


# -- the index file -----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    return root


def test_index_round_trip(project: Path) -> None:
    graph = _graph()
    save_graph(project, graph)
    loaded = load_fresh_graph(project)
    assert loaded is not None
    assert loaded.upstream("mart.total").edges == graph.upstream("mart.total").edges
    assert loaded.downstream("raw.t.status").nodes == graph.downstream("raw.t.status").nodes


def test_index_is_stale_after_an_edit(project: Path) -> None:
    save_graph(project, _graph())
    model = project / "models" / "casts.sql"
    before = fingerprint(project)
    model.write_text(model.read_text() + "\n-- edited\n")
    assert fingerprint(project) != before
    assert load_fresh_graph(project) is None


def test_index_is_stale_after_a_same_size_edit_with_its_mtime_put_back(project: Path) -> None:
    model = project / "models" / "casts.sql"
    text = model.read_text()
    save_graph(project, _graph())
    st = model.stat()
    model.write_text(text[:-1] + ("x" if text[-1] != "x" else "y"))  # same size
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))  # as rsync -t would leave it
    assert model.stat().st_size == st.st_size and model.stat().st_mtime_ns == st.st_mtime_ns
    assert load_fresh_graph(project) is None


def test_index_is_stale_after_a_new_model_or_source_edit(project: Path) -> None:
    save_graph(project, _graph())
    (project / "models" / "sub").mkdir()
    (project / "models" / "sub" / "new.sql").write_text("SELECT 1 AS x")
    assert load_fresh_graph(project) is None
    save_graph(project, _graph())
    src = project / "sources" / "raw.toml"
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_fresh_graph(project) is None


@pytest.mark.parametrize("payload", [b"", b"garbage", b"ROCKYLIN", b"ROCKYLINabc\n\x00\x01"])
def test_corrupt_or_missing_index_is_ignored(project: Path, payload: bytes) -> None:
    assert load_fresh_graph(project) is None
    path = project / INDEX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    assert load_fresh_graph(project) is None


def test_corrupt_body_with_a_valid_key_is_ignored(project: Path) -> None:
    path = project / INDEX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"ROCKYLIN" + fingerprint(project).encode() + b"\n\xff\xfe")
    assert load_fresh_graph(project) is None


def test_no_project_means_no_index(tmp_path: Path) -> None:
    assert load_fresh_graph(tmp_path) is None


def test_from_compile_accepts_edges_or_plain_tuples() -> None:
    from rocky_engine.compiler.ir import CompiledColumn, CompiledModel, CompileResult
    from rocky_engine.dag import DAG

    def model(name: str, lineage: tuple) -> CompiledModel:  # type: ignore[type-arg]
        return CompiledModel(name, f"models/{name}.sql", "view", "ok",
                             columns=(CompiledColumn("id", "INTEGER"),), lineage=lineage)

    result = CompileResult(
        models={"a": model("a", (ColumnEdge("raw.t.id", "a.id", "copy", "t.id"),)),
                "b": model("b", (("a.id", "b.id", "cast", "CAST(a.id AS TEXT)"),))},
        diagnostics=[], order=["a", "b"], dag=DAG({"a": [], "b": ["a"]}))
    graph = LineageGraph.from_compile(result)
    assert [(e.kind, e.source) for e in graph.upstream("b.id").edges] == [
        ("cast", "a.id"), ("copy", "raw.t.id")]


def test_column_names_holding_dots_resolve() -> None:
    g = LineageGraph.from_edges(
        models={"q": ("a.b", "c")}, sources={"raw.t": ("x.y",)},
        edges=[ColumnEdge("raw.t.x.y", "q.a.b", "copy", 't."x.y"'),
               ColumnEdge("raw.t.x.y", "q.c", "filter", 'WHERE t."x.y" > 0')])
    assert g.columns("q") == ["q.a.b", "q.c"]
    assert _triples(g.upstream("q.a.b")) == {("copy", "raw.t.x.y", "q.a.b"),
                                              ("filter", "raw.t.x.y", "q.a.b")}
    doc = g.downstream("raw.t.x.y").to_json()
    assert {"id": "q.a.b", "relation": "q", "column": "a.b", "type": "model"} in doc["nodes"]
    assert g.relations == ["raw.t", "q"]


def test_a_very_deep_chain_queries_and_renders() -> None:
    from rocky_engine.lineage.render import render_text

    n = 3000
    g = LineageGraph.from_edges(
        models={f"m{i}": ("id",) for i in range(n)}, sources={"raw.t": ("id",)},
        edges=[ColumnEdge("raw.t.id" if i == 0 else f"m{i - 1}.id", f"m{i}.id", "copy", "id")
               for i in range(n)])
    result = g.upstream(f"m{n - 1}.id")
    assert len(result.nodes) == n + 1
    text = render_text(result)
    assert text.splitlines()[-1].endswith("raw.t.id  ·  id")
