"""Render the pull request of a repair: title, Markdown body, Mermaid blast radius.

The body comes from ``prompts/pr_body.md.j2``. Text from the warehouse or the project
(column names, comments, SQL) is data: prose goes through :func:`md` (Markdown and HTML
neutralised), code through :func:`fence` (a fence longer than any backtick run inside)::

    >>> md("<img src=x onerror=alert(1)> *bold* | pipe")
    '&lt;img src=x onerror=alert\\\\(1\\\\)&gt; \\\\*bold\\\\* \\\\| pipe'
    >>> print(fence("a ``` b", "diff"))
    ````diff
    a ``` b
    ````
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def md(value: Any) -> str:
    """Escape text for a Markdown table cell or paragraph: no HTML, no formatting, one line."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # `&gt;` above already neutralised '>'; undo the escape the regex put on it.
    text = text.replace("\\&gt;", "&gt;")
    return " ".join(text.split())


def code(value: Any) -> str:
    """An inline code span that no backtick or newline inside can break.

    >>> code("a`b")
    '``a`b``'
    """
    text = " ".join(("" if value is None else str(value)).split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(value: Any, lang: str = "") -> str:
    text = "" if value is None else str(value).rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def unified_diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


@dataclass(frozen=True)
class PatchView:
    path: str
    diff: str
    model: str | None = None
    applied: tuple[str, ...] = ()
    preserves: tuple[str, ...] = ()
    drafted_by: str = "offline"
    explanation: str = ""


def mermaid_blast_radius(edges: Iterable[tuple[str, str, str]], changed: Iterable[str]) -> str:
    """A Mermaid flowchart of column lineage edges (from, to, kind); changed nodes marked.

    >>> print(mermaid_blast_radius([("raw.orders.amount", "stg_orders.amount", "copy")],
    ...                            ["raw.orders.amount"]))
    flowchart LR
      n0["raw.orders.amount"]:::changed
      n1["stg_orders.amount"]
      n0 -->|copy| n1
      classDef changed fill:#fdd,stroke:#c00
    """
    ids: dict[str, str] = {}
    changed_set = {c.lower() for c in changed}
    lines = ["flowchart LR"]
    body: list[str] = []

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"n{len(ids)}"
            mark = ":::changed" if name.lower() in changed_set else ""
            lines.append(f'  {ids[name]}["{_mermaid_label(name)}"]{mark}')
        return ids[name]

    for name in sorted(changed_set):
        node(name)
    seen = set()
    for src, dst, kind in edges:
        key = (src, dst, kind)
        if key in seen:
            continue
        seen.add(key)
        a, b = node(src), node(dst)
        body.append(f"  {a} -->|{_mermaid_label(kind)}| {b}")
    if len(lines) == 1:
        return ""
    return "\n".join(lines + body + ["  classDef changed fill:#fdd,stroke:#c00"])


def render_body(*, repair_id: str, changes: Sequence[Any], patches: Sequence[PatchView],
                validation: dict[str, Any] | None, mermaid: str, provider: str,
                models: Sequence[str], stats: Sequence[str]) -> str:
    steps = []
    diff_rows: list[Any] = []
    intent_tests: list[str] = []
    warehouse_branch = ""
    sandbox: dict[str, Any] | None = None
    if validation:
        warehouse_branch = str(validation.get("warehouse_branch", ""))
        if validation.get("sandbox"):
            box = validation["sandbox"]
            sandbox = {"tables": list(box.get("tables", [])),
                       "sample_rows": box.get("sample_rows"),
                       "sampled": [t["table"] for t in box.get("tables", [])
                                   if t.get("truncated")]}
        for name in ("compile", "build", "tests", "data_diff"):
            data = validation.get(name) or {}
            steps.append((name.replace("_", " "), _Obj(data)))
        diff_rows = [_Obj(r) for r in (validation.get("data_diff") or {}).get("models", [])]
        intent_tests = list((validation.get("tests") or {}).get("intent_tests", []))
    return _env().get_template("pr_body.md.j2").render(
        repair_id=repair_id, changes=changes, patches=patches, steps=steps,
        diff_rows=diff_rows, intent_tests=intent_tests, warehouse_branch=warehouse_branch,
        sandbox=sandbox, mermaid=mermaid, provider=provider, models=list(models), stats=list(stats),
    ).strip() + "\n"


def render_title(changes: Sequence[Any], patched_models: Sequence[str]) -> str:
    tables = sorted({c.table for c in changes})
    what = ", ".join(tables[:3]) + (" …" if len(tables) > 3 else "")
    n = len(patched_models)
    return f"rocky: repair upstream drift in {what} ({n} model{'s' if n != 1 else ''} patched)"


class _Obj:
    """Attribute access over a JSON dict, for the template."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        return self._data.get(name)


def _mermaid_label(text: str) -> str:
    return (str(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;").replace("\n", " "))


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    from intent_agent.prompting import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, escaped value by value with `md`
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["md"] = md
    env.filters["fence"] = fence
    env.filters["code"] = code
    env.filters["num"] = lambda v: "-" if v is None else str(v)
    return env


def render_review_body(*, repair_id: str, changes: Sequence[Any], findings: Sequence[Any],
                       impact: Sequence[Any], mermaid: str) -> str:
    """The body for a repair that needs a person (drift in values): what changed, the
    evidence and figures, the blast radius, what intent may no longer hold — no patch."""
    risks: dict[str, list[str]] = {}
    for item in impact:
        for risk in getattr(item, "at_risk", ()) or ():
            risks.setdefault(str(getattr(item, "model", "")), []).append(str(risk))
    return _env().get_template("review_body.md.j2").render(
        repair_id=repair_id, changes=changes, findings=findings, mermaid=mermaid,
        risks={m: list(dict.fromkeys(r)) for m, r in sorted(risks.items())},
        affected=sorted({(str(getattr(i, "model", "")), str(getattr(i, "column", "")),
                          str(getattr(i, "status", ""))) for i in impact}),
    ).strip() + "\n"
