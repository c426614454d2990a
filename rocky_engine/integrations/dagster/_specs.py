"""What Dagster is told about a project: asset specs, source specs and check specs.

Built from the engine's public results only — the typed compile (columns and types), the
lineage graph (column lineage) and the planner's reference scan (dependencies) — so the
same code describes a project on any warehouse.

    >>> check_name("unique(customer_id)", "unique")
    'unique_customer_id'
    >>> check_name("returned orders are not revenue", "unit")
    'unit_returned_orders_are_not_revenue'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from rocky_engine.compiler import CompileResult
from rocky_engine.errors import RockyError
from rocky_engine.execution.data_tests import test_name
from rocky_engine.execution.plan import Plan
from rocky_engine.lineage.graph import LineageGraph, split_node
from rocky_engine.project import Model, Project, SourceTable

# Dagster's standard table metadata keys (dagster.TableMetadataSet), shown in its UI.
COLUMN_SCHEMA = "dagster/column_schema"
COLUMN_LINEAGE = "dagster/column_lineage"
TABLE_NAME = "dagster/table_name"
ROW_COUNT = "dagster/row_count"

_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def dagster_name(text: str) -> str:
    """``text`` as a Dagster name (``[A-Za-z0-9_]+``), e.g. an op named after the project."""
    return _NOT_NAME.sub("_", text.lower()).strip("_") or "rocky"


def check_name(test: str, kind: str) -> str:
    """The asset-check name of one rocky test (a Dagster name, stable across loads)."""
    base = dagster_name(test)
    if kind == "unit" or not base.startswith(dagster_name(kind)):
        base = f"{dagster_name(kind)}_{base}"
    return base


@dataclass(frozen=True)
class CheckRef:
    """One rocky test behind an asset check: its model, position and rocky name."""

    model: str
    index: int  # position among the model's tests (data tests first, then unit tests)
    test: str  # the name ``rocky test`` reports
    kind: str  # not_null | unique | ... | unit
    check: str  # the Dagster check name


class Keys:
    """Asset keys: ``[*prefix, model]`` for a model, ``[*prefix, schema, table]`` for a source."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = tuple(prefix)

    def model(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([*self.prefix, name])

    def source(self, relation: str) -> dg.AssetKey:
        schema, _, table = relation.partition(".")
        return dg.AssetKey([*self.prefix, schema, table])

    def model_of(self, key: dg.AssetKey) -> str:
        return key.path[-1]


def model_description(model: Model) -> str | None:
    """The intent (purpose, grain, rules) as Markdown; the sidecar description otherwise."""
    intent = model.sidecar.intent
    parts: list[str] = []
    if intent is not None:
        parts.append(intent.purpose)
        if intent.grain:
            parts.append("Grain: " + ", ".join(f"`{g}`" for g in intent.grain))
        if intent.rules:
            parts.append("Rules:\n" + "\n".join(f"- {r}" for r in intent.rules))
    if model.sidecar.description and (intent is None or
                                      model.sidecar.description != intent.purpose):
        parts.insert(0, model.sidecar.description)
    return "\n\n".join(parts) or None


def model_specs(project: Project, plan: Plan, compiled: CompileResult, graph: LineageGraph,
                keys: Keys, *, group: str, kinds: set[str]) -> list[dg.AssetSpec]:
    """One spec per model, in DAG order."""
    specs = []
    cased = _Case(project, compiled)
    for name in plan.dag.order():
        model = project.models[name]
        parsed = plan.parsed[name]
        deps = [keys.model(m) for m in sorted(parsed.model_refs)]
        deps += [keys.source(s) for s in sorted(parsed.source_refs)]
        meta = {
            COLUMN_SCHEMA: _model_schema(model, compiled),
            COLUMN_LINEAGE: _column_lineage(graph, name, keys, cased),
            TABLE_NAME: f"{project.config.warehouse.schema_}.{name}",
            "rocky/path": model.path, "rocky/materialized": model.materialized,
        }
        specs.append(dg.AssetSpec(
            keys.model(name), deps=deps, description=model_description(model), metadata=meta,
            group_name=group, kinds=kinds, skippable=True,
        ))
    return specs


def source_specs(project: Project, keys: Keys, *, group: str) -> list[dg.AssetSpec]:
    """Declared sources as external assets: rocky reads them, never builds them."""
    return [
        dg.AssetSpec(
            keys.source(rel), description=table.description,
            metadata={COLUMN_SCHEMA: _source_schema(table), TABLE_NAME: rel,
                      "rocky/file": table.file},
            group_name=group, kinds={"source"},
        )
        for rel, table in sorted(project.sources.items())
    ]


def check_refs(project: Project, order: Iterable[str]) -> list[CheckRef]:
    """Every data test and unit test of the project, each with a unique check name."""
    refs = []
    for name in order:
        model = project.models[name]
        seen: set[str] = set()
        tests = [(test_name(t), str(t.type)) for t in model.sidecar.tests]
        tests += [(u.name, "unit") for u in model.sidecar.unit_tests]
        for index, (test, kind) in enumerate(tests):
            check = base = check_name(test, kind)
            n = 1
            while check in seen:
                n += 1
                check = f"{base}_{n}"
            seen.add(check)
            refs.append(CheckRef(name, index, test, kind, check))
    return refs


def check_specs(refs: Sequence[CheckRef], keys: Keys) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(r.check, asset=keys.model(r.model),
                              description=f"rocky {r.kind} test: {r.test}",
                              metadata={"rocky/test": r.test, "rocky/kind": r.kind})
            for r in refs]


