"""The Jinja path: render each model's raw SQL with a dbt-compatible context, no dbt needed.

The context provides ``ref`` (one and two arguments), ``source``, ``config``, ``var``
(``dbt_project.yml`` vars, package-scoped vars, defaults), ``this``, ``target``,
``env_var``, ``is_incremental()`` (false: the full-build query), ``return``,
``adapter.dispatch``, the ``dbt`` namespace of cross-database macros, the project's macros
(``macro-paths``) and those of packages under ``dbt_packages/``, each package's macros also
under its name (``dbt_utils.generate_surrogate_key``). Whatever needs the warehouse while
compiling (``run_query``, ``statement``, ``adapter`` introspection, ``load_result``) refuses
the model, with its reason. Ephemeral models are inlined as ``__dbt__cte__<name>`` CTEs, as
dbt does, so both paths give the same SQL.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections import ChainMap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from rocky_engine.importers.dbt._context import (
    _MISSING,
    Refused,
    Relation,
    _Adapter,
    _Api,
    _Config,
    _env_var,
    _Exceptions,
    _Flags,
    _fromyaml,
    _Macro,
    _Modules,
    _Namespace,
    _needs_warehouse,
    _raise_return,
    _Result,
    _Return,
    _Table,
    _Target,
    _target,
    _toyaml,
)
from rocky_engine.importers.dbt._dbt_install import find_dbt_macros
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
from rocky_engine.importers.dbt._project import load_yaml, paths
from rocky_engine.importers.dbt._scratch import ScratchCatalog, ScratchError
from rocky_engine.importers.dbt._sources import seed_columns

_MACRO_RE = re.compile(
    r"{%-?\s*macro\s+(\w+)\s*\(.*?-?%}.*?{%-?\s*endmacro\s*-?%}", re.DOTALL)
_BLOCKS_RE = re.compile(
    r"{%-?\s*(test|materialization|docs|snapshot)\b.*?{%-?\s*end\1\s*-?%}", re.DOTALL)
_TEST_BLOCK_RE = re.compile(r"{%-?\s*test\s+(\w+)\s*\(", re.DOTALL)
_CONFIG_MAT_RE = re.compile(r"""config\s*\([^)]*materialized\s*=\s*['"](\w+)['"]""", re.DOTALL)
_CONFIG_KEYS = {"materialized", "schema", "alias", "enabled", "tags", "unique_key",
                "incremental_strategy", "on_schema_change", "database", "docs", "persist_docs",
                "post-hook", "pre-hook", "full_refresh", "meta", "grants", "contract",
                "access", "group", "column_types", "quote_columns", "delimiter", "severity",
                "where", "store_failures", "sql_header", "batch_size", "lookback", "begin",
                "event_time", "on_configuration_change", "packages"}


def _config_levels(tree: Any, path: list[str]) -> dict[str, Any]:
    """Configs of ``dbt_project.yml``'s ``models:``/``seeds:`` tree along ``path``."""
    out: dict[str, Any] = {}
    level = tree if isinstance(tree, dict) else {}
    for step in [None, *path]:
        if step is not None:
            nxt = level.get(step)
            if not isinstance(nxt, dict):
                break
            level = nxt
        for k, v in level.items():
            if k.startswith("+"):
                out[k[1:]] = v
            elif k in _CONFIG_KEYS and not isinstance(v, dict):
                out[k] = v
    return out


def _tests_of(entries: Any, attached: str, column: str | None, file: str,
              ) -> tuple[list[DbtTest], list[tuple[str, str, str]]]:
    tests: list[DbtTest] = []
    skipped: list[tuple[str, str, str]] = []
    for entry in entries or []:
        args: dict[str, Any]
        if isinstance(entry, str):
            full, args = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            full, args = next(iter(entry.items()))
            args = dict(args or {})
        elif isinstance(entry, dict) and "name" in entry and "test_name" in entry:
            full, args = entry["test_name"], {k: v for k, v in entry.items() if k != "test_name"}
        else:
            skipped.append((attached, str(entry), f"unreadable test entry in {file}"))
            continue
        ns, _, name = full.rpartition(".")
        cfg = dict(args.pop("config", None) or {})
        for key in ("severity", "where", "tags", "enabled", "store_failures", "error_if",
                    "warn_if", "limit", "name"):
            if key in args:
                cfg.setdefault(key, args.pop(key))
        kwargs = dict(args.pop("arguments", None) or {})
        kwargs.update(args)
        if cfg.get("enabled") is False:
            continue
        if column is not None:
            kwargs.setdefault("column_name", column)
        label = "_".join(p for p in (name, attached.split(":")[-1].replace(".", "_"), column) if p)
        tests.append(DbtTest(test=name, namespace=ns or None, attached=attached, column=column,
                             kwargs=kwargs, severity=str(cfg.get("severity") or "error").lower(),
                             where=cfg.get("where"), file=file, name=label))
    return tests, skipped


