"""``rocky run --threads N``: independent models really build at once, with the same
results, statuses, order and bookkeeping as one thread."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import ClassVar

from rocky_engine.adapters.duckdb import DuckDBAdapter
from rocky_engine.console import SilentConsole
from rocky_engine.execution import api
from rocky_engine.execution.state import current_holder, run_history

from .conftest import make_ctx, snapshot, write_model
from .test_run import _break_order_payments

STAGING = ("stg_customers", "stg_orders", "stg_payments")


def _timed(delay: dict[str, float]) -> tuple[dict[str, tuple[float, float]], object]:
    spans: dict[str, tuple[float, float]] = {}
    guard = threading.Lock()

    def before(name: str) -> None:
        start = time.perf_counter()
        time.sleep(delay.get(name, 0.0))
        with guard:
            spans[name] = (start, time.perf_counter())

    return spans, before


def test_independent_models_overlap_in_time(seeded_shop: Path) -> None:
    ctx = make_ctx(seeded_shop)
    spans, before = _timed(dict.fromkeys(STAGING, 0.4))
    result = api.run(ctx, threads=3, before_each=before)  # type: ignore[arg-type]
    assert result.ok, result.summary()
    # The three staging models (no parents among each other) were in flight together.
    assert max(spans[n][0] for n in STAGING) < min(spans[n][1] for n in STAGING)
    # order_payments waits for its parents: it starts after both have been built.
    assert spans["order_payments"][0] >= max(spans["stg_orders"][1], spans["stg_payments"][1])
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        assert current_holder(a) is None  # the writer lock is released
        history = run_history(a)
    assert history[0].run_id == result.run_id and history[0].status == "success"


def test_sequential_run_does_not_overlap(seeded_shop: Path) -> None:
    # The control: without threads the same delays add up, so the test above can fail.
    spans, before = _timed(dict.fromkeys(STAGING, 0.2))
    assert api.run(make_ctx(seeded_shop), threads=1, before_each=before).ok  # type: ignore[arg-type]
    ordered = sorted(spans[n] for n in STAGING)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ordered))


def test_config_threads_is_the_default(seeded_shop: Path) -> None:
    toml = seeded_shop / "rocky.toml"
    toml.write_text(toml.read_text().replace('schema = "main"', 'schema = "main"\nthreads = 3'))
    spans, before = _timed(dict.fromkeys(STAGING, 0.4))
    assert api.run(make_ctx(seeded_shop), before_each=before).ok  # type: ignore[arg-type]
    assert max(spans[n][0] for n in STAGING) < min(spans[n][1] for n in STAGING)


def test_same_results_and_order_as_one_thread(tmp_path: Path, seeded_shop: Path) -> None:
    import shutil

    twin = tmp_path / "twin"
    shutil.copytree(seeded_shop, twin)
    # A wider project: six independent tables beside the shop's DAG.
    for root in (seeded_shop, twin):
        for i in range(6):
            write_model(root, f"wide_{i}", f"SELECT id, amount * {i} AS x FROM raw.orders",
                        'materialized = "table"\n')
    one_console, four_console = SilentConsole(), SilentConsole()
    one = make_ctx(seeded_shop, console=one_console).run(threads=1)
    four = make_ctx(twin, console=four_console).run(threads=4)
    assert one.ok and four.ok
    assert one.selected == four.selected
    strip = [(m.name, m.status, m.materialized, m.rows) for m in one.models]
    assert strip == [(m.name, m.status, m.materialized, m.rows) for m in four.models]
    assert snapshot(seeded_shop) == snapshot(twin)

    def lines(console: SilentConsole) -> list[str]:
        return [e[1].split()[1] for e in console.events if e[0] == "line"]

    assert lines(one_console) == lines(four_console) == list(one.selected)


def test_failure_skips_only_dependents(built_shop: Path) -> None:
    before = snapshot(built_shop)
    _break_order_payments(built_shop)
    result = make_ctx(built_shop).run(threads=4)
    assert not result.ok
    by = {m.name: m for m in result.models}
    assert by["order_payments"].status == "error"
    assert by["customers"].status == "skipped" and by["daily_revenue"].status == "skipped"
    assert by["customers"].skipped_because == "order_payments"
    assert {by[n].status for n in STAGING} == {"success"}
    assert [m.name for m in result.models] == list(result.selected)
    assert snapshot(built_shop) == before  # the failed rebuild left prod intact
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert current_holder(a) is None
        assert run_history(a)[0].status == "error"


def test_unexpected_error_in_a_worker_stops_the_run_and_releases_the_lock(
        seeded_shop: Path) -> None:
    import pytest

    def before(name: str) -> None:
        if name == "stg_orders":
            raise RuntimeError("boom")
        time.sleep(0.1)

    with pytest.raises(RuntimeError, match="boom"):
        api.run(make_ctx(seeded_shop), threads=3, before_each=before)
    with DuckDBAdapter(seeded_shop / "warehouse.duckdb") as a:
        assert current_holder(a) is None
        assert run_history(a)[0].status == "error"
        # Nothing that depends on the failed model was started.
        assert "order_payments" not in a.relations("main")


def test_branch_run_with_threads_records_every_model(built_shop: Path) -> None:
    ctx = make_ctx(built_shop)
    ctx.branch_create("par")
    result = ctx.run(branch="par", threads=4)
    assert result.ok
    info = {b.name: b for b in ctx.branch_list()}["par"]
    assert sorted(info.built) == sorted(result.selected)
    with DuckDBAdapter(built_shop / "warehouse.duckdb") as a:
        assert a.row_count("main__par", "customers") == a.row_count("main", "customers")


def test_cli_threads(seeded_shop: Path, run_cli) -> None:
    r = run_cli("run", "--project", str(seeded_shop), "--threads", "4", "--format", "json")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["counts"]["success"] == 7
    assert [m["name"] for m in payload["models"]] == payload["selected"]
    assert all({"name", "status", "materialized", "rows", "seconds"} <= set(m)
               for m in payload["models"])
    r = run_cli("run", "--project", str(seeded_shop), "--threads", "0")
    assert r.exit_code == 2 and "--threads" in r.output and "Traceback" not in r.output
    toml = seeded_shop / "rocky.toml"
    toml.write_text(toml.read_text().replace('schema = "main"', 'schema = "main"\nthreads = 0'))
    r = run_cli("run", "--project", str(seeded_shop))
    assert r.exit_code == 2 and "threads" in r.output and "Traceback" not in r.output


def test_a_build_rolled_back_by_a_deadlock_is_tried_again(seeded_shop: Path) -> None:
    from rocky_engine.errors import WarehouseError
    from rocky_engine.execution.plan import build_plan
    from rocky_engine.execution.runner import run_plan

    class DeadlockOnce(DuckDBAdapter):
        failed: ClassVar[set[str]] = set()

        def create_table_as(self, schema, name, query, *, replace=False):  # type: ignore[no-untyped-def]
            if name not in self.failed:
                self.failed.add(name)
                exc = WarehouseError("deadlock detected")
                exc.sqlstate = "40P01"  # type: ignore[attr-defined]
                raise exc
            return super().create_table_as(schema, name, query, replace=replace)

        def clone(self) -> DuckDBAdapter:
            twin = super().clone()
            twin.__class__ = DeadlockOnce
            return twin

    project = make_ctx(seeded_shop).project
    with DeadlockOnce(seeded_shop / "warehouse.duckdb") as adapter:
        for threads in (1, 4):
            DeadlockOnce.failed = set()
            result = run_plan(project, adapter, build_plan(project), threads=threads)
            assert result.ok, [(m.name, m.error) for m in result.models if m.error]
            # payment_log: its full build, then (a later run) its incremental batch table.
            assert {n.removesuffix("__rocky_batch") for n in DeadlockOnce.failed} == {
                "order_payments", "customers", "payment_log"}


def test_a_second_writer_waits_for_a_parallel_run(seeded_shop: Path) -> None:
    import pytest

    from rocky_engine.errors import LockTimeout

    seen: list[str] = []

    def before(name: str) -> None:
        if name == "stg_orders":
            other = make_ctx(seeded_shop)
            other.lock_timeout = 0.3
            with pytest.raises(LockTimeout) as info:
                other.run(["stg_customers"])
            seen.append(info.value.message)
        time.sleep(0.05)

    assert api.run(make_ctx(seeded_shop), threads=3, before_each=before).ok  # type: ignore[arg-type]
    assert seen and "being written by" in seen[0]


def test_builds_rewriting_the_same_view_never_overlap(seeded_shop: Path) -> None:
    from rocky_engine.execution.plan import build_plan
    from rocky_engine.execution.runner import run_plan

    class SharedView(DuckDBAdapter):
        # As Postgres reports it: one view (outside the project) reads both tables.
        def view_dependants(self) -> dict[tuple[str, str], set[tuple[str, str]]]:
            return {("main", "stg_orders"): {("reports", "x")},
                    ("main", "stg_payments"): {("reports", "x")},
                    ("reports", "x"): {("reports", "y")}}

    spans, before = _timed(dict.fromkeys(STAGING, 0.3))
    project = make_ctx(seeded_shop).project
    with SharedView(seeded_shop / "warehouse.duckdb") as adapter:
        result = run_plan(project, adapter, build_plan(project), threads=3,
                          before_each=before)  # type: ignore[arg-type]
    assert result.ok
    a, b, c = spans["stg_orders"], spans["stg_payments"], spans["stg_customers"]
    assert a[1] <= b[0] or b[1] <= a[0]  # kept apart
    # ... while the unrelated model ran beside one of them.
    assert (c[0] < a[1] and a[0] < c[1]) or (c[0] < b[1] and b[0] < c[1])
