"""Spark fixtures for every test area: one local Spark session per test process.

A Spark start costs seconds, so the first test of a process that asks for one starts the
session (its catalog under a temporary folder) and every Spark warehouse of that process
shares it; ``spark_clean`` empties the catalog after each test (every database but
``default`` dropped). Without Java or pyspark these tests fail: they never pass silently.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from rocky_engine.adapters.spark_session import SparkSettings, get_session

# Every JVM the suite starts (the local sessions, the child processes of the kill tests, the
# Spark Connect server) runs seconds of work on tiny tables: the quick C1 compiler alone
# and the serial collector leave the two cores to the work instead of to C2 compiling hot
# code that would pay off only later (the Spark part of the suite: 5m30s -> 5m00s on the
# idle 2-core machine, the kill -9 test alone 55s -> 41s). Set here, on import by
# tests/conftest.py, before any JVM starts; the java launcher reads it.
JVM_TEST_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
if JVM_TEST_OPTIONS not in os.environ.get("JDK_JAVA_OPTIONS", ""):
    os.environ["JDK_JAVA_OPTIONS"] = \
        f"{os.environ.get('JDK_JAVA_OPTIONS', '')} {JVM_TEST_OPTIONS}".strip()


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> SparkSettings:
    # Tests keep the metastore in memory (it dies with the process anyway) and use few
    # shuffle partitions (their tables are tiny).
    return SparkSettings(master="local[2]", home=tmp_path_factory.mktemp("spark_home"), conf={
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            "jdbc:derby:memory:rocky_tests;create=true",
        "spark.sql.shuffle.partitions": "1",
        "spark.default.parallelism": "2",
        **TINY_DATA,
    })


# For tables of a few rows: no adaptive re-planning and no generated code, whose fixed cost
# per query outweighs the work (~10% of a statement's time here). Tests only.
TINY_DATA = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(scope="session")
def spark_session(spark_settings: SparkSettings) -> Any:
    return get_session(spark_settings)


def drop_all_databases(session: Any) -> None:
    for (name,) in session.sql("SHOW DATABASES").collect():
        if name.lower() != "default":
            session.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE").collect()
