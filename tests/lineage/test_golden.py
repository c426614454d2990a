"""Golden edges for every model of the lineage corpus (fixtures/lineage/project).

Each golden file was checked by hand against its model's SQL; one line per edge:
``kind  source -> target  | expression``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.lineage.conftest import CORPUS
from tests.lineage.corpus import ExtractedProject

MODELS = sorted(p.stem for p in (CORPUS / "models").glob("*.sql"))


def _render_edges(edges: tuple) -> str:
    lines = [f"{e.kind:<9} {e.source} -> {e.target}  | {e.expression}"
             for e in sorted(edges, key=lambda e: (e.target, e.kind, e.source))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("model", MODELS)
def test_model_edges_match_golden(model: str, corpus: ExtractedProject,
                                  golden: Callable[[str, str], None]) -> None:
    golden(f"{model}.edges", _render_edges(corpus.edges[model]))


QUERIES = [
    ("mart.revenue", "upstream", False),
    ("mart.revenue", "upstream", True),
    ("raw.orders.amount", "downstream", False),
    ("raw.orders.amount", "downstream", True),
    ("raw.orders.customer_id", "downstream", False),
]


@pytest.mark.parametrize(("root", "direction", "value_only"), QUERIES)
def test_project_queries_match_golden(root: str, direction: str, value_only: bool,
                                      corpus: ExtractedProject,
                                      golden: Callable[[str, str], None]) -> None:
    from rocky_engine.lineage.render import render_text

    result = corpus.graph().query(root, direction, value_only=value_only)
    suffix = "-value" if value_only else ""
    golden(f"queries/{root}.{direction}{suffix}.txt", render_text(result) + "\n")
