"""Compile one model: the per-model passes in order, as a pure, picklable function.

    >>> job = ModelJob("m", "models/m.sql", "SELECT 1 AS one", "duckdb", {})
    >>> outcome = compile_model(job)
    >>> outcome.columns, outcome.diagnostics
    ((CompiledColumn(name='one', type='INTEGER', nullable=False),), ())

Runs in worker processes during cold compiles, so input and output are compact records;
the sqlglot tree never leaves this function.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from rocky_engine.compiler.checks import check_types
from rocky_engine.compiler.contracts import check_contracts
from rocky_engine.compiler.infer import infer_types
from rocky_engine.compiler.ir import CompiledColumn, LazyTuple, ModelJob, ModelOutcome, Scan
from rocky_engine.compiler.parse import parse_model
from rocky_engine.compiler.positions import Site
from rocky_engine.compiler.relations import relation_name
from rocky_engine.compiler.subjects import SourceTracer, subjects_of_nodes, unique
from rocky_engine.compiler.tables import table_refs
from rocky_engine.errors import Diagnostic, Subject

_extract_edges: Callable[..., Any] | None
try:  # the lineage engine is optional: compile works (with empty lineage) without it
    from rocky_engine.lineage.extract import extract_edges as _extract_edges
except ImportError:  # pragma: no cover - depends on the tree's state
    _extract_edges = None


def scan_model(name: str, path: str, sql: str, dialect: str) -> Scan:
    """Parse only to find what the model reads (the DAG needs this before any typing)."""
    try:
        tree, diags = parse_model(Site(name, path, sql), dialect)
    except RecursionError:
        return Scan(diagnostics=(_too_deep(Site(name, path, sql)),))
    except Exception as exc:  # noqa: BLE001 - a parser crash is this model's problem only
        return Scan(diagnostics=(Site(name, path, sql).at(
            "R199", f"internal compiler error: {type(exc).__name__}: {exc}", line=1, col=1),))
    if tree is None:
        return Scan(diagnostics=tuple(diags))
    return Scan(refs=table_refs(tree))


_GENERATED_NAME = re.compile(r"_col_\d+")


def _check_outputs(tree: exp.Query, columns: tuple[CompiledColumn, ...], site: Site,
                   upstream: Mapping[str, Sequence[CompiledColumn]] | None = None,
                   tracer: SourceTracer | None = None, scope: Any = None,
                   ) -> list[Diagnostic]:
    """R107 duplicate output names; W130 for every column whose type is unknown; W132 for
    an expression with no name (the warehouse names it after its text).

    Subjects: the model's output column and the upstream columns it is computed from."""
    out: list[Diagnostic] = []

    def about(i: int, name: str) -> tuple[Subject, ...]:
        feeds = tracer.output_nodes(scope, i) if tracer is not None else []
        return unique((Subject(site.relation, name.lower()), *subjects_of_nodes(feeds)))

    selects = tree.selects
    first: dict[str, int] = {}
    upstream_names: set[str] | None = None
    sql = site.text.sql.lower()
    for i, col in enumerate(columns):
        node = selects[i] if i < len(selects) else None
        low = col.name.lower()
        # sqlglot names an unaliased expression _col_<n>; DuckDB names it after its text,
        # e.g. count_star() or (id + 1). Unless the model wrote that name or reads it.
        if _GENERATED_NAME.fullmatch(low) and low not in sql:
            if upstream_names is None:
                upstream_names = {c.name.lower() for cols in (upstream or {}).values()
                                  for c in cols}
            if low not in upstream_names:
                text = _written(node.this if isinstance(node, exp.Alias) else node)
                out.append(site.at(
                    "W132", f"output column {i + 1} (`{_clip(text)}`) has no name: the "
                    "warehouse will name it after the expression", node=node,
                    hint=f"name it, e.g. {_clip(text)} AS a_name", subjects=about(i, col.name)))
        if low in first:
            out.append(site.at(
                "R107", f'output column "{col.name}" appears twice '
                f"(columns {first[low] + 1} and {i + 1})", node=node,
                hint="alias one of them (AS another_name), or use * EXCLUDE (...)",
                subjects=unique((*about(first[low], col.name), *about(i, col.name)))))
        else:
            first[low] = i
        if not col.known:
            out.append(site.at(
                "W130", f'type of output column "{col.name}" cannot be inferred', node=node,
                hint=f"CAST it, e.g. CAST(... AS VARCHAR) AS {col.name}",
                subjects=about(i, col.name)))
    return out


def _written(node: exp.Expr | None) -> str:
    """An expression of the qualified tree roughly as written: without the table prefixes
    that qualification added."""
    if node is None:
        return "the expression"
    bare = node.copy().transform(
        lambda n: exp.column(n.name) if isinstance(n, exp.Column) and n.table else n)
    return bare.sql(dialect="duckdb")


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _too_deep(site: Site) -> Diagnostic:
    return site.at("R124", "query nested too deeply for the compiler to follow", line=1, col=1,
                   hint="flatten the nesting, e.g. move inner expressions into CTEs")


def compile_model(job: ModelJob) -> ModelOutcome:
    """All per-model passes; a crash inside sqlglot becomes R199 for this model only."""
    try:
        return _compile_model(job)
    except RecursionError:
        return ModelOutcome(diagnostics=(_too_deep(Site(job.name, job.path, job.sql)),))
    except Exception as exc:  # noqa: BLE001 - one model's crash must not abort the compile
        return ModelOutcome(diagnostics=(Site(job.name, job.path, job.sql).at(
            "R199", f"internal compiler error: {type(exc).__name__}: {exc}", line=1, col=1,
            hint="please report this model's SQL; other models were compiled"),))


def _compile_model(job: ModelJob) -> ModelOutcome:
    site = Site(job.name, job.path, job.sql)
    tree, diags = parse_model(site, job.dialect)
    if tree is None:
        return ModelOutcome(diagnostics=tuple(diags))
    typed = infer_types(tree, site, job.upstream, job.dialect)
    if typed.tree is None:
        return ModelOutcome(diagnostics=tuple(typed.diagnostics))
    out: list[Diagnostic] = list(typed.diagnostics)
    tracer = SourceTracer(typed.scope, relation_name)
    out.extend(_check_outputs(typed.tree, typed.columns, site, job.upstream, tracer,
                              typed.scope))
    out.extend(check_types(typed.tree, site, tracer))
    out.extend(check_contracts(typed.columns, job.contracts, site, typed.tree,
                               job.sidecar_path, job.sidecar_text))
    lineage: Sequence[Any] = ()
    spent = 0.0
    if job.lineage and _extract_edges is not None:
        # CPU time, not wall: under load (or with workers) wall time overstates the share.
        t0 = time.process_time()
        pack = _extract_edges(job.name, typed.tree, relation_name, typed.scope)
        spent = time.process_time() - t0
        # Pickled once, compact: the cache stores this blob as it is, and the lineage graph
        # reads the pack back without a ColumnEdge object per edge (LazyTuple.packed).
        lineage = LazyTuple.wrap(pack)
    return ModelOutcome.of(typed.columns, tuple(out), lineage, spent)
