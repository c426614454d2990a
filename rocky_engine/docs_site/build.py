"""Write the static site: the page, its scripts, and the project's data as JavaScript files.

    >>> site = build_site(Context.load("shop"), Path("shop/target/docs"))   # doctest: +SKIP
    >>> site.index                                                           # doctest: +SKIP
    PosixPath('shop/target/docs/index.html')

One source of truth: the data are the documents the CLI prints with ``--format json`` —
the compile document (``CompileResult.to_json``), the lineage graph ``rocky lineage``
queries (the same index, walked by the same algorithm in the page), and the last
``rocky drift`` / ``rocky test`` documents (:mod:`rocky_engine.lastrun`) — plus what the
project files say (SQL, intent, tests). Data files are scripts, not JSON, so the site opens
from the file system, where a page may not ``fetch`` its neighbours.

Layout of ``out/``::

    index.html               one page; views are #/model/NAME, #/source/S.T, #/lineage/…, #/drift
    assets/                  app.js, style.css (copied from the package: no CDN, no network)
    data/catalog.js          every model and source, small enough for the first paint
    data/models/NNN.js       the full record of a shard of models, loaded when one is opened
    data/lineage.js          the column graph, loaded with the first lineage or drift view
    data/drift.js            the last `rocky drift` document (or null)
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocky_engine.config import test_name
from rocky_engine.errors import UsageError
from rocky_engine.lastrun import DRIFT, TESTS, load_last
from rocky_engine.lineage.edges import EDGE_KINDS, INFLUENCE_KINDS

if TYPE_CHECKING:
    from rocky_engine.compiler.ir import CompileResult
    from rocky_engine.context import Context
    from rocky_engine.lineage.graph import LineageGraph
    from rocky_engine.project import Model, Project

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = ("graph.js", "draw.js", "app.js", "style.css")
SHARD_SIZE = 128  # models per data/models/N.js: one small file to read per model page
_PURPOSE_CHARS = 240  # of each model's purpose in the catalog (the model page has it all)
# Byte arrays of the lineage state, as the page reads them (Uint32Array, little-endian).
_GRAPH_ARRAYS = ("rel_start", "vin_off", "vin", "vout_off", "vout", "inf_off", "inf",
                 "iout_off", "iout")


@dataclass(frozen=True)
class SiteResult:
    """Where the site was written and what it holds."""

    out: Path
    models: int
    sources: int
    files: int
    drift: bool  # a last `rocky drift` report was found and drawn
    tests: bool  # last `rocky test` results were found

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def to_json(self) -> dict[str, object]:
        return {"out": str(self.out), "index": str(self.index), "models": self.models,
                "sources": self.sources, "files": self.files, "drift": self.drift,
                "tests": self.tests}


def build_site(ctx: Context, out: Path) -> SiteResult:
    """Compile (cache-backed), then write the whole site under ``out`` (replacing it)."""
    compiled = ctx.compile()
    graph = ctx.lineage_graph(compiled=compiled)
    return write_site(ctx.project, compiled, graph, out)


def write_site(project: Project, compiled: CompileResult, graph: LineageGraph,
               out: Path) -> SiteResult:
    """Write the site of ``project`` from its compile result and lineage graph."""
    document: dict[str, Any] = compiled.to_json()  # `rocky compile --format json` itself
    drift = load_last(project.root, DRIFT)
    tests = load_last(project.root, TESTS)
    results = _results_by_model(tests)
    diagnostics = _diagnostics_by_model(document["diagnostics"])

    _prepare(out)
    records = document["models"]
    catalog_models: list[dict[str, Any]] = []
    shard: list[dict[str, Any]] = []
    files = 0
    for i, record in enumerate(records):
        key = record["name"].lower()
        model = project.models.get(key)
        diags = diagnostics.get(key, [])
        mine = results.get(key, [])
        catalog_models.append(_catalog_entry(record, model, i // SHARD_SIZE, diags, mine))
        shard.append(_model_page(record, model, diags, mine))
        if len(shard) == SHARD_SIZE:
            _write_data(out / "data" / "models" / f"{i // SHARD_SIZE}.js",
                        f"shard:{i // SHARD_SIZE}", shard)
            shard, files = [], files + 1
    if shard:
        _write_data(out / "data" / "models" / f"{(len(records) - 1) // SHARD_SIZE}.js",
                    f"shard:{(len(records) - 1) // SHARD_SIZE}", shard)
        files += 1

    catalog = {
        "project": project.name,
        "dialect": project.dialect,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": document["ok"],
        "stats": document["stats"],
        "models": catalog_models,
        "sources": [_source_entry(key, table) for key, table in sorted(project.sources.items())],
        "diagnostics": diagnostics.get("", []),
        "drift": _drift_summary(drift),
        "tests": ({"recorded_at": tests.get("recorded_at"), "schema": tests.get("schema"),
                   "counts": _counts(tests.get("tests", []))} if tests else None),
        "shard_size": SHARD_SIZE,
    }
    _write_data(out / "data" / "catalog.js", "catalog", catalog)
    _write_data(out / "data" / "lineage.js", "lineage", _graph_payload(graph))
    _write_data(out / "data" / "drift.js", "drift", drift)
    files += 3 + _write_page(out, project.name)
    return SiteResult(out=out, models=len(records), sources=len(project.sources),
                      files=files, drift=drift is not None, tests=tests is not None)


# ---------------------------------------------------------------------------- records


def _catalog_entry(record: Mapping[str, Any], model: Model | None, shard: int,
                   diags: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    intent = model.sidecar.intent if model else None
    description = (intent.purpose if intent else None) or (
        model.sidecar.description if model else None) or ""
    return {
        "name": record["name"],
        "path": record["path"],
        "status": record["status"],
        "materialized": record["materialized"],
        "depends_on": record["depends_on"],
        "sources": record["sources"],
        "columns": len(record["columns"]),
        "purpose": description[:_PURPOSE_CHARS],
        "errors": sum(1 for d in diags if d["severity"] == "error"),
        "warnings": sum(1 for d in diags if d["severity"] == "warning"),
        "tests": _counts(results),
        "shard": shard,
    }


def _model_page(record: dict[str, Any], model: Model | None,
                diags: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
    page = record  # the compile document's own record (written once, not copied)
    page["diagnostics"] = diags
    page["test_results"] = results
    if model is None:
        return page
    sidecar = model.sidecar
    page["sql"] = model.sql
    page["sidecar_path"] = model.sidecar_path
    page["description"] = sidecar.description
    if model.sidecar_path is None:  # the defaults: nothing more to say
        return page
    page["intent"] = sidecar.intent.model_dump(mode="json") if sidecar.intent else None
    page["column_docs"] = {name.lower(): c.model_dump(mode="json", exclude_none=True)
                           for name, c in sidecar.columns.items()}
    # `name` as `rocky test` reports it, so the page finds each test's last result.
    page["tests"] = [{**t.model_dump(mode="json", exclude_none=True), "name": test_name(t)}
                     for t in sidecar.tests]
    page["unit_tests"] = [u.name for u in sidecar.unit_tests]
    return page


def _source_entry(key: str, table: Any) -> dict[str, Any]:
    return {
        "key": key,
        "schema": table.schema,
        "name": table.name,
        "description": table.description,
        "file": table.file,
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable,
                     "description": c.description} for c in table.columns],
    }


def _diagnostics_by_model(diagnostics: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Diagnostics grouped by lower-case model name; ``""`` holds project-level ones."""
    found: dict[str, list[dict[str, Any]]] = {}
    for d in diagnostics:
        found.setdefault(str(d.get("model") or "").lower(), []).append(d)
    return found


