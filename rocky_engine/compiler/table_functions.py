"""Name the columns of VALUES lists and table functions in FROM as DuckDB does, before qualify.

sqlglot names a VALUES column ``_col_<n>`` and does not know the single column of
``range(...)``, ``generate_series(...)`` or ``unnest(...)`` in FROM (``SELECT *`` kept a
column literally named ``*``). DuckDB's rules, written into the table alias so qualify,
annotation, output naming and lineage all see them:

- ``(VALUES (1, 2)) AS v`` has columns ``col0, col1``; ``AS v(a)`` renames a prefix: ``a, col1``.
- a table function has one column, named by the first alias column (``AS t(n)`` → ``n``),
  else by the table alias (``range(3) AS t`` → ``t``), else by the function
  (``range``, ``generate_series``, ``unnest``).

``range``/``generate_series`` become ``UNNEST(<the list function>)`` (DuckDB's list
``range(3)`` is ``BIGINT[]``), so sqlglot types the column from the element type.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT * FROM range(3) JOIN (VALUES (1)) AS v ON TRUE",
    ...                          read="duckdb")
    >>> name_table_functions(tree)
    >>> tree.sql("duckdb")
    'SELECT * FROM UNNEST(RANGE(0, 3)) AS range(range) JOIN (VALUES (1)) AS v(col0) ON TRUE'
"""

from __future__ import annotations

from sqlglot import exp

_SOURCE_PARENTS = (exp.From, exp.Join)
_ORDINALITY = exp.to_identifier("ordinality")  # DuckDB's name for WITH ORDINALITY's column


def mentions_table_functions(low_sql: str) -> bool:
    """Cheap pre-check on the lower-cased model text: most models need no rewrite."""
    return "values" in low_sql or "range" in low_sql or "generate_series" in low_sql \
        or "unnest" in low_sql


def name_table_functions(tree: exp.Expr) -> None:
    """Rewrite ``tree`` in place: DuckDB's column names on every VALUES / table-function alias."""
    for values in list(tree.find_all(exp.Values)):
        # In FROM/JOIN (the parser wraps a CTE's bare VALUES as ``SELECT * FROM (VALUES ...)``).
        if isinstance(values.parent, _SOURCE_PARENTS):
            _name_values(values)
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.GenerateSeries) and isinstance(table.parent, _SOURCE_PARENTS) \
                and {k for k, v in table.args.items() if v} <= {"this", "alias", "ordinality"}:
            fn = "range" if table.this.args.get("is_end_exclusive") else "generate_series"
            unnest = exp.Unnest(expressions=[table.this],
                                offset=_ORDINALITY.copy() if table.args.get("ordinality")
                                else False)
            alias = table.args.get("alias")
            table.replace(unnest)
            _name_single_column(unnest, alias, fn)
    for unnest in list(tree.find_all(exp.Unnest)):
        if not isinstance(unnest.parent, _SOURCE_PARENTS) or len(unnest.expressions) != 1:
            continue
        if unnest.args.get("offset") is True:  # WITH ORDINALITY, its column not named
            unnest.set("offset", _ORDINALITY.copy())
        if not unnest.alias_column_names:
            _name_single_column(unnest, unnest.args.get("alias"), "unnest")


def _name_single_column(unnest: exp.Unnest, alias: exp.TableAlias | None, fn: str) -> None:
    renamed = alias is not None and alias.name and not alias.args.get("columns") \
        and alias.name.lower() != fn
    unnest.set("alias", _single_column_alias(alias, fn))
    if renamed:
        _keep_function_name(unnest, unnest.args["alias"], fn)


def _keep_function_name(source: exp.Unnest, alias: exp.TableAlias, fn: str) -> None:
    """``range(3) AS t`` names its column ``t``, yet DuckDB still binds ``t.range`` (and a
    bare ``range`` when ``t`` is the only source) to it: rewrite those to ``t.t``, keeping
    the written name as the output name of a bare projection."""
    select = source.find_ancestor(exp.Select)
    if select is None:
        return
    table = alias.name.lower()
    only = not select.args.get("joins") and not select.args.get("laterals")
    for column in list(select.find_all(exp.Column)):
        if column.is_star or column.name.lower() != fn or column.find_ancestor(exp.Select) \
                is not select:
            continue
        if column.table.lower() != table and not (only and not column.table):
            continue
        bound = exp.column(alias.this.copy(), table=alias.this.copy())
        if column.parent is select and column.arg_key == "expressions":
            column.replace(exp.alias_(bound, column.this.copy()))
        else:
            column.replace(bound)


def _name_values(values: exp.Values) -> None:
    rows = [row for row in values.expressions if isinstance(row, exp.Tuple)]
    if not rows:
        return
    width = len(rows[0].expressions)
    alias = values.args.get("alias")
    if alias is None:  # qualify names it (``_0``); DuckDB's own name is not referable
        alias = exp.TableAlias()
        values.set("alias", alias)
    own = list(alias.args.get("columns") or [])
    if len(own) < width:
        alias.set("columns", [*own, *(exp.to_identifier(f"col{i}")
                                      for i in range(len(own), width))])


def _single_column_alias(alias: exp.TableAlias | None, fn: str) -> exp.TableAlias:
    """``AS t(n, m)`` → ``t(n)``; ``AS t`` → ``t(t)``; none → ``fn(fn)``."""
    if alias is None:
        return exp.TableAlias(this=exp.to_identifier(fn), columns=[exp.to_identifier(fn)])
    columns = alias.args.get("columns") or []
    if columns:
        alias.set("columns", [columns[0]])
    elif alias.this is not None and alias.name:
        alias.set("columns", [alias.this.copy()])
    else:
        alias.set("columns", [exp.to_identifier(fn)])
    return alias
