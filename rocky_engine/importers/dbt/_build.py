"""From the dbt project as read (either path) to the rocky project's files and the report.

Pure: nothing is written here; :func:`build` returns every file's text (and the seed CSVs to
copy), so the writer can put the whole project in place at once or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rocky_engine.config import IDENT_RE
from rocky_engine.importers.dbt._ir import DbtModel, DbtProjectIR, RelKey
from rocky_engine.importers.dbt._report import (
    IMPORTED,
    PARTIAL,
    REFUSED,
    ImportReport,
    ModelReport,
    SkippedTest,
)
from rocky_engine.importers.dbt._sources import build_sources, render_source_file, seed_columns
from rocky_engine.importers.dbt._tests import map_test, map_unit_test, parse_input
from rocky_engine.importers.dbt._translate import ADAPTER_DIALECTS, Translator


@dataclass
class BuiltProject:
    files: dict[str, str] = field(default_factory=dict)       # relative path -> text
    copies: dict[str, Path] = field(default_factory=dict)     # relative path -> source file
    report: ImportReport | None = None
    relations: dict[str, RelKey] = field(default_factory=dict)  # model -> dbt relation


def incremental_supported() -> bool:
    """True once rocky's sidecar accepts ``materialized = "incremental"``."""
    from rocky_engine.config import Sidecar

    return "incremental" in str(Sidecar.model_fields["materialized"].annotation)


def _rocky_path(model: DbtModel) -> str:
    parts = Path(model.file).parts
    rel = Path(*parts[1:]) if len(parts) > 1 else Path(parts[0])
    rel = rel.with_name(model.name + ".sql")
    return (Path("models") / rel).as_posix()


