"""The loader's per-file cache (``target/rocky_load.cache``) is never stale.

Unchanged files of a big project are not even opened; anything whose stat signature changed,
or that changed too recently to trust its timestamp, is read again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import rocky_engine.project as project_mod
from rocky_engine.errors import ProjectLoadError
from rocky_engine.project import load_project
from tests.perf.test_lazy_cli import _project

HOUR_AGO = time.time() - 3600


def _age(root: Path) -> None:
    """Make every file look untouched for an hour (so the cache may trust its stat)."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (HOUR_AGO, HOUR_AGO))


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads happen 10 s after the files were last touched (os.utime sets ctime to now)."""
    monkeypatch.setattr(project_mod._LoadCache, "_clock",
                        staticmethod(lambda: time.time_ns() + 10_000_000_000))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = project_mod._read_sql

    def counting(rel: str, full: str) -> str:
        seen.append(rel)
        return real(rel, full)

    monkeypatch.setattr(project_mod, "_read_sql", counting)
    return seen


def test_unchanged_old_files_are_not_read(tmp_path: Path, reads: list[str],
                                          later: None) -> None:
    root = _age_project(tmp_path)
    first = load_project(root)
    assert len(reads) == 60 and (root / "target" / "rocky_load.cache").is_file()
    reads.clear()
    again = load_project(root)
    assert reads == []
    assert again.models == first.models and again.sources == first.sources
    assert again.config == first.config


def _age_project(tmp_path: Path) -> Path:
    root = _project(tmp_path / "p")
    _age(root)
    return root


def test_same_size_edit_with_restored_mtime_is_seen(tmp_path: Path, reads: list[str],
                                                    later: None) -> None:
    root = _age_project(tmp_path)
    load_project(root)
    path = root / "models" / "m005.sql"
    old = path.read_text()
    new = old.replace("amount + 5", "amount - 5")
    assert len(new) == len(old)
    path.write_text(new)
    os.utime(path, (HOUR_AGO, HOUR_AGO))  # same size, same mtime: only ctime tells
    reads.clear()
    assert load_project(root).models["m005"].sql == new
    assert reads == ["models/m005.sql"]


def test_recently_changed_files_are_always_read(tmp_path: Path, reads: list[str]) -> None:
    root = _project(tmp_path / "p")  # files written just now: their stat cannot be trusted
    load_project(root)
    reads.clear()
    load_project(root)
    assert len(reads) == 60


def test_added_deleted_and_renamed_models(tmp_path: Path, later: None) -> None:
    root = _age_project(tmp_path)
    load_project(root)
    (root / "models" / "m059.sql").unlink()
    (root / "models" / "m058.sql").rename(root / "models" / "renamed.sql")
    (root / "models" / "extra.sql").write_text("SELECT 1 AS x\n")
    models = load_project(root).models
    assert "m059" not in models and "m058" not in models
    assert models["renamed"].sql.startswith("SELECT id, amount + 58")
    assert models["extra"].sql == "SELECT 1 AS x\n"


def test_sidecar_sources_and_config_edits_are_seen_and_errors_never_cached(
        tmp_path: Path, later: None) -> None:
    root = _age_project(tmp_path)
    load_project(root)
    sidecar = root / "models" / "m001.toml"
    sidecar.write_text('[columns.id]\ntype = "BIGINT"\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n[tables.t.columns]\nid = "BIGINT"\namount = "DECIMAL(10,2)"\n')
    (root / "rocky.toml").write_text('[project]\nname = "renamed"\ndialect = "duckdb"\n')
    project = load_project(root)
    assert project.models["m001"].sidecar.columns["id"].type == "BIGINT"
    assert project.sources["raw.t"].columns[0].type == "BIGINT"
    assert project.name == "renamed"
    sidecar.write_text('materialized = "tabel"\n')
    for _ in range(2):  # the error is reported every time, never remembered as a result
        with pytest.raises(ProjectLoadError) as info:
            load_project(root)
        assert info.value.location is not None and info.value.location.file == "models/m001.toml"
    sidecar.write_text('materialized = "view"\n')
    assert load_project(root).models["m001"].materialized == "view"


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    root = _age_project(tmp_path)
    first = load_project(root)
    (root / "target" / "rocky_load.cache").write_bytes(b"not a pickle")
    assert load_project(root).models == first.models
