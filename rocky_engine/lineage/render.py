"""Render a :class:`LineageResult` for people: a text tree, Graphviz DOT, or Mermaid.

    >>> from rocky_engine.lineage.graph import LineageGraph
    >>> from rocky_engine.lineage.edges import ColumnEdge
    >>> g = LineageGraph.from_edges(models={"stg": ("id",)}, sources={"raw.t": ("id",)},
    ...                             edges=[ColumnEdge("raw.t.id", "stg.id", "copy", "t.id")])
    >>> print(render_text(g.upstream("stg.id")))
    stg.id  (upstream)
    └── copy       raw.t.id  ·  t.id

Edges always point the way data flows (source → target), whatever the query direction;
influence edges (filter/join/group) are dashed in DOT and dotted in Mermaid.
"""

from __future__ import annotations

from collections import defaultdict

from rocky_engine.lineage.edges import EDGE_KINDS, INFLUENCE_KINDS, ColumnEdge
from rocky_engine.lineage.graph import UPSTREAM, LineageResult, split_node

_KIND_ORDER = {k: i for i, k in enumerate(EDGE_KINDS)}


def render_text(result: LineageResult) -> str:
    """A tree per root column; a node met twice is shown once, then marked ``(see above)``."""
    upstream = result.direction == UPSTREAM
    children: dict[str, list[tuple[str, ColumnEdge]]] = defaultdict(list)
    for edge in result.edges:
        if upstream:
            children[edge.target].append((edge.source, edge))
        else:
            children[edge.source].append((edge.target, edge))
    for kids in children.values():
        kids.sort(key=lambda k: (_KIND_ORDER[k[1].kind], k[0]))
    lines: list[str] = []
    expanded: set[str] = set()
    for root in result.roots:
        lines.append(f"{root}  ({result.direction})")
        if root in expanded and children.get(root):
            lines.append("└── (see above)")
        elif not children.get(root):
            lines.append("└── (nothing " + ("upstream: a literal or a source column)"
                                            if upstream else "downstream)"))
        _branch(root, children, expanded, lines)
    return "\n".join(lines)


def _branch(root: str, children: dict[str, list[tuple[str, ColumnEdge]]],
            expanded: set[str], lines: list[str]) -> None:
    # Iterative on purpose: a 1,500-model chain is a 1,500-deep tree.
    if root in expanded:
        return
    expanded.add(root)
    stack: list[tuple[list[tuple[str, ColumnEdge]], list[int], str]] = [
        (children.get(root, []), [0], "")]
    while stack:
        kids, position, prefix = stack[-1]
        i = position[0]
        if i >= len(kids):
            stack.pop()
            continue
        position[0] = i + 1
        other, edge = kids[i]
        last = i == len(kids) - 1
        again = other in expanded and children.get(other)
        suffix = "  (see above)" if again else ""
        connector = "└── " if last else "├── "
        lines.append(f"{prefix}{connector}{edge.kind:<10} {other}  ·  {edge.expression}{suffix}")
        if other not in expanded:
            expanded.add(other)
            sub = children.get(other)
            if sub:
                stack.append((sub, [0], prefix + ("    " if last else "│   ")))


def render_dot(result: LineageResult) -> str:
    """Graphviz DOT: one cluster per relation, influence edges dashed."""
    out = ["digraph lineage {", "  rankdir=LR;",
           '  node [shape=box, fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']
    roots = set(result.roots)
    for i, (relation, nodes) in enumerate(_by_relation(result).items()):
        out.append(f'  subgraph "cluster_{i}" {{')
        kind = result.relation_kinds.get(relation, "model")
        out.append(f'    label="{_dot(relation)} ({kind})";')
        for node in nodes:
            style = ', style="bold,filled", fillcolor="#fff3c4"' if node in roots else ""
            label = split_node(node, result.relation_kinds)[1]
            out.append(f'    "{_dot(node)}" [label="{_dot(label)}"{style}];')
        out.append("  }")
    for e in result.edges:
        dashed = ", style=dashed" if e.kind in INFLUENCE_KINDS else ""
        out.append(f'  "{_dot(e.source)}" -> "{_dot(e.target)}" '
                   f'[label="{e.kind}", tooltip="{_dot(e.expression)}"{dashed}];')
    out.append("}")
    return "\n".join(out)


def render_mermaid(result: LineageResult) -> str:
    """A Mermaid flowchart (renders in GitHub PR bodies): subgraph per relation."""
    ids = {node: f"n{i}" for i, node in enumerate(result.nodes)}
    out = ["flowchart LR"]
    for i, (relation, nodes) in enumerate(_by_relation(result).items()):
        out.append(f'  subgraph r{i}["{_mermaid(relation)}"]')
        for node in nodes:
            label = split_node(node, result.relation_kinds)[1]
            out.append(f'    {ids[node]}["{_mermaid(label)}"]')
        out.append("  end")
    for e in result.edges:
        arrow = "-.->" if e.kind in INFLUENCE_KINDS else "-->"
        out.append(f"  {ids[e.source]} {arrow}|{e.kind}| {ids[e.target]}")
    for root in result.roots:
        out.append(f"  style {ids[root]} stroke-width:3px")
    return "\n".join(out)


def _by_relation(result: LineageResult) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for node in result.nodes:
        grouped.setdefault(split_node(node, result.relation_kinds)[0], []).append(node)
    return grouped


def _dot(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _mermaid(text: str) -> str:
    # Mermaid labels are quoted strings: entity codes keep quotes and brackets literal.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("\n", " "))
