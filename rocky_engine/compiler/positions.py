"""Map sqlglot nodes back to ``line:col`` in the original model file, and draw caret snippets.

sqlglot keeps the token offsets of identifiers, literals and keywords in ``node.meta``; they
survive ``qualify`` (which edits the tree in place), so a node of the rewritten query still
points into the file the user wrote.

    >>> text = SourceText("SELECT a,\\n  bb FROM t")
    >>> text.line_col(12)
    (2, 3)
    >>> print(text.snippet(2, 3, 2))
      2 |   bb FROM t
        |   ^^
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

from rocky_engine.codes import diag
from rocky_engine.errors import Diagnostic, Severity, Subject

if TYPE_CHECKING:
    from sqlglot import exp


class SourceText:
    """A model's SQL with fast offset → (line, col) conversion."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._starts: list[int] | None = None  # built on first use: most models never need it

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, col) of a 0-based character offset."""
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.sql)]
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line_text(self, line: int) -> str:
        lines = self.sql.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def snippet(self, line: int, col: int, width: int = 1) -> str | None:
        """Two lines: the source line numbered, and carets under ``width`` characters."""
        text = self.line_text(line)
        if not line or not text:
            return None
        gutter = f"{line:>3} | "
        pad = " " * (len(gutter) - 2) + "| "
        # Tabs keep their width in the caret line so the caret stays under the right char.
        lead = "".join(ch if ch == "\t" else " " for ch in text[: max(col - 1, 0)])
        return f"{gutter}{text}\n{pad}{lead}{'^' * max(width, 1)}"


def span(node: exp.Expr | None) -> tuple[int, int] | None:
    """(start, end) character offsets (end inclusive) covered by ``node``'s tokens, if known."""
    if node is None:
        return None
    lo: int | None = None
    hi: int | None = None
    for n in node.walk():
        meta = n._meta
        if meta and "start" in meta:
            s, e = meta["start"], meta.get("end", meta["start"])
            lo = s if lo is None or s < lo else lo
            hi = e if hi is None or e > hi else hi
    return None if lo is None or hi is None else (lo, hi)


class Site:
    """Where a pass reports: one model file. ``at`` builds a located diagnostic whose
    ``subjects`` (the relations / columns it is about) default to the model itself.

    >>> site = Site("m", "models/m.sql", "SELECT x FROM t")
    >>> site.at("R104", 'column "x" not found', offset=7).headline()
    'models/m.sql:1:8: error[R104]: column "x" not found'
    """

    def __init__(self, model: str, file: str, sql: str) -> None:
        self.model = model
        self.relation = model.lower()
        self.file = file
        self.text = SourceText(sql)

    def at(self, code: str, message: str, *, node: exp.Expr | None = None,
           offset: int | None = None, width: int = 1, line: int = 0, col: int = 0,
           hint: str | None = None, severity: Severity | None = None,
           subjects: tuple[Subject, ...] | None = None) -> Diagnostic:
        if node is not None and offset is None:
            sp = span(node)
            if sp is not None:
                offset, width = sp[0], sp[1] - sp[0] + 1
        if offset is not None:
            line, col = self.text.line_col(offset)
        # A caret run never wraps past the end of its line.
        width = max(1, min(width, len(self.text.line_text(line)) - col + 1)) if line else 1
        snippet = self.text.snippet(line, col, width) if line else None
        return diag(code, message, file=self.file, line=line, col=col, hint=hint,
                    snippet=snippet, model=self.model, end_col=col + width - 1 if line else 0,
                    severity=severity, subjects=subjects)