def _columns(entries: Any) -> tuple[DbtColumn, ...]:
    out = []
    for c in entries or []:
        if isinstance(c, dict) and c.get("name"):
            out.append(DbtColumn(str(c["name"]), str(c.get("description") or ""),
                                 c.get("data_type") or None))
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Renderer:
    def __init__(self, root: Path, project: dict[str, Any], dbt_executable: str | None = None,
                 ) -> None:
        self.root = root
        self.project = project
        self.name = str(project["name"])
        self.target = _target(root, project)
        self.adapter_type = self.target["type"]
        self.env = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
                                      undefined=jinja2.StrictUndefined, autoescape=False)
        self.env.filters["as_text"] = str
        self.env.filters["as_bool"] = lambda v: v if isinstance(v, bool) else str(v) == "True"
        self.env.filters["as_number"] = lambda v: v
        self.env.filters["as_native"] = lambda v: v
        self.packages: dict[str, Path] = {self.name: root}
        install = str(project.get("packages-install-path") or "dbt_packages")
        pkg_root = root / install
        if pkg_root.is_dir():
            for d in sorted(pkg_root.iterdir()):
                if (d / "dbt_project.yml").is_file():
                    data = load_yaml(d / "dbt_project.yml", f"{install}/{d.name}/dbt_project.yml")
                    if isinstance(data, dict) and data.get("name"):
                        self.packages[str(data["name"])] = d
        self.pkg_projects = {n: (project if n == self.name else load_yaml(
            p / "dbt_project.yml", f"{p.name}/dbt_project.yml") or {})
            for n, p in self.packages.items()}
        # One mutable dict of per-model values; every macro's context reads through it.
        self.ctx: dict[str, Any] = dict(self.env.globals)
        self.macros: dict[str, dict[str, _Macro]] = {}
        self.pkg_ctx: dict[str, Any] = {}
        self.notes: list[str] = []
        # dbt's own macros (the `dbt` namespace): the installed dbt's when there is one, with
        # rocky's small set of cross-database macros behind them.
        self.dbt_install = find_dbt_macros(self.adapter_type, dbt_executable)
        dbt_files: list[tuple[str, str]] = []
        if self.dbt_install is not None:
            for folder in reversed(self.dbt_install.folders):  # the adapter's override
                for f in sorted(folder.rglob("*.sql")):
                    dbt_files.append((str(f), f.read_text(encoding="utf-8", errors="replace")))
            self.notes.append(f"dbt's own macros (dbt.*) were read from dbt-core "
                              f"{self.dbt_install.version} at {self.dbt_install.site}")
        else:
            self.notes.append("no dbt installation found: dbt's cross-database macros (dbt.*) "
                              "came from rocky's own set (pass --dbt PATH/TO/dbt to use yours)")
        self.dbt_macros = self._load_macros("dbt", dbt_files)
        builtins_text = (Path(__file__).with_name("_builtins.sql")).read_text(encoding="utf-8")
        self.builtins = self._load_macros("dbt", [("_builtins.sql", builtins_text)],
                                          ChainMap(self.dbt_macros, self.ctx))
        self.pkg_ctx["dbt"] = ChainMap(self.dbt_macros, self.builtins, self.ctx)
        self.scratch = ScratchCatalog(str(self.target.get("database") or ""))
        self.results: dict[str, _Result] = {}
        for pkg, path in self.packages.items():
            files = []
            for mp in paths(self.pkg_projects[pkg], "macro-paths", "macros"):
                folder = path / mp
                if folder.is_dir():
                    for f in sorted(folder.rglob("*.sql")):
                        files.append((str(f.relative_to(self.root)), _read(f, self.root)))
            self.macros[pkg] = self._load_macros(pkg, files)
        self._install_context()

    def _load_macros(self, pkg: str, files: list[tuple[str, str]], outer: Any = None,
                     ) -> dict[str, _Macro]:
        out: dict[str, _Macro] = {}
        ctx = ChainMap(out, outer if outer is not None else self.ctx)
        self.pkg_ctx[pkg] = ctx
        for file, text in files:
            text = _BLOCKS_RE.sub("", text)
            for m in _MACRO_RE.finditer(text):
                out[m.group(1)] = _Macro(m.group(1), m.group(0), self.env, ctx, file, pkg)
        return out

    def _dispatch(self, macro_name: str, macro_namespace: str | None = None,
                  packages: Any = None) -> Any:
        """dbt's ``adapter.dispatch``: the project's ``dispatch:`` search order for the
        namespace, else the root project then the namespace (dbt's order for an installed
        package or `dbt`); in each package ``<adapter>__name`` before ``default__name``."""
        search = ([str(p) for p in packages] if isinstance(packages, (list, tuple))
                  else self._search_order(macro_namespace))
        for pkg in search:
            for macros in self._package_macros(pkg):
                for prefix in (f"{self.adapter_type}__", "default__"):
                    found = macros.get(prefix + macro_name)
                    if found is not None:
                        return found
        if macro_name in self.builtins:
            return self.builtins[macro_name]
        raise Refused(f"adapter.dispatch('{macro_name}', '{macro_namespace}') found no "
                      f"implementation in {', '.join(search)}")

    def _package_macros(self, pkg: str) -> list[dict[str, _Macro]]:
        if pkg == "dbt":
            return [self.dbt_macros, self.builtins]
        return [self.macros.get(pkg, {})]

    def _search_order(self, namespace: str | None) -> list[str]:
        for entry in self.project.get("dispatch") or []:
            if isinstance(entry, dict) and entry.get("macro_namespace") == namespace:
                order = entry.get("search_order")
                if isinstance(order, list) and order:
                    return [str(p) for p in order]
        if namespace and namespace != self.name and (namespace in self.macros or namespace == "dbt"):
            return [self.name, namespace]
        return [namespace] if namespace else [self.name]

    # ------------------------------------------------- what dbt asks the warehouse
    def _statement(self, name: str | None = None, fetch_result: bool = False, *_: Any,
                   caller: Any = None, **__: Any) -> str:
        sql = str(caller()) if caller is not None else ""
        self.results[str(name)] = self._query(sql, f"statement('{name}')")
        return ""

    def _run_query(self, sql: Any) -> _Table:
        return self._query(str(sql), "run_query")["table"]  # type: ignore[no-any-return]

    def _query(self, sql: str, what: str) -> _Result:
        if self.adapter_type != "duckdb":
            raise Refused(f"runs SQL while compiling ({what}), which needs the warehouse")
        try:
            cols, rows = self.scratch.constant_query(sql)
        except ScratchError as exc:
            raise Refused(f"runs SQL while compiling ({what}) and {exc}: that needs the "
                          "warehouse") from None
        return _Result(cols, rows)

    def _load_result(self, name: str) -> _Result | None:
        return self.results.get(str(name))

    def _install_context(self) -> None:
        c = self.ctx
        root_macros = self.macros.get(self.name, {})
        c.update({
            "return": _raise_return, "execute": True, "flags": _Flags(),
            "target": _Target(self.target), "env_var": _env_var,
            "run_query": self._run_query, "statement": self._statement,
            "load_result": self._load_result, "load_relation": _needs_warehouse("load_relation"),
            "log": lambda *a, **k: "", "print": lambda *a, **k: "",
            "exceptions": _Exceptions(), "adapter": _Adapter(self._dispatch, self.adapter_type),
            "modules": _Modules(), "tojson": json.dumps, "fromjson": json.loads,
            "zip": zip, "set": set, "is_incremental": lambda: False,
            "local_md5": lambda text: hashlib.md5(str(text).encode()).hexdigest(),
            "fromyaml": _fromyaml, "toyaml": _toyaml,
            "should_full_refresh": lambda: True, "graph": {"nodes": {}, "sources": {}},
            "api": _Api(), "invocation_id": "rocky-import",
            "run_started_at": _dt.datetime(2000, 1, 1),
            "dbt_version": self.dbt_install.version if self.dbt_install else "1.11.0",
            "project_name": self.name,
        })
        c["dbt"] = _Namespace("dbt", self.dbt_macros, self.builtins.get)
        for pkg, macros in self.macros.items():
            c[pkg] = _Namespace(pkg, macros)
        # Root project macros are global (and override the `dbt` namespace's, as in dbt).
        for macros in (self.dbt_macros, self.builtins):
            for name, macro in macros.items():
                c.setdefault(name, macro)
        c.update(root_macros)

    # -------------------------------------------------------------- per model
    def schema_for(self, custom: Any, node: dict[str, Any]) -> str:
        gen = self.macros.get(self.name, {}).get("generate_schema_name")
        if gen is not None:
            return str(gen(custom, node)).strip()
        base = self.target["schema"]
        return base if custom is None else f"{base}_{str(custom).strip()}"


