"""Read a table's value fingerprints: bounded cost, portable SQL, one pass per question.

Every query is a sqlglot expression generated for ``adapter.dialect``; nothing here is
specific to one warehouse. Large tables are *sampled* when the adapter declares a
``SAMPLE_METHOD`` (a ``TABLESAMPLE`` method its dialect understands, e.g. ``"SYSTEM"``,
read with a fixed seed so an unchanged table gives the same sample); otherwise the whole
table is read. Per table:

1. ``COUNT(*)`` of the whole table (decides whether to sample);
2. over the sample: per column non-NULL and distinct counts, min/max, and for numbers the
   10th/50th/90th percentile of ``|x|`` over non-zero values (the *magnitude*);
3. over the sample, one ``UNION ALL``: the bottom-k md5 sketch per column (rename
   evidence), every value with its count for text/boolean columns (kept when there are at
   most ``LOW_CARDINALITY`` of them), and the most common *shapes* of text values
   (digits -> ``9``, letters -> ``a``/``A``, runs collapsed: ``2024-01-31`` is ``9-9-9``);
4. for declared keys only, the duplicate rate, exact: over the whole table, or for an
   integer key over the rows whose key is a multiple of a stride (duplicates of a key
   share its residue, so the rate is kept while the work is bounded).

    >>> with DuckDBAdapter("warehouse.duckdb") as a:                    # doctest: +SKIP
    ...     prints = profile_table(a, "raw", "orders", ["id", "status"], keys={"id"})
    >>> prints["status"].top                                             # doctest: +SKIP
    (('completed', 5012), ('placed', 2480), ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.drift.fingerprints import Fingerprint, K
from rocky_engine.drift.typechange import family
from rocky_engine.errors import WarehouseError

DEFAULT_SAMPLE_ROWS = 10_000
# Tables up to this many times ``sample_rows`` are read whole (exact, and a new batch is
# never missed); larger ones are sampled.
FULL_READ_FACTOR = 5
# Up to this many distinct values a column's values are listed (new_values drift).
LOW_CARDINALITY = 50
# Shapes kept per text column.
SHAPES = 20
_SEED = 7
_KEY_ROWS = 50_000  # rows a duplicate check reads at most (integer keys)
_QUANTILES = (0.1, 0.5, 0.9)


def kind_of(type_text: str) -> str:
    """number | text | boolean | temporal | other."""
    fam = family(type_text)
    if fam in ("integer", "decimal", "float"):
        return "number"
    if fam in ("text", "boolean"):
        return fam
    if fam in ("date", "timestamp"):
        return "temporal"
    return "other"


def profile_table(adapter: WarehouseAdapter, schema: str, table: str, columns: list[str], *,
                  types: Mapping[str, str] | None = None, keys: Iterable[str] = (),
                  sample_rows: int = DEFAULT_SAMPLE_ROWS) -> dict[str, Fingerprint]:
    """Fingerprints of ``columns`` of ``schema.table`` (see the module docstring)."""
    if not columns:
        return {}
    kinds = _kinds(adapter, schema, table, columns, types)
    ref = table_ref(schema, table)
    total = int(adapter.fetchall(exp.select(exp.func("COUNT", exp.Star())).from_(ref))[0][0])
    sample = _sample(adapter, schema, table, total, sample_rows)
    found = _read(adapter, sample or ref, columns, kinds, sampled=sample is not None)
    if sample is not None and int(found[(0, "st")][0]["total"] or 0) < sample_rows // 4:
        # Too small a sample to say anything (block sampling can come back nearly empty):
        # read the whole table instead (a row sample of about sample_rows never does).
        sample = None
        found = _read(adapter, ref, columns, kinds, sampled=False)
    low_keys = {k.lower() for k in keys}
    out: dict[str, Fingerprint] = {}
    for i, column in enumerate(columns):
        stats = (found.get((i, "st")) or [_EMPTY])[0]
        read = int(stats["total"] or 0)
        sample_nulls = read - int(stats["n"] or 0)
        values = found.get((i, "v"), [])
        quantiles = [stats[f"q{j}"] for j in range(len(_QUANTILES))]
        out[column] = Fingerprint(
            rows=total,
            nulls=sample_nulls if sample is None else round(sample_nulls * total / max(read, 1)),
            distinct=int((found.get((i, "d")) or [_EMPTY])[0]["n"] or 0),
            min=stats["x"], max=stats["y"],
            sketch=tuple(sorted(str(r["x"]) for r in found.get((i, "h"), []))),
            kind=kinds[column], sampled=read, sample_nulls=sample_nulls,
            magnitude=tuple(float(q) for q in quantiles)
            if kinds[column] == "number" and all(q is not None for q in quantiles) else (),
            top=_shares(values) if 0 < len(values) <= LOW_CARDINALITY else (),
            shapes=_shares(found.get((i, "s"), []))[:SHAPES],
            dup_rate=_dup_rate(adapter, ref, column, kinds[column], total)
            if column.lower() in low_keys else None)
    return out


# Every branch of the one UNION ALL yields these columns (unused ones NULL).
_FIELDS = (("x", "VARCHAR"), ("y", "VARCHAR"), ("n", "BIGINT"), ("m", "BIGINT"),
           ("total", "BIGINT"), ("q0", "DOUBLE"), ("q1", "DOUBLE"), ("q2", "DOUBLE"))
_Row = dict[str, Any]
_EMPTY: _Row = {name: None for name, _ in _FIELDS}


def _shares(rows: list[_Row]) -> tuple[tuple[str, int], ...]:
    """(value, share in basis points of the rows the list was counted over), most common
    first."""
    if not rows:
        return ()
    whole = int(rows[0]["total"] or 0) or sum(int(r["n"]) for r in rows) or 1
    items = sorted(((str(r["x"]), int(r["n"])) for r in rows),
                   key=lambda item: (-item[1], item[0]))
    return tuple((x, round(10_000 * n / whole)) for x, n in items)


def _kinds(adapter: WarehouseAdapter, schema: str, table: str, columns: list[str],
           types: Mapping[str, str] | None) -> dict[str, str]:
    if types is None:
        found = adapter.table(schema, table)
        types = {c.name: c.type for c in (found.columns if found else ())}
    low = {k.lower(): v for k, v in types.items()}
    return {c: kind_of(low.get(c.lower(), "")) if c.lower() in low else "other"
            for c in columns}


def _sample(adapter: WarehouseAdapter, schema: str, table: str, total: int,
            sample_rows: int) -> exp.Table | None:
    """A repeatable TABLESAMPLE of the table when it is large and the adapter has one
    (``percent`` of the rows, so about ``sample_rows`` of them)."""
    method = getattr(adapter, "SAMPLE_METHOD", None)
    if not method or total <= FULL_READ_FACTOR * sample_rows:
        return None
    ref = table_ref(schema, table)
    percent = min(100.0, 100.0 * sample_rows / total)
    ref.set("sample", exp.TableSample(method=exp.var(method),
                                      percent=exp.Literal.number(round(percent, 4)),
                                      seed=exp.Literal.number(_SEED)))
    return ref


def _read(adapter: WarehouseAdapter, source: exp.Table, columns: list[str],
          kinds: Mapping[str, str], *, sampled: bool) -> dict[tuple[int, str], list[_Row]]:
    """Every figure of every column, keyed by (column index, tag), in one query.

    The rows read (the sample, or the table) are grouped once, by every column at a time
    (``GROUPING SETS`` over the values as text): that one pass gives each column's
    distinct count (``d``), its values with their counts (``v``), the bottom-k of their
    hashes (``h``) and, from the distinct values only, its shapes (``s``). The
    statistics that need every row (``st``: min/max, counts, quantiles) are one plain
    aggregate per column. With ``MATERIALIZED_CTE`` the sample is drawn once and the
    grouping kept, so every figure reads the same rows.
    """
    materialized = bool(getattr(adapter, "MATERIALIZED_CTE", False))
    rows = exp.to_table("_rocky_s")
    groups = exp.to_table("_rocky_g")
    names = [f"v{i}" for i in range(len(columns))]
    parts: list[exp.Select] = []
    for i, column in enumerate(columns):
        col = exp.column(column, quoted=True)
        magnitude = exp.func("ABS", exp.Nullif(this=_cast(col.copy(), "DOUBLE"),
                                               expression=exp.Literal.number(0)))
        quantiles = [exp.WithinGroup(
            this=exp.PercentileCont(this=exp.Literal.number(q)),
            expression=exp.Order(expressions=[exp.Ordered(this=magnitude.copy())]))
            if kinds[column] == "number" else exp.Null() for q in _QUANTILES]
        parts.append(_branch(i, "st", {
            "x": exp.func("MIN", col.copy()), "y": exp.func("MAX", col.copy()),
            "n": exp.func("COUNT", col.copy()), "total": exp.func("COUNT", exp.Star()),
            **{f"q{j}": q for j, q in enumerate(quantiles)}}).from_(rows.copy(), copy=False))
        value = exp.column(names[i])
        present = exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))
        parts.append(_branch(i, "d", {"n": exp.func("COUNT", exp.Star())})
                     .from_(groups.copy(), copy=False).where(present.copy(), copy=False))
        digest = exp.Substring(this=exp.MD5(this=value.copy()),
                               start=exp.Literal.number(1), length=exp.Literal.number(16))
        hashes = (exp.select(digest.as_("x"), copy=False).from_(groups.copy(), copy=False)
                  .where(present.copy(), copy=False).order_by("x", copy=False)
                  .limit(K, copy=False))
        parts.append(_branch(i, "h", {"x": exp.column("x")}).from_(
            hashes.subquery(f"h{i}", copy=False), copy=False))
        if kinds[column] in ("text", "boolean"):
            listed = (exp.select(value.as_("x"), exp.column("n"), copy=False)
                      .from_(groups.copy(), copy=False).where(present.copy(), copy=False)
                      .order_by(exp.Ordered(this=exp.column("n"), desc=True), "x", copy=False)
                      .limit(LOW_CARDINALITY + 1, copy=False))
            parts.append(_branch(i, "v", {"x": exp.column("x"), "n": exp.column("n")})
                         .from_(listed.subquery(f"v{i}", copy=False), copy=False))
        if kinds[column] == "text":
            shapes = (exp.select(_shape(value.copy()).as_("x"),
                                 exp.func("SUM", exp.column("n")).as_("n"), copy=False)
                      .from_(groups.copy(), copy=False).where(present.copy(), copy=False)
                      .group_by(exp.Literal.number(1), copy=False)
                      .order_by(exp.Ordered(this=exp.column("n"), desc=True), "x", copy=False)
                      .limit(SHAPES, copy=False))
            parts.append(_branch(i, "s", {"x": exp.column("x"), "n": exp.column("n")})
                         .from_(shapes.subquery(f"s{i}", copy=False), copy=False))
    union: exp.Query = parts[0]
    for part in parts[1:]:  # built in place: exp.union() would copy the growing tree
        union = exp.Union(this=union, expression=part, distinct=False)
    as_text = exp.select(*(_cast(exp.column(c, quoted=True), "VARCHAR").as_(n, copy=False)
                           for c, n in zip(columns, names)), copy=False).from_(rows.copy())
    grouping = exp.select(*names, exp.func("COUNT", exp.Star()).as_("n"), copy=False).from_(
        as_text.subquery("_rocky_t", copy=False), copy=False)
    grouping.set("group", exp.Group(expressions=[exp.GroupingSets(expressions=[
        exp.Paren(this=exp.column(n)) for n in names])]))
    query = (exp.select("*").from_(union.subquery("_rocky_u", copy=False), copy=False)
             .with_("_rocky_s", as_=exp.select("*").from_(source.copy()), copy=False,
                    materialized=(materialized and sampled) or None)
             .with_("_rocky_g", as_=grouping, copy=False, materialized=materialized or None))
    fields = [name for name, _ in _FIELDS]
    out: dict[tuple[int, str], list[_Row]] = {}
    for i, tag, *rest in adapter.fetchall(query):
        out.setdefault((int(i), str(tag)), []).append(dict(zip(fields, rest)))
    for (i, tag), found in out.items():  # each list's share is of the non-NULL rows read
        if tag in ("v", "s"):
            for row in found:
                row["total"] = out[(i, "st")][0]["n"]
    return out


def _branch(i: int, tag: str, fields: Mapping[str, exp.Expr]) -> exp.Select:
    return exp.Select(expressions=[
        exp.alias_(exp.Literal.number(i), "i", copy=False),
        exp.alias_(exp.Literal.string(tag), "t", copy=False),
        *(exp.alias_(_cast(fields.get(name) or exp.Null(), kind), name, copy=False)
          for name, kind in _FIELDS)])


_TYPES = {kind: exp.DataType.build(kind) for kind in ("VARCHAR", "BIGINT", "DOUBLE")}


def _cast(node: exp.Expr, kind: str) -> exp.Cast:
    """CAST without re-parsing the type name (this module builds hundreds of them)."""
    return exp.Cast(this=node, to=_TYPES[kind].copy())


def _shape(col: exp.Expr) -> exp.Expr:
    """Digits -> 9, lower-case letters -> a, upper-case -> A, each run collapsed."""
    out: exp.Expr = _cast(col, "VARCHAR")
    for pattern, repl in (("[0-9]+", "9"), ("[a-z]+", "a"), ("[A-Z]+", "A")):
        out = exp.RegexpReplace(this=out, expression=exp.Literal.string(pattern),
                                replacement=exp.Literal.string(repl))
    return out


def _dup_rate(adapter: WarehouseAdapter, ref: exp.Table, column: str, kind: str,
              total: int) -> float | None:
    """``1 - distinct / non-null`` of a key column, exact on the rows read."""
    col = exp.column(column, quoted=True)
    query = exp.select(exp.func("COUNT", col.copy()),
                       exp.func("COUNT", exp.Distinct(expressions=[col.copy()]))).from_(ref.copy())
    stride = total // _KEY_ROWS
    if stride > 1 and kind == "number":
        # Every copy of a key has the key's residue: this subset keeps the duplicates.
        query = query.where(exp.EQ(this=exp.Mod(this=col.copy(),
                                                expression=exp.Literal.number(stride)),
                                   expression=exp.Literal.number(0)))
    nonnull, distinct = adapter.fetchall(query)[0]
    if not nonnull:
        return None
    return 1.0 - int(distinct) / int(nonnull)


# ---------------------------------------------------------------------------- entry points


def compute(adapter: WarehouseAdapter, schema: str, table: str, column: str) -> Fingerprint:
    """Read one column's fingerprint from the warehouse."""
    return compute_table(adapter, schema, table, [column])[column]


def compute_table(adapter: WarehouseAdapter, schema: str, table: str, columns: list[str], *,
                  types: dict[str, str] | None = None, keys: frozenset[str] = frozenset(),
                  sample_rows: int | None = None) -> dict[str, Fingerprint]:
    """Fingerprints (with value profiles) of several columns of one table; see
    :func:`profile_table`."""
    return profile_table(adapter, schema, table, columns, types=types, keys=keys,
                         sample_rows=sample_rows or DEFAULT_SAMPLE_ROWS)


def safe_compute_table(adapter: WarehouseAdapter, schema: str, table: str,
                       columns: list[str], **options: Any) -> dict[str, Fingerprint]:
    """Like :func:`compute_table`, but empty when the warehouse cannot read the table."""
    try:
        return compute_table(adapter, schema, table, columns, **options)
    except WarehouseError:
        return {}


def safe_compute(adapter: WarehouseAdapter, schema: str, table: str,
                 column: str) -> Fingerprint | None:
    """Like :func:`compute`, but None when the warehouse cannot read the column."""
    try:
        return compute(adapter, schema, table, column)
    except WarehouseError:
        return None
