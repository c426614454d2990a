"""Drift in values: silent on natural growth, loud on each of the five kinds.

A small project reads one source table that a loader appends seeded batches to, all drawn
from one distribution (lognormal amounts, a status with a rare value, ISO date strings,
a nullable note). 100 appends each followed by `rocky drift` must report nothing; then
each kind of drift is injected into a fresh copy and must be the one thing reported.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.config import DriftConfig
from rocky_engine.context import Context
from rocky_engine.drift import DriftReport, detect_drift
from rocky_engine.drift.fingerprints import Fingerprint
from rocky_engine.drift.values import value_changes
from rocky_engine.project import load_project

STATUSES = (("completed", 0.6), ("placed", 0.25), ("shipped", 0.145), ("lost", 0.005))
BATCH = 500


def _rows(rng: random.Random, start: int, n: int, **override: object) -> list[tuple]:
    rows = []
    for i in range(start, start + n):
        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(365))
        note = None if rng.random() < 0.1 else f"note {rng.randrange(1000)}"
        row = {"id": i, "amount": round(rng.lognormvariate(3, 1), 2), "status": status,
               "event_date": day.isoformat(), "note": note}
        for key, value in override.items():
            row[key] = value(rng, row) if callable(value) else value
        rows.append(tuple(row.values()))
    return rows


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _append(root: Path, rows: list[tuple]) -> None:
    # One INSERT ... VALUES statement: executemany is a round trip per row.
    values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        conn.execute(f"INSERT INTO raw.events VALUES {values}")
    finally:
        conn.close()


def _project(root: Path) -> None:
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    # sample_rows 20,000: tables up to 100,000 rows are read whole (sampling has its own
    # test below).
    (root / "rocky.toml").write_text(
        '[project]\nname = "values"\ndialect = "duckdb"\n\n'
        '[warehouse]\ntype = "duckdb"\npath = "warehouse.duckdb"\n\n'
        '[drift]\nsample_rows = 20000\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n\n[tables.events.columns]\nid = "INTEGER"\n'
        'amount = "DECIMAL(12,2)"\nstatus = "VARCHAR"\nevent_date = "VARCHAR"\n'
        'note = "VARCHAR"\n')
    (root / "models" / "stg_events.sql").write_text(
        "SELECT id AS event_id, amount, status, CAST(event_date AS DATE) AS event_day, note\n"
        "FROM raw.events\n")
    (root / "models" / "stg_events.toml").write_text(
        '[intent]\npurpose = "One row per event."\ngrain = ["event_id"]\n'
        'rules = ["amount is in dollars, never above 10000", '
        '"only status completed counts as revenue"]\n\n'
        '[columns.amount]\nintent = "order amount in dollars"\n\n'
        '[[tests]]\ntype = "accepted_values"\ncolumn = "status"\n'
        'values = ["completed", "placed", "shipped", "lost"]\n\n'
        '[[tests]]\ntype = "not_null"\ncolumn = "note"\n')
    (root / "models" / "revenue.sql").write_text(
        "SELECT event_day, SUM(amount) AS revenue FROM stg_events\n"
        "WHERE status = 'completed' GROUP BY event_day\n")
    conn = duckdb.connect(str(root / "warehouse.duckdb"))
    conn.execute("CREATE SCHEMA raw; CREATE TABLE raw.events (id INTEGER, "
                 "amount DECIMAL(12,2), status VARCHAR, event_date VARCHAR, note VARCHAR)")
    conn.close()


def _drift(root: Path) -> DriftReport:
    project = load_project(root)
    with DuckDBAdapter(root / "warehouse.duckdb", create=False) as adapter:
        return detect_drift(project, adapter)


def _value_kinds(report: DriftReport) -> list[tuple[str | None, str | None]]:
    return [(c.column, c.change) for c in report.changes if c.kind == "column_values_changed"]


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 runs of append-then-drift; returns the project after the last one."""
    root = tmp_path_factory.mktemp("values") / "p"
    _project(root)
    rng = random.Random(20261205)
    reports = []
    for run in range(100):
        _append(root, _rows(rng, run * BATCH, BATCH))
        reports.append(_drift(root))
    found = [(run, _value_kinds(r)) for run, r in enumerate(reports) if r.changes]
    assert found == [], f"value drift reported on natural growth: {found}"
    return root


@pytest.mark.slow
def test_hundred_batches_from_one_distribution_raise_nothing(grown: Path) -> None:
    report = _drift(grown)
    assert report.changes == ()
    conn = duckdb.connect(str(grown / "warehouse.duckdb"), read_only=True)
    assert conn.execute("SELECT COUNT(*) FROM raw.events").fetchone()[0] == 100 * BATCH
    conn.close()


