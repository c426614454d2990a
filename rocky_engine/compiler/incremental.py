"""Re-type a few edited models of a compiled project in memory (the editor's hot path).

    >>> state = LiveState.of(project, compile_project(project))        # doctest: +SKIP
    >>> project = replace_model_sql(project, "stg_orders", new_text)      # doctest: +SKIP
    >>> touched = state.recompile(project, ["stg_orders"])              # doctest: +SKIP

:func:`compile_project` answers for files on disk; an editor has unsaved buffers and wants
an answer per keystroke. :class:`LiveState` keeps the last result per model and re-types
only the edited models, then their dependents in DAG order while their input schemas (or
ok/error status) change, and stops where schemas hold: one model's edit costs a few
milliseconds whatever the project's size. The per-model work is the compiler's own
(:func:`scan_model`, :func:`resolve_references`, :func:`compile_model`), so the diagnostics are
exactly those of ``rocky compile``. When an edit changes the shape of the DAG into a cycle,
or touches a model on a cycle, :meth:`LiveState.recompile` returns None and the caller
compiles the whole project instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from rocky_engine.codes import diag
from rocky_engine.compiler.ir import (
    CompiledColumn,
    CompiledModel,
    CompileResult,
    ModelJob,
    Reference,
)
from rocky_engine.compiler.model import compile_model, scan_model
from rocky_engine.compiler.pipeline import (
    _contracts,
    _incremental_diagnostics,
    _promote,
    _sidecar_text,
    _stale_intent,
)
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.resolve import Catalog, resolve_references
from rocky_engine.compiler.types import normalize
from rocky_engine.dag import DAG
from rocky_engine.errors import Diagnostic, Severity
from rocky_engine.project import Project


@dataclass
class LiveState:
    """The compiled state of every model, updated in place by :meth:`recompile`."""

    models: dict[str, CompiledModel]
    diagnostics: dict[str, list[Diagnostic]]  # model -> its diagnostics, as compile reports
    dag: DAG[str]
    order: list[str]
    strict: bool = False
    on_cycle: set[str] = field(default_factory=set)
    # Schema fingerprints of ok models (what dependents' typing depends on).
    fingerprints: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, result: CompileResult, *, strict: bool = False) -> LiveState:
        diags: dict[str, list[Diagnostic]] = {name: [] for name in result.models}
        for d in result.diagnostics:
            key = (d.model or "").lower()
            if key in diags:
                diags[key].append(d)
        _, cycles = result.dag.without_cycles()
        on_cycle = {n for cycle in cycles for n in cycle}
        return cls(models=dict(result.models), diagnostics=diags, dag=result.dag,
                   order=list(result.order), strict=strict, on_cycle=on_cycle)

    def result(self) -> CompileResult:
        """The state as a :class:`CompileResult` (for lineage and JSON)."""
        return CompileResult(models=dict(self.models),
                             diagnostics=[d for n in self.order for d in self.diagnostics[n]],
                             order=list(self.order), dag=self.dag)

    def recompile(self, project: Project, edited: Iterable[str], *,
                  sidecar_texts: Mapping[str, str] | None = None) -> list[str] | None:
        """Re-type ``edited`` models of ``project`` (their SQL and sidecars as given there)
        and every dependent whose inputs changed; returns the models re-typed, in order.

        ``sidecar_texts`` maps a sidecar's relative path to unsaved text (for contract
        diagnostics located in it). None: the DAG changed into or around a cycle, or a
        model is not in the state: compile the whole project.
        """
        models = project.models
        edited = [n.lower() for n in edited]
        if any(n not in models or n not in self.models or n in self.on_cycle for n in edited):
            return None
        catalog = Catalog(
            models=frozenset(models),
            source_schemas=frozenset(t.schema.lower() for t in project.sources.values())
            | frozenset(s.lower() for s in project.source_files),
            sources=frozenset(project.sources))
        refs: dict[str, tuple[Reference, ...]] = {}
        early: dict[str, list[Diagnostic]] = {}
        for name in edited:
            model = models[name]
            scan = scan_model(model.name, model.path, model.sql, project.dialect)
            if scan.diagnostics:
                refs[name], early[name] = (), list(scan.diagnostics)
                continue
            found, problems = resolve_references(
                scan.refs, Site(name, model.path, model.sql), catalog)
            refs[name], early[name] = found, problems
        dag, order = self.dag, self.order
        for name in edited:
            parents = tuple(r.name for r in refs[name] if r.kind == "model")
            if set(parents) != set(self.models[name].depends_on):
                dag = DAG({n: (parents if n == name else dag.parents(n)) for n in dag.nodes})
                if dag.find_cycle() is not None:
                    return None
                order = dag.order()
        if dag is not self.dag:
            self.dag, self.order = dag, order
        position = {n: i for i, n in enumerate(self.order)}
        todo = [(position[n], n) for n in edited]
        heapq.heapify(todo)
        queued = set(edited)
        done: list[str] = []
        while todo:
            _, name = heapq.heappop(todo)
            before = self.models[name]
            model = models[name]
            if name not in refs:  # a dependent: same SQL, new inputs
                refs[name] = tuple(
                    [Reference("model", n) for n in before.depends_on]
                    + [Reference("source", s) for s in before.sources])
            compiled, model_diags = self._type(project, name, refs[name], early.get(name, []),
                                               sidecar_texts or {})
            self.models[name] = compiled
            self.diagnostics[name] = model_diags
            done.append(name)
            if compiled.status != before.status or \
                    _fingerprint(compiled) != _fingerprint(before):
                for child in self.dag.children(name):
                    if child not in queued:
                        queued.add(child)
                        heapq.heappush(todo, (position[child], child))
        return done

    def _type(self, project: Project, name: str, refs: tuple[Reference, ...],
              early: list[Diagnostic], sidecar_texts: Mapping[str, str]
              ) -> tuple[CompiledModel, list[Diagnostic]]:
        model = project.models[name]
        diags = list(early)
        columns: Sequence[CompiledColumn] = ()
        lineage: Sequence[object] = ()
        typed = False
        if not early:
            bad_up = [r.name for r in refs if r.kind == "model"
                      and self.models.get(r.name) is not None
                      and self.models[r.name].status != "ok"]
            if bad_up:
                diags.append(diag(
                    "I140", "not checked: it reads "
                    + ", ".join(f"`{project.models[u].name}`" for u in bad_up)
                    + ", which has errors", file=model.path, model=model.name,
                    hint="fix the upstream model first"))
            else:
                upstream: dict[str, Sequence[CompiledColumn]] = {}
                for r in refs:
                    if r.kind == "source":
                        upstream[r.name] = tuple(
                            CompiledColumn(c.name, normalize(c.type), c.nullable)
                            for c in project.sources[r.name].columns)
                    else:
                        upstream[r.name] = self.models[r.name].columns
                contracts = _contracts(model)
                sidecar_text = ""
                if contracts:
                    sidecar_text = sidecar_texts.get(model.sidecar_path or "") \
                        or _sidecar_text(project, model)
                outcome = compile_model(ModelJob(
                    name=model.name, path=model.path, sql=model.sql, dialect=project.dialect,
                    upstream=upstream, contracts=contracts, sidecar_path=model.sidecar_path,
                    sidecar_text=sidecar_text))
                diags.extend(outcome.diagnostics)
                columns, lineage, typed = outcome.columns, outcome.lineage, outcome.typed
        stale = _stale_intent(project, model)
        if stale is not None:
            diags.append(stale)
        if typed:
            diags.extend(_incremental_diagnostics(project, model, columns))
        if self.strict:
            diags = [_promote(d) for d in diags]
        diags.sort(key=lambda d: (d.file != model.path, d.file, d.line, d.col))
        ok = typed and not any(d.severity is Severity.ERROR for d in diags)
        compiled = CompiledModel(
            name=model.name, path=model.path, materialized=model.materialized,
            status="ok" if ok else "error", columns=columns,
            depends_on=tuple(r.name for r in refs if r.kind == "model"),
            sources=tuple(r.name for r in refs if r.kind == "source"),
            lineage=lineage)  # type: ignore[arg-type]
        return compiled, diags


def _fingerprint(model: CompiledModel) -> tuple[tuple[str, str, bool | None], ...]:
    return tuple((c.name, c.type, c.nullable) for c in model.columns)


def replace_model_sql(project: Project, name: str, sql: str) -> Project:
    """``project`` with one model's SQL replaced (an unsaved buffer)."""
    models = dict(project.models)
    models[name.lower()] = replace(models[name.lower()], sql=sql)
    return replace(project, models=models)
