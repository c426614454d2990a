"""The fast graph build (packed edges, node handles, memoised splits) gives the very same
graph as the straightforward one it replaced, kept here as ``_Reference`` (the oracle).

Every path is compared state for state (node numbering, edge order, expression ids):
``from_edges`` on expanded records, ``from_compile`` on a compiler's ``EdgePack`` blobs,
on decoded ``ColumnEdge`` tuples and on plain 4-tuples.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rocky_engine.compiler import compile_project
from rocky_engine.compiler.ir import CompiledColumn, LazyTuple
from rocky_engine.lineage.edges import EDGE_KINDS, INFLUENCE_KINDS, KIND_ID, ColumnEdge, EdgePack
from rocky_engine.lineage.extract import extract_edges
from rocky_engine.lineage.graph import LineageGraph, split_node
from rocky_engine.project import load_project
from tests.lineage.conftest import CORPUS
from tests.lineage.corpus import MODEL_DB, ExtractedProject, qualified_tree, relation_of

REPO = Path(__file__).resolve().parents[2]

# -- the oracle: the builder as it was before packed edges (one ColumnEdge at a time) ------


class _Reference:
    def __init__(self) -> None:
        self.relations: dict[str, tuple[int, dict[str, None]]] = {}
        self.exprs: dict[str, int] = {}
        self.value: dict[tuple[str, str, int], int] = {}
        self.influence: dict[tuple[str, str, int], int] = {}

    def relation(self, name: str, kind: int, columns: Iterable[str]) -> None:
        found = self.relations.get(name)
        cols = found[1] if found else {}
        self.relations[name] = (kind, cols)
        for col in columns:
            cols.setdefault(f"{name}.{col.lower()}", None)

    def node(self, node_id: str) -> str:
        key = node_id.lower()
        relation = split_node(key, self.relations)[0]
        if relation not in self.relations:
            self.relations[relation] = (0, {})
        self.relations[relation][1].setdefault(key, None)
        return key

    def edge(self, edge: ColumnEdge) -> None:
        source = self.node(edge.source)
        kind = KIND_ID[edge.kind]
        expr = self.exprs.setdefault(edge.expression.replace("\x00", " "), len(self.exprs))
        if edge.kind in INFLUENCE_KINDS:
            model = split_node(edge.target.lower(), self.relations)[0]
            self.influence.setdefault((model, source, kind), expr)
            return
        self.value.setdefault((source, self.node(edge.target), kind), expr)

    def state(self) -> dict[str, Any]:
        names = list(self.relations)
        rel_id = {n: i for i, n in enumerate(names)}
        nodes: list[str] = []
        starts = [0]
        for name in names:
            nodes.extend(self.relations[name][1])
            starts.append(len(nodes))
        node_id = {n: i for i, n in enumerate(nodes)}
        vin: list[list[tuple[int, int, int]]] = [[] for _ in nodes]
        vout: list[list[tuple[int, int, int]]] = [[] for _ in nodes]
        for (source, target, kind), expr in self.value.items():
            s, t = node_id[source], node_id[target]
            vin[t].append((s, kind, expr))
            vout[s].append((t, kind, expr))
        inf: list[list[tuple[int, int, int]]] = [[] for _ in names]
        iout: list[list[tuple[int, int, int]]] = [[] for _ in nodes]
        for (model, source, kind), expr in self.influence.items():
            r = rel_id.get(model)
            if r is None or self.relations[model][0] != 1:
                continue
            s = node_id[source]
            inf[r].append((s, kind, expr))
            iout[s].append((r, kind, expr))
        out: dict[str, Any] = {
            "byteorder": sys.byteorder, "nodes": "\n".join(nodes),
            "exprs": "\x00".join(self.exprs), "relations": "\n".join(names),
            "rel_kinds": bytes(self.relations[n][0] for n in names),
            "rel_start": array("I", starts).tobytes()}
        for name, rows in (("vin", vin), ("vout", vout), ("inf", inf), ("iout", iout)):
            offsets, flat = array("I", [0]), array("I")
            for row in rows:
                for triple in row:
                    flat.extend(triple)
                offsets.append(offsets[-1] + len(row))
            out[name + "_off"], out[name] = offsets.tobytes(), flat.tobytes()
        return out


def _reference(models: Mapping[str, Iterable[str]], sources: Mapping[str, Iterable[str]],
               edges: Iterable[ColumnEdge]) -> dict[str, Any]:
    ref = _Reference()
    for key, cols in sources.items():
        ref.relation(key.lower(), 0, cols)
    for name, cols in models.items():
        ref.relation(name.lower(), 1, cols)
    for e in edges:
        ref.edge(e)
    return ref.state()


def _without_broken(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "broken"}


def _result(models: Mapping[str, Iterable[str]], lineage: Mapping[str, Any]) -> Any:
    """A stand-in CompileResult: what from_compile reads of one."""
    return SimpleNamespace(models={
        name: SimpleNamespace(columns=tuple(CompiledColumn(c, "INTEGER") for c in cols),
                              lineage=lineage.get(name, ()), status="ok", depends_on=(),
                              sources=())
        for name, cols in models.items()})


def _sources(sources: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    return {key: SimpleNamespace(columns=[SimpleNamespace(name=c) for c in cols])
            for key, cols in sources.items()}


# -- a generated project, through the real compiler ----------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    spec = importlib.util.spec_from_file_location("_rocky_gen_project",
                                                  REPO / "bench" / "gen_project.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("gen") / "p"
    module.generate(root, 40)
    project = load_project(root)
    result = compile_project(project)
    assert result.ok
    return project, result


def test_generated_project_graph_equals_the_reference(generated: tuple[Any, Any]) -> None:
    project, result = generated
    packs = [m.lineage.packed() for m in result.models.values()]
    assert all(isinstance(p, EdgePack) for p in packs)  # the compiler stores packed edges
    models = {n: [c.name for c in m.columns] for n, m in result.models.items()}
    sources = {k: [c.name for c in t.columns] for k, t in project.sources.items()}
    edges = [e for p in packs for e in p]
    assert any(e.kind in INFLUENCE_KINDS for e in edges) and len(edges) > 1000
    expected = _reference(models, sources, edges)
    fast = LineageGraph.from_compile(result, project.sources).to_state()
    assert _without_broken(fast) == expected
    slow = LineageGraph.from_edges(models=models, sources=sources, edges=edges).to_state()
    assert _without_broken(slow) == expected


def test_warm_compile_packs_equal_the_cold_ones(generated: tuple[Any, Any]) -> None:
    project, cold = generated
    warm = compile_project(project)  # from the cache: LazyTuple blobs, never decoded here
    assert warm.stats.cache_hits == len(warm.models)
    for name, model in warm.models.items():
        assert model.lineage.packed() == cold.models[name].lineage.packed()
    assert LineageGraph.from_compile(warm, project.sources).to_state() == \
        LineageGraph.from_compile(cold, project.sources).to_state()


def test_decoded_and_tuple_lineage_build_the_same_graph(generated: tuple[Any, Any]) -> None:
    project, result = generated
    expected = LineageGraph.from_compile(result, project.sources).to_state()
    models = {n: [c.name for c in m.columns] for n, m in result.models.items()}
    sources = {k: [c.name for c in t.columns] for k, t in project.sources.items()}
    packs = {n: m.lineage.packed() for n, m in result.models.items()}
    as_records = _result(models, {n: tuple(p) for n, p in packs.items()})
    as_tuples = _result(models, {n: tuple((e.source, e.target, e.kind, e.expression)
                                          for e in p) for n, p in packs.items()})
    for fake in (as_records, as_tuples):
        assert LineageGraph.from_compile(fake, _sources(sources)).to_state() == expected


# -- the extractor's packed form -------------------------------------------------------------


def test_extract_edges_is_extract_lineage_packed(corpus: ExtractedProject) -> None:
    project = load_project(CORPUS)
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for table in project.sources.values():
        schema.setdefault(table.schema.lower(), {})[table.name.lower()] = {
            c.name.lower(): c.type for c in table.columns}
    schema[MODEL_DB] = {m: dict.fromkeys(cols, "UNKNOWN") for m, cols in corpus.columns.items()}
    for name, sql in corpus.sql.items():
        pack = extract_edges(name, qualified_tree(sql, schema), relation_of)
        assert tuple(pack) == corpus.edges[name] and len(pack) == len(corpus.edges[name])
        assert tuple(EdgePack.of(corpus.edges[name])) == corpus.edges[name]
        assert pickle.loads(pickle.dumps(pack)) == pack
    assert len(corpus.sql) >= 10


def test_edge_pack_expands_influence_per_target_in_order() -> None:
    pack = EdgePack((("raw.t.a", "m.x", KIND_ID["cast"], "CAST(a AS INT)"),),
                    ("m.x", "m.y"), (("raw.t.b", KIND_ID["filter"], "WHERE b"),
                                     ("raw.t.c", KIND_ID["join"], "ON c")))
    assert [(e.source, e.target, e.kind) for e in pack] == [
        ("raw.t.a", "m.x", "cast"), ("raw.t.b", "m.x", "filter"), ("raw.t.b", "m.y", "filter"),
        ("raw.t.c", "m.x", "join"), ("raw.t.c", "m.y", "join")]
    assert len(pack) == 5 and len(EdgePack(())) == 0
    assert tuple(EdgePack((), (), (("s.a", KIND_ID["filter"], "x"),))) == ()  # no target
    with pytest.raises(ValueError, match="same targets"):
        EdgePack.of([ColumnEdge("s.a", "m.x", "filter", "w"), ColumnEdge("s.b", "m.y", "join", "o")])


def test_lazy_tuple_of_a_pack_behaves_as_the_tuple_of_its_edges() -> None:
    pack = EdgePack((("s.t.a", "m.x", 0, "a"),), ("m.x",), (("s.t.b", 5, "WHERE b"),))
    lazy = LazyTuple.wrap(pack)
    assert isinstance(lazy.packed(), EdgePack) and lazy.blob is not None  # not decoded
    assert lazy == tuple(pack) and tuple(pack) == lazy and len(lazy) == 2
    assert lazy[1] == ColumnEdge("s.t.b", "m.x", "filter", "WHERE b")
    assert lazy.packed() == tuple(pack)  # once decoded: the items
    travelled = pickle.loads(pickle.dumps(LazyTuple.wrap(pack)))
    assert travelled.blob == LazyTuple.wrap(pack).blob  # still the compact blob
    assert LazyTuple.wrap(EdgePack(())) == () and LazyTuple.wrap(EdgePack(())).blob == b""


# -- awkward node ids: dots in column names, case, undeclared and nested relations ----------

_NAMES = st.sampled_from(["a", "A", "b", "a.b", "x", "X.y", "c.d", "raw.t", "q"])
_COLS = st.sampled_from(["c", "C", "d", "b.c", "y", "e.f.g", "Σ", "x"])


@st.composite
def _projects(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, list[str]],
                                        dict[str, EdgePack]]:
    names = draw(st.lists(_NAMES, min_size=1, max_size=5, unique_by=str.lower))
    cut = draw(st.integers(0, len(names)))
    sources = {n: draw(st.lists(_COLS, max_size=3)) for n in names[:cut]}
    models = {n.lower(): draw(st.lists(_COLS, max_size=3)) for n in names[cut:]}
    node = st.builds(lambda r, c: f"{r}.{c}", _NAMES, _COLS)
    kinds = st.sampled_from(range(len(EDGE_KINDS)))
    text = st.sampled_from(["a", "b", "x\x00y", "CAST(a)"])
    packs = {}
    for name in models:
        targets = tuple(dict.fromkeys(draw(st.lists(st.builds(
            lambda c, n=name: f"{n}.{c}", _COLS), max_size=3))))
        value = draw(st.lists(st.tuples(node, st.sampled_from(targets or ("zz.c",)), kinds,
                                        text), max_size=6))
        influence = draw(st.lists(st.tuples(node, kinds, text), max_size=3))
        packs[name] = EdgePack(tuple(value), targets, tuple(influence))
    return sources, models, packs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_projects())
def test_awkward_ids_build_the_reference_graph(
        project: tuple[dict[str, list[str]], dict[str, list[str]], dict[str, EdgePack]]) -> None:
    sources, models, packs = project
    edges = [e for p in packs.values() for e in p]
    expected = _reference(models, sources, edges)
    slow = LineageGraph.from_edges(models=models, sources=sources, edges=edges).to_state()
    assert _without_broken(slow) == expected
    lazy = {n: LazyTuple.wrap(p) for n, p in packs.items()}
    fast = LineageGraph.from_compile(_result(models, lazy), _sources(sources)).to_state()
    assert _without_broken(fast) == expected
    plain = LineageGraph.from_compile(_result(models, packs), _sources(sources)).to_state()
    assert _without_broken(plain) == expected
