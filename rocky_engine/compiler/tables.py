"""Find the stored-relation references of a parsed model (not CTEs, not table functions).

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("WITH a AS (SELECT 1 AS x) SELECT * FROM a JOIN raw.t ON 1 = 1")
    >>> [(r.db, r.name) for r in table_refs(tree)]
    [('raw', 't')]

A CTE is visible where the warehouse says it is: in the body of its query and in the
CTEs written after it, not inside its own body (unless the ``WITH`` is ``RECURSIVE``).
So in ``WITH orders AS (SELECT * FROM orders) SELECT * FROM orders`` the inner
``orders`` is the model and the outer one the CTE, as DuckDB, Postgres and Spark read it:

    >>> tree = sqlglot.parse_one("WITH orders AS (SELECT * FROM orders) SELECT * FROM orders")
    >>> [r.offset for r in table_refs(tree)]
    [30]
"""

from __future__ import annotations

from sqlglot import exp

from rocky_engine.compiler.ir import TableRef
from rocky_engine.compiler.positions import span

_KINDS = (exp.CTE, exp.Table)
_KINDS_AND_ALIASES = (exp.CTE, exp.Table, exp.Alias, exp.TableAlias)


def cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def names_cte(table: exp.Table) -> bool:
    """True when the bare name of ``table`` refers to a CTE visible where it stands.

    Walks up from the table: passing through the ``i``-th CTE of a ``WITH`` sees the CTEs
    before it (all of them, itself included, when the ``WITH`` is recursive); arriving at a
    query from its body (not from its ``WITH``) sees all of that query's CTEs.
    """
    if table.args.get("db") or table.args.get("catalog"):
        return False
    name = table.name.lower()
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            if isinstance(child, exp.CTE):
                ctes = node.expressions
                visible = ctes if node.args.get("recursive") else \
                    ctes[:next(i for i, c in enumerate(ctes) if c is child)]
                if any(c.alias_or_name.lower() == name for c in visible):
                    return True
        elif child.arg_key != "with_":
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With) and any(
                    c.alias_or_name.lower() == name for c in with_.expressions):
                return True
        child, node = node, node.parent
    return False


def physical_tables(tree: exp.Expr, aliases: list[exp.Expr] | None = None) -> list[exp.Table]:
    """Table nodes naming a stored relation (not table functions, not CTEs).

    ``aliases``, when given, also collects every ``exp.Alias`` and ``exp.TableAlias`` node
    in the same walk (the compiler records their written case before qualifying).
    """
    # One walk for all (breadth-first, like find_all); a table whose name is a CTE's
    # somewhere is then checked against the CTEs visible where it stands.
    ctes: set[str] = set()
    tables: list[exp.Table] = []
    kinds = _KINDS if aliases is None else _KINDS_AND_ALIASES
    for node in tree.find_all(*kinds):
        if isinstance(node, exp.CTE):
            ctes.add(node.alias_or_name.lower())
        elif isinstance(node, exp.Table):
            tables.append(node)
        elif aliases is not None:
            aliases.append(node)
    out = []
    for table in tables:
        if not isinstance(table.this, exp.Identifier):
            continue  # table function such as range(10) or read_csv(...)
        if not table.args.get("db") and table.name.lower() in ctes and names_cte(table):
            continue
        out.append(table)
    return out


def table_refs(tree: exp.Expr) -> tuple[TableRef, ...]:
    """Every stored-relation reference of a parsed model, in order of appearance."""
    out = []
    for table in physical_tables(tree):
        sp = span(table.this) if not table.db else span(table)
        if sp is not None and table.db:
            # span(table) may include the alias; keep the name parts only.
            parts = [p for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p]
            spans = [s for s in (span(p) for p in parts) if s is not None]
            sp = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else sp
        offset, width = (sp[0], sp[1] - sp[0] + 1) if sp else (-1, 1)
        out.append(TableRef(table.catalog, table.db, table.name, offset, width))
    return tuple(out)
