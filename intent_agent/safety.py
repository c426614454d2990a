"""LLM output is untrusted data: explanations stay prose, generated tests stay tests.

    >>> text, found = neutralise_sql("Revenue per day. DROP TABLE main.customers; Enjoy.")
    >>> text
    'Revenue per day. [removed: SQL statement] Enjoy.'
    >>> found
    ['DROP TABLE main.customers;']
    >>> check_test_expression("amount >= 0", ["amount"]).sql()
    'amount >= 0'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from rocky_engine.errors import RockyError

PLACEHOLDER = "[removed: SQL statement]"

# A statement keyword followed by what makes it a statement (not the English word).
_STATEMENT = re.compile(
    r"(?is)"
    r"```.*?(```|$)"
    r"|\b(?:drop|truncate|alter)\s+(?:table|view|schema|database|index|macro|function)\b[^;\n]*;?"
    r"|\bdelete\s+from\b[^;\n]*;?"
    r"|\binsert\s+(?:or\s+\w+\s+)?into\b[^;\n]*;?"
    r"|\bupdate\s+[\w.\"]+\s+set\b[^;\n]*;?"
    r"|\bcreate\s+(?:or\s+replace\s+)?(?:temp\w*\s+)?(?:table|view|schema|macro|function|secret|"
    r"sequence|index)\b[^;\n]*;?"
    r"|\b(?:attach|detach)\s+(?:database\s+)?['\"\w][^;\n]*;?"
    r"|\bcopy\s+[\w.\"(]+[^;\n]*\b(?:to|from)\s+'[^;\n]*;?"
    r"|\b(?:install|load)\s+['\"]?\w+['\"]?\s*;"
    r"|\b(?:pragma|call|export\s+database|import\s+database)\b[^;\n]*;?"
    # Upper-case SELECT only: "we select customers from ..." is English, not SQL.
    r"|(?-i:\bSELECT\b)[^;\n]{0,400}?\b(?i:from)\b[^;\n]*;?"
    r"|\bset\s+\w+\s*=\s*[^;\n]*;"
)

_DENIED_FUNCS = re.compile(r"^(read_|glob$|getenv$|current_setting$|query$|query_table$|"
                           r"sniff_csv$|parquet_|duckdb_|pragma_|system$|shell$|load_)", re.IGNORECASE)


class UnsafeOutput(RockyError):
    """A candidate from an LLM was refused before anything ran it."""

    exit_code = 1
    code = "R703"


def neutralise_sql(text: str) -> tuple[str, list[str]]:
    """Replace SQL statements and code blocks in prose with a placeholder; return what went."""
    found: list[str] = []

    def _cut(m: re.Match[str]) -> str:
        found.append(m.group(0).strip())
        return PLACEHOLDER

    cleaned = _STATEMENT.sub(_cut, text)
    return re.sub(r"[ \t]{2,}", " ", cleaned), found


def check_test_expression(expression: str, columns: Sequence[str],
                          dialect: str = "duckdb") -> exp.Expr:
    """Parse an ``expression`` test: one boolean expression over ``columns``, nothing else.

    Refused: several statements, any statement (SELECT, DDL, ...), subqueries, unknown
    columns, table or file-reading functions, and functions sqlglot does not know.
    """
    text = expression.strip()
    if not text or ";" in text:
        raise UnsafeOutput(f"expression test {expression!r} must be one expression, no `;`")
    try:
        node = sqlglot.parse_one(text, dialect=dialect, into=exp.Condition)
    except (ParseError, TokenError, ValueError) as exc:
        raise UnsafeOutput(f"expression test {expression!r} does not parse: "
                           f"{str(exc).splitlines()[0]}") from None
    if isinstance(node, (exp.Query, exp.Command, exp.DDL, exp.DML)) or node.find(exp.Query):
        raise UnsafeOutput(f"expression test {expression!r} must not contain a query")
    for func in node.find_all(exp.Func):
        name = func.sql_name() if not isinstance(func, exp.Anonymous) else str(func.this)
        if isinstance(func, exp.Anonymous) or _DENIED_FUNCS.match(name):
            raise UnsafeOutput(f"expression test {expression!r} calls {name}(), which is "
                               f"not allowed in a test")
    known = {c.lower() for c in columns}
    for col in node.find_all(exp.Column):
        if col.table or col.name.lower() not in known:
            raise UnsafeOutput(f"expression test {expression!r} names unknown column "
                               f"{col.sql()!r}")
    core = node.unnest() if isinstance(node, exp.Paren) else node
    if not isinstance(core, (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Is,
                             exp.In, exp.Between)):
        raise UnsafeOutput(f"expression test {expression!r} is not a boolean condition")
    return node
