"""Generate a synthetic layered rocky project (and optionally its dbt twin) for benchmarks.

    .venv/bin/python bench/gen_project.py /tmp/p1000 --models 1000
    .venv/bin/python bench/gen_project.py /tmp/p1000 --models 1000 --dbt /tmp/p1000_dbt

Layers: staging models read one declared source table each (renames, casts, CASE,
string and date functions); intermediate models join two upstream models through CTEs,
an aggregate and window functions; marts aggregate one or two intermediate models. Every
model outputs 10–40 columns; every column's type is inferable. Deterministic per seed.
The function :func:`generate` returns the names of a mid-DAG intermediate model, for the
"edit one model" measurement.
"""

from __future__ import annotations

import argparse
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("int", "dec", "str", "date")
SOURCE_TYPES = {"int": "INTEGER", "dec": "DECIMAL(12,2)", "str": "VARCHAR", "date": "DATE"}


@dataclass
class Rel:
    """A relation of the synthetic project: its name and typed output columns."""

    name: str
    ref: str  # how models reference it: `raw.src_001` or a model name
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, kind)
    layer: int = 0

    def of(self, kind: str) -> list[str]:
        return [c for c, k in self.columns if k == kind]


@dataclass
class Generated:
    root: Path
    models: int
    sources: int
    mid_model: str  # a mid-DAG intermediate model with dependents
    leaf_sql: dict[str, str] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    refs: dict[str, list[str]] = field(default_factory=dict)  # model -> upstream refs


