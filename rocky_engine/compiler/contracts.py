"""Pass 7 — check contracts: sidecar column types and nullability against inferred columns.

    >>> cols = (CompiledColumn("id", "INTEGER", True),)
    >>> site = Site("m", "models/m.sql", "SELECT id FROM raw.t")
    >>> [d.code for d in check_contracts(cols, (Contract("id", "BIGINT", False),
    ...                                         Contract("gone", None, None)), site)]
    ['R121', 'R122', 'R120']
"""

from __future__ import annotations

import re

from sqlglot import exp

from rocky_engine.compiler.ir import CompiledColumn, Contract
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.types import normalize, parse_type, same_type
from rocky_engine.errors import Diagnostic, Subject


def check_contracts(columns: tuple[CompiledColumn, ...], contracts: tuple[Contract, ...],
                    site: Site, tree: exp.Query | None = None,
                    sidecar_path: str | None = None, sidecar_text: str = "") -> list[Diagnostic]:
    out: list[Diagnostic] = []
    by_name = {c.name.lower(): c for c in columns}
    for contract in contracts:
        # Every contract finding is about the model's output column the contract names.
        about = (Subject(site.relation, contract.name.lower()),)
        col = by_name.get(contract.name.lower())
        key_line = _line_of(sidecar_text, contract.name)
        if col is None:
            import difflib

            close = difflib.get_close_matches(contract.name.lower(), list(by_name), n=1)
            hint = f'did you mean "{close[0]}"?' if close else \
                "remove the contract or add the column to the model"
            out.append(_at_sidecar(site, sidecar_path, sidecar_text, key_line, "R120",
                                   f'contract names column "{contract.name}" but the model '
                                   "does not produce it", hint, about))
            continue
        if contract.type is not None:
            if parse_type(contract.type) is None:
                out.append(_at_sidecar(site, sidecar_path, sidecar_text, key_line, "R123",
                                       f'contract type {contract.type!r} of column '
                                       f'"{contract.name}" is not a SQL type',
                                       "use a type such as INTEGER, VARCHAR, DECIMAL(10,2)",
                                       about))
            elif col.known and not same_type(contract.type, col.type):
                out.append(site.at(
                    "R121", f'column "{col.name}" is {col.type} but its contract says '
                    f"{normalize(contract.type)}", node=_select_node(tree, col.name),
                    hint=f"CAST it to {normalize(contract.type)} or update the contract"
                    + (f" in {sidecar_path}" if sidecar_path else ""), subjects=about))
        if contract.nullable is False and col.nullable is True:
            out.append(site.at(
                "R122", f'column "{col.name}" is declared non-null but can be NULL',
                node=_select_node(tree, col.name),
                hint="filter or COALESCE the NULLs, or declare it nullable", subjects=about))
    return out


def _select_node(tree: exp.Query | None, name: str) -> exp.Expr | None:
    if tree is None:
        return None
    for sel in tree.selects:
        if sel.alias_or_name.lower() == name.lower():
            return sel.unalias() if isinstance(sel, exp.Alias) else sel
    return None


def _at_sidecar(site: Site, sidecar_path: str | None, sidecar_text: str, line: int, code: str,
                message: str, hint: str, subjects: tuple[Subject, ...]) -> Diagnostic:
    if sidecar_path:
        sidecar_site = Site(site.model, sidecar_path, sidecar_text)
        text = sidecar_site.text.line_text(line)
        col = len(text) - len(text.lstrip()) + 1 if line else 0
        return sidecar_site.at(code, message, line=line, col=col,
                               width=len(text.strip()) or 1, hint=hint, subjects=subjects)
    return site.at(code, message, hint=hint, subjects=subjects)


def _line_of(text: str, column: str) -> int:
    pat = re.compile(rf'^\s*\[\s*columns\.\s*"?{re.escape(column)}"?\s*\]', re.IGNORECASE)
    inline = re.compile(rf'^\s*columns\.\s*"?{re.escape(column)}"?\s*[.=]', re.IGNORECASE)
    for i, line in enumerate(text.splitlines(), 1):
        if pat.search(line) or inline.search(line):
            return i
    return 0
