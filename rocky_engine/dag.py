"""A small generic DAG: parents/children, transitive up/downstream, topological order.

    >>> dag = DAG({"b": ["a"], "c": ["b"], "a": []})
    >>> dag.order()
    ['a', 'b', 'c']
    >>> sorted(dag.downstream("a"))
    ['b', 'c']
    >>> try:
    ...     DAG({"a": ["b"], "b": ["a"]}).order()
    ... except CycleError as exc:
    ...     print(exc)
    dependency cycle: a -> b -> a

Nodes are any hashable (rocky uses lower-case model names). Edges to nodes that are not
keys of the mapping are added as roots, so ``DAG({"b": ["a"]})`` knows ``a``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists it with the first node repeated at the end."""

    def __init__(self, cycle: list[object]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(str(n) for n in cycle))


class DAG(Generic[N]):
    """Immutable after construction; ``parents`` maps a node to the nodes it depends on."""

    def __init__(self, parents: Mapping[N, Iterable[N]] | None = None) -> None:
        self._parents: dict[N, tuple[N, ...]] = {}
        self._children: dict[N, list[N]] = {}
        for node, ups in (parents or {}).items():
            self._parents[node] = tuple(dict.fromkeys(ups))
            self._children.setdefault(node, [])
        for node, ups in list(self._parents.items()):
            for up in ups:
                if up not in self._parents:
                    self._parents[up] = ()
                    self._children.setdefault(up, [])
                self._children[up].append(node)
        self._order: list[N] | None = None

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    @property
    def nodes(self) -> list[N]:
        return list(self._parents)

    def parents(self, node: N) -> tuple[N, ...]:
        """Direct dependencies of ``node``."""
        return self._parents[node]

    def children(self, node: N) -> tuple[N, ...]:
        """Direct dependents of ``node``."""
        return tuple(self._children[node])

    def upstream(self, node: N) -> set[N]:
        """Every node ``node`` depends on, transitively (excluding itself)."""
        return self._walk(node, self._parents)

    def downstream(self, node: N) -> set[N]:
        """Every node depending on ``node``, transitively (excluding itself)."""
        return self._walk(node, {k: tuple(v) for k, v in self._children.items()})

    @staticmethod
    def _walk(node: N, edges: Mapping[N, tuple[N, ...]]) -> set[N]:
        seen: set[N] = set()
        stack = list(edges[node])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(edges[n])
        return seen

    def order(self) -> list[N]:
        """Topological order, dependencies first, ties in insertion order; CycleError if cyclic."""
        if self._order is None:
            self._order = self._toposort()
        return list(self._order)

    def levels(self) -> list[list[N]]:
        """Nodes grouped by depth: level 0 has no parents; level k only needs levels < k."""
        depth: dict[N, int] = {}
        for n in self.order():
            depth[n] = 1 + max((depth[p] for p in self._parents[n]), default=-1)
        out: list[list[N]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for n in self.order():
            out[depth[n]].append(n)
        return out

    def find_cycle(self) -> list[N] | None:
        """One cycle (first node repeated at the end), or None."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self._parents, white)
        for start in self._parents:
            if color[start] != white:
                continue
            path: list[N] = [start]
            iters = [iter(self._parents[start])]
            color[start] = grey
            while iters:
                nxt = next(iters[-1], None)
                if nxt is None:
                    color[path.pop()] = black
                    iters.pop()
                elif color[nxt] == grey:
                    return path[path.index(nxt):] + [nxt]
                elif color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    iters.append(iter(self._parents[nxt]))
        return None

    def _kahn(self) -> list[N]:
        indeg = {n: len(p) for n, p in self._parents.items()}
        ready = [n for n, d in indeg.items() if d == 0]
        i = 0
        while i < len(ready):
            for c in self._children[ready[i]]:
                indeg[c] -= 1
                if indeg[c] == 0:
                    ready.append(c)
            i += 1
        return ready

    def _toposort(self) -> list[N]:
        out = self._kahn()
        if len(out) != len(self._parents):
            raise CycleError(list(self.find_cycle() or []))
        return out

    def without_cycles(self) -> tuple[list[N], list[list[N]]]:
        """(topological order of the nodes not on or after a cycle, every cycle found).

        >>> DAG({"a": [], "b": ["a", "c"], "c": ["b"], "d": ["c"]}).without_cycles()
        (['a'], [['b', 'c', 'b']])
        """
        try:
            return self.order(), []
        except CycleError:
            pass
        out = self._kahn()
        done = set(out)
        rest = {n: tuple(p for p in ps if p not in done)
                for n, ps in self._parents.items() if n not in done}
        cycles: list[list[N]] = []
        on_cycle: set[N] = set()
        while True:
            sub = DAG({n: tuple(p for p in ps if p not in on_cycle)
                       for n, ps in rest.items() if n not in on_cycle})
            cycle = sub.find_cycle()
            if cycle is None:
                return out, cycles
            cycles.append(cycle)
            on_cycle.update(cycle)
