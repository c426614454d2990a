"""The compiler's IR: compact, picklable records that cross passes, processes and the cache.

    >>> col = CompiledColumn("amount", "DECIMAL(10,2)", True)
    >>> col.known
    True

Trees never leave the pass that built them: a 10,000-model project keeps only these.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rocky_engine.dag import DAG
from rocky_engine.errors import Diagnostic, Severity

UNKNOWN = "UNKNOWN"


class CompiledColumn(NamedTuple):
    """One output column: ``type`` as DuckDB spells it, ``UNKNOWN`` when it cannot be inferred.

    A named tuple rather than a dataclass: a warm compile of 10,000 models rebuilds a
    quarter of a million of these from the cache, and tuples are built several times faster.
    """

    name: str
    type: str
    nullable: bool | None = None

    @property
    def known(self) -> bool:
        return self.type != UNKNOWN


class LazyTuple(Sequence[Any]):
    """An immutable sequence decoded from a pickled blob on first use.

    Holds a model's lineage edges when they come from the compile cache: most compiles never
    look at them, and decoding every edge of 10,000 models would dominate a warm compile.
    Compares equal to the tuple of the same items.
    """

    __slots__ = ("_blob", "_items")

    def __init__(self, blob: bytes) -> None:
        self._blob: bytes | None = blob
        self._items: tuple[Any, ...] | None = None

    def _get(self) -> tuple[Any, ...]:
        if self._items is None:
            self._items = tuple(pickle.loads(self._blob)) if self._blob else ()
            self._blob = None
        return self._items

    def __len__(self) -> int:
        return len(self._get())

    def __getitem__(self, index: Any) -> Any:
        return self._get()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyTuple, tuple)):
            return self._get() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get())

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (self._get(),))


@dataclass(frozen=True)
class Reference:
    """A relation a model reads: ``kind`` model|source, ``name`` lower-case relation name."""

    kind: Literal["model", "source"]
    name: str


@dataclass(frozen=True)
class CompiledModel:
    name: str
    path: str
    materialized: str
    status: Literal["ok", "error"]
    columns: tuple[CompiledColumn, ...] = ()
    depends_on: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    # rocky_engine.lineage ColumnEdge records; a LazyTuple (same interface) when from the cache
    lineage: Sequence[Any] = ()
    from_cache: bool = False

    def column(self, name: str) -> CompiledColumn | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    @property
    def unknown_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.known)


@dataclass(frozen=True)
class CompileStats:
    models: int = 0
    columns: int = 0
    unknown_types: int = 0
    cache_hits: int = 0  # models whose typing came from the cache
    parsed: int = 0  # models whose SQL was parsed in this compile
    recompiled: int = 0  # models typed in this compile (cache misses)
    seconds: float = 0.0
    lineage_seconds: float = 0.0
    workers: int = 1


@dataclass(frozen=True)
class CompileResult:
    """What ``compile_project`` returns; ``models`` is keyed by lower-case model name."""

    models: dict[str, CompiledModel]
    diagnostics: list[Diagnostic]
    order: list[str]
    dag: DAG[str]
    stats: CompileStats = field(default_factory=CompileStats)

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def diagnostics_for(self, model: str) -> list[Diagnostic]:
        low = model.lower()
        return [d for d in self.diagnostics if (d.model or "").lower() == low]

    def to_json(self) -> dict[str, object]:
        """The ``rocky compile --format json`` document (DESIGN §2; fields only ever added)."""
        return {
            "ok": self.ok,
            "models": [
                {
                    "name": m.name,
                    "path": m.path,
                    "status": m.status,
                    "materialized": m.materialized,
                    "depends_on": list(m.depends_on),
                    "sources": list(m.sources),
                    "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable}
                                for c in m.columns],
                    "unknown_types": len(m.unknown_columns),
                }
                for m in (self.models[n] for n in self.order if n in self.models)
            ],
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "stats": {
                "models": self.stats.models,
                "columns": self.stats.columns,
                "unknown_types": self.stats.unknown_types,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "cache_hits": self.stats.cache_hits,
                "parsed": self.stats.parsed,
                "recompiled": self.stats.recompiled,
                "seconds": round(self.stats.seconds, 4),
                "lineage_seconds": round(self.stats.lineage_seconds, 4),
                "workers": self.stats.workers,
            },
        }
