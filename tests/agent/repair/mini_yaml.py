"""A YAML subset reader for the Action tests (no YAML library is a dependency of rocky).

Supports what action.yml and workflow files use: nested mappings, lists (of scalars or
mappings), ``|`` block scalars, quoted and plain scalars, inline ``{}``/``[a, b]``, and
comments.
"""

from __future__ import annotations

from typing import Any


def load(text: str) -> Any:
    lines = [ln.rstrip("\n") for ln in text.splitlines()]
    value, _ = _block(lines, 0, 0)
    return value


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _skip(lines: list[str], i: int) -> int:
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    return i


def _block(lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    i = _skip(lines, i)
    if i >= len(lines):
        return None, i
    if lines[i].lstrip().startswith("- "):
        return _list(lines, i, _indent(lines[i]))
    return _map(lines, i, _indent(lines[i]))


def _list(lines: list[str], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while True:
        i = _skip(lines, i)
        if i >= len(lines) or _indent(lines[i]) != indent or not lines[i].lstrip().startswith("-"):
            return out, i
        rest = lines[i].lstrip()[2:]
        if ":" in rest and not rest.startswith(("'", '"')):
            # A mapping item: re-read it as a mapping indented past the dash.
            lines[i] = " " * (indent + 2) + rest
            value, i = _map(lines, i, indent + 2)
        else:
            value, i = _scalar(rest), i + 1
        out.append(value)


def _map(lines: list[str], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while True:
        i = _skip(lines, i)
        if i >= len(lines) or _indent(lines[i]) != indent or lines[i].lstrip().startswith("- "):
            return out, i
        key, _, rest = lines[i].strip().partition(":")
        rest = _strip_comment(rest.strip())
        if rest in ("|", "|-", ">"):
            i += 1
            block: list[str] = []
            inner = None
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
                if lines[i].strip() and inner is None:
                    inner = _indent(lines[i])
                block.append(lines[i][inner or 0:] if lines[i].strip() else "")
                i += 1
            out[key] = "\n".join(block).rstrip("\n") + "\n"
        elif rest:
            out[key] = _scalar(rest)
            i += 1
        else:
            value, i = _block(lines, i + 1, indent + 2)
            out[key] = value
    return out, i


def _strip_comment(text: str) -> str:
    if text.startswith(("'", '"')):
        return text
    return text.split(" #", 1)[0].strip()


def _scalar(text: str) -> Any:
    text = _strip_comment(text.strip())
    if text == "{}":
        return {}
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(p) for p in text[1:-1].split(",") if p.strip()]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