def _inject(grown: Path, tmp_path: Path, rows: list[tuple] | None = None,
            sql: str | None = None) -> DriftReport:
    root = tmp_path / "p"
    shutil.copytree(grown, root)
    if rows:
        _append(root, rows)
    if sql:
        conn = duckdb.connect(str(root / "warehouse.duckdb"))
        conn.execute(sql)
        conn.close()
    return _drift(root)


N = 100 * BATCH  # rows after the growth runs


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["scale", "new_values", "nulls", "duplicates", "format"])
def test_each_kind_is_detected_alone(grown: Path, tmp_path: Path, kind: str) -> None:
    rng = random.Random(7)
    column = {"scale": "amount", "new_values": "status", "nulls": "note",
              "duplicates": "id", "format": "event_date"}[kind]
    if kind == "scale":  # the loader switched to cents for every row
        report = _inject(grown, tmp_path, sql="UPDATE raw.events SET amount = amount * 100")
    elif kind == "new_values":  # a new status, 20% of a batch a tenth of the table
        report = _inject(grown, tmp_path, _rows(
            rng, N, N // 10,
            status=lambda r, row: "refunded" if r.random() < 0.2 else row["status"]))
    elif kind == "nulls":  # notes stop arriving, for as many rows again
        report = _inject(grown, tmp_path, sql="INSERT INTO raw.events SELECT id + 50000, "
                         "amount, status, event_date, NULL FROM raw.events")
    elif kind == "duplicates":  # a batch loaded twice
        report = _inject(grown, tmp_path, sql="INSERT INTO raw.events "
                         "SELECT * FROM raw.events WHERE id >= 49000")
    else:  # dates arrive as DD/MM/YYYY in a batch a fifth of the table
        report = _inject(grown, tmp_path, _rows(
            rng, N, N // 5, event_date=lambda r, row: date.fromisoformat(
                row["event_date"]).strftime("%d/%m/%Y")))
    assert _value_kinds(report) == [(column, kind)]
    [change] = report.changes
    data = change.to_json()
    assert data["kind"] == "column_values_changed" and data["change"] == kind
    assert data["evidence"] and data["before"] and data["after"]
    # The impact follows lineage, and names what intent may no longer hold.
    impacted = {(i.model, i.column): i for i in report.impact}
    assert impacted and all(i.status == "affected" for i in impacted.values())
    risks = {r for i in report.impact for r in i.at_risk}
    expected_risk = {
        "scale": "rule: amount is in dollars, never above 10000",
        "new_values": "test: accepted_values(status)",
        "nulls": "test: not_null(note)",
        "duplicates": "grain: one row per (event_id)",
        "format": None,
    }[kind]
    if expected_risk:
        assert expected_risk in risks, risks
    if kind == "scale":
        assert ("revenue", "revenue") in impacted  # through SUM(amount)
        assert "column intent: amount: order amount in dollars" in risks
    if kind == "new_values":
        assert ("revenue", "revenue") in impacted  # through the WHERE status filter
        assert "rule: only status completed counts as revenue" in risks


@pytest.mark.slow
def test_value_drift_is_reported_until_accepted(grown: Path, tmp_path: Path) -> None:
    report = _inject(grown, tmp_path, sql="UPDATE raw.events SET amount = amount * 100")
    root = tmp_path / "p"
    assert _value_kinds(_drift(root)) == [("amount", "scale")]  # not forgotten
    assert _value_kinds(report) == [("amount", "scale")]
    Context.load(root).drift_accept(report)
    assert _drift(root).changes == ()


def test_thresholds_come_from_rocky_toml(tmp_path: Path) -> None:
    _project(tmp_path)
    text = (tmp_path / "rocky.toml").read_text()
    (tmp_path / "rocky.toml").write_text(text + "null_rate_increase = 0.05\n"
                                         "scale_factor = 3\nnew_values = false\n")
    config = load_project(tmp_path).config.drift
    assert (config.null_rate_increase, config.scale_factor, config.new_values,
            config.duplicates) == (0.05, 3, False, True)
    old = Fingerprint(100, 0, 2, "a", "b", (), kind="text", sampled=100, sample_nulls=0,
                      top=(("a", 5000), ("b", 5000)))
    new = Fingerprint(100, 10, 3, "a", "c", (), kind="text", sampled=100, sample_nulls=10,
                      top=(("a", 4000), ("b", 4000), ("c", 2000)))
    assert [c.change for c in value_changes("raw.t", "x", old, new, config)] == ["nulls"]
    assert [c.change for c in value_changes("raw.t", "x", old, new, DriftConfig())] == [
        "new_values"]


