"""The facade the CLI (and the agent) call: one object per project and console.

    >>> ctx = Context.load("path/to/shop")   # doctest: +SKIP
    >>> ctx.seed()                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rocky_engine.console import Console, SilentConsole
from rocky_engine.project import Project, load_project

if TYPE_CHECKING:
    # Imported where used: duckdb and the seed loader (sqlglot) would cost every command,
    # `rocky compile` included, ~0.3 s of start-up.
    from rocky_engine.adapters.base import WarehouseAdapter
    from rocky_engine.compiler import CompileResult
    from rocky_engine.drift import AcceptResult, DriftReport
    from rocky_engine.execution import (
        BranchDiff,
        BranchInfo,
        PromoteResult,
        RunResult,
        TestReport,
    )
    from rocky_engine.lineage.graph import LineageGraph, LineageResult
    from rocky_engine.seed import SeedResult


class Context:
    def __init__(self, project: Project, console: Console | None = None, *,
                 warehouse_path: Path | None = None) -> None:
        self.project = project
        self.console: Console = console or SilentConsole()
        # The agent validates a patched copy of the project (in a git worktree) against the
        # original project's warehouse, so the warehouse location can be overridden.
        self._warehouse_path = warehouse_path

    @classmethod
    def load(cls, path: str | Path = ".", console: Console | None = None, *,
             warehouse_path: Path | None = None) -> Context:
        return cls(load_project(path), console, warehouse_path=warehouse_path)

    @cached_property
    def warehouse_path(self) -> Path:
        return (self._warehouse_path or self.project.warehouse_path).resolve()

    @property
    def warehouse_label(self) -> str:
        """How messages name the warehouse: the DuckDB file, else its type."""
        kind = self.project.config.warehouse.type
        if self._warehouse_path is not None or kind == "duckdb":
            return self.warehouse_path.name
        return f"the {kind} warehouse"

    @property
    def warehouse_dialect(self) -> str:
        """The SQL dialect statements are rendered in for this context's warehouse."""
        if self._warehouse_path is not None:
            return "duckdb"
        from rocky_engine.adapters.factory import warehouse_dialect

        return warehouse_dialect(self.project)

    def open_adapter(self, *, read_only: bool = False, sandboxed: bool = False,
                     create: bool = True) -> WarehouseAdapter:
        """The project's warehouse (or the DuckDB file given as ``warehouse_path``), open;
        the caller closes it. See :func:`rocky_engine.adapters.factory.open_adapter`."""
        from rocky_engine.adapters.factory import open_adapter

        return open_adapter(self.project, duckdb_path=self._warehouse_path,
                            read_only=read_only, sandboxed=sandboxed, create=create)

    @contextmanager
    def adapter(self, *, read_only: bool = False, sandboxed: bool = False,
                create: bool = True) -> Iterator[WarehouseAdapter]:
        adapter = self.open_adapter(read_only=read_only, sandboxed=sandboxed, create=create)
        try:
            yield adapter
        finally:
            adapter.close()

    def seed(self) -> list[SeedResult]:
        from rocky_engine.execution import state
        from rocky_engine.seed import load_seeds, validate_seeds

        seeds = validate_seeds(self.project)  # before the warehouse file is even created
        schemas = sorted({source.schema for _, source in seeds})
        with self.adapter() as adapter, state.writer_lock(
                adapter, "seed", target=self.project.config.warehouse.schema_,
                selection=",".join(schemas) or "-",
                timeout=getattr(self, "lock_timeout", None)):
            # Seeds replace source tables: kept apart from a concurrent run like any write,
            # and (without transactional DDL) a replace a killed seed left half done in
            # those schemas is settled first, as the lock does for prod and branches.
            if not adapter.SUPPORTS_TRANSACTIONAL_DDL:
                from rocky_engine.execution.swap_recovery import recover_swaps

                recover_swaps(adapter, schemas)
            results = load_seeds(self.project, adapter, seeds)
        for r in results:
            self.console.line(f"  loaded {r.table:<30} {r.rows:>8} rows  from {r.file}")
        return results

    def compile(self, *, strict: bool = False, use_cache: bool = True,
                target: str | None = None) -> CompileResult:
        """Typed compile of the project (cached under ``target/``); never raises for model errors.

        ``target`` (default: the warehouse's dialect) adds R400 for every construct that
        dialect cannot express, when it is not the models' own.

            >>> ctx.compile().ok   # doctest: +SKIP
            True
        """
        from rocky_engine.compiler import compile_project

        result = compile_project(self.project, strict=strict, use_cache=use_cache,
                                 console=self.console)
        target = target or self.warehouse_dialect
        if target != self.project.dialect:
            from dataclasses import replace

            from rocky_engine.compiler.target import TargetModels, check_target, with_target
            from rocky_engine.compiler.target_types import target_types

            models = TargetModels(self.project, result, target)
            result = with_target(result, check_target(self.project, result, target, models))
            # The types the warehouse will give each column where it types differently.
            types = target_types(self.project, result, target, models)
            if types:
                result = replace(result, warehouse_types=types)
        return result

    def lineage_graph(self, *, use_index: bool = True,
                      compiled: CompileResult | None = None) -> LineageGraph:
        """The project's column lineage graph, from ``target/lineage.idx`` when it is fresh.

        Otherwise compiles (warm compile cache: nothing re-analysed; or uses ``compiled``,
        this project's compile result) and rewrites the index.
        """
        from rocky_engine.lineage.graph import LineageGraph
        from rocky_engine.lineage.store import fingerprint, load_fresh_graph, save_graph

        root = self.project.root
        if use_index:
            graph = load_fresh_graph(root)
            if graph is not None:
                return graph
        # Taken before compiling: an edit made meanwhile leaves the index stale, not wrong.
        key = fingerprint(root)
        graph = LineageGraph.from_compile(compiled or self.compile(), self.project.sources)
        try:
            save_graph(root, graph, key)
        except OSError as exc:  # a read-only checkout still answers, just not warm next time
            self.console.warn(f"lineage index not written: {exc}")
        return graph

    def lineage(self, root: str, *, direction: str = "upstream", depth: int | None = None,
                value_only: bool = False) -> LineageResult:
        """Column lineage of ``root`` (``model``, ``model.column`` or ``schema.table.column``).

            >>> ctx.lineage("raw.orders.amount", direction="downstream").nodes  # doctest: +SKIP
        """
        return self.lineage_graph().query(root, direction, depth=depth, value_only=value_only)

    def drift(self, *, read_values: bool = True, record: bool = True) -> DriftReport:
        """Compare declared sources with the live warehouse; classify and map the impact.

            >>> report = ctx.drift()                          # doctest: +SKIP
            >>> [c.kind for c in report.changes], [i.status for i in report.impact]  # doctest: +SKIP
            (['column_renamed'], ['broken', 'broken'])
        """
        from rocky_engine.drift import detect_drift

        with self.adapter(create=False) as adapter:
            report = detect_drift(self.project, adapter, read_values=read_values, record=record)
        if record:  # `rocky docs` draws its drift view from the last recorded report
            self._save_last("last_drift.json", report.to_json())  # lastrun.DRIFT
        return report

    def _save_last(self, name: str, payload: dict[str, object]) -> None:
        from rocky_engine.lastrun import save_last

        try:
            save_last(self.project.root, name, payload)
        except OSError as exc:  # a read-only checkout still answers
            self.console.warn(f"target/{name} not written: {exc}")

    def drift_accept(self, report: DriftReport | None = None, *,
                     dry_run: bool = False) -> AcceptResult:
        """Rewrite ``sources/*.toml`` to the live shape (comments and order kept).

        With ``dry_run`` nothing is written: the result carries the new texts and the diff.
        After writing, the project is reloaded and the value fingerprints of every source
        are refreshed, so the next rename is recognised by its values (and drift in values,
        which changes no file, is accepted as the new normal).
        """
        from rocky_engine.drift import record_fingerprints
        from rocky_engine.drift.accept import (
            AcceptResult,
            apply_changes_to_sources,
            render_diff,
            write_sources,
        )
        from rocky_engine.errors import WarehouseError

        report = report if report is not None else self.drift()
        patches = apply_changes_to_sources(self.project, report.changes)
        diff = render_diff(self.project, patches)
        # Drift in values changes no file: accepting it makes the live values the known ones.
        values = any(c.kind == "column_values_changed" for c in report.changes)
        if dry_run or not (patches or values):
            return AcceptResult(patches, diff)
        written = write_sources(self.project, patches) if patches else []
        if patches:
            self.project = load_project(self.project.root)
        try:
            with self.adapter(create=False) as adapter:
                record_fingerprints(self.project, adapter, list(self.project.sources))
        except WarehouseError as exc:  # the files are written; fingerprints are a bonus
            self.console.warn(f"value fingerprints not refreshed: {exc.message}")
        for path in written:
            self.console.line(f"  updated {path.relative_to(self.project.root).as_posix()}")
        return AcceptResult(patches, diff, tuple(written))

    # ------------------------------------------------------------------ run, test, branches
    # Seconds a writer waits for the warehouse; None: $ROCKY_LOCK_TIMEOUT, else 30.
    lock_timeout: float | None = None

    def run(self, select: list[str] | None = None, branch: str | None = None, *,
            sandboxed: bool = False, threads: int | None = None,
            full_refresh: bool = False) -> RunResult:
        """Compile, then build the selected models into prod or into ``branch``.

        ``threads`` models at once (default: ``[warehouse] threads``, else 1). Incremental
        models add only their new rows unless ``full_refresh``.

            >>> ctx.run(["+customers"], branch="fix", threads=4).ok        # doctest: +SKIP
            True
        """
        from rocky_engine.execution import api

        return api.run(self, select, branch, sandboxed=sandboxed, threads=threads,
                       full_refresh=full_refresh)

    def test(self, select: list[str] | None = None, branch: str | None = None, *,
             sandboxed: bool = False) -> TestReport:
        """Data tests and unit tests of the selected models (on prod or ``branch``)."""
        from rocky_engine.execution import api

        report = api.test(self, select, branch, sandboxed=sandboxed)
        if branch is None and not sandboxed:  # each prod test's last outcome, for `rocky docs`
            from rocky_engine.lastrun import TESTS, merge_tests

            self._save_last(TESTS, merge_tests(self.project.root, report.to_json()))
        return report

    def branch_create(self, name: str, *, sandboxed: bool = False) -> BranchInfo:
        """Schema ``<schema>__<name>`` with a zero-copy view over every prod model."""
        from rocky_engine.execution import api

        return api.branch_create(self, name, sandboxed=sandboxed)

    def branch_list(self) -> list[BranchInfo]:
        from rocky_engine.execution import api

        return api.branch_list(self)

    def branch_diff(self, name: str, select: list[str] | None = None, *,
                    sandboxed: bool = False) -> BranchDiff:
        """Schema and data diff against prod of the models built on the branch."""
        from rocky_engine.execution import api

        return api.branch_diff(self, name, select, sandboxed=sandboxed)

    def branch_promote(self, name: str) -> PromoteResult:
        """Replace prod objects with the branch's, in one transaction."""
        from rocky_engine.execution import api

        return api.branch_promote(self, name)

    def branch_drop(self, name: str) -> BranchInfo:
        from rocky_engine.execution import api

        return api.branch_drop(self, name)
