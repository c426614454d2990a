from __future__ import annotations

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.drift import fingerprints as fps
from rocky_engine.drift import profiling
from rocky_engine.drift.fingerprints import Fingerprint, similarity


def _adapter() -> DuckDBAdapter:
    a = DuckDBAdapter(":memory:")
    a.execute("CREATE SCHEMA raw")
    a.execute("CREATE TABLE raw.t AS SELECT range AS id, CAST(range * 1.5 AS DECIMAL(10,2)) "
              "AS amt, CAST(NULL AS INTEGER) AS z, 'x' || (range % 7) AS \"odd name\" "
              "FROM range(200)")
    return a


def test_compute_counts_and_sketch() -> None:
    a = _adapter()
    fp = profiling.compute(a, "raw", "t", "amt")
    assert (fp.rows, fp.nulls, fp.distinct, fp.min, fp.max) == (200, 0, 200, "0.00", "298.50")
    assert len(fp.sketch) == fps.K and list(fp.sketch) == sorted(fp.sketch)
    assert profiling.compute(a, "raw", "t", "z").sketch == ()
    assert profiling.compute(a, "raw", "t", "odd name").distinct == 7
    assert profiling.safe_compute(a, "raw", "t", "missing") is None


def test_same_values_under_another_name_are_identical() -> None:
    a = _adapter()
    a.execute("ALTER TABLE raw.t ADD COLUMN amt2 DECIMAL(10,2)")
    a.execute("UPDATE raw.t SET amt2 = amt")
    assert profiling.compute(a, "raw", "t", "amt") == profiling.compute(a, "raw", "t", "amt2")
    assert similarity(profiling.compute(a, "raw", "t", "amt"), profiling.compute(a, "raw", "t", "id")) < 0.2


def test_near_identical_values() -> None:
    a = _adapter()
    a.execute("ALTER TABLE raw.t ADD COLUMN amt2 DECIMAL(10,2)")
    a.execute("UPDATE raw.t SET amt2 = CASE WHEN id < 5 THEN -1 ELSE amt END")
    old, new = profiling.compute(a, "raw", "t", "amt"), profiling.compute(a, "raw", "t", "amt2")
    assert old != new
    assert similarity(old, new) >= 0.8


def test_store_replaces_and_load_reads_back() -> None:
    a = _adapter()
    assert fps.load(a) == {}
    fp = profiling.compute(a, "raw", "t", "amt")
    fps.store(a, "raw", "t", {"amt": fp, "id": profiling.compute(a, "raw", "t", "id")})
    fps.store(a, "raw", "t", {"amt": fp})
    assert fps.load(a) == {("raw", "t", "amt"): fp}


def test_damaged_rows_are_skipped() -> None:
    a = _adapter()
    fps.store(a, "raw", "t", {"amt": profiling.compute(a, "raw", "t", "amt")})
    a.execute("INSERT INTO _rocky.drift_fingerprints VALUES ('raw', 't', 'bad', 'not json', NULL)")
    assert set(fps.load(a)) == {("raw", "t", "amt")}


def test_text_round_trip() -> None:
    fp = Fingerprint(1, 0, 1, "a", "a", ("00",))
    assert Fingerprint.from_text(fp.to_text()) == fp
