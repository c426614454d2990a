"""Spark fixtures: one local Spark session per test process, a clean catalog per test.

A Spark start costs seconds, so the first test of a process starts the session (its
catalog under a temporary folder) and every Spark project of that process shares it; each
test starts from an empty catalog (every database but ``default`` is dropped after it).
Without Java or pyspark these tests fail: they never pass silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rocky_engine.adapters.spark import SparkAdapter
from rocky_engine.adapters.spark_session import SparkSettings
from tests.sparkfixtures import drop_all_databases


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            # A Spark job is seconds on a loaded 2-core machine: more than the default.
            item.add_marker(pytest.mark.timeout(1500))


@pytest.fixture
def spark(spark_session: Any, spark_settings: SparkSettings) -> Iterator[SparkAdapter]:
    """An adapter on the process's session; the catalog is emptied after the test."""
    adapter = SparkAdapter(spark_settings)
    try:
        yield adapter
    finally:
        drop_all_databases(spark_session)


def spark_toml(schema: str = "main") -> str:
    return (f'[warehouse]\ntype = "spark"\nmaster = "local[2]"\nschema = "{schema}"\n'
            'conf = { "spark.sql.shuffle.partitions" = "2" }\n')


def to_spark(root: Path) -> Path:
    """Point a project's rocky.toml at Spark local mode (models unchanged)."""
    text = (root / "rocky.toml").read_text()
    head, _, rest = text.partition("[warehouse]")
    _, _, tail = rest.partition("\n[")
    (root / "rocky.toml").write_text(head + spark_toml() + ("\n[" + tail if tail else ""))
    return root
