"""The project-wide column graph: per-model edges composed across the DAG, queried both ways.

    >>> from rocky_engine.lineage.extract import ColumnEdge
    >>> g = LineageGraph.from_edges(
    ...     models={"stg": ("id",), "mart": ("id",)},
    ...     sources={"raw.t": ("id", "x")},
    ...     edges=[ColumnEdge("raw.t.id", "stg.id", "copy", "id"),
    ...            ColumnEdge("stg.id", "mart.id", "cast", "CAST(id AS TEXT)")])
    >>> [e.target for e in g.downstream("raw.t.id").edges]
    ['stg.id', 'mart.id']
    >>> g.upstream("mart.id", depth=1).nodes
    ('mart.id', 'stg.id')

Nodes are ``relation.column`` ids, lower-case; a relation is a model name or a source
``schema.table``. Influence edges (``filter``/``join``/``group``) are stored once per model
and expanded to every output column of that model when a query walks them, so the graph
(and its index file) stays compact; query results always list explicit edges.

Storage is built for a fast cold load (a warm ``rocky lineage`` on 10,000 models): nodes
are numbered so each relation's columns are contiguous, names are one joined string, and
edges are flat ``array('I')`` triples ``(other node, kind, expression)`` in CSR form
(``offsets[i]..offsets[i+1]``), so loading is a few memcpys instead of a million objects.
"""

from __future__ import annotations

import difflib
import sys
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rocky_engine.errors import UsageError
from rocky_engine.lineage.edges import EDGE_KINDS, INFLUENCE_KINDS, ColumnEdge

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.project import SourceTable

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
_KIND_ID = {k: i for i, k in enumerate(EDGE_KINDS)}
_INFLUENCE_IDS = frozenset(_KIND_ID[k] for k in INFLUENCE_KINDS)

# Edge tuples inside the graph: (other node id, kind id, expression id).
_Edge = tuple[int, int, int]
_SOURCE, _MODEL = 0, 1
_KIND_NAMES = {_SOURCE: "source", _MODEL: "model"}
_EXPR_SEP = "\x00"


@dataclass(frozen=True)
class LineageResult:
    """The answer to one query: the root, the direction, reached nodes and walked edges."""

    root: str
    direction: str
    roots: tuple[str, ...]
    nodes: tuple[str, ...]
    edges: tuple[ColumnEdge, ...]
    relation_kinds: Mapping[str, str]  # relation -> "model" | "source"
    incomplete: tuple[str, ...] = ()  # reached models that did not compile cleanly

    def to_json(self) -> dict[str, object]:
        """The ``rocky lineage --format json`` document (DESIGN §2; fields only ever added)."""
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [self._node_json(n) for n in self.nodes],
            "edges": [{"from": e.source, "to": e.target, "kind": e.kind,
                       "expression": e.expression} for e in self.edges],
            "incomplete": list(self.incomplete),
        }

    def _node_json(self, node: str) -> dict[str, object]:
        relation, column = split_node(node, self.relation_kinds)
        return {"id": node, "relation": relation, "column": column,
                "type": self.relation_kinds.get(relation, "model")}


