"""dbt generic tests and unit tests as rocky ``[[tests]]`` / ``[[unit_tests]]``.

    >>> t = DbtTest("accepted_range", "dbt_utils", "orders", "amount", {"min_value": 0})
    >>> map_test(t, lambda text: None)
    ({'type': 'expression', 'expression': 'amount >= 0'}, None)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rocky_engine.importers.dbt._ir import DbtTest, DbtUnitTest

# Packages whose tests of these names mean what dbt_utils' do.
_UTILS = (None, "dbt_utils")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?"""
                  r"""(?:,\s*v(?:ersion)?\s*=\s*[^)]*)?\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")

Resolver = Callable[[str], str | None]  # "ref('x')" / "source('a','b')" -> rocky reference


def parse_input(text: str) -> tuple[str, tuple[str, ...]] | None:
    """``ref('a')`` -> ("ref", ("a",)); ``source('s', 't')`` -> ("source", ("s", "t"))."""
    m = _REF.match(text)
    if m:
        return ("ref", (m.group(2) or m.group(1),))
    m = _SOURCE.match(text)
    if m:
        return ("source", (m.group(1), m.group(2)))
    return None


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def map_test(t: DbtTest, resolve: Resolver) -> tuple[dict[str, Any] | None, str | None]:
    """The rocky test for ``t`` (a dict for the sidecar), or why it cannot be imported."""
    if t.namespace not in _UTILS:
        return None, f"`{t.namespace}.{t.test}` is a custom generic test: no rocky equivalent"
    if t.where:
        return None, f"filtered with `where: {t.where}`: rocky tests apply to every row"
    col = t.column
    kw = t.kwargs
    out: dict[str, Any]
    if t.test == "not_null" and col:
        out = {"type": "not_null", "column": col}
    elif t.test == "unique" and col:
        out = {"type": "unique", "column": col}
    elif t.test == "accepted_values" and col:
        if kw.get("quote") is False:
            return None, "accepted_values with `quote: false` compares SQL expressions"
        values = kw.get("values")
        if not isinstance(values, list) or not values:
            return None, "accepted_values without a list of values"
        out = {"type": "accepted_values", "column": col, "values": values}
    elif t.test == "relationships" and col:
        target = resolve(str(kw.get("to", "")))
        if target is None:
            return None, f"relationships `to: {kw.get('to')}` is not an imported model or source"
        out = {"type": "relationships", "column": col, "to": target,
               "field": str(kw.get("field", ""))}
    elif t.test == "expression_is_true":
        expr = str(kw.get("expression", ""))
        out = {"type": "expression", "expression": f"{col} {expr}" if col else expr}
    elif t.test == "accepted_range" and col:
        inclusive = kw.get("inclusive", True) is not False
        parts = []
        if kw.get("min_value") is not None:
            parts.append(f"{col} {'>=' if inclusive else '>'} {kw['min_value']}")
        if kw.get("max_value") is not None:
            parts.append(f"{col} {'<=' if inclusive else '<'} {kw['max_value']}")
        if not parts:
            return None, "accepted_range without min_value or max_value"
        out = {"type": "expression", "expression": " AND ".join(parts)}
    elif t.test == "unique_combination_of_columns":
        cols = kw.get("combination_of_columns")
        if not isinstance(cols, list) or not cols:
            return None, "unique_combination_of_columns without combination_of_columns"
        out = {"type": "unique", "columns": [str(c) for c in cols]}
    else:
        ns = f"{t.namespace}." if t.namespace else ""
        return None, f"`{ns}{t.test}` has no rocky equivalent"
    if t.severity == "warn":
        out["severity"] = "warn"
    return out, None


def map_unit_test(u: DbtUnitTest, resolve: Resolver) -> tuple[dict[str, Any] | None, str | None]:
    if u.overrides:
        return None, "overrides (macros, vars, env vars) have no rocky equivalent"
    if u.expect_format != "dict":
        return None, f"expected rows in `{u.expect_format}` format: only `dict` rows are imported"
    given: dict[str, list[dict[str, Any]]] = {}
    for text, fmt, rows in u.given:
        if fmt != "dict":
            return None, f"given {text} in `{fmt}` format: only `dict` rows are imported"
        ref = resolve(text)
        if ref is None:
            return None, f"given {text}, which is not an imported model or source"
        given[ref] = [dict(r) for r in rows]
    return {"name": u.name, "given": given, "expect": [dict(r) for r in u.expect]}, None