def generate(root: Path, n_models: int, *, seed: int = 7, sidecar_every: int = 10) -> Generated:
    """Write the project under ``root`` (replaced if it exists)."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(
        f'[project]\nname = "bench_{n_models}"\ndialect = "duckdb"\n', encoding="utf-8")

    n_sources = max(5, n_models // 20)
    sources = [_source(i, rng) for i in range(n_sources)]
    _write_sources(root, sources)

    n_stg = max(2, n_models // 4)
    n_mart = max(1, n_models // 4)
    n_int = max(1, n_models - n_stg - n_mart)
    gen = Generated(root, n_stg + n_int + n_mart, n_sources, "")
    models: list[Rel] = []

    stg: list[Rel] = []
    for i in range(n_stg):
        rel, sql = _staging(f"stg_{i:05d}", rng.choice(sources), rng)
        stg.append(rel)
        models.append(rel)
        gen.sql[rel.name] = sql
        gen.refs[rel.name] = [rel_src for rel_src in _refs_of(sql)]
    # Intermediates in 4 layers; each reads two relations from earlier layers.
    inter: list[Rel] = []
    layers = 4
    per_layer = max(1, n_int // layers)
    pool: list[Rel] = list(stg)
    made = 0
    for layer in range(1, layers + 1):
        count = per_layer if layer < layers else n_int - made
        new: list[Rel] = []
        for _ in range(count):
            i = made
            made += 1
            left, right = rng.sample(pool, 2) if len(pool) > 1 else (pool[0], pool[0])
            rel, sql = _intermediate(f"int_{i:05d}", left, right, layer, rng)
            new.append(rel)
            models.append(rel)
            gen.sql[rel.name] = sql
            gen.refs[rel.name] = [left.name, right.name]
        pool.extend(new)
        inter.extend(new)
    for i in range(n_mart):
        base = rng.choice(inter) if inter else rng.choice(stg)
        rel, sql = _mart(f"mart_{i:05d}", base, rng)
        models.append(rel)
        gen.sql[rel.name] = sql
        gen.refs[rel.name] = [base.name]

    for k, rel in enumerate(models):
        (root / "models" / f"{rel.name}.sql").write_text(gen.sql[rel.name], encoding="utf-8")
        if sidecar_every and k % sidecar_every == 0:
            (root / "models" / f"{rel.name}.toml").write_text(_sidecar(rel), encoding="utf-8")

    # The edit target: an intermediate of layer 2 that something reads.
    readers: dict[str, int] = {}
    for ups in gen.refs.values():
        for u in ups:
            readers[u] = readers.get(u, 0) + 1
    mids = [r.name for r in inter if r.layer == 2 and readers.get(r.name)]
    gen.mid_model = (mids or [r.name for r in inter] or [stg[0].name])[0]
    return gen


def _refs_of(sql: str) -> list[str]:
    return [w for w in sql.replace("\n", " ").split() if w.startswith("raw.")]


def _source(i: int, rng: random.Random) -> Rel:
    rel = Rel(f"src_{i:04d}", f"raw.src_{i:04d}")
    rel.columns = [("id", "int"), ("k1", "int"), ("k2", "int")]
    for j in range(rng.randint(12, 40)):
        kind = KINDS[j % 4]
        rel.columns.append((f"{kind}_{j:02d}", kind))
    return rel


def _write_sources(root: Path, sources: list[Rel]) -> None:
    lines = ['schema = "raw"', ""]
    for src in sources:
        lines.append(f"[tables.{src.name}.columns]")
        for col, kind in src.columns:
            if col == "id":
                lines.append(f'{col} = {{ type = "INTEGER", nullable = false }}')
            else:
                lines.append(f'{col} = "{SOURCE_TYPES[kind]}"')
        lines.append("")
    (root / "sources" / "raw.toml").write_text("\n".join(lines), encoding="utf-8")


def _staging(name: str, src: Rel, rng: random.Random) -> tuple[Rel, str]:
    rel = Rel(name, name, [("id", "int"), ("k1", "int"), ("k2", "int")], 0)
    exprs = ["id", "k1", "k2"]
    target = rng.randint(10, 40)
    cols = [c for c in src.columns if c[0] not in ("id", "k1", "k2")]
    j = 0
    while len(rel.columns) < target:
        col, kind = cols[j % len(cols)]
        out = f"{kind[0]}{len(rel.columns):02d}"
        if kind == "str":
            expr = f"LOWER(TRIM({col}))" if j % 2 else f"COALESCE({col}, 'n/a')"
        elif kind == "dec":
            expr = f"CAST({col} AS DECIMAL(12,2))" if j % 3 == 0 else f"COALESCE({col}, 0)"
        elif kind == "date":
            expr = f"DATE_TRUNC('day', {col})" if j % 2 else col
        else:
            expr = f"{col} + 1" if j % 2 else col
        exprs.append(f"{expr} AS {out}")
        rel.columns.append((out, "date" if kind == "date" and "TRUNC" in expr else kind))
        j += 1
    # DATE_TRUNC of a DATE gives a TIMESTAMP in DuckDB; keep kinds honest but simple.
    rel.columns = [(c, "ts" if k == "date" and "DATE_TRUNC('day'" in e else k)
                   for (c, k), e in zip(rel.columns, exprs)]
    body = ",\n    ".join(exprs)
    sql = (f"-- staging model over {src.ref}\nSELECT\n    {body},\n"
           f"    CASE WHEN k1 > 10 THEN 'high' ELSE 'low' END AS bucket\n"
           f"FROM {src.ref}\nWHERE id IS NOT NULL\n")
    rel.columns.append(("bucket", "str"))
    return rel, sql


def _pick(rel: Rel, kind: str, rng: random.Random) -> str | None:
    options = rel.of(kind)
    return rng.choice(options) if options else None


def _intermediate(name: str, left: Rel, right: Rel, layer: int,
                  rng: random.Random) -> tuple[Rel, str]:
    rel = Rel(name, name, [("id", "int"), ("k1", "int"), ("k2", "int")], layer)
    num_r = _pick(right, "dec", rng) or "k2"
    date_r = _pick(right, "date", rng) or _pick(right, "ts", rng)
    agg = [f"SUM({num_r}) AS r_total", "COUNT(*) AS r_rows"]
    if date_r:
        agg.append(f"MAX({date_r}) AS r_last")
    cte_b = (f"b AS (\n    SELECT id, {', '.join(agg)}\n    FROM {right.ref}\n"
             f"    GROUP BY id\n)")
    left_cols = [c for c, _ in left.columns if c not in ("id", "k1", "k2")]
    keep = left_cols[: rng.randint(5, max(5, min(30, len(left_cols))))]
    cte_a = (f"a AS (\n    SELECT id, k1, k2, {', '.join(keep)}\n    FROM {left.ref}\n"
             f"    WHERE k1 IS NOT NULL\n)")
    exprs = ["a.id", "a.k1", "a.k2"]
    kinds = dict(left.columns)
    for c in keep:
        exprs.append(f"a.{c}")
        rel.columns.append((c, kinds[c]))
    dec = [c for c in keep if kinds[c] == "dec"]
    # Derived columns carry the layer number: names stay unique down the DAG.
    if dec:
        d = dec[0]
        exprs.append(f"a.{d} + COALESCE(b.r_total, 0) AS combined_{layer}")
        rel.columns.append((f"combined_{layer}", "dec"))
        exprs.append(f"SUM(a.{d}) OVER (PARTITION BY a.k1 ORDER BY a.id "
                     f"ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS rolling_{layer}")
        rel.columns.append((f"rolling_{layer}", "dec"))
    exprs.append(f"ROW_NUMBER() OVER (PARTITION BY a.k2 ORDER BY a.id) AS rn_{layer}")
    rel.columns.append((f"rn_{layer}", "int"))
    exprs.append(f"COALESCE(b.r_rows, 0) AS r_rows_{layer}")
    rel.columns.append((f"r_rows_{layer}", "int"))
    if date_r:
        exprs.append(f"b.r_last AS r_last_{layer}")
        rel.columns.append((f"r_last_{layer}", "date"))
    exprs.append("CASE WHEN b.id IS NULL THEN 'missing' ELSE 'matched' END "
                 f"AS match_status_{layer}")
    rel.columns.append((f"match_status_{layer}", "str"))
    body = ",\n    ".join(exprs)
    sql = (f"-- intermediate: {left.name} joined with {right.name}\n"
           f"WITH {cte_a},\n{cte_b}\nSELECT\n    {body}\nFROM a\nLEFT JOIN b ON a.id = b.id\n")
    return rel, sql


def _mart(name: str, base: Rel, rng: random.Random) -> tuple[Rel, str]:
    rel = Rel(name, name, [("k1", "int"), ("k2", "int")], 9)
    exprs = ["k1", "k2", "COUNT(*) AS row_count", "COUNT(DISTINCT id) AS ids"]
    rel.columns += [("row_count", "int"), ("ids", "int")]
    for c, kind in base.columns:
        if len(rel.columns) >= rng.randint(10, 40):
            break
        if kind == "dec":
            exprs += [f"SUM({c}) AS sum_{c}", f"AVG({c}) AS avg_{c}"]
            rel.columns += [(f"sum_{c}", "dec"), (f"avg_{c}", "dec")]
        elif kind in ("date", "ts"):
            exprs += [f"MIN({c}) AS first_{c}", f"MAX({c}) AS last_{c}"]
            rel.columns += [(f"first_{c}", kind), (f"last_{c}", kind)]
        elif kind == "str":
            exprs.append(f"COUNT(DISTINCT {c}) AS n_{c}")
            rel.columns.append((f"n_{c}", "int"))
    while len(rel.columns) < 10:
        i = len(rel.columns)
        exprs.append(f"MAX(k1) + {i} AS extra_{i}")
        rel.columns.append((f"extra_{i}", "int"))
    body = ",\n    ".join(exprs)
    sql = (f"-- mart over {base.name}\nSELECT\n    {body}\nFROM {base.ref}\n"
           f"GROUP BY k1, k2\nHAVING COUNT(*) > 0\n")
    return rel, sql


def _sidecar(rel: Rel) -> str:
    first = rel.columns[0][0]
    return (f'materialized = "table"\n\n[intent]\npurpose = "Synthetic model {rel.name}."\n'
            f'grain = ["{first}"]\n\n[columns.{first}]\nintent = "key"\n\n'
            f'[[tests]]\ntype = "not_null"\ncolumn = "{first}"\n')


def write_dbt_twin(gen: Generated, dest: Path, *, seed_rows: int = 0, seed: int = 7) -> None:
    """The same models as a dbt project (refs and sources through Jinja), for `dbt parse`.

    Sources are declared with their columns and `data_type`s. With ``seed_rows``, every
    source table also gets a seed CSV of that many deterministic rows (loaded into schema
    `raw` with the declared types), so `dbt run` and `rocky run` can build the twin and
    compare rows (`rocky import dbt --verify`).
    """
    import re
    import tomllib

    if dest.exists():
        shutil.rmtree(dest)
    (dest / "models").mkdir(parents=True)
    (dest / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0'\nconfig-version: 2\nprofile: bench\n"
        "model-paths: ['models']\n", encoding="utf-8")
    (dest / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {dest / 'bench.duckdb'}\n", encoding="utf-8")
    src_text = (gen.root / "sources" / "raw.toml").read_text(encoding="utf-8")
    spec = tomllib.loads(src_text)["tables"]
    yml = ["version: 2", "sources:", "  - name: raw", "    tables:"]
    for t, table in spec.items():
        yml += [f"      - name: {t}", "        columns:"]
        for col, typ in table["columns"].items():
            typ = typ if isinstance(typ, str) else typ["type"]
            yml += [f"          - name: {col}", f"            data_type: {typ.lower()}"]
    (dest / "models" / "sources.yml").write_text("\n".join(yml) + "\n", encoding="utf-8")
    if seed_rows:
        _write_seeds(dest, spec, seed_rows, random.Random(seed))
    names = set(gen.sql)
    for name, sql in gen.sql.items():
        out = re.sub(r"\braw\.(\w+)", r"{{ source('raw', '\1') }}", sql)
        out = re.sub(r"\b(FROM|JOIN)\s+(\w+)\b",
                     lambda m: f"{m.group(1)} {{{{ ref('{m.group(2)}') }}}}"
                     if m.group(2) in names else m.group(0), out)
        (dest / "models" / f"{name}.sql").write_text(out, encoding="utf-8")


def _write_seeds(dest: Path, spec: dict, rows: int, rng: random.Random) -> None:
    """seeds/<table>.csv for every source table, loaded into schema `raw` with its types."""
    import csv

    (dest / "seeds").mkdir(exist_ok=True)
    (dest / "macros").mkdir(exist_ok=True)
    (dest / "macros" / "generate_schema_name.sql").write_text(
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n"
        "{%- if custom_schema_name is none -%}{{ target.schema }}"
        "{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n{%- endmacro %}\n",
        encoding="utf-8")
    with (dest / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write("seed-paths: ['seeds']\nmacro-paths: ['macros']\n"
                "seeds:\n  bench:\n    +schema: raw\n")
    props = ["version: 2", "seeds:"]
    for t, table in spec.items():
        cols = {c: (v if isinstance(v, str) else v["type"]) for c, v in table["columns"].items()}
        props += [f"  - name: {t}", "    config:", "      column_types:"]
        props += [f"        {c}: {typ.lower()}" for c, typ in cols.items()]
        with (dest / "seeds" / f"{t}.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(cols))
            for i in range(1, rows + 1):
                w.writerow([_value(c, typ, i, rng) for c, typ in cols.items()])
    (dest / "seeds" / "seeds.yml").write_text("\n".join(props) + "\n", encoding="utf-8")


def _value(col: str, typ: str, i: int, rng: random.Random) -> str:
    if col == "id":
        return str(i)
    if rng.random() < 0.1:
        return ""  # NULL
    if col in ("k1", "k2"):
        return str(rng.randint(0, 20 if col == "k1" else 4))
    if typ == "INTEGER":
        return str(rng.randint(-50, 1000))
    if typ.startswith("DECIMAL"):
        return f"{rng.randint(-5000, 500000) / 100:.2f}"
    if typ == "DATE":
        return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    # No spaces at the ends and no "n/a": dbt's CSV loader reads those differently.
    return rng.choice(["alpha", "Beta", "gamma", "DELTA", "epsilon", "zeta"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dbt", type=Path, default=None, help="also write the dbt twin here")
    ap.add_argument("--seed-rows", type=int, default=0,
                    help="with --dbt: seed CSVs of this many rows per source table")
    args = ap.parse_args()
    gen = generate(args.root, args.models, seed=args.seed)
    print(f"wrote {gen.models} models over {gen.sources} source tables to {args.root}"
          f" (mid-DAG model: {gen.mid_model})")
    if args.dbt:
        write_dbt_twin(gen, args.dbt, seed_rows=args.seed_rows)
        print(f"wrote the dbt twin to {args.dbt}")


if __name__ == "__main__":
    main()
