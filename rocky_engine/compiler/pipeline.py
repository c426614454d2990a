"""``compile_project``: the passes over a whole project, in DAG order, cached and parallel.

    >>> from rocky_engine.project import load_project          # doctest: +SKIP
    >>> result = compile_project(load_project("shop"))          # doctest: +SKIP
    >>> result.ok, result.models["customers"].columns[0]        # doctest: +SKIP
    (True, CompiledColumn(name='customer_id', type='INTEGER', nullable=False))

Order of work: scan every model (parse → table references; cached by content), resolve
references, build the DAG (cycles are R108), then type each model in topological order —
a model's key in the cache is its content plus the schemas of what it reads, so an edit
re-types the edited model, and its dependents only when its output schema changed. Cold
compiles fan the per-model work out to worker processes one DAG level at a time
(:mod:`.workers`).

Two shortcuts answer from the last compile's *snapshot* (its whole result, recorded with
the content hash of every project file it read) without visiting every model: a project
whose files are all unchanged gets that result as it is; a project where only a few models'
SQL changed (:meth:`_Compiler._delta`) compiles just those and keeps the rest, provided each
still reads the same relations, stays ok and keeps its output schema — otherwise nothing
else could change. Anything else takes the full path above.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocky_engine.codes import diag
from rocky_engine.compiler.cache import CompileCache, digest, read_snapshot
from rocky_engine.compiler.ir import (
    CompiledColumn,
    CompiledModel,
    CompileResult,
    CompileStats,
    Contract,
    LazyTuple,
    ModelJob,
    ModelOutcome,
    Reference,
    Scan,
    schema_fingerprint,
)
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.resolve import Catalog, resolve_references
from rocky_engine.compiler.workers import Pool, compile_task, gc_paused, scan_task, worker_count
from rocky_engine.console import Console, SilentConsole
from rocky_engine.dag import DAG
from rocky_engine.errors import Diagnostic, ProjectLoadError, Severity, Subject
from rocky_engine.files import find_root, unchanged

if TYPE_CHECKING:
    # Not at run time: answer_unchanged must not load pydantic (the project's models).
    from rocky_engine.project import Model, Project, SourceTable

# At most this many changed model files are compiled against the last snapshot (_delta).
DELTA_MAX = 32

# One model in a snapshot: lower-case name, name, path, materialized, status, references
# (kind, name) in the order written, output-schema fingerprint, diagnostics as reported.
_Row = tuple[str, str, str, str, str, tuple[tuple[str, str], ...], str, tuple[Diagnostic, ...]]


@dataclass(frozen=True)
class _Snapshot:
    """A whole compile, as recorded for the project files it read (see CompileCache)."""

    order: tuple[str, ...]
    rows: tuple[_Row, ...]
    dag: DAG[str]
    files: dict[str, str]  # relative path -> content hash, of every project file loaded
    strict: bool
    dialect: str
    # relative path -> stat stamp from the same load (rocky_engine.files.unchanged)
    stamps: dict[str, Any] = field(default_factory=dict)


def answer_unchanged(project_dir: str | Path, *, strict: bool = False) -> CompileResult | None:
    """The last compile's result if no project file changed since, without loading it.

    One ``stat`` per file against the stamps the last compile's load recorded (the load
    cache's own rule): no TOML, SQL or pydantic. None when anything differs, or there is no
    snapshot to answer from: then load and compile as usual.

        >>> answer_unchanged("/nowhere") is None
        True
    """
    t0 = time.perf_counter()
    try:
        root = find_root(Path(project_dir))
    except ProjectLoadError:
        return None  # the normal path reports it
    with gc_paused():
        # The snapshot alone first (a few MB): after an edit this is all that is read.
        last = read_snapshot(root)
        if last is None:
            return None
        _key, outcome_keys, snap = last
        stamps = getattr(snap, "stamps", None)  # absent in a snapshot of another version
        if not isinstance(snap, _Snapshot) or snap.strict != strict or not stamps \
                or not unchanged(root, stamps):
            return None
        return _assemble(CompileCache.load(root, snapshot=last), snap, outcome_keys, t0)


def _assemble(cache: CompileCache, snap: _Snapshot, outcome_keys: dict[str, str], t0: float,
              *, replaced: dict[str, tuple[_Row, ModelOutcome, bool]] | None = None,
              parsed: int = 0, workers: int = 1) -> CompileResult | None:
    """The result recorded in ``snap``, with the rows in ``replaced`` swapped in.

    None if an outcome the snapshot names is no longer in the cache.
    """
    replaced = replaced or {}
    # Stored outcomes stay raw cache entries: 10,000 ModelOutcome records would be built only
    # to be taken apart again.
    entries: dict[str, tuple[Any, ...]] = {}
    for name, key in outcome_keys.items():
        if name not in replaced:
            entry = cache.outcome_entry(key)
            if entry is None:
                return None
            entries[name] = entry
    compiled: dict[str, CompiledModel] = {}
    all_diags: list[Diagnostic] = []
    for row in snap.rows:
        key = row[0]
        columns: Sequence[CompiledColumn] = ()
        lineage: Sequence[Any] = ()
        from_cache = False
        if key in replaced:
            row, outcome, from_cache = replaced[key]
            columns, lineage = outcome.columns, outcome.lineage
        else:
            entry = entries.get(key)
            if entry is not None:
                columns, lineage, from_cache = LazyTuple(entry[0]), LazyTuple(entry[1]), True
        _key, name, path, materialized, status, refs, _fp, model_diags = row
        compiled[key] = CompiledModel(
            name=name, path=path, materialized=materialized,
            status="ok" if status == "ok" else "error", columns=columns,
            depends_on=tuple(n for kind, n in refs if kind == "model"),
            sources=tuple(n for kind, n in refs if kind == "source"),
            lineage=lineage, from_cache=from_cache)
        all_diags.extend(model_diags)
    fresh = [o for _r, o, hit in replaced.values() if not hit]
    stats = CompileStats(
        models=len(compiled),
        columns=sum(e[5] for e in entries.values()) + sum(o.n_columns for _r, o, _h in
                                                          replaced.values()),
        unknown_types=sum(e[6] for e in entries.values()) + sum(o.n_unknown for _r, o, _h in
                                                                replaced.values()),
        cache_hits=len(entries) + len(replaced) - len(fresh), parsed=parsed,
        recompiled=len(fresh), seconds=time.perf_counter() - t0,
        lineage_seconds=sum(o.lineage_seconds for o in fresh), workers=workers)
    return CompileResult(models=compiled, diagnostics=all_diags, order=list(snap.order),
                         dag=snap.dag, stats=stats)


def compile_project(project: Project, *, sources: dict[str, SourceTable] | None = None,
                    use_cache: bool = True, strict: bool = False,
                    console: Console | None = None) -> CompileResult:
    """Compile every model of ``project``; never raises for problems in the models.

    ``sources`` replaces the declared sources (drift compiles against the live schema);
    ``strict`` makes unknown column types (W130) errors.
    """
    with gc_paused():
        return _Compiler(project, sources, use_cache, strict, console or SilentConsole()).run()


class _Compiler:
    def __init__(self, project: Project, sources: dict[str, SourceTable] | None,
                 use_cache: bool, strict: bool, console: Console) -> None:
        self.project = project
        self.dialect = project.dialect
        self.sources = project.sources if sources is None else sources
        self.strict = strict
        self.console = console
        self.cache = CompileCache.load(project.root) if use_cache else CompileCache(None)
        self.pool = Pool(worker_count())
        self.parsed: set[str] = set()  # models whose SQL was parsed in this run
        self.outcome_keys: dict[str, str] = {}  # model -> the cache key of its typed outcome
        self.fresh: set[str] = set()  # models typed by a _delta attempt that fell through
        self.recompiled = 0
        self.hits = 0

    # ------------------------------------------------------------------------ driver

    def run(self) -> CompileResult:
        t0 = time.perf_counter()
        try:
            return self._run(t0)
        finally:
            self.pool.close()

    def _snapshot_key(self) -> str | None:
        # Only for the project exactly as loaded from disk (not a drift compile against live
        # schemas), when the load could vouch for every file's content.
        token = self.project.load_token
        if token is None or self.cache.path is None or self.sources is not self.project.sources:
            return None
        return digest("snapshot", token, self.dialect, str(self.strict))

    def _from_snapshot(self, snap: _Snapshot, outcome_keys: dict[str, str],
                       t0: float, *, replaced: dict[str, tuple[_Row, ModelOutcome, bool]]
                       | None = None) -> CompileResult | None:
        return _assemble(self.cache, snap, outcome_keys, t0, replaced=replaced,
                         parsed=len(self.parsed), workers=self.pool.used)

    def _delta(self, t0: float) -> CompileResult | None:
        """Answer from the last compile's snapshot when only a few models' SQL changed.

        Applies only when every changed file is a model's SQL and each such model was and
        stays ``ok`` and reads the same relations. Its dependents are re-typed (in DAG order)
        only when its output schema changed, and each of them must stay ``ok`` too; at most
        ``DELTA_MAX`` models in all. Then nothing else in the project can come out
        differently, so the other 9,999 models are not even looked up. Anything else (None)
        takes the full path; a test compares the two after random edits of every kind.
        """
        last = self.cache.last_snapshot()
        digests = self.project.load_digests
        if last is None or digests is None:
            return None
        _key, outcome_keys, snap = last
        if not isinstance(snap, _Snapshot) or snap.strict != self.strict \
                or snap.dialect != self.dialect or snap.files.keys() != digests.keys():
            return None
        changed = [rel for rel, d in digests.items() if snap.files[rel] != d]
        if not changed or len(changed) > DELTA_MAX:
            return None
        models = self.project.models
        edited: set[str] = set()
        for rel in changed:
            stem = rel.rsplit("/", 1)[-1]
            model = models.get(stem[:-4].lower()) if stem.endswith(".sql") else None
            if model is None or model.path != rel:
                return None  # a sidecar, source or config file changed
            edited.add(model.name.lower())
        rows = {row[0]: row for row in snap.rows}
        position = {name: i for i, name in enumerate(snap.order)}
        if any(name not in position for name in edited):
            return None
        todo = [(position[name], name) for name in edited]
        heapq.heapify(todo)
        queued = set(edited)
        catalog = self._catalog()
        replaced: dict[str, tuple[_Row, ModelOutcome, bool]] = {}
        while todo:
            _pos, name = heapq.heappop(todo)  # upstream models first
            row = rows.get(name)
            if row is None or row[4] != "ok":
                return None
            model = models[name]
            scan_key = digest(self.dialect, model.path, model.sql)
            refs = row[5]  # an unchanged file under an unchanged catalog resolves the same
            if name in edited:
                scan = self.cache.get_scan(scan_key)
                if scan is None:
                    scan = scan_task((model.name, model.path, model.sql, self.dialect))
                    self.cache.put_scan(scan_key, scan)
                    self.parsed.add(name)
                if scan.diagnostics:
                    return None
                found, problems = resolve_references(
                    scan.refs, Site(name, model.path, model.sql), catalog)
                if problems or tuple((r.kind, r.name) for r in found) != refs:
                    return None
            upstream: dict[str, Sequence[CompiledColumn]] = {}
            prints: list[str] = []
            for kind, rel_name in refs:
                cols: Sequence[CompiledColumn]
                if kind == "source":
                    cols = self._source_schema(rel_name)
                    fp = schema_fingerprint(cols)
                else:
                    up = replaced[rel_name][1] if rel_name in replaced else \
                        self.cache.peek_outcome(outcome_keys.get(rel_name, ""))
                    if up is None:
                        return None
                    cols, fp = up.columns, up.fingerprint
                upstream[rel_name] = cols
                prints.append(f"{rel_name}={fp}")
            contracts = _contracts(model)
            sidecar_text = _sidecar_text(self.project, model) if contracts else ""
            key = digest(scan_key, repr(contracts), sidecar_text, *prints)
            outcome = self.cache.get_outcome(key)
            hit = outcome is not None
            if outcome is None:
                outcome = compile_task(ModelJob(
                    name=model.name, path=model.path, sql=model.sql, dialect=self.dialect,
                    upstream=upstream, contracts=contracts, sidecar_path=model.sidecar_path,
                    sidecar_text=sidecar_text))
                self.cache.put_outcome(key, outcome)
                self.parsed.add(name)
                self.fresh.add(name)
            model_diags = self._finish_diagnostics(model, list(outcome.diagnostics), False,
                                                   outcome)
            if not outcome.typed or any(d.severity is Severity.ERROR for d in model_diags):
                return None
            if outcome.fingerprint != row[6]:  # its dependents read a new schema
                for child in snap.dag.children(name):
                    if child not in queued:
                        if len(queued) >= DELTA_MAX:
                            return None
                        queued.add(child)
                        heapq.heappush(todo, (position[child], child))
            new_row: _Row = (name, model.name, model.path, model.materialized, "ok", refs,
                             outcome.fingerprint, tuple(model_diags))
            replaced[name] = (new_row, outcome, hit)
            if outcome_keys.get(name) != key:
                outcome_keys = {**outcome_keys, name: key}
        result = self._from_snapshot(snap, outcome_keys, t0, replaced=replaced)
        if result is None:
            return None
        new_snap = _Snapshot(
            order=snap.order, rows=tuple(replaced[r[0]][0] if r[0] in replaced else r
                                         for r in snap.rows),
            dag=snap.dag, files=dict(digests), strict=self.strict, dialect=self.dialect,
            stamps=dict(self.project.load_stamps or {}))
        snapshot_key = self._snapshot_key()
        if snapshot_key is not None:
            self.cache.put_snapshot(snapshot_key, outcome_keys, new_snap)
        self.cache.save(prune=False)  # this compile looked up only a few entries
        return result

    def _catalog(self) -> Catalog:
        return Catalog(
            models=frozenset(self.project.models),
            source_schemas=frozenset(t.schema.lower() for t in self.sources.values())
            | frozenset(s.lower() for s in self.project.source_files),
            sources=frozenset(self.sources),
        )

    def _source_schema(self, fqn: str) -> tuple[CompiledColumn, ...]:
        return tuple(CompiledColumn(c.name, self.cache.normalize(c.type), c.nullable)
                     for c in self.sources[fqn].columns)

    def _finish_diagnostics(self, model: Model, model_diags: list[Diagnostic],
                            after_cycle: bool, outcome: ModelOutcome | None = None
                            ) -> list[Diagnostic]:
        """A model's diagnostics as reported: cycle, stale-intent and incremental-key
        notes added, sorted."""
        if outcome is not None and outcome.typed:
            model_diags.extend(_incremental_diagnostics(self.project, model, outcome.columns))
        if after_cycle and not any(d.code == "R108" for d in model_diags):
            model_diags.append(diag("I140", "not checked: it depends on a dependency cycle",
                                    file=model.path, model=model.name))
        stale = _stale_intent(self.project, model)
        if stale is not None:
            model_diags.append(stale)
        if self.strict:
            model_diags = [_promote(d) for d in model_diags]
        return sorted(model_diags, key=lambda d: (d.file != model.path, d.file, d.line, d.col))

    def _run(self, t0: float) -> CompileResult:
        snapshot_key = self._snapshot_key()
        if snapshot_key is not None:
            last = self.cache.last_snapshot()
            if last is not None and last[0] == snapshot_key and isinstance(last[2], _Snapshot):
                result = self._from_snapshot(last[2], last[1], t0)
                if result is not None:
                    stamps = self.project.load_stamps or {}
                    if getattr(last[2], "stamps", None) != stamps:
                        # Same contents, new stat stamps (a touch, a checkout): record them
                        # so the next compile can answer without loading the project.
                        self.cache.put_snapshot(snapshot_key, last[1],
                                                replace(last[2], stamps=dict(stamps)))
                        self.cache.save(prune=False)
                    return result
            result = self._delta(t0)
            if result is not None:
                return result
        models = self.project.models
        schemas: dict[str, Sequence[CompiledColumn]] = {
            fqn: self._source_schema(fqn) for fqn in self.sources
        }
        catalog = self._catalog()
        diags: dict[str, list[Diagnostic]] = {name: [] for name in models}
        scan_keys, scans = self._scan_all(models)
        refs: dict[str, tuple[Reference, ...]] = {}
        broken: set[str] = set()  # cannot be typed: syntax or reference errors
        for name, model in models.items():
            scan = scans[name]
            if scan.diagnostics:
                diags[name].extend(scan.diagnostics)
                broken.add(name)
                refs[name] = ()
                continue
            found, problems = resolve_references(scan.refs, Site(name, model.path, model.sql),
                                                 catalog)
            refs[name] = found
            if problems:
                diags[name].extend(problems)
                broken.add(name)
        dag: DAG[str] = DAG({n: [r.name for r in refs[n] if r.kind == "model"] for n in models})
        order, cycles = dag.without_cycles()
        for cycle in cycles:
            self._report_cycle(cycle, scans, diags)
            broken.update(cycle)
        in_order = set(order)
        leftovers = [n for n in models if n not in in_order]  # on or after a cycle
        after_cycle = set(leftovers)

        outcomes = self._type_all(order, refs, scan_keys, schemas, broken, diags)

        compiled: dict[str, CompiledModel] = {}
        lineage_seconds = 0.0
        all_diags: list[Diagnostic] = []
        rows: list[_Row] = []
        for name in order + leftovers:
            model = models[name]
            outcome = outcomes.get(name)
            model_diags = diags[name]
            if outcome is not None:
                model_diags.extend(outcome[0].diagnostics)
                lineage_seconds += 0.0 if outcome[1] else outcome[0].lineage_seconds
            model_diags = self._finish_diagnostics(model, model_diags, name in after_cycle,
                                                   outcome[0] if outcome is not None else None)
            all_diags.extend(model_diags)
            ok = outcome is not None and outcome[0].typed and \
                not any(d.severity is Severity.ERROR for d in model_diags)
            compiled[name] = CompiledModel(
                name=model.name,
                path=model.path,
                materialized=model.materialized,
                status="ok" if ok else "error",
                columns=outcome[0].columns if outcome is not None else (),
                depends_on=tuple(r.name for r in refs[name] if r.kind == "model"),
                sources=tuple(r.name for r in refs[name] if r.kind == "source"),
                lineage=outcome[0].lineage if outcome is not None else (),
                from_cache=bool(outcome and outcome[1]),
            )
            if snapshot_key is not None:
                rows.append((name, model.name, model.path, model.materialized,
                             "ok" if ok else "error", tuple((r.kind, r.name) for r in refs[name]),
                             outcome[0].fingerprint if outcome is not None else "",
                             tuple(model_diags)))
        # Counted from the outcomes: reading m.columns would decode every cached blob.
        n_cols = sum(o[0].n_columns for o in outcomes.values())
        unknown = sum(o[0].n_unknown for o in outcomes.values())
        if snapshot_key is not None and self.project.load_digests is not None:
            snap = _Snapshot(order=tuple(order + leftovers), rows=tuple(rows), dag=dag,
                             files=dict(self.project.load_digests), strict=self.strict,
                             stamps=dict(self.project.load_stamps or {}),
                             dialect=self.dialect)
            self.cache.put_snapshot(snapshot_key, {n: self.outcome_keys[n] for n in outcomes},
                                    snap)
        self.cache.save()
        stats = CompileStats(models=len(compiled), columns=n_cols, unknown_types=unknown,
                             cache_hits=self.hits, parsed=len(self.parsed),
                             recompiled=self.recompiled,
                             seconds=time.perf_counter() - t0, lineage_seconds=lineage_seconds,
                             workers=self.pool.used)
        return CompileResult(models=compiled, diagnostics=all_diags, order=order + leftovers,
                             dag=dag, stats=stats)

    # ------------------------------------------------------------------------ scan

    def _scan_all(self, models: dict[str, Model]) -> tuple[dict[str, str], dict[str, Scan]]:
        keys: dict[str, str] = {}
        scans: dict[str, Scan] = {}
        todo: list[str] = []
        for name, model in models.items():
            key = digest(self.dialect, model.path, model.sql)
            keys[name] = key
            found = self.cache.get_scan(key)
            if found is None:
                todo.append(name)
            else:
                scans[name] = found
        if todo:
            tasks = [(models[n].name, models[n].path, models[n].sql, self.dialect) for n in todo]
            with self.console.progress("parsing", total=len(todo)) as step:
                results = self.pool.map(scan_task, tasks, lambda: step(""))
            for name, scan in zip(todo, results):
                scans[name] = scan
                self.cache.put_scan(keys[name], scan)
            self.parsed.update(todo)
        return keys, scans

    def _report_cycle(self, cycle: list[str], scans: dict[str, Scan],
                      diags: dict[str, list[Diagnostic]]) -> None:
        models = self.project.models
        text = " -> ".join(models[n].name for n in cycle)
        for here, nxt in itertools.pairwise(cycle):
            model = models[here]
            ref = next((r for r in scans[here].refs if not r.db and r.name.lower() == nxt), None)
            site = Site(model.name, model.path, model.sql)
            pos: dict[str, Any] = ({"offset": ref.offset, "width": ref.width}
                                   if ref is not None and ref.offset >= 0 else {"line": 1, "col": 1})
            diags[here].append(site.at("R108", f"dependency cycle: {text}", **pos,
                                       hint=f"`{model.name}` reads `{models[nxt].name}`; "
                                            "break the loop",
                                       subjects=tuple(Subject(n) for n in dict.fromkeys(cycle))))

    # ------------------------------------------------------------------------ typing

    def _type_all(self, order: list[str], refs: dict[str, tuple[Reference, ...]],
                  scan_keys: dict[str, str], schemas: dict[str, Sequence[CompiledColumn]],
                  broken: set[str],
                  diags: dict[str, list[Diagnostic]]) -> dict[str, tuple[ModelOutcome, bool]]:
        """Type models level by level; returns name -> (outcome, from_cache)."""
        models = self.project.models
        out: dict[str, tuple[ModelOutcome, bool]] = {}
        fingerprints: dict[str, str] = {
            fqn: schema_fingerprint(cols) for fqn, cols in schemas.items()
        }
        failed: set[str] = set(broken)
        depth: dict[str, int] = {}
        levels: list[list[str]] = []
        for name in order:
            d = 1 + max((depth[r.name] for r in refs[name] if r.kind == "model"
                         and r.name in depth), default=-1)
            depth[name] = d
            while len(levels) <= d:
                levels.append([])
            levels[d].append(name)
        total = len(order)
        with self.console.progress("compiling", total=total) as step:
            for level in levels:
                jobs: list[tuple[str, str, ModelJob]] = []
                for name in level:
                    model = models[name]
                    if name in failed:
                        step(name)
                        continue
                    bad_up = [r.name for r in refs[name] if r.kind == "model" and r.name in failed]
                    if bad_up:
                        diags[name].append(diag(
                            "I140", "not checked: it reads "
                            + ", ".join(f"`{models[u].name}`" for u in bad_up)
                            + ", which has errors", file=model.path, model=model.name,
                            hint="fix the upstream model first",
                            subjects=tuple(Subject(u) for u in bad_up)))
                        failed.add(name)
                        step(name)
                        continue
                    contracts = _contracts(model)
                    sidecar_text = _sidecar_text(self.project, model) if contracts else ""
                    key = digest(
                        scan_keys[name], repr(contracts), sidecar_text,
                        *(f"{r.name}={fingerprints.get(r.name, '?')}" for r in refs[name]),
                    )
                    self.outcome_keys[name] = key
                    cached = self.cache.get_outcome(key)
                    if cached is not None:
                        # Typed a moment ago by a _delta attempt: recompiled, not cached.
                        fresh = name in self.fresh
                        self.hits += not fresh
                        self.recompiled += fresh
                        self._record(name, cached, not fresh, schemas, fingerprints, failed,
                                     out)
                        step(name)
                        continue
                    upstream = {r.name: schemas[r.name] for r in refs[name] if r.name in schemas}
                    jobs.append((name, key, ModelJob(
                        name=model.name, path=model.path, sql=model.sql, dialect=self.dialect,
                        upstream=upstream, contracts=contracts, sidecar_path=model.sidecar_path,
                        sidecar_text=sidecar_text)))
                if not jobs:
                    continue
                results = self.pool.map(compile_task, [j[2] for j in jobs],
                                        lambda: step(""))
                self.parsed.update(j[0] for j in jobs)
                self.recompiled += len(jobs)
                for (name, key, _), outcome in zip(jobs, results):
                    self.cache.put_outcome(key, outcome)
                    self._record(name, outcome, False, schemas, fingerprints, failed, out)
        return out

    @staticmethod
    def _record(name: str, outcome: ModelOutcome, from_cache: bool,
                schemas: dict[str, Sequence[CompiledColumn]], fingerprints: dict[str, str],
                failed: set[str], out: dict[str, tuple[ModelOutcome, bool]]) -> None:
        out[name] = (outcome, from_cache)
        if outcome.typed and not any(d.severity is Severity.ERROR for d in outcome.diagnostics):
            schemas[name] = outcome.columns
            fingerprints[name] = outcome.fingerprint
        else:
            failed.add(name)


def _contracts(model: Model) -> tuple[Contract, ...]:
    return tuple(Contract(name, spec.type, spec.nullable)
                 for name, spec in model.sidecar.columns.items()
                 if spec.type is not None or spec.nullable is not None)


def _sidecar_text(project: Project, model: Model) -> str:
    if not model.sidecar_path:
        return ""
    try:
        return (project.root / model.sidecar_path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _incremental_diagnostics(project: Project, model: Model,
                             columns: Sequence[CompiledColumn]) -> list[Diagnostic]:
    """R600-R604/W600-W601 of an incremental model's typed columns (none for others)."""
    incremental = model.sidecar.incremental
    if incremental is None:
        return []
    from rocky_engine.compiler.incremental_checks import check_incremental

    intent = model.sidecar.intent
    return check_incremental(columns, incremental, intent.grain if intent else None,
                             Site(model.name, model.path, model.sql),
                             sidecar_path=model.sidecar_path,
                             sidecar_text=_sidecar_text(project, model))


def _stale_intent(project: Project, model: Model) -> Diagnostic | None:
    intent = model.sidecar.intent
    if intent is None or not intent.confirmed_sql or intent.confirmed_sql == model.sql_hash:
        return None
    text = _sidecar_text(project, model)
    site = Site(model.name, model.sidecar_path or model.path, text)
    line = next((i for i, t in enumerate(text.splitlines(), 1)
                 if t.lstrip().startswith("confirmed_sql")), 0)
    col = 1 + len(site.text.line_text(line)) - len(site.text.line_text(line).lstrip()) if line else 0
    return site.at("W131", "intent not confirmed since the SQL changed", line=line, col=col,
                   width=len("confirmed_sql"),
                   hint=f"review the intent, then run `rocky intent confirm {model.name}`")


def _promote(d: Diagnostic) -> Diagnostic:
    if d.code != "W130" or d.severity is Severity.ERROR:
        return d
    return replace(d, severity=Severity.ERROR)
