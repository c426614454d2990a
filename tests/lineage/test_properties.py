"""Properties: every non-literal output column reaches a source; kinds compose as specified."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rocky_engine.compiler import compile_project
from rocky_engine.context import Context
from rocky_engine.lineage import LineageGraph
from rocky_engine.lineage.edges import RANK, VALUE_KINDS
from rocky_engine.lineage.extract import extract_lineage
from tests.lineage.conftest import CORPUS
from tests.lineage.corpus import ExtractedProject, qualified_tree, relation_of

_LITERALS = re.compile(r"^--\s*literals:\s*(.+)$", re.MULTILINE)


def _literals(sql: str) -> set[str]:
    """Columns a fixture declares literal (``-- literals: a, b``): they read no column."""
    m = _LITERALS.search(sql)
    return {c.strip() for c in m.group(1).split(",")} if m else set()


def _assert_every_column_reaches_a_source(graph: LineageGraph, models: dict[str, str],
                                          sources: set[str]) -> int:
    checked = 0
    for model, sql in models.items():
        literal = _literals(sql)
        for node in graph.columns(model):
            column = node.rpartition(".")[2]
            reached = {n.rpartition(".")[0] for n in graph.upstream(node).nodes}
            if column in literal:
                assert not reached & sources, f"{node} is declared literal but reads {reached}"
                continue
            assert reached & sources, f"{node} has no upstream path to a source"
            checked += 1
    return checked


def test_every_corpus_column_has_an_upstream_path(corpus: ExtractedProject) -> None:
    checked = _assert_every_column_reaches_a_source(corpus.graph(), corpus.sql,
                                                    set(corpus.sources))
    assert checked > 40


@pytest.mark.parametrize("which", ["shop", "corpus"])
def test_every_compiled_column_has_an_upstream_path(which: str, shop: Path) -> None:
    root = shop if which == "shop" else CORPUS
    project = Context.load(root).project
    result = compile_project(project, use_cache=False)
    assert result.ok
    graph = LineageGraph.from_compile(result, project.sources)
    models = {name: m.sql for name, m in project.models.items()}
    checked = _assert_every_column_reaches_a_source(graph, models, set(project.sources))
    assert checked >= sum(len(m.columns) for m in result.models.values()) - 5


# -- composition over random CTE chains ---------------------------------------------------

_STEPS = {
    "copy": "{c} AS v",
    "cast": "CAST({c} AS DOUBLE) AS v",
    "transform": "{c} + 1 AS v",
    "aggregate": "SUM({c}) AS v",
    "window": "LAG({c}) OVER (ORDER BY {c}) AS v",
}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(VALUE_KINDS), min_size=1, max_size=5))
def test_kinds_compose_through_cte_chains(steps: list[str]) -> None:
    ctes, prev, col = [], "raw.t", "x"
    for i, step in enumerate(steps):
        ctes.append(f"s{i} AS (SELECT {_STEPS[step].format(c=col)} FROM {prev})")
        prev, col = f"s{i}", "v"
    sql = f"WITH {', '.join(ctes)} SELECT v AS out FROM {prev}"
    tree = qualified_tree(sql, {"raw": {"t": {"x": "INT"}}})
    value = [e for e in extract_lineage("m", tree, relation_of) if e.is_value]
    expected = max(steps, key=RANK.__getitem__)
    assert [(e.source, e.target, e.kind) for e in value] == [("raw.t.x", "m.out", expected)]


@settings(max_examples=30, deadline=None)
@given(st.permutations(["a", "b", "c", "d"]), st.integers(min_value=1, max_value=4))
def test_union_branches_map_positionally(order: list[str], width: int) -> None:
    cols = order[:width]
    left = ", ".join(f"{c} AS o{i}" for i, c in enumerate(cols))
    right = ", ".join(reversed(cols))
    tree = qualified_tree(f"SELECT {left} FROM raw.l UNION ALL SELECT {right} FROM raw.r",
                          {"raw": {"l": dict.fromkeys("abcd", "INT"),
                                   "r": dict.fromkeys("abcd", "INT")}})
    got = {(e.source, e.target) for e in extract_lineage("m", tree, relation_of)}
    expected = {(f"raw.l.{c}", f"m.o{i}") for i, c in enumerate(cols)}
    expected |= {(f"raw.r.{c}", f"m.o{i}") for i, c in enumerate(reversed(cols))}
    assert got == expected