def target_database(root: Path, project: dict[str, Any]) -> str:
    """The DuckDB database name the project's profile builds into (``dbt`` when in memory)."""
    name = str(_target(root, project).get("database") or "")
    return name if name and name.lower() != "memory" and "/" not in name else "dbt"


def jinja_ir(root: Path, project: dict[str, Any], dbt_executable: str | None = None,
              ) -> DbtProjectIR:
    """The project as rendering its Jinja gives it (the same records as the manifest's)."""
    r = _Renderer(root, project, dbt_executable)
    try:
        return _jinja_ir(r, root, project)
    finally:
        r.scratch.close()


def _jinja_ir(r: _Renderer, root: Path, project: dict[str, Any]) -> DbtProjectIR:
    name = r.name
    db = str(r.target.get("database") or "")
    tests: list[DbtTest] = []
    skipped: list[tuple[str, str, str]] = []
    unit_tests: list[DbtUnitTest] = []
    yml_models: dict[str, tuple[dict[str, Any], str]] = {}
    yml_seeds: dict[str, dict[str, Any]] = {}
    sources: list[DbtSource] = []

    # yml property files (models, sources, seeds, unit tests) of the root project
    for folder in paths(project, "model-paths", "models") + paths(project, "seed-paths", "seeds"):
        base = root / folder
        if not base.is_dir():
            continue
        for f in sorted([*base.rglob("*.yml"), *base.rglob("*.yaml")]):
            rel = f.relative_to(root).as_posix()
            data = load_yaml(f, rel)
            if not isinstance(data, dict):
                continue
            for m in data.get("models") or []:
                if isinstance(m, dict) and m.get("name"):
                    yml_models[str(m["name"]).lower()] = (m, rel)
            for s in data.get("seeds") or []:
                if isinstance(s, dict) and s.get("name"):
                    yml_seeds[str(s["name"]).lower()] = s
            for src in data.get("sources") or []:
                if not isinstance(src, dict) or not src.get("name"):
                    continue
                sname = str(src["name"])
                schema = str(src.get("schema") or sname)
                for t in src.get("tables") or []:
                    if not isinstance(t, dict) or not t.get("name"):
                        continue
                    tname = str(t["name"])
                    sources.append(DbtSource(
                        source=sname, name=tname, schema=schema,
                        identifier=str(t.get("identifier") or tname), file=rel,
                        description=str(t.get("description") or ""),
                        source_description=str(src.get("description") or ""),
                        columns=_columns(t.get("columns"))))
                    att = f"source:{sname}.{tname}"
                    got, skip = _tests_of(t.get("data_tests") or t.get("tests"), att, None, rel)
                    tests += got
                    skipped += skip
                    for col in t.get("columns") or []:
                        if isinstance(col, dict) and col.get("name"):
                            got, skip = _tests_of(col.get("data_tests") or col.get("tests"), att,
                                                  str(col["name"]), rel)
                            tests += got
                            skipped += skip
            for u in data.get("unit_tests") or []:
                if not isinstance(u, dict) or not u.get("name") or not u.get("model"):
                    continue
                expect = u.get("expect") or {}
                unit_tests.append(DbtUnitTest(
                    name=str(u["name"]), model=str(u["model"]),
                    given=tuple((str(g.get("input", "")), str(g.get("format") or "dict"),
                                 tuple(_plain(g.get("rows") or [])) if isinstance(g.get("rows"), list) else ())
                                for g in u.get("given") or [] if isinstance(g, dict)),
                    expect_format=str(expect.get("format") or "dict"),
                    expect=tuple(_plain(expect.get("rows") or [])) if isinstance(expect.get("rows"), list) else (),
                    overrides=bool(u.get("overrides")), file=rel))

    # seeds
    seeds: list[DbtSeed] = []
    seen_seeds: set[str] = set()
    found_seeds: list[tuple[str, dict[str, Any], Path, Path]] = []
    # The root project's seeds, then those of installed packages (`dbt seed` loads both).
    for pkg, pkg_path in r.packages.items():
        pkg_project = r.pkg_projects[pkg]
        for folder in paths(pkg_project, "seed-paths", "seeds"):
            base = pkg_path / folder
            if not base.is_dir():
                continue
            for f in sorted(base.rglob("*.csv")):
                if f.stem.lower() in seen_seeds:
                    continue
                seen_seeds.add(f.stem.lower())
                found_seeds.append((pkg, pkg_project, base, f))
    for pkg, pkg_project, base, f in found_seeds:
        rel = f.relative_to(root).as_posix()
        sname = f.stem
        dirs = list(f.relative_to(base).parent.parts)
        cfg = _config_levels((pkg_project.get("seeds") or {}), [pkg, *dirs]) \
            if pkg != name else {}
        cfg.update(_config_levels((project.get("seeds") or {}), [pkg, *dirs]))
        props = yml_seeds.get(sname.lower(), {})
        cfg.update(props.get("config") or {})
        if cfg.get("enabled") is False:
            continue
        node = {"name": sname, "resource_type": "seed", "config": cfg, "package_name": pkg}
        seeds.append(DbtSeed(
            name=sname, schema=r.schema_for(cfg.get("schema"), node),
            identifier=str(cfg.get("alias") or sname), csv=rel,
            column_types={str(k): str(v) for k, v in (cfg.get("column_types") or {}).items()},
            description=str(props.get("description") or ""),
            columns=_columns(props.get("columns"))))

    # Model versions (schema.yml `versions:`): dbt builds one model per version from
    # `<name>_v<v>.sql` (or `defined_in`); rocky names them by file, as the manifest path
    # does, and resolves ref('<name>') to the latest version, ref('<name>', v=N) to N.
    versions: dict[str, tuple[str, dict[str, str]]] = {}  # name -> (latest, v -> file stem)
    version_of: dict[str, tuple[str, str, dict[str, Any], str]] = {}  # stem -> (name, v, yml)
    for yname, (ym, yfile) in yml_models.items():
        if not isinstance(ym.get("versions"), list) or not ym["versions"]:
            continue
        stems: dict[str, str] = {}
        for entry in ym["versions"]:
            if not isinstance(entry, dict) or entry.get("v") is None:
                continue
            v = str(entry["v"])
            stem = str(entry.get("defined_in") or f"{ym['name']}_v{v}")
            stems[v] = stem
            merged = {**{k: val for k, val in ym.items() if k not in ("versions", "name")},
                      **{k: val for k, val in entry.items() if k not in ("v", "defined_in")}}
            version_of[stem.lower()] = (str(ym["name"]), v, merged, yfile)
        if stems:
            latest = str(ym.get("latest_version") if ym.get("latest_version") is not None
                         else max(stems, key=lambda x: (float(x) if x.replace(".", "", 1)
                                                        .isdigit() else 0, x)))
            versions[yname] = (latest, stems)

    # models: find files, prescan configs, then render
    found: list[tuple[str, Path, str, list[str]]] = []  # (package, path, rel, dirs)
    for pkg, pkg_path in r.packages.items():
        for folder in paths(r.pkg_projects[pkg], "model-paths", "models"):
            base = pkg_path / folder
            if not base.is_dir():
                continue
            for f in sorted([*base.rglob("*.sql"), *base.rglob("*.py")]):
                found.append((pkg, f, f.relative_to(root).as_posix(),
                              list(f.relative_to(base).parent.parts)))
    metas: dict[str, dict[str, Any]] = {}
    duplicates: list[DbtModel] = []
    for pkg, f, rel, dirs in found:
        mname = f.stem
        if mname.lower() in metas:  # the root project's comes first, as ref() prefers it
            duplicates.append(DbtModel(
                name=mname, package=pkg, file=rel, relation=("", ""), materialized="view",
                sql=None, refusal=(f"another model is also named `{mname}` "
                                   f"({metas[mname.lower()]['rel']}): rocky model names are "
                                   "unique")))
            continue
        cfg = _config_levels(project.get("models") or {}, [pkg, *dirs])
        yml, yml_file = yml_models.get(mname.lower(), ({}, ""))
        if mname.lower() in version_of:
            _, _, yml, yml_file = version_of[mname.lower()]
        cfg.update(yml.get("config") or {})
        raw = _read(f, root)
        m = _CONFIG_MAT_RE.search(raw) if f.suffix == ".sql" else None
        if m:
            cfg["materialized"] = m.group(1)
        metas[mname.lower()] = {"name": mname, "package": pkg, "path": f, "rel": rel,
                                "cfg": cfg, "raw": raw, "yml": yml, "yml_file": yml_file}
    seeds_by_name = {s.name.lower(): s for s in seeds}
    sources_by = {(s.source.lower(), s.name.lower()): s for s in sources}
    Rendered = tuple[str | None, str | None, int, dict[str, Any], list[str]]
    rendered: dict[str, Rendered] = {}

    def relation_of(meta: dict[str, Any], cfg: dict[str, Any]) -> tuple[str, str]:
        node = {"name": meta["name"], "resource_type": "model", "config": cfg,
                "package_name": meta["package"]}
        return r.schema_for(cfg.get("schema"), node), str(cfg.get("alias") or meta["name"])

    # Columns of seeds and models for `adapter.get_columns_in_relation` (dbt_utils.star & co.):
    # built in a scratch DuckDB from the seed's CSV and the model's rendered SQL.
    relations_by: dict[tuple[str, str], tuple[str, str]] = {
        (s.schema.lower(), s.identifier.lower()): ("source", f"{s.source}.{s.name}")
        for s in sources}
    relations_by.update({(s.schema.lower(), s.identifier.lower()): ("seed", s.name.lower())
                         for s in seeds})
    building: set[str] = set()

    def scratch_ready(kind: str, key: str) -> tuple[str, str]:
        if kind == "seed":
            s = seeds_by_name[key]
            if not r.scratch.has(s.schema, s.identifier):
                r.scratch.add_seed(s.schema, s.identifier,
                                   list(seed_columns(s, root).items()), root / s.csv)
            return s.schema, s.identifier
        meta = metas[key]
        schema, ident = relation_of(meta, meta["cfg"])
        if r.scratch.has(schema, ident):
            return schema, ident
        if key in building:
            raise Refused(f"asks for the columns of {meta['name']} while rendering it")
        if r.adapter_type != "duckdb":
            raise Refused(f"asks the warehouse for the columns of model {meta['name']} (rocky "
                          "works them out without it for DuckDB projects only)")
        building.add(key)
        try:
            sql, refusal, _, _, _ = render(key)
            if sql is None:
                raise Refused(f"asks for the columns of model {meta['name']}, which is refused: "
                              f"{refusal}")
            for dep_kind, dep_key in _read_relations(sql, relations_by):
                if dep_kind == "source":
                    raise Refused(f"asks for the columns of model {meta['name']}, which reads "
                                  f"source {dep_key}: a source's columns are known only to the "
                                  "warehouse")
                scratch_ready(dep_kind, dep_key)
            r.scratch.add_view(schema, ident, sql)
        except ScratchError as exc:
            raise Refused(f"asks for the columns of model {meta['name']}: {exc}") from None
        finally:
            building.discard(key)
        return schema, ident

    for mkey, mmeta in metas.items():
        if mmeta["cfg"].get("materialized") != "ephemeral":
            mschema, mident = relation_of(mmeta, mmeta["cfg"])
            relations_by[(mschema.lower(), mident.lower())] = ("model", mkey)

    def model_columns(key: str) -> list[str]:
        return r.scratch.columns(*scratch_ready("model", key))

    def seed_columns_of(s: DbtSeed) -> list[str]:
        try:
            return r.scratch.columns(*scratch_ready("seed", s.name.lower()))
        except ScratchError as exc:
            raise Refused(f"asks for the columns of seed {s.name}: {exc}") from None

    def render(key: str, stack: tuple[str, ...] = ()) -> Rendered:
        if key in rendered:
            return rendered[key]
        meta = metas[key]
        if meta["path"].suffix == ".py":
            out: Rendered = (None, ("a python model: rocky models are SQL (rewrite it as a SELECT, or "
                   "keep building it with dbt)"), 1, meta["cfg"], [])
            rendered[key] = out
            return out
        config = _Config(meta["cfg"])
        ephemerals: list[str] = []

        def ref(*args: Any, **kwargs: Any) -> Relation:
            target = str(args[-1]) if args else str(kwargs.get("name", ""))
            t = target.lower()
            wanted = kwargs.get("v", kwargs.get("version"))
            if t in versions:
                latest, stems = versions[t]
                stem = stems.get(str(latest if wanted is None else wanted))
                if stem is None:
                    raise Refused(f"ref('{target}', v={wanted}): dbt model `{target}` has no "
                                  f"version {wanted} (versions {', '.join(stems)})")
                t = stem.lower()
            elif wanted is not None:
                raise Refused(f"ref('{target}', v={wanted}): dbt model `{target}` declares no "
                              "versions")
            if t in metas:
                tcfg = metas[t]["cfg"]
                if tcfg.get("materialized") == "ephemeral":
                    if t in stack or t == key:
                        raise Refused(f"ephemeral cycle through {target}")
                    if t not in ephemerals:
                        ephemerals.append(t)
                    return Relation("", "", target, cte=f"__dbt__cte__{metas[t]['name']}")
                schema, ident = relation_of(metas[t], tcfg)
                return Relation(db, schema, ident, columns=lambda: model_columns(t),
                                what=f"model {metas[t]['name']}")
            if t in seeds_by_name:
                s = seeds_by_name[t]
                return Relation(db, s.schema, s.identifier, columns=lambda: seed_columns_of(s),
                                what=f"seed {s.name}")
            raise Refused(f"ref('{target}') names no model or seed of this project")

        def source(source_name: str, table_name: str) -> Relation:
            s = sources_by.get((str(source_name).lower(), str(table_name).lower()))
            if s is None:
                raise Refused(f"source('{source_name}', '{table_name}') is not declared in a "
                              "sources yml")
            return Relation(db, s.schema, s.identifier,
                            what=(f"source {s.source}.{s.name} (a source's columns are known "
                                  "only to the warehouse)"))

        schema, ident = relation_of(meta, meta["cfg"])
        saved = {k: r.ctx.get(k) for k in ("ref", "source", "config", "this", "model", "var",
                                          "builtins")}
        r.ctx.update({
            "ref": ref, "source": source, "config": config,
            "this": Relation(db, schema, ident),
            "model": {"name": meta["name"], "unique_id": f"model.{meta['package']}.{meta['name']}",
                      "resource_type": "model", "package_name": meta["package"],
                      "config": config.values, "original_file_path": meta["rel"]},
            "var": _var_fn(project, meta["package"]),
            "builtins": {"ref": ref, "source": source, "config": config},
        })
        line = 1
        try:
            sql: str | None = r.env.from_string(meta["raw"], globals=r.ctx).render()
            refusal = None
        except Refused as exc:
            sql, refusal, line = None, exc.reason(), _template_line(exc)
        except _Return as ret:
            sql, refusal = str(ret.value), None
        except jinja2.TemplateSyntaxError as exc:
            sql, refusal, line = None, f"Jinja syntax error: {exc.message}", exc.lineno or 1
        except jinja2.UndefinedError as exc:
            sql, refusal = None, (f"uses something rocky's Jinja context does not provide: "
                                  f"{exc.message}")
            line = _template_line(exc)
        except Exception as exc:  # noqa: BLE001 - a macro failing refuses that model, with why
            sql, refusal = None, f"rendering failed: {type(exc).__name__}: {exc}"
        finally:
            r.ctx.update(saved)
        cfg = config.values
        if sql is not None and ephemerals:
            ctes = []
            for e in ephemerals:
                esql, eref, _, _, _ = render(e, stack + (key,))
                if esql is None:
                    sql, refusal = None, f"reads ephemeral {metas[e]['name']}, which is refused: {eref}"
                    break
                ctes.append((f"__dbt__cte__{metas[e]['name']}", esql))
            if sql is not None:
                sql = _inject_ctes(sql, ctes, r.adapter_type)
        done: Rendered = (sql, refusal, line, cfg, ephemerals)
        rendered[key] = done
        return done

    models: list[DbtModel] = []
    disabled: list[str] = []
    for key, meta in metas.items():
        if meta["cfg"].get("enabled") is False:
            disabled.append(meta["name"])
            continue
        sql, refusal, line, cfg, ephemerals = render(key)
        if cfg.get("enabled") is False:
            disabled.append(meta["name"])
            continue
        yml, yml_file = meta["yml"], meta["yml_file"]
        schema, ident = relation_of(meta, cfg)
        notes = []
        if key in version_of:
            versioned, v, _, _ = version_of[key]
            notes.append(f"version {v} of dbt model `{versioned}`: named `{meta['name']}`")
        for hook in ("pre-hook", "post-hook", "pre_hook", "post_hook"):
            if cfg.get(hook):
                n = len(cfg[hook]) if isinstance(cfg[hook], list) else 1
                notes.append(f"{hook.replace('_', '-')}s are not imported ({n}): rocky runs no hooks")
        models.append(DbtModel(
            name=meta["name"], package=meta["package"], file=meta["rel"],
            relation=rel_key(schema, ident), materialized=str(cfg.get("materialized") or "view"),
            sql=sql, refusal=refusal, line=line, description=str(yml.get("description") or ""),
            columns=_columns(yml.get("columns")), schema_file=yml_file, notes=tuple(notes),
            ephemeral_ctes=tuple(ephemerals),
            incremental={**{k: cfg[k] for k in ("unique_key", "incremental_strategy",
                                                "on_schema_change") if cfg.get(k) is not None},
                         "raw_code": meta["raw"]}))
        att = meta["name"]
        got, skip = _tests_of(yml.get("data_tests") or yml.get("tests"), att, None, yml_file)
        tests += got
        skipped += skip
        for col in yml.get("columns") or []:
            if isinstance(col, dict) and col.get("name"):
                got, skip = _tests_of(col.get("data_tests") or col.get("tests"), att,
                                      str(col["name"]), yml_file)
                tests += got
                skipped += skip

    for folder in paths(project, "test-paths", "tests"):
        base = root / folder
        if base.is_dir():
            for f in sorted(base.rglob("*.sql")):
                rel = f.relative_to(root).as_posix()
                text = _read(f, root)
                if _TEST_BLOCK_RE.search(text):
                    continue  # a generic test definition, not a singular test
                m = re.search(r"""ref\(\s*['"](\w+)['"]""", text)
                skipped.append((m.group(1) if m else "", f.stem,
                                (f"singular test {rel}: a SQL file of failing rows has no rocky "
                                "equivalent (write it as an `expression` test)")))
    models.extend(duplicates)
    project_notes = tuple(r.notes) + ((
        f"disabled in dbt, not imported: {', '.join(sorted(disabled))}",) if disabled else ())
    return DbtProjectIR(name=name, adapter=r.adapter_type, path="jinja", models=tuple(models),
                        sources=tuple(sources), seeds=tuple(seeds), tests=tuple(tests),
                        unit_tests=tuple(unit_tests), skipped_tests=tuple(skipped),
                        notes=project_notes)


