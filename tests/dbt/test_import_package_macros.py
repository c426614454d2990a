"""`rocky import dbt` on a project whose installed package is written the way real packages
(dbt_utils) are: fixtures/dbt/kit with its `toolkit` package (written for these tests).

Both paths are checked with `--verify` against the pinned real dbt: every model the Jinja path
imports builds the same rows as dbt's; what needs the warehouse while compiling is refused with
a reason naming the macro the model called.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rocky_engine.importers.dbt import import_dbt
from tests.conftest import FIXTURES
from tests.dbt.conftest import _LOCAL, dbt_ok

KIT = FIXTURES / "dbt" / "kit"
IMPORTED = {"accounts_slim", "cross_db", "visit_days", "visits_keyed", "visits_wide"}
REFUSED = {"crm_accounts", "page_counts"}


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    root = tmp_path / "kit"
    shutil.copytree(KIT, root, ignore=_LOCAL)
    return root


def _verdicts(report: object) -> dict[str, tuple[str, str, str | None]]:
    return {m.name: (m.status, m.verify or "", m.notes[0] if m.notes else None)
            for m in report.models}  # type: ignore[attr-defined]


@pytest.mark.slow
def test_jinja_path_with_dbt_macros_verifies_equal(kit: Path, tmp_path: Path, dbt_exe: Path,
                                                   ) -> None:
    report = import_dbt(kit, tmp_path / "out", jinja=True, verify=True,
                        dbt_executable=str(dbt_exe))
    got = _verdicts(report)
    assert {n for n, v in got.items() if v[0] == "imported"} == IMPORTED
    assert {n for n, v in got.items() if v[0] == "refused"} == REFUSED
    for name in IMPORTED:
        assert got[name][1] == "equal", (name, got[name])
    # The reasons name the package macro the model called and what it asked the warehouse.
    crm = got["crm_accounts"][2] or ""
    assert crm.startswith("toolkit.select_except") and "source crm.accounts" in crm
    pages = got["page_counts"][2] or ""
    assert pages.startswith("toolkit.distinct_values") and "run_query" in pages
    assert any("dbt's own macros (dbt.*) were read from dbt-core" in n for n in report.notes)
    keyed = (tmp_path / "out" / "models" / "visits_keyed.sql").read_text()
    assert "UPPER(page)" in keyed  # the root project's duckdb__label beats the package's
    assert "'(none)'" in keyed  # the project's scoped var, read inside the package macro
    assert "AS DATE) AS follow_up" in keyed  # duckdb__shift_days, not default__
    # date_range's statement ran in a scratch DuckDB: five days, 2024-03-01 .. 03-05.
    assert (tmp_path / "out" / "models" / "visit_days.sql").read_text().count("UNION ALL") == 4


@pytest.mark.slow
def test_jinja_path_with_rockys_own_cross_db_macros_verifies_equal(
        kit: Path, tmp_path: Path, dbt_exe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No dbt installation to read dbt.* from: rocky's own set renders them, and the rows
    # still match what dbt (with its real macros) builds.
    monkeypatch.setattr("rocky_engine.importers.dbt._jinja.find_dbt_macros",
                        lambda *_a, **_k: None)
    report = import_dbt(kit, tmp_path / "out", jinja=True, verify=True,
                        dbt_executable=str(dbt_exe))
    got = _verdicts(report)
    assert {n for n, v in got.items() if v[0] == "imported"} == IMPORTED
    for name in IMPORTED:
        assert got[name][1] == "equal", (name, got[name])
    assert any("rocky's own set" in n for n in report.notes)


@pytest.mark.slow
def test_manifest_path_imports_and_verifies_every_model(kit: Path, tmp_path: Path,
                                                        dbt_exe: Path) -> None:
    # page_counts and crm_accounts read the warehouse while compiling: they need its tables,
    # as a user's `dbt compile` against their warehouse has them. `dbt run` leaves the same
    # manifest (compiled SQL included) as `dbt compile` would after it.
    dbt_ok(["seed"], kit)
    dbt_ok(["run"], kit)
    assert '"compiled_code"' in (kit / "target" / "manifest.json").read_text()
    report = import_dbt(kit, tmp_path / "out", verify=True, dbt_executable=str(dbt_exe))
    got = _verdicts(report)
    assert {n for n, v in got.items() if v[0] == "imported"} == IMPORTED | REFUSED
    for name in IMPORTED | REFUSED:
        assert got[name][1] == "equal", (name, got[name])


def test_rendering_errors_name_the_macro_chain(kit: Path, tmp_path: Path) -> None:
    # A package macro that fails (load_relation needs the warehouse) is named, outermost first.
    (kit / "dbt_packages" / "toolkit" / "macros" / "exists.sql").write_text(
        "{% macro if_exists(rel) %}{{ return(toolkit._probe(rel)) }}{% endmacro %}\n"
        "{% macro _probe(rel) %}{{ return(load_relation(rel) is not none) }}{% endmacro %}\n")
    (kit / "models" / "probe.sql").write_text(
        "select {{ toolkit.if_exists(ref('raw_visits')) }} as here")
    (kit / "models" / "spine_now.sql").write_text(
        "{{ toolkit.day_range(\"cast('2024-03-01' as date)\", 'current_date') }}")
    report = import_dbt(kit, tmp_path / "out", jinja=True, dbt_executable="/nonexistent/dbt")
    got = _verdicts(report)
    probe = got["probe"][2] or ""
    assert probe.startswith("toolkit.if_exists (via toolkit._probe): calls load_relation")
    spine = got["spine_now"][2] or ""
    assert spine.startswith("toolkit.day_range (via toolkit.day_count)")
    assert "depends on when it runs" in spine and "CURRENT_DATE" in spine
    assert got["visits_keyed"][0] == "imported"
