"""The project loader: good projects load typed; each bad input is one clear line, exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rocky_engine import ProjectLoadError, load_project
from rocky_engine.config import AcceptedValuesTest, UniqueTest

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"

# fixture folder -> (rendered location prefix, words the message must contain)
BAD = {
    "bad_toml_syntax": ("rocky.toml:2:13", "invalid TOML"),
    "bad_unknown_key": ("rocky.toml:3", "unknown key `project.dialekt` — did you mean `dialect`?"),
    "bad_wrong_type": ("rocky.toml:5", "invalid value for `agent.max_rounds`"),
    "bad_missing_name": ("rocky.toml", "missing required key `project.name`"),
    "bad_unknown_dialect": ("rocky.toml:3", "unknown SQL dialect 'cobol'"),
    "bad_sidecar_key": ("models/stg_orders.toml:5", "unknown key `tests.0.colum`"),
    "bad_materialized": ("models/stg_orders.toml:1", "invalid value for `materialized`"),
    "bad_test_type": ("models/stg_orders.toml:2", "unknown kind 'is_positive'"),
    "bad_source_type": ("sources/raw.toml:4", "unknown type 'INTEGR(('"),
    "bad_source_unknown_key": ("sources/raw.toml:4", "unknown key `tables.orders.descripton`"),
    "bad_empty_model": ("models/stg_orders.sql:1", "model file is empty"),
    "bad_two_statements": ("models/stg_orders.sql:3", "holds 2 statements"),
    "bad_orphan_sidecar": ("models/orders_mart.toml", "sidecar has no model"),
    "bad_duplicate_model": ("models/stg_orders.sql", "duplicate model name `stg_orders`"),
    "bad_model_name": ("models/2024-orders.sql", "not a plain identifier"),
    "bad_no_config": ("", "no rocky.toml found"),
}


def test_every_bad_fixture_is_covered() -> None:
    folders = {p.name for p in PROJECTS.iterdir() if p.name.startswith("bad_")}
    assert folders == set(BAD)


def test_good_project_loads_typed() -> None:
    project = load_project(PROJECTS / "good")
    assert project.name == "mini"
    model = project.models["stg_orders"]
    assert model.sidecar.intent is not None
    assert model.sidecar.intent.purpose == "One row per order."  # short form
    assert project.sources["raw.orders"].column("amount").type == "DECIMAL(10,2)"  # type: ignore[union-attr]


def test_example_project_loads(shop: Path) -> None:
    project = load_project(shop)
    assert set(project.models) == {
        "stg_customers", "stg_orders", "stg_payments", "order_payments", "customers",
        "daily_revenue", "payment_log",
    }
    for model in project.models.values():
        assert model.sidecar.intent is not None and model.sidecar.intent.grain, model.name
    tests = project.models["stg_orders"].sidecar.tests
    assert any(isinstance(t, AcceptedValuesTest) for t in tests)
    assert any(isinstance(t, UniqueTest) and t.key == ["order_id"] for t in tests)
    assert project.models["customers"].sidecar.unit_tests[0].expect


@pytest.mark.parametrize("folder", sorted(BAD))
def test_bad_project_error(folder: str) -> None:
    where, words = BAD[folder]
    with pytest.raises(ProjectLoadError) as info:
        load_project(PROJECTS / folder)
    rendered = info.value.render()
    assert rendered.startswith(where + (":" if where else "")), rendered
    assert words in rendered
    assert "\n" not in rendered


@pytest.mark.parametrize("folder", sorted(BAD))
def test_bad_project_cli_one_line_exit_2(folder: str, run_cli, tmp_path: Path) -> None:
    target = tmp_path / folder
    shutil.copytree(PROJECTS / folder, target)
    result = run_cli("seed", "--project", str(target))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert BAD[folder][1] in lines[0]


def test_bad_project_json_error(run_cli, tmp_path: Path) -> None:
    import json

    target = tmp_path / "p"
    shutil.copytree(PROJECTS / "bad_sidecar_key", target)
    result = run_cli("seed", "--project", str(target), "--format", "json")
    assert result.exit_code == 2
    err = json.loads(result.stdout)["error"]
    assert err["file"] == "models/stg_orders.toml" and err["line"] == 5


def test_debug_shows_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    target = tmp_path / "p"
    shutil.copytree(PROJECTS / "bad_unknown_key", target)
    cmd = [sys.executable, "-m", "rocky_engine", "seed", "--project", str(target)]
    plain = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = subprocess.run(cmd + ["--debug"], check=False, capture_output=True, text=True)
    assert "Traceback" in debug.stderr


def test_non_utf8_model(tmp_path: Path) -> None:
    target = tmp_path / "p"
    shutil.copytree(PROJECTS / "good", target)
    (target / "models" / "stg_orders.sql").write_bytes(b"SELECT '\xff' AS x\n")
    with pytest.raises(ProjectLoadError, match="not valid UTF-8"):
        load_project(target)