def build(ir: DbtProjectIR, dbt_dir: Path, dest_display: str) -> BuiltProject:
    dialect = ADAPTER_DIALECTS.get(ir.adapter, ir.adapter)
    built = BuiltProject()
    project_notes = list(ir.notes)
    if ir.adapter != "duckdb":
        project_notes.append(f"the dbt project targets {ir.adapter}: models are kept in the "
                             f"{dialect} dialect; set [warehouse] in rocky.toml for it")

    # Seeds and sources --------------------------------------------------------------
    seed_types = []
    for seed in ir.seeds:
        try:
            types = seed_columns(seed, dbt_dir)
        except (OSError, UnicodeDecodeError) as exc:
            project_notes.append(f"seed {seed.name} not imported: cannot read {seed.csv}: {exc}")
            continue
        if not types:
            project_notes.append(f"seed {seed.name} not imported: {seed.csv} has no header")
            continue
        seed_types.append((seed, types))
        built.copies[f"seeds/{seed.schema}/{seed.identifier}.csv"] = dbt_dir / seed.csv
    src_files, relations, unusable = build_sources(ir.sources, seed_types, dialect)
    for out in src_files.values():
        if any(not t.untyped for t in out.tables.values()):
            built.files[f"sources/{out.name}.toml"] = render_source_file(out)

    # Which dbt nodes a ref()/source() text names, as rocky references ---------------
    models_by_name = {m.name.lower(): m for m in ir.models}
    seeds_by_name = {s.name.lower(): s for s, _ in seed_types}
    sources_by_name = {(s.source.lower(), s.name.lower()): s for s in ir.sources}
    ephemeral = {m.name.lower() for m in ir.models if m.materialized == "ephemeral"}
    for m in ir.models:
        if m.name.lower() not in ephemeral:
            relations[m.relation] = m.name

    # Models ------------------------------------------------------------------------
    translator = Translator({k: v for k, v in relations.items()}, dialect, dialect)
    reports: dict[str, ModelReport] = {}
    sql_out: dict[str, str] = {}
    upstream: dict[str, tuple[str, ...]] = {}
    for m in ir.models:
        rep = ModelReport(m.name, IMPORTED, m.file, m.line, list(m.notes))
        if m.name.lower() in reports:
            # Same name in two packages: rocky model names are unique across the project.
            rep.status = REFUSED
            rep.notes.insert(0, f"another model is also named `{m.name}` "
                             f"({reports[m.name.lower()].file}): rocky model names are unique")
            reports[f"{m.name.lower()}#{len(reports)}"] = rep
            continue
        reports[m.name.lower()] = rep
        if m.refusal:
            rep.status = REFUSED
            rep.notes.insert(0, m.refusal)
            continue
        if not IDENT_RE.match(m.name):
            rep.status = REFUSED
            rep.notes.insert(0, f"model name `{m.name}` is not a plain identifier, which rocky "
                             "model names are ([A-Za-z_][A-Za-z0-9_]*): rename it in dbt")
            continue
        if m.name.lower() in ephemeral:
            rep.notes.append("ephemeral: inlined into the models that read it, as dbt does "
                             "(no rocky model)")
            continue
        assert m.sql is not None
        tr = translator.translate(m.sql, m.name, self_key=m.relation)
        if tr.refused:
            rep.status = REFUSED
            rep.notes.insert(0, tr.refused)
            continue
        sql_out[m.name.lower()] = tr.sql or ""
        upstream[m.name.lower()] = tr.upstream
        for ref in tr.upstream:
            if "." in ref:
                for rk, reason in unusable.items():
                    if relations.get(rk) == ref:
                        rep.status = REFUSED
                        rep.notes.insert(0, f"reads {ref}: {reason}")
    # A model reading a refused model cannot compile: refused too (to a fixed point).
    changed = True
    while changed:
        changed = False
        for name, ups in upstream.items():
            rep = reports[name]
            if rep.status == REFUSED:
                continue
            for up in ups:
                up_rep = reports.get(up.lower())
                if up_rep is not None and up_rep.status == REFUSED:
                    rep.status = REFUSED
                    rep.notes.insert(0, f"reads {up}, which is refused")
                    changed = True
                    break
    # A model reading an untyped source refers to a table the rocky project cannot declare.
    for rk in unusable:
        relations.pop(rk, None)

    def resolve(text: str) -> str | None:
        parsed = parse_input(text)
        if parsed is None:
            return None
        kind, args = parsed
        if kind == "ref":
            name = args[0].lower()
            mr = reports.get(name)
            if mr is not None and name not in ephemeral and mr.status != REFUSED:
                return models_by_name[name].name
            seed = seeds_by_name.get(name)
            if seed is not None and seed.relation in relations:
                return f"{seed.schema}.{seed.identifier}"
            return None
        src = sources_by_name.get((args[0].lower(), args[1].lower()))
        if src is not None and src.relation in relations:
            return f"{src.schema}.{src.identifier}"
        return None

    # Tests -------------------------------------------------------------------------
    tests_by_model: dict[str, list[dict[str, Any]]] = {}
    grain: dict[str, list[str]] = {}
    skipped: list[SkippedTest] = []
    imported = 0
    for attached, test, reason in ir.skipped_tests:
        skipped.append(SkippedTest(attached, test, reason))
    for t in ir.tests:
        label = t.name or t.test
        owner = t.attached.lower()
        if ":" in t.attached:
            kind = t.attached.split(":", 1)[0]
            skipped.append(SkippedTest(t.attached, label, f"a test on a {kind}: rocky tests "
                                       "belong to models (sources are checked by `rocky drift`)"))
            continue
        owner_rep = reports.get(owner)
        if owner_rep is None or owner_rep.status == REFUSED or owner in ephemeral:
            skipped.append(SkippedTest(t.attached, label, "its model is ephemeral (inlined)"
                                       if owner in ephemeral else "its model was not imported"))
            continue
        mapped, why = map_test(t, resolve)
        if mapped is None:
            skipped.append(SkippedTest(t.attached, label, why or ""))
            owner_rep.notes.append(f"test {label} not imported: {why}")
            continue
        imported += 1
        tests_by_model.setdefault(owner, []).append(mapped)
        if mapped["type"] == "unique" and owner not in grain:
            grain[owner] = [mapped["column"]] if mapped.get("column") else list(mapped["columns"])
    units_by_model: dict[str, list[dict[str, Any]]] = {}
    for u in ir.unit_tests:
        owner = u.model.lower()
        owner_rep = reports.get(owner)
        label = f"unit_test:{u.name}"
        if owner_rep is None or owner_rep.status == REFUSED or owner in ephemeral:
            skipped.append(SkippedTest(u.model, label, "its model was not imported"))
            continue
        mapped, why = map_unit_test(u, resolve)
        if mapped is None:
            skipped.append(SkippedTest(u.model, label, why or ""))
            owner_rep.notes.append(f"unit test {u.name} not imported: {why}")
            continue
        imported += 1
        units_by_model.setdefault(owner, []).append(mapped)

    # Files -------------------------------------------------------------------------
    incremental_ok = incremental_supported()
    written: set[str] = set()
    for m in ir.models:
        key = m.name.lower()
        rep = reports[key]
        if rep.status == REFUSED or key in ephemeral or key in written:
            continue
        written.add(key)
        path = _rocky_path(m)
        rep.rocky_file = path
        built.relations[m.name] = m.relation
        sidecar: dict[str, Any] = {}
        mat = m.materialized
        if mat in ("view", "table"):
            sidecar["materialized"] = mat
        elif mat == "incremental" and incremental_ok and _incremental(m) is not None:
            inc = _incremental(m) or {}
            sidecar["materialized"] = "incremental"
            sidecar["incremental"] = inc
            rep.notes.append("incremental: imported as rocky incremental "
                             f"({', '.join(f'{k}={v}' for k, v in inc.items())})"
                             + ("" if "watermark" in inc else "; dbt's is_incremental() filter "
                                "was not recognised: the full query is merged on the key (set "
                                "[incremental] watermark to read less)"))
        elif mat == "incremental":
            sidecar["materialized"] = "table"
            why = ("this rocky version has no incremental models" if not incremental_ok else
                   "no unique_key (rocky merges on a key, or appends past a watermark)")
            rep.notes.append(f"incremental in dbt: imported as `table` (full rebuild each run): "
                             f"{why}")
        else:
            sidecar["materialized"] = "table"
            rep.notes.append(f"materialized `{mat}` has no rocky equivalent: imported as `table`")
        if m.relation[1] != key:
            rep.notes.append(f"dbt builds it as `{m.relation[1]}` (alias); rocky builds "
                             f"`{m.name}`")
        if m.description or key in grain:
            intent: dict[str, Any] = {"purpose": m.description}
            if not m.description:
                rep.notes.append("no description in dbt: [intent] purpose is empty")
            if key in grain:
                intent["grain"] = grain[key]
            sidecar["intent"] = intent
        cols = {c.name: {"intent": c.description} for c in m.columns if c.description}
        if cols:
            sidecar["columns"] = cols
        typed = [c.name for c in m.columns if c.data_type]
        if typed:
            rep.notes.append(f"column data_type of {', '.join(typed)} not imported as contracts "
                             "(rocky infers types; add [columns.<c>] type to pin one)")
        if tests_by_model.get(key):
            # A canonical order: the manifest does not keep the yml's, and both paths agree.
            sidecar["tests"] = sorted(tests_by_model[key], key=_test_order)
        if units_by_model.get(key):
            sidecar["unit_tests"] = units_by_model[key]
        if any(n.startswith(("incremental in dbt", "materialized `", "test ", "unit test ",
                             "pre-hooks", "post-hooks")) for n in rep.notes):
            rep.status = PARTIAL
        if sidecar.get("materialized") == "incremental" and not _valid_sidecar(sidecar):
            sidecar["materialized"] = "table"
            sidecar.pop("incremental", None)
            rep.notes.append("incremental in dbt: imported as `table`: rocky refused the "
                             "[incremental] settings derived from dbt's config")
            rep.status = PARTIAL
        header = f"-- imported from dbt: {m.file}\n"
        built.files[path] = header + sql_out[key].rstrip() + "\n"
        built.files[path[:-4] + ".toml"] = _sidecar_text(sidecar)

    name = re.sub(r"[^A-Za-z0-9_]", "_", ir.name) or "imported"
    built.files["rocky.toml"] = (
        "# Imported from dbt by `rocky import dbt`; see MIGRATION.md.\n"
        f'[project]\nname = "{name}"\ndialect = "{dialect}"\n\n'
        '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\nschema = "main"\n')
    built.report = ImportReport(dest=dest_display, path=ir.path, dbt_dir=str(dbt_dir),
                                models=list(reports.values()), tests_imported=imported,
                                tests_skipped=skipped, notes=project_notes)
    return built


