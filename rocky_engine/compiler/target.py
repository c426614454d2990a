"""Models for another warehouse dialect: qualified trees, bound and checked for a target.

The compiler types a model in ``[project] dialect``; a warehouse speaking another
dialect gets the model's *qualified* tree (``*`` and ``* EXCLUDE`` expanded, every
column owned, types annotated), with its references pointed at the schema it is built
in, rendered by the dialect layer. :func:`check_target` reports, located in the model
file, every construct the target cannot express (``rocky compile --target postgres``).

    >>> models = TargetModels(project, compile_project(project), "postgres")  # doctest: +SKIP
    >>> models.bound("customers", {"stg_orders": ("main", "stg_orders")})    # doctest: +SKIP
    >>> models.sql("customers", "main")      # rendered once, then from target/  # doctest: +SKIP

What a model renders to (and what it cannot express) depends only on its SQL, the
schemas it reads and the target, so it is kept in ``target/render-<target>.json`` under
that key: a warm ``rocky run`` on Postgres qualifies and renders nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from rocky_engine.adapters.dialect import RULES, DialectError, render, unsupported
from rocky_engine.compiler.cache import _sqlglot_version, digest
from rocky_engine.compiler.infer import infer_types
from rocky_engine.compiler.ir import CompiledColumn, CompileResult
from rocky_engine.compiler.parse import parse_model
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.relations import MODEL_DB
from rocky_engine.errors import Diagnostic, Severity
from rocky_engine.project import Project

RENDER_VERSION = 2  # 2: Spark LATERAL fix-up
# Model references are rendered into this schema, replaced by the real one per build.
_PLACEHOLDER = "__rocky_target__"


@dataclass(frozen=True)
class Finding:
    """An R400 of one model, as stored: the construct and where it sits."""

    construct: str
    detail: str
    line: int
    col: int
    width: int


@dataclass(frozen=True)
class Prepared:
    """One model rendered for the target with its model references in a placeholder
    schema (``sql`` None when it cannot be rendered), and what the target cannot express."""

    sql: str | None
    findings: tuple[Finding, ...]


class TargetModels:
    """Qualified trees and rendered SQL of a compiled project's models, for one target.

    Trees are built on first use; rendered SQL comes from ``target/render-<target>.json``
    when the model, its upstream schemas and the target are unchanged (``cache=False``
    turns that off). Call :meth:`save` to write what was rendered.
    """

    def __init__(self, project: Project, compiled: CompileResult, target: str, *,
                 cache: bool = True) -> None:
        self.project = project
        self.compiled = compiled
        self.target = target
        self._trees: dict[str, exp.Query | None] = {}
        self._prepared: dict[str, Prepared] = {}
        self._path = project.root / "target" / f"render-{target}.json" if cache else None
        self._store: dict[str, list[object]] | None = None
        self._dirty = False

    # ---------------------------------------------------------------- rendered SQL

    def _load(self) -> dict[str, list[object]]:
        if self._store is None:
            self._store = {}
            if self._path is not None and self._path.exists():
                try:
                    data = json.loads(self._path.read_text(encoding="utf-8"))
                    if data.get("version") == [RENDER_VERSION, _sqlglot_version()]:
                        self._store = data.get("models", {})
                except (OSError, ValueError, AttributeError):
                    self._store = {}
        return self._store

    def _key(self, name: str) -> str:
        model = self.project.models[name]
        upstream = self._upstream(name)
        return digest(self.target, self.project.dialect, model.sql,
                      *(f"{rel}:{[tuple(c) for c in cols]}"
                        for rel, cols in sorted(upstream.items())))

    def prepared(self, name: str) -> Prepared:
        """The model rendered for the target (cached) and its R400 findings."""
        key_name = name.lower()
        got = self._prepared.get(key_name)
        if got is not None:
            return got
        key = self._key(key_name)
        entry = self._load().get(key)
        if entry is not None:
            sql, found = entry
            got = Prepared(sql if isinstance(sql, str) else None,
                           tuple(Finding(*f) for f in found))  # type: ignore[attr-defined]
        else:
            got = self._prepare(key_name)
            self._load()[key] = [got.sql, [list(f.__dict__.values()) for f in got.findings]]
            self._dirty = True
        self._prepared[key_name] = got
        return got

    def _prepare(self, name: str) -> Prepared:
        tree = self.tree(name)
        if tree is None:
            return Prepared(None, ())
        model = self.project.models[name]
        site = Site(model.name, model.path, model.sql)
        findings: list[Finding] = []
        seen: set[str] = set()
        for u in unsupported(tree, self.target):
            if u.construct in seen:
                continue
            seen.add(u.construct)
            d = site.at("R400", "x", node=u.node, line=0 if u.node is not None else 1,
                        col=0 if u.node is not None else 1)
            findings.append(Finding(u.construct, u.detail, d.line, d.col,
                                    max(1, d.end_col - d.col + 1)))
        sql = None
        if not findings and _PLACEHOLDER not in model.sql:
            refs = {dep.lower(): (_PLACEHOLDER, dep.lower())
                    for dep in self.compiled.models[name].depends_on}
            try:
                sql = render(self.bound(name, refs), self.target)
            except DialectError:
                sql = None
        return Prepared(sql, tuple(findings))

    def sql(self, name: str, schema: str) -> str | None:
        """The model's SELECT for the target with every model reference in ``schema``;
        None when it cannot be rendered (use :meth:`bound`, which raises the reason)."""
        got = self.prepared(name)
        if got.sql is None:
            return None
        quoted = exp.to_identifier(schema, quoted=True).sql(dialect=self.target)
        # Quoted as the target quotes (Postgres "x", Spark `x`).
        placeholder = exp.to_identifier(_PLACEHOLDER, quoted=True).sql(dialect=self.target)
        return got.sql.replace(placeholder + ".", quoted + ".")

    def save(self) -> None:
        """Write what was rendered to ``target/`` (best effort: a read-only checkout
        just renders again next time)."""
        if not self._dirty or self._path is None or self._store is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".render-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": [RENDER_VERSION, _sqlglot_version()],
                           "models": self._store}, out)
            os.replace(tmp, self._path)
            self._dirty = False
        except OSError:
            pass

    # ---------------------------------------------------------------- trees

    def _upstream(self, name: str) -> dict[str, Sequence[CompiledColumn]]:
        cm = self.compiled.models.get(name)
        out: dict[str, Sequence[CompiledColumn]] = {}
        if cm is None:
            return out
        for dep in cm.depends_on:
            up = self.compiled.models.get(dep.lower())
            if up is not None:
                out[dep.lower()] = tuple(up.columns)
        for fqn in cm.sources:
            src = self.project.sources.get(fqn.lower())
            if src is not None:
                out[fqn.lower()] = tuple(CompiledColumn(c.name, c.type, c.nullable)
                                         for c in src.columns)
        return out

    def tree(self, name: str) -> exp.Query | None:
        """The model's qualified, type-annotated tree (model tables in ``MODEL_DB``)."""
        key = name.lower()
        if key not in self._trees:
            model = self.project.models[key]
            site = Site(model.name, model.path, model.sql)
            parsed, _ = parse_model(site, self.project.dialect)
            tree = None
            if parsed is not None:
                typed = infer_types(parsed, site, self._upstream(key), self.project.dialect)
                tree = typed.tree if isinstance(typed.tree, exp.Query) else None
            self._trees[key] = tree
        return self._trees[key]

    def bound(self, name: str, models: Mapping[str, tuple[str, str]],
              sources: Mapping[str, tuple[str, str]] | None = None) -> exp.Query:
        """A copy of the qualified tree whose model (and, if given, source) tables point at
        ``(schema, relation)`` targets; aliases keep the names the columns are owned by."""
        tree = self.tree(name)
        if tree is None:
            raise ValueError(f"model {name} does not compile; nothing to render")
        out = tree.copy()
        for table in list(out.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                continue
            db = table.text("db")
            if db == MODEL_DB:
                target = models.get(table.name.lower())
            elif db and sources is not None:
                target = sources.get(f"{db}.{table.name}".lower())
            else:
                target = None
            if target is None:
                if db == MODEL_DB:  # never leave the placeholder schema in SQL
                    table.set("db", None)
                continue
            if not table.args.get("alias"):
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(target[1], quoted=True))
            table.set("db", exp.to_identifier(target[0], quoted=True))
            table.set("catalog", None)
        return out


