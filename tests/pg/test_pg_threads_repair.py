"""``rocky run --threads`` and ``rocky repair`` on a real PostgreSQL server.

Repair is validated in a local DuckDB sandbox (a sample of the upstream tables) or, with
``validate_on = "warehouse"``, on a branch schema in Postgres; either way the agent's
role needs no write access to prod, which the restricted-role test proves.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from intent_agent.repair import repair_project
from rocky_engine.context import Context
from rocky_engine.execution import api
from tests.conftest import PG_DSN_ENV, invoke_cli

_REPAIR = str(Path(__file__).resolve().parents[1] / "agent" / "repair")
if _REPAIR not in sys.path:
    sys.path.insert(0, _REPAIR)

from repair_helpers import git, make_repo

pytestmark = pytest.mark.slow

STAGING = ("stg_customers", "stg_orders", "stg_payments")
REBUILD = ("stg_orders", "stg_payments", "order_payments", "customers", "daily_revenue")
RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"
# Postgres refuses ALTER COLUMN TYPE under the prod views reading the column: an upstream
# loader that retypes replaces the table, which drops those views.
RETYPE = (
    "ALTER TABLE raw.payments RENAME TO payments_old",
    ("CREATE TABLE raw.payments AS SELECT id, order_id, method, CAST(amount AS VARCHAR) AS "
    "amount, paid_at FROM raw.payments_old"),
    "DROP TABLE raw.payments_old CASCADE",
)


def _sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for sql in statements:
            conn.execute(sql)


def _snapshot(dsn: str, schema: str = "main") -> dict[str, object]:
    """Every relation of ``schema``: kind, view definition or a digest of its rows."""
    out: dict[str, object] = {}
    with psycopg.connect(dsn) as conn:
        rels = conn.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'v') "
            "ORDER BY 1", [schema]).fetchall()
        for name, kind in rels:
            if kind == "v":
                (definition,) = conn.execute("SELECT pg_get_viewdef(%s::regclass)",
                                             [f'"{schema}"."{name}"']).fetchone()
                out[name] = ("view", definition)
            else:
                rows = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                out[name] = ("table", len(rows), digest)
    return out


def _schemas(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}


# ---------------------------------------------------------------------------- threads


def test_threads_overlap_on_postgres_with_the_same_results(pg_seeded_shop: Path) -> None:
    dsn = _dsn()
    spans: dict[str, tuple[float, float]] = {}
    guard = threading.Lock()

    def before(name: str) -> None:
        start = time.perf_counter()
        time.sleep(0.4 if name in STAGING else 0.0)
        with guard:
            spans[name] = (start, time.perf_counter())

    one = Context.load(pg_seeded_shop).run(threads=1)
    assert one.ok, one.summary()
    prod = _snapshot(dsn)
    ctx = Context.load(pg_seeded_shop)
    four = api.run(ctx, threads=3, before_each=before)  # type: ignore[arg-type]
    assert four.ok, four.summary()
    assert max(spans[n][0] for n in STAGING) < min(spans[n][1] for n in STAGING)
    assert spans["order_payments"][0] >= max(spans["stg_orders"][1], spans["stg_payments"][1])
    assert [(m.name, m.status, m.rows) for m in four.models] == \
        [(m.name, m.status, m.rows) for m in one.models]
    assert _snapshot(dsn) == prod
    with psycopg.connect(dsn) as conn:  # the writer lock is released, the run recorded
        assert conn.execute("SELECT count(*) FROM _rocky.lock").fetchone()[0] == 0
        status = conn.execute("SELECT status FROM _rocky.runs WHERE run_id = %s",
                              [four.run_id]).fetchone()
    assert status == ("success",)


def test_failure_skips_only_dependents_on_postgres(pg_seeded_shop: Path) -> None:
    assert Context.load(pg_seeded_shop).run().ok
    prod = _snapshot(_dsn())
    path = pg_seeded_shop / "models" / "order_payments.sql"
    path.write_text(path.read_text().replace(
        "o.status,", "o.status, CAST(o.status AS INTEGER) AS status_code,"))
    result = Context.load(pg_seeded_shop).run(threads=4)
    by = {m.name: m for m in result.models}
    assert by["order_payments"].status == "error"
    assert by["customers"].status == "skipped" and by["daily_revenue"].status == "skipped"
    assert {by[n].status for n in STAGING} == {"success"}
    assert [m.name for m in result.models] == list(result.selected)
    assert _snapshot(_dsn()) == prod


def test_rebuilds_sharing_a_dependant_view_never_deadlock(
        tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Postgres drops and re-creates the views over a replaced table: two tables read by
    # one view, rebuilt at once, would each lock the view and the other's table
    # ("deadlock detected", "could not open relation with OID ..."). The scheduler keeps
    # such builds apart.
    monkeypatch.setenv(PG_DSN_ENV, pg_dsn)
    _sql(pg_dsn, "CREATE SCHEMA raw", "CREATE TABLE raw.e AS SELECT g AS id, g % 10 AS v "
         "FROM generate_series(1, 5000) g")
    root = tmp_path / "p"
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text(f'[project]\nname = "p"\n\n[warehouse]\ntype = '
                                     f'"postgres"\ndsn_env = "{PG_DSN_ENV}"\nschema = "main"\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n[tables.e.columns]\nid = "INTEGER"\nv = "INTEGER"\n')
    for i in range(8):
        (root / "models" / f"t{i}.sql").write_text(f"SELECT id, v + {i} AS v FROM raw.e")
        (root / "models" / f"t{i}.toml").write_text('materialized = "table"\n')
    for i in range(4):
        (root / "models" / f"v{i}.sql").write_text(
            f"SELECT a.id, a.v + b.v AS v FROM t{2 * i} AS a JOIN t{2 * i + 1} AS b "
            "ON a.id = b.id")
    for i in range(5):  # the first run creates; the re-runs replace under the views
        if i == 2:  # views rocky does not know, over tables rebuilt at the same time
            _sql(pg_dsn, "CREATE SCHEMA reports",
                 "CREATE VIEW reports.a AS SELECT x.id FROM main.t2 x JOIN main.t4 y "
                 "USING (id) JOIN main.t6 z USING (id)",
                 "CREATE VIEW reports.b AS SELECT x.id FROM reports.a x JOIN main.t0 y "
                 "USING (id)")
        result = Context.load(root).run(threads=4)
        assert result.ok, [(m.name, m.error) for m in result.models if m.error]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM main.v3").fetchone() == (5000,)
        assert conn.execute("SELECT count(*) FROM reports.b").fetchone() == (5000,)


def test_a_second_writer_waits_for_a_parallel_run_on_postgres(pg_seeded_shop: Path) -> None:
    from rocky_engine.errors import LockTimeout

    refused: list[str] = []

    def before(name: str) -> None:
        if name == "stg_orders":
            other = Context.load(pg_seeded_shop)
            other.lock_timeout = 0.3
            with pytest.raises(LockTimeout) as info:
                other.run(["stg_customers"])
            refused.append(info.value.message)

    assert api.run(Context.load(pg_seeded_shop), threads=3,  # type: ignore[arg-type]
                   before_each=before).ok
    assert refused
    assert Context.load(pg_seeded_shop).run(["stg_customers"]).ok  # released afterwards


def test_branch_run_with_threads_on_postgres(pg_seeded_shop: Path) -> None:
    ctx = Context.load(pg_seeded_shop)
    assert ctx.run(threads=4).ok
    prod = _snapshot(_dsn())
    ctx.branch_create("par")
    result = ctx.run(branch="par", threads=4)
    assert result.ok, [(m.name, m.error) for m in result.models if m.error]
    info = {b.name: b for b in ctx.branch_list()}["par"]
    assert sorted(info.built) == sorted(result.selected)  # every build recorded
    assert _snapshot(_dsn()) == prod
    diff = ctx.branch_diff("par")
    assert {m.status for m in diff.models} == {"unchanged"}


def test_cli_threads_on_postgres(pg_seeded_shop: Path) -> None:
    r = invoke_cli("run", "--project", str(pg_seeded_shop), "--threads", "4",
                   "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["counts"]["success"] == 7
    assert [m["name"] for m in data["models"]] == data["selected"]


# ---------------------------------------------------------------------------- repair


def _dsn() -> str:
    import os

    return os.environ[PG_DSN_ENV]


def _built_repo(root: Path, validate_on: str = "sandbox") -> Path:
    config = root / "rocky.toml"
    config.write_text(config.read_text().replace(
        "[agent]", f'[agent]\nvalidate_on = "{validate_on}"'))
    (root / ".gitignore").write_text(".rocky/\ntarget/\n")
    result = Context.load(root).run()
    assert result.ok, result.summary()
    make_repo(root)
    return root


@pytest.mark.parametrize("validate_on", ["sandbox", "warehouse"])
def test_repair_rename_and_retype_on_postgres(pg_seeded_shop: Path, validate_on: str) -> None:
    root = _built_repo(pg_seeded_shop, validate_on)
    dsn = _dsn()
    _sql(dsn, RENAME, *RETYPE)
    prod = _snapshot(dsn)
    schemas = _schemas(dsn)
    result = repair_project(root, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    assert sorted(p.path for p in result.patches) == [
        "models/stg_orders.sql", "models/stg_payments.sql", "sources/raw.toml"]
    v = result.validation.to_json()
    assert v["ok"] and all(v[s]["ok"] for s in ("compile", "build", "tests", "data_diff"))
    diff = {m["model"]: m for m in v["data_diff"]["models"]}
    sql = git(root, "show", f"{result.commit}:models/stg_orders.sql")
    assert "total_amount AS amount" in sql
    assert "CAST(amount AS DECIMAL(10, 2))" in git(
        root, "show", f"{result.commit}:models/stg_payments.sql").replace("10,2", "10, 2")
    if validate_on == "sandbox":
        assert v["where"] == "sandbox"
        # A pure rename and a cast back: every rebuilt model equals what the unpatched
        # project gave on the same rows before the drift.
        assert {diff[n]["status"] for n in REBUILD} == {"unchanged"}
        assert {t["table"] for t in v["sandbox"]["tables"]} == {
            "raw.orders", "raw.payments", "raw.customers"}
        # The live schema, with Postgres's types in the project dialect's names.
        from rocky_engine.adapters.duckdb import DuckDBAdapter

        with DuckDBAdapter(v["sandbox"]["path"], read_only=True) as box:
            payments = {c.name: c.type for c in box.table("raw", "payments").columns}
            orders = {c.name: c.type for c in box.table("raw", "orders").columns}
        assert payments["amount"] == "VARCHAR" and payments["paid_at"] == "TIMESTAMP"
        assert orders["total_amount"] == "DECIMAL(10,2)" and orders["order_date"] == "DATE"
        assert _schemas(dsn) == schemas  # nothing created in the warehouse
    else:
        assert v["where"] == "warehouse branch"
        assert diff["customers"]["status"] == "unchanged"
        assert any(s.startswith("main__repair_") for s in _schemas(dsn))
    assert _snapshot(dsn) == prod


def _restricted_roles(server, db: str) -> str:
    """Prod owned by ``rocky_owner``; ``rocky_agent`` may read it and create schemas."""
    admin = server.dsn(db)
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in ("rocky_owner", "rocky_agent"):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                  [role]).fetchone()
            if not exists:
                conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT CREATE ON DATABASE "{db}" TO rocky_owner')
    return admin


def _grant_agent(admin: str, db: str, *, branch: bool = True, state: bool = True) -> None:
    """Read access to sources and prod; with ``branch`` (validate_on = "warehouse") also
    CREATE on the database (the branch schema) and writes to the ``_rocky`` state."""
    with psycopg.connect(admin, autocommit=True) as conn:
        for schema in ("raw", "main"):
            conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO rocky_agent")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO rocky_agent")
            # Tables the loader (or a prod run) creates later are readable too.
            conn.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE rocky_owner IN SCHEMA {schema} "
                         "GRANT SELECT ON TABLES TO rocky_agent")
        if not branch:
            return
        conn.execute(f'GRANT CREATE ON DATABASE "{db}" TO rocky_agent')
        if not state:
            return
        # The state schema: run history, branches and the writer lock.
        conn.execute("GRANT USAGE ON SCHEMA _rocky TO rocky_agent")
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA _rocky "
                     "TO rocky_agent")


@pytest.mark.parametrize("validate_on", ["sandbox", "warehouse"])
def test_restricted_role_proves_prod_is_never_written(
        pg_server, pg_shop: Path, validate_on: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _dsn().split("dbname=")[1].split()[0]
    admin = _restricted_roles(pg_server, db)
    # Prod is built by its owner.
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user="rocky_owner"))
    Context.load(pg_shop).seed()
    root = _built_repo(pg_shop, validate_on)
    # The sandbox needs read access only: no CREATE anywhere, no write to _rocky.
    _grant_agent(admin, db, branch=validate_on == "warehouse")
    _sql(pg_server.dsn(db, user="rocky_owner"), RENAME, *RETYPE)
    prod = _snapshot(admin)
    raw = _snapshot(admin, "raw")
    # The agent connects as the restricted role: it cannot write prod at all ...
    agent = pg_server.dsn(db, user="rocky_agent")
    forbidden = ["CREATE TABLE main.intruder (x int)", "DROP VIEW main.stg_orders",
                 "DELETE FROM main.customers", "ALTER TABLE raw.orders ADD COLUMN x int"]
    if validate_on == "sandbox":
        forbidden += ["CREATE SCHEMA main__anything", "DELETE FROM _rocky.runs"]
    for stmt in forbidden:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), psycopg.connect(agent) as c:
            c.execute(stmt)
    # ... and still repairs and validates.
    monkeypatch.setenv(PG_DSN_ENV, agent)
    result = repair_project(root, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    assert result.validation.where == ("sandbox" if validate_on == "sandbox"
                                       else "warehouse branch")
    assert _snapshot(admin) == prod and _snapshot(admin, "raw") == raw


def test_agent_without_read_access_is_a_clear_error(pg_server, pg_shop: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    db = _dsn().split("dbname=")[1].split()[0]
    admin = _restricted_roles(pg_server, db)
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user="rocky_owner"))
    Context.load(pg_shop).seed()
    root = _built_repo(pg_shop)
    _grant_agent(admin, db)
    _sql(pg_server.dsn(db, user="rocky_owner"), RENAME,
         "REVOKE SELECT ON raw.customers FROM rocky_agent")
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user="rocky_agent"))
    r = invoke_cli("repair", "--project", str(root), "--format", "json")
    assert r.exit_code == 2, r.output
    error = json.loads(r.stdout)["error"]
    assert "raw.customers" in error["message"] and "permission denied" in error["message"]
    assert "SELECT on the source tables" in error["hint"]
    r = invoke_cli("repair", "--project", str(root))
    assert r.exit_code == 2 and "Traceback" not in r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and "raw.customers" in errors[0], r.stderr
    assert "permission denied" in errors[0]
    assert not (root / ".git" / "refs" / "heads" / "rocky").exists()  # nothing committed


@pytest.mark.parametrize("grants,needle", [
    ({"branch": False}, "the schema for the validation branch"),
    ({"branch": True, "state": False}, "the _rocky state tables"),
])
def test_warehouse_validation_without_the_grants_is_a_clear_error(
        pg_server, pg_shop: Path, monkeypatch: pytest.MonkeyPatch, grants: dict[str, bool],
        needle: str) -> None:
    db = _dsn().split("dbname=")[1].split()[0]
    admin = _restricted_roles(pg_server, db)
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user="rocky_owner"))
    Context.load(pg_shop).seed()
    root = _built_repo(pg_shop, "warehouse")
    _grant_agent(admin, db, **grants)
    _sql(pg_server.dsn(db, user="rocky_owner"), RENAME)
    prod = _snapshot(admin)
    schemas = _schemas(admin)
    monkeypatch.setenv(PG_DSN_ENV, pg_server.dsn(db, user="rocky_agent"))
    r = invoke_cli("repair", "--project", str(root))
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and "permission denied" in errors[0], r.stderr
    assert needle in errors[0] and 'validate_on = "sandbox"' in r.stderr
    assert _snapshot(admin) == prod and _schemas(admin) == schemas  # the probe left nothing
