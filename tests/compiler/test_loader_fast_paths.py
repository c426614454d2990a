"""Loader fast paths added for 10,000-model projects never change what is loaded or reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocky_engine.errors import ProjectLoadError
from rocky_engine.project import _obviously_one_statement, _TomlCache, load_project


@pytest.mark.parametrize("sql,one", [
    ("SELECT 1", True), ("SELECT 1;", True), ("SELECT 1;\n-- end\n", True),
    ("-- note\nSELECT 1", True), ("", False), ("  \n", False), (";", False), ("-- c", False),
    ("/* only */", False), ("SELECT 1; SELECT 2", False), ("SELECT ';'", False),
    ("SELECT 1 -- a;", False),
])
def test_obviously_one_statement_is_conservative(sql: str, one: bool) -> None:
    assert _obviously_one_statement(sql) is one


@pytest.mark.parametrize("sql,message,line", [
    ("-- nothing here\n/* nor here */\n", "model file is empty", 1),
    ("SELECT 1;\n\nSELECT 2;\n", "holds 2 statements", 3),
    ("SELECT ';' AS semi;\nSELECT 2\n", "holds 2 statements", 2),
])
def test_statement_errors_survive_the_fast_path(tmp_path: Path, sql: str, message: str,
                                                line: int) -> None:
    (tmp_path / "rocky.toml").write_text('[project]\nname = "p"\n')
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.sql").write_text(sql)
    with pytest.raises(ProjectLoadError) as info:
        load_project(tmp_path)
    assert message in info.value.message
    assert info.value.location is not None and info.value.location.line == line


def _big_project(root: Path, n: int = _TomlCache.MIN_FILES + 5) -> Path:
    (root / "rocky.toml").write_text('[project]\nname = "p"\n')
    (root / "models" / "sub").mkdir(parents=True)
    for i in range(n):
        folder = root / "models" / ("sub" if i % 2 else "")
        (folder / f"m{i:03d}.sql").write_text(f"SELECT {i} AS x\n")
        (folder / f"m{i:03d}.toml").write_text(f'materialized = "table"\nintent = "model {i}"\n')
    return root


def test_sidecars_of_a_big_project_are_cached_and_never_stale(tmp_path: Path) -> None:
    root = _big_project(tmp_path)
    first = load_project(root)
    assert (root / "target" / "rocky_load.cache").is_file()
    again = load_project(root)
    assert again.models == first.models
    assert again.models["m001"].path == "models/sub/m001.sql"
    assert again.models["m001"].sidecar_path == "models/sub/m001.toml"
    (root / "models" / "m000.toml").write_text('materialized = "view"\nintent = "changed"\n')
    edited = load_project(root)
    assert edited.models["m000"].materialized == "view"
    assert edited.models["m000"].sidecar.intent.purpose == "changed"  # type: ignore[union-attr]
    (root / "models" / "m000.toml").write_text('materialized = "tabel"\n')
    with pytest.raises(ProjectLoadError) as info:
        load_project(root)
    assert info.value.location is not None
    assert info.value.location.file == "models/m000.toml" and info.value.location.line == 1


def test_small_projects_write_no_load_cache(tmp_path: Path) -> None:
    root = _big_project(tmp_path, n=3)
    load_project(root)
    assert not (root / "target").exists()


def test_model_order_matches_sorted_paths(tmp_path: Path) -> None:
    root = _big_project(tmp_path, n=6)
    paths = [m.path for m in load_project(root).models.values()]
    assert paths == sorted(paths, key=lambda p: p.split("/"))
