"""Public surface of rocky_engine.lineage, its light import path, and the renderers."""

from __future__ import annotations

import subprocess
import sys

from rocky_engine import lineage
from rocky_engine.lineage import ColumnEdge, LineageGraph
from rocky_engine.lineage.render import render_dot, render_mermaid, render_text


def test_all_is_pinned() -> None:
    assert sorted(lineage.__all__) == sorted([
        "DOWNSTREAM", "EDGE_KINDS", "INFLUENCE_KINDS", "UPSTREAM", "VALUE_KINDS",
        "ColumnEdge", "LineageGraph", "LineageResult", "extract_lineage"])
    assert callable(lineage.extract_lineage)


def test_query_path_imports_neither_sqlglot_nor_duckdb() -> None:
    code = ("import sys, rocky_engine.lineage.store, rocky_engine.lineage.render, "
            "rocky_engine.lineage.graph; "
            "print(sorted(m for m in ('sqlglot', 'duckdb', 'rocky_engine.compiler') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def _weird() -> LineageGraph:
    return LineageGraph.from_edges(
        models={"m": ('say "hi"',)}, sources={"raw.t": ("a<b>",)},
        edges=[ColumnEdge("raw.t.a<b>", 'm.say "hi"', "filter", 'WHERE x = "q" \\ y')])


def test_dot_escapes_quotes_and_dashes_influence() -> None:
    dot = render_dot(_weird().upstream('m.say "hi"'))
    assert '"m.say \\"hi\\""' in dot
    assert 'tooltip="WHERE x = \\"q\\" \\\\ y"' in dot and "style=dashed" in dot


def test_mermaid_escapes_labels() -> None:
    text = render_mermaid(_weird().downstream("raw.t.a<b>"))
    assert '["a#lt;b#gt;"]' in text and '["say #quot;hi#quot;"]' in text
    assert "n0 -.->|filter| n1" in text


def test_text_marks_nodes_with_nothing_upstream() -> None:
    g = LineageGraph.from_edges(models={"m": ("one",)}, edges=[])
    assert render_text(g.upstream("m.one")).splitlines() == [
        "m.one  (upstream)", "└── (nothing upstream: a literal or a source column)"]
    assert render_text(g.downstream("m.one")).splitlines()[1] == "└── (nothing downstream)"
