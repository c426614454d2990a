"""Bad input to `rocky import dbt`: one clear line, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke_cli


def _dbt_dir(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: p\nconfig-version: 2\nprofile: p\n")
    (root / "models" / "a.sql").write_text("select 1 as x\n")
    return root


def _bad(args: list[str], dest: Path, *needles: str) -> None:
    res = invoke_cli("import", "dbt", *args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    assert not dest.exists()


def test_not_a_dbt_project(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _bad([str(tmp_path / "empty"), str(tmp_path / "o")], tmp_path / "o",
         "is not a dbt project (no dbt_project.yml)")


def test_missing_folder(tmp_path: Path) -> None:
    _bad([str(tmp_path / "nowhere"), str(tmp_path / "o")], tmp_path / "o", "is not a folder")


def test_invalid_dbt_project_yaml(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    (root / "dbt_project.yml").write_text("name: p\nmodels:\n  - [unclosed\n")
    _bad([str(root), str(tmp_path / "o")], tmp_path / "o", "dbt_project.yml:", "invalid YAML")


def test_invalid_schema_yaml_names_the_file(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    (root / "models" / "schema.yml").write_text("version: 2\nmodels:\n  - name: a\n  bad: [\n")
    _bad([str(root), str(tmp_path / "o")], tmp_path / "o", "models/schema.yml:", "invalid YAML")


@pytest.mark.parametrize("content,needle", [
    ("{not json", "unreadable manifest"),
    ('{"nodes": {}}', "not a dbt manifest"),
    (json.dumps({"metadata": {"dbt_schema_version":
                              "https://schemas.getdbt.com/dbt/manifest/v10.json",
                              "dbt_version": "1.6.0"}, "nodes": {}, "sources": {}}),
     "manifest schema v10 (dbt 1.6.0) is not supported"),
])
def test_bad_manifest(tmp_path: Path, content: str, needle: str) -> None:
    root = _dbt_dir(tmp_path / "p")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    _bad([str(root), str(tmp_path / "o"), "--manifest", str(manifest)], tmp_path / "o", needle)


def test_missing_manifest(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    _bad([str(root), str(tmp_path / "o"), "--manifest", str(tmp_path / "none.json")],
         tmp_path / "o", "manifest not found", "dbt compile")


def test_manifest_and_jinja_exclude_each_other(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    _bad([str(root), str(tmp_path / "o"), "--manifest", "x.json", "--jinja"], tmp_path / "o",
         "exclude each other")


def test_verify_without_dbt(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    _bad([str(root), str(tmp_path / "o"), "--verify", "--dbt", str(tmp_path / "no-dbt")],
         tmp_path / "o", "--verify needs dbt")


def test_dest_not_empty(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    dest = tmp_path / "o"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    res = invoke_cli("import", "dbt", str(root), str(dest), "--force")
    assert res.exit_code == 2 and "not an earlier import" in res.stderr
    assert (dest / "keep.txt").read_text() == "mine" and len(list(dest.iterdir())) == 1


def test_json_error_document(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = invoke_cli("import", "dbt", str(tmp_path / "empty"), "--format", "json")
    assert res.exit_code == 2
    assert json.loads(res.stdout)["error"]["code"] == "R001"


def test_clean_import_exits_0(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    res = invoke_cli("import", "dbt", str(root), str(tmp_path / "o"), "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"] is True and out["models"][0]["status"] == "imported"


def test_model_not_utf8(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    (root / "models" / "b.sql").write_bytes(b"select '\xff\xfe' as x")
    _bad([str(root), str(tmp_path / "o")], tmp_path / "o", "models/b.sql:", "cannot read")


def test_manifest_with_unexpected_shape(tmp_path: Path) -> None:
    root = _dbt_dir(tmp_path / "p")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"},
        "nodes": {"model.p.a": {"resource_type": "model"}}, "sources": {}}))
    _bad([str(root), str(tmp_path / "o"), "--manifest", str(manifest)], tmp_path / "o",
         "unexpected shape")
