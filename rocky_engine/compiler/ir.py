"""The compiler's IR: compact, picklable records that cross passes, processes and the cache.

    >>> col = CompiledColumn("amount", "DECIMAL(10,2)", True)
    >>> col.known
    True

Trees never leave the pass that built them: a 10,000-model project keeps only these.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator, Mapping, Sequence
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

    @classmethod
    def encode(cls, items: Sequence[Any]) -> LazyTuple:
        """A LazyTuple of ``items``, already in its pickled form.

            >>> LazyTuple.encode((1, 2)) == (1, 2), LazyTuple.encode(()).blob
            (True, b'')
        """
        if isinstance(items, LazyTuple):
            return items
        return cls(pickle.dumps(tuple(items), protocol=pickle.HIGHEST_PROTOCOL) if items else b"")

    @classmethod
    def wrap(cls, packed: Any) -> LazyTuple:
        """A LazyTuple whose blob pickles ``packed`` itself (an iterable of the items, e.g.
        a lineage ``EdgePack``): items are expanded on first use, :meth:`packed` skips that.

            >>> LazyTuple.wrap(range(3)) == (0, 1, 2), LazyTuple.wrap(range(3)).packed()
            (True, range(0, 3))
        """
        return cls(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL) if packed else b"")

    def packed(self) -> Any:
        """What the blob holds, unpickled but not expanded (nor kept); the items once decoded.

        The lineage graph reads a model's compact ``EdgePack`` this way instead of a
        ``ColumnEdge`` object per edge.
        """
        if self._items is not None or not self._blob:
            return self._get()
        return pickle.loads(self._blob)

    @property
    def blob(self) -> bytes | None:
        """The pickled items (what the compile cache stores), or None once decoded."""
        return self._blob

    def __reduce__(self) -> tuple[Any, ...]:
        # Still encoded: travel as the blob (a worker's result reaches the cache without
        # being decoded and re-encoded by the parent process).
        if self._items is None and self._blob is not None:
            return (LazyTuple, (self._blob,))
        return (tuple, (self._get(),))


@dataclass(frozen=True)
class Reference:
    """A relation a model reads: ``kind`` model|source, ``name`` lower-case relation name."""

    kind: Literal["model", "source"]
    name: str


class TableRef(NamedTuple):
    """A stored-relation name as written in a model: parts as written, offsets into the file."""

    catalog: str
    db: str
    name: str
    offset: int = -1
    width: int = 1

    @property
    def text(self) -> str:
        return ".".join(p for p in (self.catalog, self.db, self.name) if p)


@dataclass(frozen=True)
class Contract:
    """``[columns.NAME]`` of a sidecar: the declared type and nullability (None: not declared)."""

    name: str
    type: str | None
    nullable: bool | None


@dataclass(frozen=True)
class Scan:
    """The parse pass's cacheable output: table references, or the syntax diagnostics."""

    refs: tuple[TableRef, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class ModelJob:
    """Everything needed to type one model, picklable for a worker process."""

    name: str
    path: str
    sql: str
    dialect: str
    upstream: Mapping[str, Sequence[CompiledColumn]]  # relation name -> its columns
    contracts: tuple[Contract, ...] = ()
    sidecar_path: str | None = None
    sidecar_text: str = ""
    lineage: bool = True


@dataclass(frozen=True)
class ModelOutcome:
    """What typing one model produced; ``columns``/``lineage`` are lazy when from the cache."""

    columns: Sequence[CompiledColumn] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    lineage: Sequence[Any] = ()
    lineage_seconds: float = 0.0
    typed: bool = False  # False when the model could not be qualified at all
    fingerprint: str = ""  # hash of the output schema: dependents' cache keys use it
    n_columns: int = 0
    n_unknown: int = 0

    @classmethod
    def of(cls, columns: tuple[CompiledColumn, ...], diagnostics: tuple[Diagnostic, ...],
           lineage: Sequence[Any] = (), lineage_seconds: float = 0.0,
           typed: bool = True) -> ModelOutcome:
        return cls(columns, diagnostics, lineage, lineage_seconds, typed,
                   schema_fingerprint(columns), len(columns),
                   sum(1 for c in columns if not c.known))


def schema_fingerprint(columns: Sequence[CompiledColumn]) -> str:
    """A stable hash of an output schema (names, types, nullability)."""
    text = "\x1f".join(f"{c.name}\x1e{c.type}\x1e{c.nullable}" for c in columns)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class CompiledModel:
    name: str
    path: str
    materialized: str
    status: Literal["ok", "error"]
    columns: Sequence[CompiledColumn] = ()  # a LazyTuple when from the cache
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
    workers: int = 1  # processes used (1 when nothing was worth forking for)


@dataclass(frozen=True)
class CompileResult:
    """What ``compile_project`` returns; ``models`` is keyed by lower-case model name."""

    models: dict[str, CompiledModel]
    diagnostics: list[Diagnostic]
    order: list[str]
    dag: DAG[str]
    stats: CompileStats = field(default_factory=CompileStats)
    # Model -> column -> the type the warehouse gives it, for a warehouse that types
    # results differently from the project dialect (Spark); see compiler/target_types.py.
    warehouse_types: dict[str, dict[str, str]] = field(default_factory=dict)

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
                    "columns": [_column_json(c, self.warehouse_types.get(m.name.lower()))
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


def _column_json(c: CompiledColumn, warehouse: dict[str, str] | None) -> dict[str, object]:
    out: dict[str, object] = {"name": c.name, "type": c.type, "nullable": c.nullable}
    if warehouse is not None and c.name in warehouse:
        out["warehouse_type"] = warehouse[c.name]
    return out
