"""The one table of compile diagnostic codes; ``docs/diagnostics.md`` is generated from it.

    >>> CODES["R104"].title
    'unknown column'
    >>> diag("R104", 'column "amout" not found', file="models/a.sql", line=3, col=8).severity
    <Severity.ERROR: 'error'>

Codes are stable: never renumber or reuse one. ``R`` codes are errors, ``W`` codes are
warnings (``W130`` becomes an error under ``rocky compile --strict``), ``I`` codes are info.
Regenerate the docs page with ``python -m rocky_engine.codes > docs/diagnostics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rocky_engine.errors import Diagnostic, Severity, Subject


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str
    explanation: str
    example: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

_TABLE: tuple[Code, ...] = (
    Code("R101", _E, "syntax error",
         "The model's SQL does not parse in the project dialect.",
         "SELECT id, FROM raw.orders"),
    Code("R102", _E, "unknown model",
         "A bare table name must be a model in models/ (or a CTE of the same query).",
         "SELECT * FROM stg_order   -- did you mean stg_orders?"),
    Code("R103", _E, "undeclared source schema",
         "A `schema.table` reference whose schema is not declared in sources/; "
         "catalog-qualified names are not allowed either.",
         "SELECT * FROM rawdata.orders"),
    Code("R104", _E, "unknown column",
         "A column that none of the relations in scope produce.",
         "SELECT amout FROM raw.orders   -- did you mean amount?"),
    Code("R105", _E, "unknown source table",
         "The schema is a declared source schema but the table is not declared in it.",
         "SELECT * FROM raw.order"),
    Code("R106", _E, "ambiguous column",
         "An unqualified column that more than one relation in scope produces.",
         "SELECT id FROM raw.orders JOIN raw.payments ON ..."),
    Code("R107", _E, "duplicate output column",
         "Two output columns of a model have the same name; the table could not be built.",
         "SELECT id, id FROM raw.orders"),
    Code("R108", _E, "dependency cycle",
         "Models depend on each other in a loop; the cycle is printed.",
         "a.sql: SELECT * FROM b;  b.sql: SELECT * FROM a"),
    Code("R109", _E, "not a query",
         "A model must be one SELECT (CTEs, UNION and `FROM (VALUES ...)` are fine), not DDL or DML.",
         "DELETE FROM raw.orders"),
    Code("R110", _E, "incompatible comparison",
         "Comparing values whose types cannot be compared without an explicit CAST.",
         "WHERE status = 1   -- status is VARCHAR"),
    Code("R111", _E, "arithmetic on non-numeric",
         "Arithmetic (+ - * / %) on a value that is neither numeric nor a date/time.",
         "SELECT status + 1 FROM raw.orders"),
    Code("R112", _E, "aggregate of non-numeric",
         "SUM/AVG (and friends) of a value that is not numeric.",
         "SELECT SUM(status) FROM raw.orders"),
    Code("R113", _E, "set operation arity mismatch",
         "The branches of UNION/INTERSECT/EXCEPT produce different numbers of columns.",
         "SELECT a, b FROM x UNION ALL SELECT a FROM y"),
    Code("R114", _E, "set operation type mismatch",
         "A column of UNION/INTERSECT/EXCEPT has incompatible types in its branches.",
         "SELECT id FROM x UNION ALL SELECT name FROM y"),
    Code("R115", _E, "join key type mismatch",
         "An equality join condition compares incompatible types.",
         "JOIN raw.customers c ON o.customer_id = c.email"),
    Code("R120", _E, "contract column missing",
         "The sidecar declares a column the model does not produce.",
         "[columns.revenue] type = \"DECIMAL(10,2)\"   -- but the model has no revenue"),
    Code("R121", _E, "contract type mismatch",
         "The inferred type of a column differs from the type declared in the sidecar.",
         "[columns.customer_id] type = \"BIGINT\"   -- inferred INTEGER"),
    Code("R122", _E, "contract nullability",
         "The sidecar declares a column non-null but it can be null "
         "(its source column is nullable, or it comes from the nullable side of an outer join).",
         "[columns.email] nullable = false   -- raw.customers.email is nullable"),
    Code("R123", _E, "invalid contract type",
         "The type declared in a sidecar column contract is not a SQL type.",
         "[columns.id] type = \"INTEGR\""),
    Code("R124", _E, "query nested too deeply",
         "The query nests expressions or subqueries deeper than the compiler can follow "
         "(thousands of levels). Flatten it, e.g. with CTEs.",
         "SELECT ((((((...x...)))))) AS y   -- 3,000 levels of parentheses"),
    Code("R400", _E, "not expressible on the warehouse",
         "The model uses a construct of the project dialect that the warehouse's dialect "
         "cannot express (sqlglot has no translation, or the warehouse lacks it). Shown by "
         "`rocky compile --target postgres` and whenever the project's warehouse speaks "
         "another dialect; `rocky run` refuses to build the project until it is rewritten.",
         "SELECT {'a': 1} AS s   -- a DuckDB struct literal, on postgres"),
    Code("R199", _E, "internal compiler error",
         "The compiler failed on this model; please report it with the SQL.",
         "(none)"),
    Code("R550", _E, "incompatible value types",
         "The values of one CASE, COALESCE, IF, NULLIF, GREATEST or LEAST have types DuckDB "
         "cannot unify (text with a non-text value, a date with a number, a boolean with a "
         "DECIMAL or DOUBLE, ...).",
         "CASE WHEN paid THEN amount ELSE status END   -- DECIMAL and VARCHAR"),
    Code("R551", _E, "numeric function of non-numeric",
         "ABS, ROUND, FLOOR, CEIL, SIGN, SQRT, LN, LOG, EXP, POWER or CBRT of a value that is "
         "not a number (text, boolean, date/time, interval).",
         "SELECT ROUND(status) FROM raw.orders"),
    Code("W130", _W, "unknown column type",
         "The type of an output column cannot be inferred. Counted and shown; "
         "an error under `rocky compile --strict`. Add a CAST to make it known.",
         "SELECT my_udf(x) AS y FROM raw.t"),
    Code("W131", _W, "stale intent",
         "The model's SQL changed since its intent was last confirmed "
         "(`intent.confirmed_sql` differs from the SQL's hash).",
         "run `rocky intent confirm MODEL` after reviewing the intent"),
    Code("W132", _W, "output column has no name",
         "An expression in the final SELECT has no alias. The warehouse names such a column "
         "after the expression's text (DuckDB: `count_star()`, `(id + 1)`), which downstream "
         "models, tests and contracts cannot sensibly refer to. Give it a name with AS.",
         "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id"),
    Code("R600", _E, "incremental key column missing",
         "A column of `[incremental] unique_key` is not an output column of the model.",
         "unique_key = [\"order_id\"]   -- but the model outputs id"),
    Code("R601", _E, "incremental watermark missing",
         "`[incremental] watermark` is not an output column of the model.",
         "watermark = \"updated_at\"   -- but the model has no updated_at"),
    Code("R602", _E, "incremental key type not usable",
         "A `unique_key` column must compare exactly for equality: not a floating-point, "
         "nested (LIST, STRUCT, MAP) or JSON value.",
         "unique_key = [\"score\"]   -- score is DOUBLE"),
    Code("R603", _E, "incremental watermark type not usable",
         "The watermark must be a number, a date or a timestamp, so that \"newer than the "
         "stored maximum\" means something.",
         "watermark = \"status\"   -- status is VARCHAR"),
    Code("R604", _E, "lookback does not fit the watermark",
         "`lookback` is a duration (\"2 days\") for a date/timestamp watermark and a plain "
         "number for a numeric one.",
         "watermark = \"id\" (BIGINT); lookback = \"2 days\""),
    Code("W600", _W, "merge key is not the grain",
         "The `unique_key` of a merge differs from the grain declared in `[intent]`: rows "
         "that are one entity by the grain may be stored twice, or distinct rows collapsed.",
         "grain = [\"order_id\"]; unique_key = [\"customer_id\"]"),
    Code("W601", _W, "incremental key can be NULL",
         "A `unique_key` column can be NULL; a row whose key is NULL never matches a stored "
         "row, so every run inserts it again.",
         "unique_key = [\"email\"]   -- email is nullable"),
    Code("I140", _I, "not checked: upstream failed",
         "A model reading a model that has errors is not type-checked; "
         "fix the upstream model first.",
         "customers reads order_payments, which has errors"),
)

CODES: dict[str, Code] = {c.code: c for c in _TABLE}


def diag(code: str, message: str, *, file: str = "", line: int = 0, col: int = 0,
         hint: str | None = None, snippet: str | None = None, model: str | None = None,
         end_col: int = 0, severity: Severity | None = None,
         subjects: tuple[Subject, ...] | None = None) -> Diagnostic:
    """A :class:`Diagnostic` for a code of the table (its default severity unless given).

    ``subjects`` default to the model itself (a finding is at least about its model).
    """
    spec = CODES[code]
    if subjects is None:
        subjects = (Subject(model.lower()),) if model else ()
    return Diagnostic(code=code, severity=severity or spec.severity, message=message, file=file,
                      line=line, col=col, hint=hint, snippet=snippet, model=model,
                      end_col=end_col, subjects=subjects)


def render_docs() -> str:
    """The Markdown page ``docs/diagnostics.md`` (a test checks the file is up to date)."""
    out = [
        "# Compile diagnostics",
        "",
        "<!-- generated by `python -m rocky_engine.codes > docs/diagnostics.md`; do not edit -->",
        "",
        "Every diagnostic `rocky compile` reports has a stable code. `R` codes are errors,",
        "`W` codes warnings (`W130` is an error under `--strict`), `I` codes information.",
        "",
        "| code | severity | title | meaning | example |",
        "|---|---|---|---|---|",
    ]
    for c in _TABLE:
        example = c.example.replace("|", "\\|")
        out.append(f"| `{c.code}` | {c.severity.value} | {c.title} | {c.explanation} "
                   f"| `{example}` |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_docs(), end="")
