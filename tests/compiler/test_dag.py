"""The generic DAG: order, levels, transitive walks, and cycles that print themselves."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rocky_engine.dag import DAG, CycleError


def test_order_parents_children_and_walks() -> None:
    dag = DAG({"mart": ["int", "stg_b"], "int": ["stg_a"], "stg_a": [], "stg_b": []})
    order = dag.order()
    assert order.index("stg_a") < order.index("int") < order.index("mart")
    assert dag.parents("mart") == ("int", "stg_b")
    assert set(dag.children("stg_a")) == {"int"}
    assert dag.upstream("mart") == {"int", "stg_a", "stg_b"}
    assert dag.downstream("stg_a") == {"int", "mart"}
    assert dag.levels() == [["stg_a", "stg_b"], ["int"], ["mart"]]


def test_missing_parents_become_roots() -> None:
    dag = DAG({"b": ["a"]})
    assert "a" in dag and dag.order() == ["a", "b"] and len(dag) == 2


def test_cycle_error_shows_the_cycle() -> None:
    with pytest.raises(CycleError) as info:
        DAG({"a": ["c"], "b": ["a"], "c": ["b"]}).order()
    assert str(info.value) in ("dependency cycle: a -> c -> b -> a",
                               "dependency cycle: c -> b -> a -> c",
                               "dependency cycle: b -> a -> c -> b")
    assert info.value.cycle[0] == info.value.cycle[-1]


def test_self_loop_is_a_cycle() -> None:
    assert DAG({"a": ["a"]}).find_cycle() == ["a", "a"]


def test_without_cycles_keeps_the_acyclic_part() -> None:
    order, cycles = DAG({"ok": [], "x": ["y", "ok"], "y": ["x"], "after": ["x"],
                         "p": ["q"], "q": ["p"]}).without_cycles()
    assert order == ["ok"]
    assert sorted(sorted(set(c)) for c in cycles) == [["p", "q"], ["x", "y"]]


@given(st.dictionaries(st.integers(0, 30), st.lists(st.integers(0, 30), max_size=4),
                       max_size=30))
def test_order_respects_every_edge_or_reports_a_real_cycle(edges: dict[int, list[int]]) -> None:
    # Only keep edges to lower numbers: acyclic by construction, then add one back edge.
    acyclic = {n: [p for p in ps if p < n] for n, ps in edges.items()}
    order = DAG(acyclic).order()
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[p] < pos[n] for n, ps in acyclic.items() for p in ps)
    cyclic = DAG(edges)
    cycle = cyclic.find_cycle()
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        for child, parent in itertools.pairwise(cycle):
            assert parent in cyclic.parents(child)
    else:
        cyclic.order()