class LineageGraph:
    """Column lineage of a whole project; build with :meth:`from_compile`, query both ways."""

    def __init__(self, state: dict[str, Any]) -> None:
        # ``state`` is the marshal-able form (see ``to_state``): strings and byte arrays.
        if state.get("byteorder") != sys.byteorder:
            raise ValueError("lineage state written on a machine of another byte order")
        self._state = state
        self._nodes: list[str] = state["nodes"].split("\n") if state["nodes"] else []
        self._exprs: list[str] = state["exprs"].split(_EXPR_SEP)
        self._relations: list[str] = state["relations"].split("\n") if state["relations"] else []
        self._rel_index = {r: i for i, r in enumerate(self._relations)}
        self._rel_kinds: bytes = state["rel_kinds"]
        self._rel_start = _ints(state["rel_start"])
        self._vin_off, self._vin = _ints(state["vin_off"]), _ints(state["vin"])
        self._vout_off, self._vout = _ints(state["vout_off"]), _ints(state["vout"])
        # influence: per relation -> (source node, kind, expr); influence_out: per node ->
        # (model relation, kind, expr), expanded to the model's columns when walked.
        self._inf_off, self._inf = _ints(state["inf_off"]), _ints(state["inf"])
        self._iout_off, self._iout = _ints(state["iout_off"]), _ints(state["iout"])
        self._broken: dict[str, list[str]] = state["broken"]
        if len(self._rel_start) != len(self._relations) + 1 or (
                len(self._vin_off) != len(self._nodes) + 1):
            raise ValueError("inconsistent lineage state")

    # -- building -------------------------------------------------------------------------

    @classmethod
    def from_compile(cls, result: CompileResult,
                     sources: Mapping[str, SourceTable] | None = None) -> LineageGraph:
        """Compose every compiled model's edges; ``sources`` adds declared source columns.

        A model's ``lineage`` holds :class:`ColumnEdge` records or, as a cache may store
        them to unpickle fast, plain ``(source, target, kind, expression)`` tuples.
        """
        models = {name: tuple(c.name for c in m.columns) for name, m in result.models.items()}
        source_cols = {key: tuple(c.name for c in t.columns)
                       for key, t in (sources or {}).items()}
        edges = [e if isinstance(e, ColumnEdge) else ColumnEdge(*e)
                 for m in result.models.values() for e in m.lineage
                 if isinstance(e, ColumnEdge) or (isinstance(e, tuple) and len(e) == 4)]
        broken = {name: [*m.depends_on, *m.sources] for name, m in result.models.items()
                  if m.status != "ok"}
        return cls.from_edges(models=models, sources=source_cols, edges=edges, broken=broken)

    @classmethod
    def from_edges(cls, *, models: Mapping[str, Iterable[str]],
                   sources: Mapping[str, Iterable[str]] | None = None,
                   edges: Iterable[ColumnEdge],
                   broken: Mapping[str, Iterable[str]] | None = None) -> LineageGraph:
        """Build from plain records: model -> output columns, source -> columns, edges.

        ``broken`` maps models that failed to compile (their lineage is missing or partial)
        to the relations they read.
        """
        builder = _Builder()
        for key, cols in (sources or {}).items():
            builder.relation(key.lower(), _SOURCE, cols)
        for name, cols in models.items():
            builder.relation(name.lower(), _MODEL, cols)
        for edge in edges:
            builder.edge(edge)
        state = builder.state()
        state["broken"] = {b.lower(): sorted(d.lower() for d in deps)
                           for b, deps in sorted((broken or {}).items())}
        return cls(state)

    def to_state(self) -> dict[str, Any]:
        """Builtin types only (str, bytes, dict, list): what the index file holds."""
        return self._state

    # -- lookups --------------------------------------------------------------------------

    @property
    def relations(self) -> list[str]:
        return list(self._relations)

    def relation_kind(self, relation: str) -> str | None:
        r = self._rel_index.get(relation.lower())
        return None if r is None else _KIND_NAMES[self._rel_kinds[r]]

    def columns(self, relation: str) -> list[str]:
        """Node ids of a relation's columns, in order."""
        r = self._rel_index.get(relation.lower())
        return [] if r is None else self._nodes[self._rel_start[r]:self._rel_start[r + 1]]

    def has_node(self, node: str) -> bool:
        return self._node_id(node.lower()) is not None

    def _node_id(self, node: str) -> int | None:
        r = self._rel_index.get(split_node(node, self._rel_index)[0])
        if r is None:
            return None
        for i in range(self._rel_start[r], self._rel_start[r + 1]):
            if self._nodes[i] == node:
                return i
        return None

    def resolve(self, root: str) -> tuple[str, ...]:
        """The node ids a root names: ``model``, ``model.col``, ``schema.table[.col]``.

        Raises :class:`UsageError` with a "did you mean" suggestion when nothing matches.
        """
        text = root.strip().lower()
        if text in self._rel_index:
            return tuple(self.columns(text))
        if self._node_id(text) is not None:
            return (text,)
        relation, column = split_node(text, self._rel_index)
        if relation in self._rel_index:
            names = [c[len(relation) + 1:] for c in self.columns(relation)]
            near_column = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
            hint = (f"did you mean `{relation}.{near_column[0]}`?" if near_column else
                    f"its columns: {', '.join(names)}")
            raise UsageError(f"`{relation}` has no column `{column}`", hint=hint)
        candidates = self._relations
        close: list[str] = []
        if relation:  # `relation.column` with a misspelt relation (or a whole relation)
            near = difflib.get_close_matches(relation, candidates, n=1, cutoff=0.6)
            if near and self._node_id(f"{near[0]}.{column}") is not None:
                close = [f"{near[0]}.{column}"]
        if not close:
            close = difflib.get_close_matches(text, candidates, n=1, cutoff=0.6)
        hint = (f"did you mean `{close[0]}`?" if close else
                "give a model, model.column, or a source schema.table.column")
        raise UsageError(f"unknown model or column `{root}`", hint=hint)

    # -- queries --------------------------------------------------------------------------

    def upstream(self, root: str, depth: int | None = None,
                 value_only: bool = False) -> LineageResult:
        """Where ``root`` comes from: every node and edge within ``depth`` hops upstream."""
        return self.query(root, UPSTREAM, depth=depth, value_only=value_only)

    def downstream(self, root: str, depth: int | None = None,
                   value_only: bool = False) -> LineageResult:
        """What ``root`` feeds (the blast radius of a change), within ``depth`` hops."""
        return self.query(root, DOWNSTREAM, depth=depth, value_only=value_only)

    def query(self, root: str, direction: str = UPSTREAM, *, depth: int | None = None,
              value_only: bool = False) -> LineageResult:
        if direction not in (UPSTREAM, DOWNSTREAM):
            raise UsageError(f"unknown direction `{direction}`",
                             hint="use upstream or downstream")
        if depth is not None and depth < 0:
            raise UsageError("--depth must be 0 or more")
        roots = self.resolve(root)
        step = self._parents if direction == UPSTREAM else self._children
        start = [n for n in (self._node_id(r) for r in roots) if n is not None]
        seen: dict[int, int] = {n: 0 for n in start}
        edges: dict[tuple[int, int, int], int] = {}
        queue = deque(start)
        while queue:
            node = queue.popleft()
            level = seen[node]
            if depth is not None and level >= depth:
                continue
            for other, kind, expr in step(node):
                if value_only and kind in _INFLUENCE_IDS:
                    continue
                key = (other, node, kind) if direction == UPSTREAM else (node, other, kind)
                edges.setdefault(key, expr)
                if other not in seen:
                    seen[other] = level + 1
                    queue.append(other)
        nodes = self._nodes
        reached = {self._relations[self._relation_of(n)] for n in seen}
        if root.strip().lower() in self._rel_index:  # a model root without columns
            reached.add(root.strip().lower())
        return LineageResult(
            root=root.strip(),
            direction=direction,
            roots=tuple(roots),
            nodes=tuple(nodes[n] for n in seen),
            edges=tuple(ColumnEdge(nodes[s], nodes[t], EDGE_KINDS[k], self._exprs[e])
                        for (s, t, k), e in edges.items()),
            relation_kinds={rel: self.relation_kind(rel) or "model" for rel in reached},
            # A broken model has no edges: it is "reached" when it reads a reached relation.
            incomplete=tuple(b for b, deps in self._broken.items()
                             if b in reached or reached.intersection(deps)),
        )

    def _parents(self, node: int) -> list[_Edge]:
        found = _triples(self._vin_off, self._vin, node)
        found.extend(_triples(self._inf_off, self._inf, self._relation_of(node)))
        return found

    def _children(self, node: int) -> list[_Edge]:
        found = _triples(self._vout_off, self._vout, node)
        starts = self._rel_start
        for relation, kind, expr in _triples(self._iout_off, self._iout, node):
            found.extend((t, kind, expr) for t in range(starts[relation], starts[relation + 1]))
        return found

    def _relation_of(self, node: int) -> int:
        return bisect_right(self._rel_start, node) - 1


