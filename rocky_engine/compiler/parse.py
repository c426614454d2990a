"""Pass 1 — parse: model SQL in the project dialect → one query tree, or R101/R109.

    >>> tree, diags = parse_model(Site("m", "models/m.sql", "SELECT 1 AS x"), "duckdb")
    >>> tree.sql(), diags
    ('SELECT 1 AS x', [])
    >>> parse_model(Site("m", "models/m.sql", "SELECT x FROM"), "duckdb")[1][0].code
    'R101'
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from rocky_engine.compiler.positions import Site
from rocky_engine.errors import Diagnostic


def parse_model(site: Site, dialect: str) -> tuple[exp.Query | None, list[Diagnostic]]:
    sql = site.text.sql
    try:
        trees = [t for t in sqlglot.parse(sql, read=_dialect(dialect)) if t is not None]
    except ParseError as exc:
        return None, [_parse_error(site, exc)]
    except TokenError as exc:
        return None, [_token_error(site, exc)]
    if not trees:
        return None, [site.at("R101", "model file holds no SQL statement", line=1, col=1,
                              hint="write one SELECT statement")]
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper()
        first = len(sql) - len(sql.lstrip())
        hint = ("name its columns: SELECT * FROM (VALUES ...) AS t(a, b)"
                if isinstance(tree, exp.Values) else
                "models only read; rocky creates the table or view")
        return None, [site.at("R109", f"a model is one SELECT query, not {kind}", offset=first,
                              width=len(sql[first:].split(None, 1)[0]) if sql.strip() else 1,
                              hint=hint)]
    return tree, []


@functools.lru_cache(maxsize=16)
def _dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name)


def _parse_error(site: Site, exc: ParseError) -> Diagnostic:
    err = exc.errors[0] if exc.errors else {}
    line, col = int(err.get("line") or 0), int(err.get("col") or 0)
    highlight = str(err.get("highlight") or "")
    desc = _TOKEN_RE.sub(_token_text, str(err.get("description") or exc).split(". Line ")[0])
    desc = _MISSING_RE.sub(lambda m: f"incomplete {_NODE_WORDS.get(m.group(1), m.group(1))}",
                           desc)
    # sqlglot's col points at the last character of the offending token; show its first.
    if line and highlight and col >= len(highlight):
        col = col - len(highlight) + 1
    return site.at("R101", f"syntax error: {desc}", line=line, col=col,
                   width=max(1, len(highlight)), hint="check the SQL near the caret")


_TOKEN_RE = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: .*?>")


_MISSING_RE = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>")
_NODE_WORDS = {"Add": "`+` expression", "Sub": "`-` expression", "Mul": "`*` expression",
               "Div": "`/` expression", "EQ": "`=` comparison", "Where": "WHERE clause",
               "Join": "JOIN", "Alias": "alias", "Having": "HAVING clause"}


def _token_text(m: re.Match[str]) -> str:
    return "end of input" if m.group(1) == "SENTINEL" else f"`{m.group(2)}`"


def _token_error(site: Site, exc: TokenError) -> Diagnostic:
    offset, what = _unterminated(site.text.sql)
    return site.at("R101", f"syntax error: unterminated {what}", offset=offset,
                   hint="close it, or remove the stray quote")


def _unterminated(sql: str) -> tuple[int, str]:
    """Offset and kind of the first string, identifier or comment that never closes."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                return i, "comment"
            i = j + 2
        elif ch in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == ch and sql[j + 1:j + 2] == ch:
                    j += 2
                elif sql[j] == ch:
                    break
                else:
                    j += 1
            if j >= n:
                return i, "string" if ch == "'" else "quoted identifier"
            i = j + 1
        else:
            i += 1
    return 0, "token"
