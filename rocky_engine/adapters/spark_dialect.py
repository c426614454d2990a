"""SQL generation for Spark: sqlglot's Spark dialect with rocky's corrections.

sqlglot rewrites ``QUALIFY`` into a subquery for Spark (whose SQL has had ``QUALIFY``
since 3.4/4.0) and, doing so, moves the outer ``ORDER BY`` inside the subquery where it
orders nothing. Spark 4 runs ``QUALIFY`` itself, so the rewrite is left out.

    >>> import sqlglot
    >>> render(sqlglot.parse_one(
    ...     "SELECT id, RANK() OVER (ORDER BY id) AS r FROM t QUALIFY r = 1 ORDER BY id",
    ...     read="duckdb"))
    'SELECT id, RANK() OVER (ORDER BY id NULLS LAST) AS r FROM t QUALIFY r = 1 ORDER BY id NULLS LAST'
"""

from __future__ import annotations

from sqlglot import exp, transforms
from sqlglot.dialects.spark import Spark


def _keep_qualify() -> None:
    # sqlglot's generators are compiled classes (no subclassing), so the Select transform
    # of its Spark dialect is corrected in place, once, for everything rocky generates.
    transforms_ = Spark.Generator.TRANSFORMS  # type: ignore[attr-defined]
    transforms_[exp.Select] = transforms.preprocess([
        transforms.eliminate_distinct_on,
        transforms.unnest_to_explode,
        transforms.any_to_exists,
    ])


_keep_qualify()
_DIALECT = Spark()


def render(tree: exp.Expr) -> str:
    """``tree`` (any dialect's expression) as Spark SQL."""
    return _DIALECT.generate(tree, copy=False)
