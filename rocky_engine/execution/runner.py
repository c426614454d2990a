"""The runner: executes a :class:`~rocky_engine.execution.plan.Plan` against a warehouse.

Each model's build and bookkeeping is one transaction (one commit — on an embedded
warehouse the commit is most of what a build costs), so a failed build leaves the
previous table intact. Where DDL is transactional (``SUPPORTS_TRANSACTIONAL_DDL``) a
table is replaced in place inside that transaction; elsewhere it is built as
``<name>__rocky_tmp`` and swapped in, and every run first drops temporary tables a
killed run left behind. A model that fails skips everything
downstream of it, not unrelated models.

    >>> result = run_plan(project, adapter, build_plan(project), console=console)  # doctest: +SKIP
    >>> result.summary()                                                            # doctest: +SKIP
    'ran 6 models into main in 0.21s: 6 ok, 0 failed, 0 skipped'
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter
from rocky_engine.console import Console, SilentConsole
from rocky_engine.errors import WarehouseError
from rocky_engine.execution import branches as _branches
from rocky_engine.execution import state
from rocky_engine.execution.incremental import BATCH_SUFFIX, SYNC_SUFFIX, build_incremental
from rocky_engine.execution.plan import Plan
from rocky_engine.execution.refs import bind, bound, bound_sql
from rocky_engine.execution.results import ModelRun, RunResult
from rocky_engine.project import Project

if TYPE_CHECKING:
    from rocky_engine.compiler.target import TargetModels

TMP_SUFFIX = "__rocky_tmp"
# Work tables a killed run (on a warehouse without transactional DDL) may leave behind.
_LEFTOVER_SUFFIXES = (TMP_SUFFIX, BATCH_SUFFIX, SYNC_SUFFIX)
# SQLSTATE class 40: the warehouse rolled the transaction back (deadlock victim,
# serialization failure) and the same build may simply be tried again.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 3


class _Transient(Exception):
    """A build rolled back by the warehouse to resolve a conflict; nothing was applied."""


def run_plan(project: Project, adapter: WarehouseAdapter, plan: Plan, *,
             branch: str | None = None, console: Console | None = None,
             lock_timeout: float | None = None, threads: int = 1,
             before_each: Callable[[str], None] | None = None,
             full_refresh: bool = False,
             target_models: TargetModels | None = None) -> RunResult:
    """Build ``plan.selected`` into prod, or into ``branch`` when given.

    ``full_refresh`` rebuilds incremental models whole instead of adding new rows.
    ``target_models`` renders models from their qualified trees when the warehouse speaks
    another dialect than the project (required then). With ``threads`` > 1, up to that
    many models whose parents are built are built at once, each worker on its own
    connection (:meth:`WarehouseAdapter.clone`); the result and the progress lines keep
    ``plan.selected`` order whatever finishes first. ``before_each(model)`` is a test
    seam (fault injection, slow builds); with threads it runs on the worker.
    """
    console = console or SilentConsole()
    base = project.config.warehouse.schema_
    started = time.perf_counter()
    target = _branches.require_branch(adapter, base, branch) if branch else base
    selection = " ".join(plan.selected)
    with state.writer_lock(adapter, "run", target=target, selection=selection,
                           timeout=lock_timeout) as ticket:
        if ticket.recovered is not None:
            console.warn(f"recovered the writer lock left by an interrupted run "
                         f"({ticket.recovered.describe()})")
        for swap in ticket.swaps:
            if swap.action == "restored":
                console.warn(swap.describe())
        adapter.create_schema(target)
        kinds = _clean_leftovers(adapter, target)
        if branch:
            made = _branches.ensure_passthrough(adapter, plan.dag.order(), base, target)
            kinds.update(dict.fromkeys(made, "view"))
        targets = {name: (target, name) for name in plan.parsed}
        prod_targets = {name: (base, name) for name in plan.parsed}
        render = Renderer(plan, adapter.dialect, target_models)

        def view_sql(schema: str, name: str) -> Any:
            # A model view Postgres dropped along with a table it reads: re-created from
            # the model (checked by the compile), not from its stale stored definition.
            low = name.lower()
            if schema.lower() != target.lower() or plan.materialized.get(low) != "view":
                return None
            return render.query(low, targets)

        def connect(conn: WarehouseAdapter) -> WarehouseAdapter:
            if hasattr(conn, "view_sql"):
                conn.view_sql = view_sql
            return conn

        connect(adapter)

        def build(conn: WarehouseAdapter, name: str) -> ModelRun:
            if before_each is not None:
                before_each(name)
            record = None
            if branch:
                record = _branch_recorder(conn, plan, name, branch, prod_targets,
                                          ticket.run_id, render)
            prod = base if branch else None
            for attempt in range(1, _ATTEMPTS):
                try:
                    return _build(conn, plan, name, target, targets, kinds, record, render,
                                  retry_transient=True, full_refresh=full_refresh, prod=prod,
                                  run_id=ticket.run_id)
                except _Transient:
                    time.sleep(0.05 * attempt)  # let the other transaction finish
            return _build(conn, plan, name, target, targets, kinds, record, render,
                          full_refresh=full_refresh, prod=prod, run_id=ticket.run_id)

        with console.progress("running models", total=len(plan.selected)) as step:
            report = _InOrder(plan.selected, console, step)
            # An adapter without clone() (one connection only) builds one model at a time.
            if threads > 1 and len(plan.selected) > 1 and hasattr(adapter, "clone"):
                done = _run_parallel(adapter, plan, target, threads, build, report,
                                     connect)
            else:
                done = {}
                for name in plan.selected:
                    blocker = _failed_parent(plan, name, done)
                    done[name] = _skipped(plan, name, target, blocker) if blocker is not None \
                        else build(adapter, name)
                    report(name, done[name])
        models = tuple(done[n] for n in plan.selected)
        result = RunResult(
            ticket.run_id, target, branch, plan.selected, models,
            time.perf_counter() - started,
            recovered_from=ticket.recovered.describe() if ticket.recovered else None,
        )
        ticket.status = "success" if result.ok else "error"
        ticket.summary = {s: result.count(s) for s in ("success", "error", "skipped")}
        grown = {m.name: {"mode": m.mode, "inserted": m.inserted, "updated": m.updated,
                          "deleted": m.deleted}
                 for m in models if m.materialized == "incremental" and m.status == "success"}
        if grown:
            ticket.summary["incremental"] = grown
    return result


def _skipped(plan: Plan, name: str, target: str, blocker: str) -> ModelRun:
    return ModelRun(name, plan.materialized[name], "skipped", f"{target}.{name}",
                    skipped_because=blocker)


class _InOrder:
    """Reports outcomes to the console in plan order, as soon as each prefix is complete.

    The progress bar advances as models finish; the per-model lines wait for their turn,
    so ``rocky run --threads 4`` prints the same lines in the same order as one thread.
    """

    def __init__(self, order: Sequence[str], console: Console,
                 step: Callable[[str], None]) -> None:
        self._order = order
        self._console = console
        self._step = step
        self._next = 0
        self._waiting: dict[str, ModelRun] = {}

    def __call__(self, name: str, outcome: ModelRun) -> None:
        self._waiting[name] = outcome
        self._step(name)
        while self._next < len(self._order) and self._order[self._next] in self._waiting:
            self._console.line(self._waiting.pop(self._order[self._next]).render())
            self._next += 1


def _run_parallel(adapter: WarehouseAdapter, plan: Plan, target: str, threads: int,
                  build: Callable[[WarehouseAdapter, str], ModelRun],
                  report: Callable[[str, ModelRun], None],
                  connect: Callable[[WarehouseAdapter], WarehouseAdapter]
                  ) -> dict[str, ModelRun]:
    """Build ``plan.selected`` on up to ``threads`` connections at once.

    A model is started when every selected parent has finished; it is skipped (never
    started) when one of them failed or was skipped. Ready models start in plan order.
    Only this thread talks to the console; workers only build.
    """
    selected = set(plan.selected)
    position = {name: i for i, name in enumerate(plan.selected)}
    waiting_on = {n: {p for p in plan.dag.parents(n) if p in selected} for n in plan.selected}
    children: dict[str, list[str]] = {n: [] for n in plan.selected}
    for name, parents in waiting_on.items():
        for parent in parents:
            children[parent].append(name)
    ready = [position[n] for n in plan.selected if not waiting_on[n]]
    heapq.heapify(ready)
    footprint = _footprints(plan, target, adapter)
    busy: set[tuple[str, str]] = set()  # the footprints of the builds in flight (disjoint)
    done: dict[str, ModelRun] = {}
    local = threading.local()
    clones: list[WarehouseAdapter] = []
    clones_guard = threading.Lock()

    def work(name: str) -> ModelRun:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(adapter.clone())
            with clones_guard:
                clones.append(conn)
        return build(conn, name)

    def finish(name: str, outcome: ModelRun) -> None:
        done[name] = outcome
        report(name, outcome)
        for child in children[name]:
            waiting_on[child].discard(name)
            if not waiting_on[child]:
                heapq.heappush(ready, position[child])

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rocky-build")
    running: dict[Future[ModelRun], str] = {}
    try:
        while ready or running:
            deferred: list[int] = []
            while ready and len(running) < threads:
                name = plan.selected[heapq.heappop(ready)]
                blocker = _failed_parent(plan, name, done)
                if blocker is not None:
                    finish(name, _skipped(plan, name, target, blocker))
                elif footprint[name] & busy:
                    deferred.append(position[name])  # shares a dependant view: wait
                else:
                    busy.update(footprint[name])
                    running[pool.submit(work, name)] = name
            for pos in deferred:
                heapq.heappush(ready, pos)
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: position[running[f]]):
                name = running.pop(future)
                busy.difference_update(footprint[name])
                finish(name, future.result())
    finally:
        # Builds in flight finish (each is one transaction) before the writer lock is
        # released; queued ones are dropped.
        pool.shutdown(wait=True, cancel_futures=True)
        for conn in clones:
            conn.close()
    return done


def _footprints(plan: Plan, schema: str, adapter: WarehouseAdapter
                ) -> dict[str, frozenset[tuple[str, str]]]:
    """Each selected model and the views in the warehouse its replace may rewrite.

    Where replacing a relation drops and re-creates the views that read it (Postgres
    refuses to replace it under them), the adapter tells which views those are
    (``view_dependants``, transitively here): two builds whose footprints meet would both
    rewrite the same view and deadlock, so they never run at the same time. Views built
    during the run come after all their parents, so the catalog at the start suffices.
    Elsewhere (DuckDB binds views by name) a footprint is the model alone.
    """
    live: dict[tuple[str, str], set[tuple[str, str]]] = {}
    if hasattr(adapter, "view_dependants"):
        live = adapter.view_dependants()
    base = schema.lower()
    out: dict[str, frozenset[tuple[str, str]]] = {}
    for name in plan.selected:
        seen = {(base, name)}
        stack = list(seen)
        while stack:
            for view in live.get(stack.pop(), ()):
                if view not in seen:
                    seen.add(view)
                    stack.append(view)
        out[name] = frozenset(seen)
    return out


def _failed_parent(plan: Plan, name: str, done: dict[str, ModelRun]) -> str | None:
    for parent in plan.dag.parents(name):
        got = done.get(parent)
        if got is not None and got.status != "success":
            return got.skipped_because or got.name
    return None


def _clean_leftovers(adapter: WarehouseAdapter, schema: str) -> dict[str, str]:
    """Drop temporary tables a killed run left behind; returns the remaining kinds."""
    kinds = adapter.relations(schema)
    for name, kind in list(kinds.items()):
        if name.endswith(_LEFTOVER_SUFFIXES):
            adapter.drop_relation(schema, name, kind=kind)
            del kinds[name]
    return kinds


class Renderer:
    """A model's query for the warehouse, bound to target schemas.

    Same dialect: the model's own text with its references spliced (no parse, no SQL
    generation), the tree only when splicing is not possible. Another dialect: the
    qualified tree from ``target_models``, which the adapter renders.
    """

    def __init__(self, plan: Plan, dialect: str, target_models: TargetModels | None) -> None:
        self.plan = plan
        self.dialect = dialect
        self.target_models = target_models
        self._memo: tuple[dict[str, tuple[str, str]], str | None] | None = None

    def query(self, name: str, targets: dict[str, tuple[str, str]]) -> str | exp.Query:
        parsed = self.plan.parsed[name]
        if self.target_models is not None and self.dialect != parsed.dialect:
            schema = self._uniform(targets)
            if schema is not None:
                text = self.target_models.sql(name, schema)  # rendered once, cached
                if text is not None:
                    return text
            return self.target_models.bound(name, targets)
        text = bound_sql(parsed, targets, self.dialect)
        return text if text is not None else bind(parsed.tree, targets)

    def _uniform(self, targets: dict[str, tuple[str, str]]) -> str | None:
        """The one schema every model is bound to in ``targets`` (same names), if any."""
        memo = self._memo
        if memo is None or memo[0] is not targets:
            schemas = {s for s, _ in targets.values()}
            same = len(schemas) == 1 and all(k == v[1] for k, v in targets.items())
            memo = self._memo = (targets, next(iter(schemas)) if same else None)
        return memo[1]

    def text(self, name: str, targets: dict[str, tuple[str, str]]) -> str:
        """As :meth:`query`, as SQL text in the warehouse's dialect."""
        query = self.query(name, targets)
        if isinstance(query, str):
            return query
        from rocky_engine.adapters.dialect import render

        return render(query, self.dialect)