def test_a_typo_under_drift_is_a_config_error(tmp_path: Path) -> None:
    from rocky_engine.errors import ConfigError

    _project(tmp_path)
    text = (tmp_path / "rocky.toml").read_text()
    (tmp_path / "rocky.toml").write_text(text + "null_rate_increse = 0.05\n")
    with pytest.raises(ConfigError) as err:
        load_project(tmp_path)
    assert "null_rate_increse" in str(err.value.render())


def _generate(conn: duckdb.DuckDBPyConnection, start: int, n: int, seed: float) -> None:
    """``n`` rows from the same distribution, generated in the warehouse (large tables)."""
    conn.execute(f"SELECT setseed({seed})")
    conn.execute(f"""
        INSERT INTO raw.events SELECT {start} + i,
            round(exp(3 + sqrt(-2 * ln(random() + 1e-12)) * cos(6.283185 * random())), 2),
            CASE WHEN random() < 0.6 THEN 'completed' WHEN random() < 0.6 THEN 'placed'
                 ELSE 'shipped' END,
            strftime(DATE '2024-01-01' + (random() * 364)::INT, '%Y-%m-%d'),
            CASE WHEN random() < 0.1 THEN NULL ELSE 'note ' || (random() * 999)::INT END
        FROM range({n}) r(i)""")


@pytest.mark.slow
def test_large_tables_are_sampled_and_still_judged(tmp_path: Path) -> None:
    """300,000+ rows: read through the adapter's TABLESAMPLE (about sample_rows rows)."""
    _project(tmp_path)
    toml = tmp_path / "rocky.toml"
    toml.write_text(toml.read_text().replace("sample_rows = 20000", "sample_rows = 10000"))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    _generate(conn, 0, 300_000, 0.1)
    conn.close()
    assert _drift(tmp_path).changes == ()
    with DuckDBAdapter(tmp_path / "warehouse.duckdb", create=False) as adapter:
        from rocky_engine.drift import fingerprints
        from rocky_engine.drift.profiling import profile_table

        stored = fingerprints.load(adapter)[("raw", "events", "amount")]
        seen: list[str] = []
        real = adapter.fetchall

        def spy(sql, params=None):  # type: ignore[no-untyped-def]
            seen.append(sql if isinstance(sql, str) else sql.sql(adapter.dialect))
            return real(sql, params)

        adapter.fetchall = spy  # type: ignore[method-assign]
        profile_table(adapter, "raw", "events", ["amount"], sample_rows=10_000)
    assert stored.rows == 300_000 and stored.sampled >= 1_000
    assert any("TABLESAMPLE SYSTEM" in q and "REPEATABLE" in q for q in seen), seen
    for run in range(5):  # natural growth, sampled
        conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
        _generate(conn, 300_000 + run * 30_000, 30_000, 0.2 + run / 10)
        conn.close()
        report = _drift(tmp_path)
        assert report.changes == (), (run, _value_kinds(report))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    conn.execute("UPDATE raw.events SET amount = amount * 100, "
                 "note = CASE WHEN id % 2 = 0 THEN NULL ELSE note END")
    conn.close()
    assert sorted(_value_kinds(_drift(tmp_path))) == [("amount", "scale"), ("note", "nulls")]


def test_tables_profiled_in_parallel_give_what_one_at_a_time_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[drift] threads``: each worker on its own connection (a clone), the same
    fingerprints as one table at a time."""
    _project(tmp_path)
    _append(tmp_path, _rows(random.Random(3), 0, 2_000))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for i in range(5):
        conn.execute(f"CREATE TABLE raw.events_{i} AS SELECT * FROM raw.events "
                     f"WHERE id % {i + 2} = 0")
    conn.close()
    source = (tmp_path / "sources" / "raw.toml").read_text()
    columns = source[source.index("[tables.events.columns]"):].split("\n", 1)[1]
    (tmp_path / "sources" / "raw.toml").write_text(source + "".join(
        f"\n[tables.events_{i}.columns]\n{columns}" for i in range(5)))
    clones: list[int] = []
    real_clone = DuckDBAdapter.clone

    def counted(self: DuckDBAdapter) -> DuckDBAdapter:
        clones.append(1)
        return real_clone(self)

    monkeypatch.setattr(DuckDBAdapter, "clone", counted)
    config = tmp_path / "rocky.toml"
    base = config.read_text()
    stored = []
    for threads in (1, 3):
        config.write_text(base.replace("[drift]\n", f"[drift]\nthreads = {threads}\n"))
        clones.clear()
        assert _drift(tmp_path).changes == ()
        assert len(clones) == (0 if threads == 1 else 3)
        with DuckDBAdapter(tmp_path / "warehouse.duckdb", create=False) as adapter:
            from rocky_engine.drift import fingerprints

            stored.append(fingerprints.load(adapter))
    assert len(stored[0]) == 6 * 5 and stored[0] == stored[1]
