"""The facade the CLI (and the agent) call: one object per project and console.

    >>> ctx = Context.load("path/to/shop")   # doctest: +SKIP
    >>> ctx.seed()                             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.console import Console, SilentConsole
from rocky_engine.project import Project, load_project
from rocky_engine.seed import SeedResult, load_seeds, validate_seeds


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

    @contextmanager
    def adapter(self, *, read_only: bool = False, sandboxed: bool = False,
                create: bool = True) -> Iterator[DuckDBAdapter]:
        adapter = DuckDBAdapter(self.warehouse_path, read_only=read_only, sandboxed=sandboxed,
                                create=create)
        try:
            yield adapter
        finally:
            adapter.close()

    def seed(self) -> list[SeedResult]:
        seeds = validate_seeds(self.project)  # before the warehouse file is even created
        with self.adapter() as adapter:
            results = load_seeds(self.project, adapter, seeds)
        for r in results:
            self.console.line(f"  loaded {r.table:<30} {r.rows:>8} rows  from {r.file}")
        return results
