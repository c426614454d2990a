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


# ---------------------------------------------------------------------------- refusals

T = exp.DataType.Type

# Functions sqlglot parses as Anonymous in DuckDB that Spark has under the same name.
_SPARK_PASS_THROUGH = frozenset({
    "md5", "initcap", "repeat", "translate", "pi", "sign", "cbrt", "degrees", "radians",
    "factorial", "bit_length", "ascii", "chr", "sha1", "crc32", "soundex", "reverse",
    "base64", "unbase64", "hex", "unhex", "nvl", "nvl2", "uuid", "bin", "e", "ln",
    "log2", "log10", "octet_length", "char_length", "character_length", "btrim",
})

_SPARK_MISSING_TYPES = (T.UNION, T.INT128, T.UINT128, T.UBIGINT, T.UINT, T.USMALLINT,
                        T.UTINYINT, T.TIMETZ, T.JSON, T.UUID)


def refuse(node: exp.Expr) -> str | None:
    """The name of a construct Spark cannot run as written (None: fine)."""
    if isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")
                                       or node.args.get("rename")):
        return "SELECT * EXCLUDE/REPLACE (unexpanded)"
    if isinstance(node, exp.Anonymous) and node.name.lower() not in _SPARK_PASS_THROUGH:
        return f"function {node.name}()"
    if isinstance(node, exp.DataType) and node.this in _SPARK_MISSING_TYPES:
        from rocky_engine.compiler.types import render as render_type

        return f"type {render_type(node)}"
    if isinstance(node, exp.TableSample):
        # A percentage samples rows on Spark as DuckDB's `USING SAMPLE 10%` does (block or
        # row: both a random share); a row count or a named method has no equivalent.
        method = node.args.get("method")
        if node.args.get("percent") is None or node.args.get("size") is not None or \
                (method is not None and method.name.upper() not in ("SYSTEM", "BERNOULLI")):
            return "USING SAMPLE / TABLESAMPLE (Spark: a percentage)"
    return None


# ---------------------------------------------------------------------------- fix-ups


def lateral(node: exp.Expr) -> exp.Expr:
    """A derived table in FROM that reads an outer table's columns is ``LATERAL``: DuckDB
    infers that (the qualified tree drops the keyword), Spark needs it spelled."""
    if not isinstance(node, exp.Subquery) or not isinstance(node.this, exp.Select) or \
            not isinstance(node.parent, exp.Join | exp.From):
        return node
    inner = node.this
    own = {t.alias_or_name.lower() for t in inner.find_all(exp.Table)}
    own |= {s.alias_or_name.lower() for s in inner.find_all(exp.Subquery)}
    own |= {c.alias_or_name.lower() for c in inner.find_all(exp.CTE)}
    if not any(c.table and c.table.lower() not in own for c in inner.find_all(exp.Column)):
        return node
    alias = node.args.get("alias")
    return exp.Lateral(this=exp.Subquery(this=inner.copy()),
                       alias=alias.copy() if alias is not None else None)
