"""Where a batch is staged: DuckDB keeps it in the connection's TEMP tables.

A batch written next to its target would go through the file's write-ahead log and the
checkpoint at close, and be left behind by a killed process; a TEMP table is neither.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.execution import incremental

from .incremental_helpers import T0, IncrProject, ev, sidecar


@pytest.mark.parametrize("strategy", ["merge", "delete+insert", "append"])
def test_batches_are_staged_in_temp_and_never_reach_the_file(
        tmp_path: Path, strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    p = IncrProject(tmp_path, "duckdb", sidecar(strategy))
    p.insert([ev(i, i) for i in range(1, 21)])
    p.run()
    p.insert([ev(i, i) for i in range(21, 31)])
    if strategy != "append":
        p.update(3, 333, T0.replace(hour=12))
    seen: list[list[tuple[str, str, str, bool]]] = []
    real = DuckDBAdapter.merge_rows, DuckDBAdapter.insert_rows, DuckDBAdapter.delete_insert_rows

    def spy(kind: int):  # type: ignore[no-untyped-def]
        def wrapped(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(self.fetchall(
                "SELECT database_name, schema_name, table_name, temporary FROM duckdb_tables() "
                "WHERE table_name LIKE '%__rocky_batch'"))
            return real[kind](self, *args, **kwargs)
        return wrapped

    for i, name in enumerate(("merge_rows", "insert_rows", "delete_insert_rows")):
        monkeypatch.setattr(DuckDBAdapter, name, spy(i))
    result = p.run()
    assert result.ok and seen, [(m.name, m.error) for m in result.models]
    assert seen[0] == [("temp", "main", "events_inc" + incremental.BATCH_SUFFIX, True)]
    assert p.rows() == p.expected()
    conn = duckdb.connect(str(p.root / "warehouse.duckdb"), read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM duckdb_tables() "
                            "WHERE table_name LIKE '%__rocky_batch'").fetchall() == [(0,)]
    finally:
        conn.close()
