"""Model selectors: ``name``, ``+name`` (with upstream), ``name+`` (with downstream), ``+name+``.

    >>> from rocky_engine.dag import DAG
    >>> dag = DAG({"a": [], "b": ["a"], "c": ["b"], "d": []})
    >>> select_models(dag, ["b+"])
    ['b', 'c']
    >>> select_models(dag, ["+b", "d"])
    ['a', 'd', 'b']
    >>> select_models(dag, None)
    ['a', 'd', 'b', 'c']

The result is always in DAG order, whatever the order of the selectors.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from rocky_engine.dag import DAG
from rocky_engine.errors import UsageError


@dataclass(frozen=True)
class Selector:
    name: str
    upstream: bool = False
    downstream: bool = False

    @classmethod
    def parse(cls, text: str) -> Selector:
        raw = text.strip()
        up, down = raw.startswith("+"), raw.endswith("+")
        name = raw.strip("+").strip().lower()
        if not name or "+" in name or " " in name:
            raise UsageError(f"invalid selector {text!r}",
                             hint="use name, +name (with upstream), name+ (with downstream) "
                                  "or +name+")
        return cls(name, up, down)


def select_models(dag: DAG[str], selectors: Sequence[str] | None) -> list[str]:
    """The selected model names in DAG order; every model when ``selectors`` is empty."""
    order = dag.order()
    if not selectors:
        return order
    chosen: set[str] = set()
    for text in selectors:
        # Several selectors may come in one argument: "a b" or "a,b".
        for part in text.replace(",", " ").split():
            sel = Selector.parse(part)
            if sel.name not in dag:
                close = difflib.get_close_matches(sel.name, order, n=1)
                raise UsageError(
                    f"no model named {sel.name!r} (selector {part!r})",
                    hint=f"did you mean {close[0]!r}?" if close else "see `rocky compile`",
                )
            chosen.add(sel.name)
            if sel.upstream:
                chosen |= dag.upstream(sel.name)
            if sel.downstream:
                chosen |= dag.downstream(sel.name)
    return [n for n in order if n in chosen]