def _branch_recorder(adapter: WarehouseAdapter, plan: Plan, name: str, branch: str,
                     prod_targets: dict[str, tuple[str, str]], run_id: str,
                     render: Renderer) -> Callable[[], None]:
    prod_sql = render.text(name, prod_targets)

    def record() -> None:
        _branches.record_build(adapter, branch, name, plan.materialized[name], prod_sql, run_id)

    return record


def _build(adapter: WarehouseAdapter, plan: Plan, name: str, schema: str,
           targets: dict[str, tuple[str, str]], kinds: dict[str, str],
           record: Callable[[], None] | None = None,
           render: Renderer | None = None, *, retry_transient: bool = False,
           full_refresh: bool = False, prod: str | None = None,
           run_id: str = "") -> ModelRun:
    """Build one model in one transaction (one commit: the build, the swap, the record).

    With ``retry_transient``, a transaction the warehouse rolled back to break a deadlock
    or a serialization conflict raises :class:`_Transient` (nothing was applied) instead
    of failing the model. ``prod`` is prod's schema when building a branch (an
    incremental model starts from a copy of prod's table there).
    """
    materialized = plan.materialized[name]
    relation = f"{schema}.{name}"
    t0 = time.perf_counter()
    existing = kinds.get(name)
    rows: int | None = None
    # One statement is atomic on its own; an explicit transaction (and its extra round
    # trips) only when a build takes several.
    several = record is not None or existing not in (None, materialized) or (
        materialized == "table" and not adapter.SUPPORTS_TRANSACTIONAL_DDL) or \
        materialized == "incremental"
    incremental = None
    parsed = plan.parsed[name]
    # The model's own text with its references spliced (no parse, no SQL generation);
    # the tree only when that is not possible; the qualified tree for another dialect.
    text = bound_sql(parsed, targets, adapter.dialect)
    if text is None and render is not None and render.target_models is not None:
        try:
            text_or_tree: Any = render.query(name, targets)
        except ValueError as exc:
            return ModelRun(name, materialized, "error", relation, 0.0, error=str(exc))
        source: Any = nullcontext(text_or_tree)
    else:
        source = nullcontext(text) if text is not None else bound(parsed, targets)
    try:
        with adapter.transaction() if several else nullcontext(), source as query:
            if materialized == "incremental":
                incremental = build_incremental(
                    adapter, schema, name, query, plan.incremental[name], existing=existing,
                    full_refresh=full_refresh, clone_from=prod)
                rows = adapter.row_count(schema, name)
            elif materialized == "table" and adapter.SUPPORTS_TRANSACTIONAL_DDL:
                # The transaction already makes the replace atomic; a temporary table
                # plus drop and rename would add two catalog writes per model.
                if existing == "view":
                    adapter.drop_relation(schema, name, kind="view")
                rows = adapter.create_table_as(schema, name, query, replace=True)
            elif materialized == "table":
                tmp = name + TMP_SUFFIX
                rows = adapter.create_table_as(schema, tmp, query, replace=True)
                adapter.swap_table(schema, tmp, name, existing_kind=existing)
            else:
                if existing == "table":
                    adapter.drop_relation(schema, name, kind="table")
                adapter.create_view(schema, name, query, replace=True)
            if incremental is not None:
                state.record_incremental(adapter, run_id, schema, name, incremental)
            if record is not None:
                record()
    except WarehouseError as exc:
        if retry_transient and getattr(exc, "sqlstate", None) in _TRANSIENT_SQLSTATES:
            raise _Transient(exc.message) from exc
        return ModelRun(name, materialized, "error", relation, time.perf_counter() - t0,
                        error=exc.message)
    kinds[name] = "view" if materialized == "view" else "table"
    if incremental is not None:
        return ModelRun(name, materialized, "success", relation, time.perf_counter() - t0, rows,
                        inserted=incremental.inserted, updated=incremental.updated,
                        deleted=incremental.deleted, mode=incremental.mode,
                        note=incremental.schema_change)
    return ModelRun(name, materialized, "success", relation, time.perf_counter() - t0, rows)
