"""A generated 50-model dbt project (bench/gen_project.py's dbt twin, with seeds): both
paths give the same project and `--verify` finds every model equal to dbt's build."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, invoke_cli
from tests.dbt.conftest import dbt_ok

sys.path.insert(0, str(REPO / "bench"))
from gen_project import generate, write_dbt_twin

# The first test to need dbt installs it (a minute or two on a fresh machine).
pytestmark = pytest.mark.timeout(1200)


@pytest.mark.slow
def test_fifty_models_both_paths_and_verify(tmp_path: Path, dbt_exe: Path) -> None:
    gen = generate(tmp_path / "rocky_twin", 50, seed=11)
    dbt_dir = tmp_path / "dbt50"
    write_dbt_twin(gen, dbt_dir, seed_rows=25, seed=11)
    dbt_ok(["compile"], dbt_dir)

    res = invoke_cli("import", "dbt", str(dbt_dir), str(tmp_path / "m"), "--verify", "--dbt",
                     str(dbt_exe), "--format", "json")
    out = json.loads(res.stdout)
    assert res.exit_code == 0, res.output
    assert out["path"] == "manifest" and len(out["models"]) == 50
    assert all(m["status"] == "imported" for m in out["models"])
    bad = [(m["name"], m["verify"], m["verify_detail"]) for m in out["models"]
           if m["verify"] != "equal"]
    assert not bad

    res = invoke_cli("import", "dbt", str(dbt_dir), str(tmp_path / "j"), "--jinja")
    assert res.exit_code == 0, res.output
    for sql in sorted((tmp_path / "m" / "models").rglob("*.sql")):
        rel = sql.relative_to(tmp_path / "m")
        assert (tmp_path / "j" / rel).read_text() == sql.read_text(), rel
    assert len(list((tmp_path / "j" / "models").rglob("*.sql"))) == 50
