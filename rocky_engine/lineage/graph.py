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
import gc
import sys
from array import array
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate, count, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from rocky_engine.errors import UsageError
from rocky_engine.lineage.edges import (
    EDGE_KINDS,
    INFLUENCE_KINDS,
    VALUE_KINDS,
    ColumnEdge,
    EdgePack,
)

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
_N_VALUE = len(VALUE_KINDS)  # kind ids below this are value kinds (EDGE_KINDS order)


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

        A model's ``lineage`` holds :class:`ColumnEdge` records, plain ``(source, target,
        kind, expression)`` tuples, or (from the compiler and its cache) a ``LazyTuple``
        of an :class:`EdgePack`, read packed: no object per edge, influence edges once.
        The graph is the same whichever form a model's edges come in.
        """
        with _gc_paused():
            return cls._from_compile(result, sources)

    @classmethod
    def _from_compile(cls, result: CompileResult,
                      sources: Mapping[str, SourceTable] | None) -> LineageGraph:
        builder = _Builder()
        for key, table in (sources or {}).items():
            builder.relation(key.lower(), _SOURCE, (c.name for c in table.columns))
        for name, m in result.models.items():
            builder.relation(name.lower(), _MODEL, (c.name for c in m.columns))
        for m in result.models.values():
            lineage = m.lineage
            packed = getattr(lineage, "packed", None)
            if packed is not None:  # a LazyTuple: its pickled form, unexpanded
                lineage = packed()
            if isinstance(lineage, EdgePack):
                builder.pack(lineage)
                continue
            for e in lineage:
                if isinstance(e, ColumnEdge):
                    builder.edge(e)
                elif isinstance(e, tuple) and len(e) == 4:
                    builder.edge(ColumnEdge(*e))
        broken = {name: [*m.depends_on, *m.sources] for name, m in result.models.items()
                  if m.status != "ok"}
        return cls._built(builder, broken)

    @classmethod
    def from_edges(cls, *, models: Mapping[str, Iterable[str]],
                   sources: Mapping[str, Iterable[str]] | None = None,
                   edges: Iterable[ColumnEdge],
                   broken: Mapping[str, Iterable[str]] | None = None) -> LineageGraph:
        """Build from plain records: model -> output columns, source -> columns, edges.

        ``broken`` maps models that failed to compile (their lineage is missing or partial)
        to the relations they read.
        """
        with _gc_paused():
            builder = _Builder()
            for key, cols in (sources or {}).items():
                builder.relation(key.lower(), _SOURCE, cols)
            for name, cols in models.items():
                builder.relation(name.lower(), _MODEL, cols)
            for edge in edges:
                builder.edge(edge)
            return cls._built(builder, broken)

    @classmethod
    def _built(cls, builder: _Builder,
               broken: Mapping[str, Iterable[str]] | None) -> LineageGraph:
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a graph is built: it makes a million acyclic tuples and dicts, and
    the collector rescanning everything a 10,000-model compile holds cost a third of the
    build (the same reason ``load_project`` pauses it)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _relation_of_key(key: str) -> str:
    """What ``split_node`` finds for a memoised node key (see ``_Builder._memo``)."""
    i = key.rfind(".")
    return key[:i] if i > 0 else ""


def _ints(data: bytes) -> array[int]:
    values = array("I")
    values.frombytes(data)
    return values


def _triples(offsets: array[int], flat: array[int], i: int) -> list[_Edge]:
    a, b = offsets[i] * 3, offsets[i + 1] * 3
    return [(flat[j], flat[j + 1], flat[j + 2]) for j in range(a, b, 3)]


def _csr(group: list[int], a: list[int], b: list[int], c: list[int],
         n: int) -> tuple[bytes, bytes]:
    """Triples ``(a[i], b[i], c[i])`` in CSR form by ``group[i]`` (``0 <= group[i] < n``).

    Within a group the triples keep their input order (the sort is stable).

        >>> off, flat = _csr([1, 0, 1], [7, 8, 9], [0, 0, 0], [5, 5, 5], 3)
        >>> list(_ints(off)), list(_ints(flat))
        ([0, 1, 3, 3], [8, 0, 5, 7, 0, 5, 9, 0, 5])
    """
    flat = [0] * (3 * len(group))
    if group == sorted(group):  # value edges arrive by target: vin is in order already
        flat[0::3], flat[1::3], flat[2::3] = a, b, c
    else:
        order = sorted(range(len(group)), key=group.__getitem__)
        flat[0::3] = map(a.__getitem__, order)
        flat[1::3] = map(b.__getitem__, order)
        flat[2::3] = map(c.__getitem__, order)
    counts = Counter(group)
    offsets = array("I", accumulate(map(counts.get, range(n), repeat(0)), initial=0))
    return offsets.tobytes(), array("I", flat).tobytes()


class _Builder:
    """Collects relations, nodes and edges by name; ``state()`` numbers and packs them.

    Per-edge work is a few dict lookups: a node id is split into relation and column (and
    registered) once, then found in ``_memo``; edges hold integer node handles; packed
    models add each influence edge once instead of once per output column.
    """

    def __init__(self) -> None:
        self.relations: dict[str, tuple[int, dict[str, None]]] = {}  # name -> kind, columns
        self.exprs: dict[str, int] = {}
        self.value: dict[tuple[int, int, int], int] = {}  # (source, target, kind) -> expr
        self.influence: dict[tuple[str, int, int], int] = {}  # (model, source, kind) -> expr
        # A handle per distinct lower-case node key, in order of first registration;
        # state() turns handles into node numbers (the same when nothing was registered
        # out of relation order, the common case).
        self._handle: dict[str, int] = {}
        self._key_of: list[str] = []
        self._relation_of: list[str] = []  # by handle; right for memoised handles
        # Node id as given -> its handle, for registered ids whose split no relation added
        # later can change: the relation is everything before the last dot (``split_node``
        # tries that first), or there is no dot (see _relation_of_key). A quoted column
        # with a dot in it is split afresh each time: a longer relation may turn up.
        self._memo: dict[str, int] = {}

    def relation(self, name: str, kind: int, columns: Iterable[str]) -> None:
        found = self.relations.get(name)
        fresh = dict.fromkeys([f"{name}.{c.lower()}" for c in columns])
        if found is None:
            cols = fresh
        else:
            cols = found[1]
            cols.update(fresh)  # as setdefault: a known column keeps its place
        self.relations[name] = (kind, cols)
        handle, key_of = self._handle, self._key_of
        start = len(key_of)
        new = (fresh if fresh.keys().isdisjoint(handle.keys())  # views: scans `fresh` only
               else [k for k in fresh if k not in handle])
        handle.update(zip(new, count(start)))
        key_of.extend(new)
        self._relation_of.extend(repeat(name, len(new)))
        # `name` is what split_node finds first for these, whatever relation comes later
        # (unless the column name has a dot in it).
        if new is fresh and "\x00".join(fresh).count(".") == len(fresh) * (name.count(".") + 1):
            self._memo.update(zip(fresh, count(start)))  # the common case, at C speed
            return
        after = len(name) + 1
        self._memo.update({key: handle[key] for key in fresh if key.find(".", after) < 0})

    def node(self, node_id: str) -> int:
        found = self._memo.get(node_id)
        if found is not None:
            return found
        key = node_id.lower()
        relation = split_node(key, self.relations)[0]
        if relation not in self.relations:
            # An edge from a relation nobody declared (e.g. an undeclared source).
            self.relations[relation] = (_SOURCE, {})
        self.relations[relation][1].setdefault(key, None)
        handle = self._handle.get(key)
        if handle is None:
            handle = self._handle[key] = len(self._key_of)
            self._key_of.append(key)
            self._relation_of.append(relation)
        if relation == _relation_of_key(key):
            self._memo[node_id] = handle
            self._relation_of[handle] = relation
        return handle

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

    def pack(self, pack: EdgePack) -> None:
        """Add a model's packed edges: the same result as :meth:`edge` on each of them."""
        memo, node, exprs, value = self._memo, self.node, self.exprs, self.value
        n_value = _N_VALUE
        # A target's edges come together and often share one expression (one string
        # object once unpickled): the previous edge's answers are reused by identity.
        last_target_id = last_text = None
        target = expr = 0
        for source_id, target_id, kind, text in pack.value:
            if kind >= n_value:  # never made by extract_edges; exact all the same
                self.edge(ColumnEdge(source_id, target_id, EDGE_KINDS[kind], text))
                last_target_id = last_text = None
                continue
            source = memo.get(source_id)
            if source is None:
                source = node(source_id)
            if text is not last_text:
                expr = exprs.setdefault(text.replace(_EXPR_SEP, " "), len(exprs))
                last_text = text
            if target_id is not last_target_id:
                found = memo.get(target_id)
                if found is None:  # not memoised: registered (maybe afresh) every time
                    target = node(target_id)
                    last_target_id = None
                else:
                    target = found
                    last_target_id = target_id
            value.setdefault((source, target, kind), expr)
        targets = pack.targets
        models: tuple[str, ...] = ()
        n_relations = -1
        for source_id, kind, text in pack.influence:
            if kind < n_value:  # never made by extract_edges; exact all the same
                for target_id in targets:
                    self.edge(ColumnEdge(source_id, target_id, EDGE_KINDS[kind], text))
                continue
            source = memo.get(source_id)
            if source is None:
                source = node(source_id)
            expr = exprs.setdefault(text.replace(_EXPR_SEP, " "), len(exprs))
            if len(self.relations) != n_relations:
                # The model each target belongs to, as edge() finds it: normally the one
                # model of the pack. Only a new relation can change that answer.
                n_relations = len(self.relations)
                handles = list(map(memo.get, targets))
                if None in handles:
                    models = tuple(dict.fromkeys([
                        split_node(t.lower(), self.relations)[0] for t in targets]))
                else:
                    models = tuple(dict.fromkeys(map(self._relation_of.__getitem__,
                                                     cast("list[int]", handles))))
            for model in models:
                self.influence.setdefault((model, source, kind), expr)

    def state(self) -> dict[str, Any]:
        names = list(self.relations)
        rel_id = dict(zip(names, range(len(names))))
        nodes: list[str] = []
        starts = [0]
        for name in names:
            nodes.extend(self.relations[name][1])
            starts.append(len(nodes))
        # Node number of each handle: the handle itself unless some node was registered
        # out of relation order (or under two relations: then, as a dict of node -> number
        # would, the last place wins).
        number: list[int] | None = None
        if nodes != self._key_of:
            node_id = dict(zip(nodes, range(len(nodes))))
            number = list(map(node_id.__getitem__, self._key_of))
        # Column-wise lists and C-level map/sort: ~1M edges without a Python loop per edge.
        keys = list(self.value)
        src = list(map(itemgetter(0), keys))
        dst = list(map(itemgetter(1), keys))
        if number is not None:
            src = list(map(number.__getitem__, src))
            dst = list(map(number.__getitem__, dst))
        kinds = list(map(itemgetter(2), keys))
        exprs = list(self.value.values())
        vin_off, vin_flat = _csr(dst, src, kinds, exprs, len(nodes))
        vout_off, vout_flat = _csr(src, dst, kinds, exprs, len(nodes))
        i_rel: list[int] = []
        i_src: list[int] = []
        i_kind: list[int] = []
        i_expr: list[int] = []
        for (model, source, kind), expr in self.influence.items():
            r = rel_id.get(model)
            if r is None or self.relations[model][0] != _MODEL:
                continue
            i_rel.append(r)
            i_src.append(source if number is None else number[source])
            i_kind.append(kind)
            i_expr.append(expr)
        inf_off, inf_flat = _csr(i_rel, i_src, i_kind, i_expr, len(names))
        iout_off, iout_flat = _csr(i_src, i_rel, i_kind, i_expr, len(nodes))
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