def _model_schema(model: Model, compiled: CompileResult) -> dg.TableSchema:
    cm = compiled.models.get(model.name)
    contracts = {k.lower(): v for k, v in model.sidecar.columns.items()}
    columns = []
    for col in (cm.columns if cm is not None else ()):
        contract = contracts.get(col.name.lower())
        description = (contract.intent or contract.description) if contract else None
        constraints = (dg.TableColumnConstraints(nullable=False)
                       if col.nullable is False else None)
        columns.append(dg.TableColumn(col.name, col.type, description=description,
                                      constraints=constraints))
    return dg.TableSchema(columns=columns)


def _source_schema(table: SourceTable) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.type, description=c.description,
                       constraints=None if c.nullable else
                       dg.TableColumnConstraints(nullable=False))
        for c in table.columns])


class _Case:
    """Column names as the compile (models) or ``sources/`` spell them; lineage is lower-case."""

    def __init__(self, project: Project, compiled: CompileResult) -> None:
        self._project, self._compiled = project, compiled
        self._names: dict[str, dict[str, str]] = {}

    def __call__(self, relation: str, column: str) -> str:
        names = self._names.get(relation)
        if names is None:
            cm = self._compiled.models.get(relation)
            source = self._project.sources.get(relation)
            cols = cm.columns if cm is not None else (source.columns if source else ())
            names = self._names[relation] = {c.name.lower(): c.name for c in cols}
        return names.get(column, column)


def _column_lineage(graph: LineageGraph, model: str, keys: Keys,
                    cased: _Case) -> dg.TableColumnLineage:
    """Each output column's direct value-flow inputs (copy, cast, transform, aggregate,
    window). Influence edges (filter, join, group) are left out: they would list every
    join and filter key under every column."""
    try:
        result = graph.query(model, "upstream", depth=1, value_only=True)
    except RockyError:  # a model that did not compile has no lineage
        return dg.TableColumnLineage(deps_by_column={})
    kinds = result.relation_kinds
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for edge in result.edges:
        target_rel, target_col = split_node(edge.target, kinds)
        if target_rel != model:
            continue
        rel, col = split_node(edge.source, kinds)
        key = keys.source(rel) if kinds.get(rel) == "source" else keys.model(rel)
        dep = dg.TableColumnDep(asset_key=key, column_name=cased(rel, col))
        bucket = deps.setdefault(cased(model, target_col), [])
        if dep not in bucket:
            bucket.append(dep)
    return dg.TableColumnLineage(deps_by_column=deps)