def _valid_sidecar(sidecar: dict[str, Any]) -> bool:
    from pydantic import ValidationError

    from rocky_engine.config import Sidecar

    try:
        Sidecar.model_validate(sidecar)
    except ValidationError:
        return False
    return True


def _test_order(test: dict[str, Any]) -> tuple[str, ...]:
    return (test["type"], str(test.get("column") or test.get("columns") or ""),
            str(test.get("expression") or ""), str(test.get("to") or ""))


_WATERMARK_RE = re.compile(
    r"{%-?\s*if\s+is_incremental\(\)\s*-?%}.*?\b(\w+)\s*>=?\s*\(\s*select\s+max\(\s*(\w+)\s*\)"
    r"\s+from\s+{{\s*this\s*}}\s*\).*?{%-?\s*endif", re.IGNORECASE | re.DOTALL)


def watermark_of(raw_sql: str) -> str | None:
    """The output column dbt's ``is_incremental()`` filter compares with the table's maximum.

        >>> watermark_of("select * from x {% if is_incremental() %} where updated_at > "
        ...              "(select max(updated_at) from {{ this }}) {% endif %}")
        'updated_at'
    """
    m = _WATERMARK_RE.search(raw_sql)
    return m.group(2) if m else None


def _incremental(m: DbtModel) -> dict[str, Any] | None:
    """rocky's ``[incremental]`` for a dbt incremental model; None when neither a key nor the
    watermark of dbt's is_incremental() filter says how to apply new rows."""
    key = m.incremental.get("unique_key")
    strategy = m.incremental.get("incremental_strategy")
    watermark = watermark_of(str(m.incremental.get("raw_code") or ""))
    if not key:
        if strategy == "append" and watermark:
            return {"strategy": "append", "watermark": watermark}
        return None
    out: dict[str, Any] = {
        "strategy": strategy if strategy in ("merge", "delete+insert") else "merge",
        "unique_key": [key] if isinstance(key, str) else [str(k) for k in key],
    }
    if watermark:
        out["watermark"] = watermark
    osc = m.incremental.get("on_schema_change")
    if osc in ("fail", "append_new_columns", "sync_all_columns"):
        out["on_schema_change"] = osc
    return out


def _sidecar_text(sidecar: dict[str, Any]) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment("Imported from dbt by `rocky import dbt`."))
    for key in ("materialized", "incremental", "intent", "columns"):
        if key in sidecar:
            doc[key] = sidecar[key]
    for key in ("tests", "unit_tests"):
        if key in sidecar:
            aot = tomlkit.aot()
            for item in sidecar[key]:
                aot.append(item)
            doc[key] = aot
    return tomlkit.dumps(doc)
