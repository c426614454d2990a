"""Models for another warehouse dialect: qualified trees, bound and checked for a target.

The compiler types a model in ``[project] dialect``; a warehouse speaking another
dialect gets the model's *qualified* tree (``*`` and ``* EXCLUDE`` expanded, every
column owned, types annotated), with its references pointed at the schema it is built
in, rendered by the dialect layer. :func:`check_target` reports, located in the model
file, every construct the target cannot express (``rocky compile --target postgres``).

    >>> models = TargetModels(project, compile_project(project), "postgres")  # doctest: +SKIP
    >>> models.bound("customers", {"stg_orders": ("main", "stg_orders")})    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp

from rocky_engine.adapters.dialect import RULES, unsupported
from rocky_engine.compiler.infer import MODEL_DB, infer_types
from rocky_engine.compiler.ir import CompiledColumn, CompileResult
from rocky_engine.compiler.parse import parse_model
from rocky_engine.compiler.positions import Site
from rocky_engine.errors import Diagnostic, Severity
from rocky_engine.project import Project


class TargetModels:
    """Qualified trees of a compiled project's models, built on first use and kept."""

    def __init__(self, project: Project, compiled: CompileResult, target: str) -> None:
        self.project = project
        self.compiled = compiled
        self.target = target
        self._trees: dict[str, exp.Query | None] = {}

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
    models = models or TargetModels(project, compiled, target)
    out: list[Diagnostic] = []
    for name in compiled.order:
        cm = compiled.models.get(name)
        model = project.models.get(name)
        if cm is None or model is None or cm.status != "ok":
            continue
        tree = models.tree(name)
        if tree is None:
            continue
        site = Site(model.name, model.path, model.sql)
        seen: set[str] = set()
        for finding in unsupported(tree, target):
            if finding.construct in seen:
                continue
            seen.add(finding.construct)
            out.append(site.at(
                "R400", f"{finding.construct} cannot be expressed on {target} "
                f"(the warehouse of this project){': ' + finding.detail if finding.detail else ''}",
                node=finding.node, line=0 if finding.node is not None else 1,
                col=0 if finding.node is not None else 1,
                hint="rewrite it with constructs both dialects have"))
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