def _read(path: Path, root: Path) -> str:
    from rocky_engine.errors import ConfigError, Location

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", location=Location(
            path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)),
            hint="dbt files are UTF-8 text") from None


def _template_line(exc: BaseException) -> int:
    """The model file's line where rendering failed (jinja2 maps its frames to template lines;
    the outermost template frame is the model's own)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            return tb.tb_lineno
        tb = tb.tb_next
    return 1


def _var_fn(project: dict[str, Any], package: str) -> Callable[..., Any]:
    allvars: dict[str, Any] = project.get("vars") or {}
    scoped: dict[str, Any] = allvars.get(package) or {} if isinstance(allvars.get(package), dict) else {}

    def var(name: str, default: Any = _MISSING) -> Any:
        if name in scoped:
            return scoped[name]
        if name in allvars and not isinstance(allvars[name], dict):
            return allvars[name]
        if name in allvars:
            return allvars[name]
        if default is _MISSING:
            raise Refused(f"var('{name}') is not set in dbt_project.yml and has no default")
        return default
    return var


def _inject_ctes(sql: str, ctes: list[tuple[str, str]], adapter: str) -> str:
    """Prepend ``WITH __dbt__cte__x AS (...)`` for the ephemeral models read, as dbt does."""
    import sqlglot
    from sqlglot import exp

    from rocky_engine.importers.dbt._translate import ADAPTER_DIALECTS

    dialect = ADAPTER_DIALECTS.get(adapter, adapter)
    tree = sqlglot.parse_one(sql, read=dialect)
    new = [exp.CTE(this=sqlglot.parse_one(body, read=dialect),
                   alias=exp.TableAlias(this=exp.to_identifier(name))) for name, body in ctes]
    with_ = tree.args.get("with_") or tree.args.get("with")
    if with_ is not None:
        with_.set("expressions", new + list(with_.expressions))
    else:
        tree.set("with_" if "with_" in type(tree).arg_types else "with", exp.With(expressions=new))
    return tree.sql(dialect=dialect)


def _read_relations(sql: str, relations: dict[tuple[str, str], tuple[str, str]],
                    ) -> list[tuple[str, str]]:
    """The project relations (seeds, models, sources) a rendered DuckDB query reads."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ScratchError(f"its SQL does not parse: {str(exc).splitlines()[0]}") from None
    out: list[tuple[str, str]] = []
    for table in tree.find_all(exp.Table):
        found = relations.get((table.db.lower(), table.name.lower()))
        if found is not None and found not in out:
            out.append(found)
    return out
