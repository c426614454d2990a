"""Extract lineage from a project folder without the compiler: parse, qualify, annotate.

Tests use this to exercise ``extract_lineage`` on exactly the trees the compiler hands it
(qualified with a MappingSchema, identifiers normalised), independent of the compiler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from rocky_engine.lineage.extract import ColumnEdge, extract_lineage
from rocky_engine.lineage.graph import LineageGraph
from rocky_engine.project import load_project

MODEL_DB = "rocky_models"  # a schema name no project uses for sources


@dataclass(frozen=True)
class ExtractedProject:
    columns: dict[str, tuple[str, ...]]  # model -> output column names
    edges: dict[str, tuple[ColumnEdge, ...]]
    sql: dict[str, str]
    sources: dict[str, tuple[str, ...]]

    def graph(self) -> LineageGraph:
        return LineageGraph.from_edges(models=self.columns, sources=self.sources,
                                       edges=[e for es in self.edges.values() for e in es])


def relation_of(table: exp.Table) -> str | None:
    if table.db == MODEL_DB:
        return table.name.lower()
    if table.db:
        return f"{table.db}.{table.name}".lower()
    return None


def qualified_tree(sql: str, schema: dict[str, dict[str, dict[str, str]]]) -> exp.Expr:
    mapping = MappingSchema(schema, dialect="duckdb")
    tree = qualify(sqlglot.parse_one(sql, dialect="duckdb"), schema=mapping, dialect="duckdb",
                   db=MODEL_DB)
    return annotate_types(tree, schema=mapping, dialect="duckdb")


def extract_project(path: Path) -> ExtractedProject:
    project = load_project(path)
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for table in project.sources.values():
        schema.setdefault(table.schema.lower(), {})[table.name.lower()] = {
            c.name.lower(): c.type for c in table.columns}
    sources = {key: tuple(c.name.lower() for c in t.columns)
               for key, t in project.sources.items()}
    pending = dict(project.models)
    columns: dict[str, tuple[str, ...]] = {}
    edges: dict[str, tuple[ColumnEdge, ...]] = {}
    sql: dict[str, str] = {}
    while pending:
        progressed = False
        for name, model in list(pending.items()):
            deps = _model_refs(model.sql, set(project.models))
            if not deps <= set(columns):
                continue
            tree = qualified_tree(model.sql, schema)
            assert isinstance(tree, exp.Query)
            out = tuple(tree.named_selects)
            columns[name] = out
            schema.setdefault(MODEL_DB, {})[name] = {c: "UNKNOWN" for c in out}
            edges[name] = extract_lineage(name, tree, relation_of)
            sql[name] = model.sql
            del pending[name]
            progressed = True
        assert progressed, f"cycle or unknown reference among {sorted(pending)}"
    return ExtractedProject(columns, edges, sql, sources)


def _model_refs(sql: str, models: set[str]) -> set[str]:
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table)
            if not t.db and t.name.lower() in models and t.name.lower() not in ctes}