def _results_by_model(tests: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for t in (tests or {}).get("tests", []):
        if isinstance(t, dict):
            found.setdefault(str(t.get("model", "")).lower(), []).append(t)
    return found


def _counts(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        status = str(r.get("status", "?"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _drift_summary(drift: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    impact = drift.get("impact", [])
    return {"recorded_at": drift.get("recorded_at"), "changes": len(drift.get("changes", [])),
            "broken": sum(1 for i in impact if i.get("status") == "broken"),
            "affected": sum(1 for i in impact if i.get("status") == "affected")}


def _graph_payload(graph: LineageGraph) -> dict[str, Any]:
    """The graph's own packed state (CSR arrays), so the page walks exactly the same graph.

    Integer arrays travel as base64 of little-endian uint32 (the page's ``Uint32Array``).
    """
    state = graph.to_state()
    payload: dict[str, Any] = {
        "kinds": list(EDGE_KINDS),
        "influence": list(INFLUENCE_KINDS),
        "nodes": state["nodes"],
        "relations": state["relations"],
        "rel_kinds": "".join("sm"[k] for k in state["rel_kinds"]),
    }
    for name in _GRAPH_ARRAYS:
        data: bytes = state[name]
        if state.get("byteorder", sys.byteorder) != "little":
            values = array("I")
            values.frombytes(data)
            values.byteswap()
            data = values.tobytes()
        payload[name] = base64.b64encode(data).decode("ascii")
    return payload


# ---------------------------------------------------------------------------- files


def _prepare(out: Path) -> None:
    """An empty ``out`` (a previous site is replaced; anything else there is refused)."""
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} exists and is not a folder", hint="pass another --out")
        if any(out.iterdir()) and not (out / "data" / "catalog.js").exists():
            raise UsageError(f"{out} is not empty and holds no rocky site",
                             hint="pass an empty or new folder with --out")
        shutil.rmtree(out / "data", ignore_errors=True)
    (out / "data" / "models").mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(parents=True, exist_ok=True)


def _write_data(path: Path, key: str, value: Any) -> None:
    # A JSON document is a JavaScript expression (ES2019: U+2028/2029 included), so the
    # data file is the JSON itself inside one call; UTF-8 like the page. The data are
    # trees: no need to check for cycles (a third of the encoding time).
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, check_circular=False)
    with path.open("w", encoding="utf-8") as f:  # three writes: no copy of a big document
        f.write(f"ROCKY.put({json.dumps(key)},")
        f.write(text)
        f.write(");\n")


def _write_page(out: Path, project_name: str) -> int:
    for name in ASSETS:
        shutil.copyfile(STATIC / name, out / "assets" / name)
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    title = project_name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    (out / "index.html").write_text(page.replace("{{project}}", title), encoding="utf-8")
    return len(ASSETS) + 1
