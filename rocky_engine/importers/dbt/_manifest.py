"""The manifest path: read ``target/manifest.json`` written by the user's ``dbt compile``.

Only schema v12 (dbt 1.8 and newer) is read; anything else is refused with exit 2, since
the fields this importer relies on (``compiled_code``, ``relation_name``, ``unit_tests``)
are not where it expects them in other versions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rocky_engine.errors import ConfigError, Location
from rocky_engine.importers.dbt._ir import (
    DbtColumn,
    DbtModel,
    DbtProjectIR,
    DbtSeed,
    DbtSource,
    DbtTest,
    DbtUnitTest,
    rel_key,
)

SUPPORTED_SCHEMAS = ("v12",)
_SCHEMA_RE = re.compile(r"/manifest/(v\d+)\.json")


def read_manifest(path: Path, display: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("manifest not found", location=Location(display),
                          hint="run `dbt compile` first, or pass --manifest PATH") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"unreadable manifest: {exc}", location=Location(display),
                          hint="re-run `dbt compile` to write it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise ConfigError("not a dbt manifest (no `metadata`)", location=Location(display))
    version = str(data["metadata"].get("dbt_schema_version", ""))
    m = _SCHEMA_RE.search(version)
    if not m or m.group(1) not in SUPPORTED_SCHEMAS:
        dbt_version = data["metadata"].get("dbt_version", "?")
        raise ConfigError(
            f"manifest schema {m.group(1) if m else version or '?'} (dbt {dbt_version}) "
            f"is not supported; rocky reads {', '.join(SUPPORTED_SCHEMAS)} (dbt 1.8 and newer)",
            location=Location(display),
            hint="upgrade dbt and re-run `dbt compile`, or import without --manifest "
                 "(the Jinja path)")
    for key in ("nodes", "sources"):
        if not isinstance(data.get(key), dict):
            raise ConfigError(f"manifest has no `{key}` object", location=Location(display))
    return data


def _columns(node: dict[str, Any]) -> tuple[DbtColumn, ...]:
    out = []
    for name, col in (node.get("columns") or {}).items():
        col = col or {}
        out.append(DbtColumn(str(col.get("name") or name), str(col.get("description") or ""),
                             col.get("data_type") or None))
    return tuple(out)


def _patch_file(node: dict[str, Any]) -> str:
    patch = node.get("patch_path") or ""
    return patch.split("://", 1)[-1] if patch else ""


def _model(node: dict[str, Any], ephemeral: set[str]) -> DbtModel:
    cfg = node.get("config") or {}
    name = node["name"]
    notes: list[str] = []
    if node.get("version") is not None:
        # Versioned models share a name in dbt; rocky names must be unique.
        name = f"{name}_v{node['version']}"
        notes.append(f"version {node['version']} of dbt model `{node['name']}`: named `{name}`")
    file = node.get("original_file_path") or node.get("path") or ""
    materialized = str(cfg.get("materialized") or "view")
    relation = rel_key(node.get("schema") or "", node.get("alias") or name)
    refusal = None
    sql = None
    if node.get("language", "sql") != "sql":
        refusal = (f"a {node.get('language')} model: rocky models are SQL "
                   "(rewrite it as a SELECT, or keep building it with dbt)")
    elif node.get("compiled_code") is None or node.get("compiled") is False:
        refusal = ("the manifest has no compiled SQL for this model (written by `dbt parse`?): "
                   "run `dbt compile` and import again")
    else:
        sql = node["compiled_code"]
    ctes = tuple(n.split(".")[-1] for n in (node.get("depends_on") or {}).get("nodes", [])
                 if n in ephemeral)
    incremental = {k: cfg.get(k) for k in ("unique_key", "incremental_strategy",
                                           "on_schema_change") if cfg.get(k) is not None}
    if materialized == "incremental":
        incremental["raw_code"] = node.get("raw_code") or ""
    for hook in ("pre-hook", "post-hook"):
        if cfg.get(hook):
            notes.append(f"{hook}s are not imported ({len(cfg[hook])}): rocky runs no hooks")
    return DbtModel(
        name=name, package=node.get("package_name", ""), file=file, relation=relation,
        materialized=materialized, sql=sql, refusal=refusal, line=1,
        description=str(node.get("description") or ""), columns=_columns(node),
        schema_file=_patch_file(node), notes=tuple(notes), ephemeral_ctes=ctes,
        incremental=incremental,
    )


def _test(node: dict[str, Any], by_id: dict[str, str]) -> DbtTest:
    meta = node.get("test_metadata") or {}
    cfg = node.get("config") or {}
    attached = node.get("attached_node")
    depends = (node.get("depends_on") or {}).get("nodes", [])
    if attached:
        target = by_id.get(attached, attached)
    else:
        target = by_id.get(depends[0], depends[0]) if depends else ""
    kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k != "model"}
    return DbtTest(
        test=str(meta.get("name", "")), namespace=meta.get("namespace"), attached=target,
        column=node.get("column_name") or kwargs.get("column_name"), kwargs=kwargs,
        severity=str(cfg.get("severity") or "error").lower(), where=cfg.get("where"),
        file=node.get("original_file_path", ""), name=node.get("name", ""),
    )


def manifest_ir(data: dict[str, Any], project_name: str | None) -> DbtProjectIR:
    """The project as the manifest describes it (compiled SQL, relations, yml, tests)."""
    nodes: dict[str, dict[str, Any]] = data["nodes"]
    name = project_name or data["metadata"].get("project_name") or "imported"
    adapter = str(data["metadata"].get("adapter_type") or "duckdb")
    ephemeral = {uid for uid, n in nodes.items() if n.get("resource_type") == "model"
                 and (n.get("config") or {}).get("materialized") == "ephemeral"}
    by_id: dict[str, str] = {}
    for uid, n in nodes.items():
        rt = n.get("resource_type")
        if rt == "model":
            by_id[uid] = n["name"] if n.get("version") is None else f"{n['name']}_v{n['version']}"
        elif rt == "seed":
            by_id[uid] = f"seed:{n['name']}"
        elif rt == "snapshot":
            by_id[uid] = f"snapshot:{n['name']}"
    for uid, s in data["sources"].items():
        by_id[uid] = f"source:{s['source_name']}.{s['name']}"

    models, seeds, tests = [], [], []
    skipped: list[tuple[str, str, str]] = []
    for uid, n in sorted(nodes.items()):
        rt = n.get("resource_type")
        if rt == "model" and (n.get("config") or {}).get("enabled", True):
            models.append(_model(n, ephemeral))
        elif rt == "seed":
            cfg = n.get("config") or {}
            root = Path(n.get("root_path") or ".")
            csv = n.get("original_file_path") or ""
            seeds.append(DbtSeed(
                name=n["name"], schema=n.get("schema") or "main",
                identifier=n.get("alias") or n["name"],
                csv=str(root / csv) if n.get("package_name") != name and n.get("root_path") else csv,
                column_types={str(k): str(v) for k, v in (cfg.get("column_types") or {}).items()},
                description=str(n.get("description") or ""), columns=_columns(n)))
        elif rt == "test":
            if n.get("test_metadata"):
                tests.append(_test(n, by_id))
            else:
                skipped.append((_singular_target(n, by_id), n.get("name", ""),
                                (f"singular test {n.get('original_file_path', '')}: a SQL file of "
                                "failing rows has no rocky equivalent (write it as an "
                                "`expression` test)")))
        elif rt == "snapshot":
            skipped.append((f"snapshot:{n['name']}", n["name"],
                            "snapshots are not imported: rocky has no snapshots"))
    sources = []
    for s in data["sources"].values():
        sources.append(DbtSource(
            source=s["source_name"], name=s["name"], schema=s.get("schema") or "main",
            identifier=s.get("identifier") or s["name"],
            file=s.get("original_file_path", ""), description=str(s.get("description") or ""),
            source_description=str(s.get("source_description") or ""), columns=_columns(s)))
    unit_tests = []
    for u in (data.get("unit_tests") or {}).values():
        given = tuple((str(g.get("input", "")), str(g.get("format") or "dict"),
                       tuple(g.get("rows") or ()) if isinstance(g.get("rows"), list) else ())
                      for g in u.get("given") or [])
        expect = u.get("expect") or {}
        unit_tests.append(DbtUnitTest(
            name=u["name"], model=u["model"], given=given,
            expect_format=str(expect.get("format") or "dict"),
            expect=tuple(expect.get("rows") or ()) if isinstance(expect.get("rows"), list) else (),
            overrides=bool(u.get("overrides")), file=u.get("original_file_path", "")))
    disabled = sorted({str(n.get("name")) for versions in (data.get("disabled") or {}).values()
                       for n in (versions or []) if isinstance(n, dict)
                       and n.get("resource_type") == "model"})
    notes = ((f"disabled in dbt, not imported: {', '.join(disabled)}",) if disabled else ())
    return DbtProjectIR(name=name, adapter=adapter, path="manifest", models=tuple(models),
                        sources=tuple(sources), seeds=tuple(seeds), tests=tuple(tests),
                        unit_tests=tuple(unit_tests), skipped_tests=tuple(skipped), notes=notes)


def _singular_target(node: dict[str, Any], by_id: dict[str, str]) -> str:
    depends = (node.get("depends_on") or {}).get("nodes", [])
    return by_id.get(depends[0], "") if depends else ""