def check_target(project: Project, compiled: CompileResult, target: str,
                 models: TargetModels | None = None) -> list[Diagnostic]:
    """R400 for every construct of a compiled model that ``target`` cannot express."""
    if target == project.dialect or target not in RULES:
        return []
    own = models is None
    models = models or TargetModels(project, compiled, target)
    out: list[Diagnostic] = []
    for name in compiled.order:
        cm = compiled.models.get(name)
        model = project.models.get(name)
        if cm is None or model is None or cm.status != "ok":
            continue
        site = Site(model.name, model.path, model.sql)
        for f in models.prepared(name).findings:
            out.append(site.at(
                "R400", f"{f.construct} cannot be expressed on {target} "
                f"(the warehouse of this project){': ' + f.detail if f.detail else ''}",
                line=f.line, col=f.col, width=f.width,
                hint="rewrite it with constructs both dialects have"))
    if own:
        models.save()
    return out


def with_target(compiled: CompileResult, diagnostics: list[Diagnostic]) -> CompileResult:
    """``compiled`` with target diagnostics added (and the models they hit marked)."""
    if not diagnostics:
        return compiled
    from dataclasses import replace

    hit = {(d.model or "").lower() for d in diagnostics if d.severity is Severity.ERROR}
    models = {n: (replace(m, status="error") if n in hit else m)
              for n, m in compiled.models.items()}
    return replace(compiled, models=models,
                   diagnostics=list(compiled.diagnostics) + diagnostics)