def split_node(node: str, relations: Container[str]) -> tuple[str, str]:
    """``(relation, column)`` of a node id; a quoted column name may itself hold a dot.

        >>> split_node("raw.orders.amount", {"raw.orders"}), split_node("q.a.b", {"q"})
        (('raw.orders', 'amount'), ('q', 'a.b'))
    """
    i = node.rfind(".")
    while i > 0:
        if node[:i] in relations:
            return node[:i], node[i + 1:]
        i = node.rfind(".", 0, i)
    relation, _, column = node.rpartition(".")
    return relation, column


def _ints(data: bytes) -> array[int]:
    values = array("I")
    values.frombytes(data)
    return values


def _triples(offsets: array[int], flat: array[int], i: int) -> list[_Edge]:
    a, b = offsets[i] * 3, offsets[i + 1] * 3
    return [(flat[j], flat[j + 1], flat[j + 2]) for j in range(a, b, 3)]


def _csr(rows: list[list[_Edge]]) -> tuple[bytes, bytes]:
    offsets, flat = array("I", [0]), array("I")
    for row in rows:
        for triple in row:
            flat.extend(triple)
        offsets.append(offsets[-1] + len(row))
    return offsets.tobytes(), flat.tobytes()


class _Builder:
    """Collects relations, nodes and edges by name; ``state()`` numbers and packs them."""

    def __init__(self) -> None:
        self.relations: dict[str, tuple[int, dict[str, None]]] = {}  # name -> kind, columns
        self.exprs: dict[str, int] = {}
        self.value: dict[tuple[str, str, int], int] = {}  # (source, target, kind) -> expr
        self.influence: dict[tuple[str, str, int], int] = {}  # (model, source, kind) -> expr

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
            # An edge from a relation nobody declared (e.g. an undeclared source).
            self.relations[relation] = (_SOURCE, {})
        self.relations[relation][1].setdefault(key, None)
        return key

    def edge(self, edge: ColumnEdge) -> None:
        source = self.node(edge.source)
        kind = _KIND_ID[edge.kind]
        expr = self.exprs.setdefault(edge.expression.replace(_EXPR_SEP, " "), len(self.exprs))
        if edge.kind in INFLUENCE_KINDS:
            # Stored once per model: it reaches every output column of the model.
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
        vin: list[list[_Edge]] = [[] for _ in nodes]
        vout: list[list[_Edge]] = [[] for _ in nodes]
        for (source, target, kind), expr in self.value.items():
            s, t = node_id[source], node_id[target]
            vin[t].append((s, kind, expr))
            vout[s].append((t, kind, expr))
        inf: list[list[_Edge]] = [[] for _ in names]
        iout: list[list[_Edge]] = [[] for _ in nodes]
        for (model, source, kind), expr in self.influence.items():
            r = rel_id.get(model)
            if r is None or self.relations[model][0] != _MODEL:
                continue
            s = node_id[source]
            inf[r].append((s, kind, expr))
            iout[s].append((r, kind, expr))
        vin_off, vin_flat = _csr(vin)
        vout_off, vout_flat = _csr(vout)
        inf_off, inf_flat = _csr(inf)
        iout_off, iout_flat = _csr(iout)
        return {
            "byteorder": sys.byteorder,
            "nodes": "\n".join(nodes),
            "exprs": _EXPR_SEP.join(self.exprs),
            "relations": "\n".join(names),
            "rel_kinds": bytes(self.relations[n][0] for n in names),
            "rel_start": array("I", starts).tobytes(),
            "vin_off": vin_off, "vin": vin_flat, "vout_off": vout_off, "vout": vout_flat,
            "inf_off": inf_off, "inf": inf_flat, "iout_off": iout_off, "iout": iout_flat,
            "broken": {},
        }
