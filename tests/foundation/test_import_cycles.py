"""No two modules of rocky import each other (at module level, in a function, or for type
checking only): each such pair is a layering knot (see DESIGN: cli -> context -> passes /
adapters / drift / branches -> errors, config)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("rocky_engine", "intent_agent")


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges() -> set[tuple[str, str]]:
    modules = {_module(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    edges: set[tuple[str, str]] = set()
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # `from pkg import sub` imports the submodule; `from mod import name` the module
                subs = [f"{node.module}.{a.name}" for a in node.names
                        if f"{node.module}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges.update((name, t) for t in targets if t in modules and t != name)
    return edges


def test_no_two_modules_import_each_other() -> None:
    edges = _edges()
    assert len(edges) > 300  # the walk sees the code base, not an empty set
    knots = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    assert knots == [], "modules importing each other: " + "; ".join(
        f"{a} <-> {b}" for a, b in knots)
