"""Bad Spark configuration and a missing pyspark: one line naming what to do, exit 2.

None of these starts Spark.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rocky_engine.scaffold import init_project
from tests.conftest import invoke_cli


def _shop(tmp_path: Path, warehouse: str) -> Path:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    text = (root / "rocky.toml").read_text()
    (root / "rocky.toml").write_text(text.replace(
        'type = "duckdb"\npath = "warehouse.duckdb"\n', warehouse))
    return root


@pytest.mark.parametrize(("warehouse", "expected"), [
    ('type = "spark"\nmaster = "yarn"\n', "rocky runs Spark in-process as local"),
    ('type = "spark"\nmaster = "local[2]"\nremote = "sc://h:15002"\n',
     "give master (in-process) or remote (Spark Connect), not both"),
    ('type = "spark"\nremote = "http://h:15002"\n', "must be a Spark Connect URL"),
    ('type = "spark"\nconf = "x"\n', "warehouse.conf"),
    ('type = "spark"\npath = "w.duckdb"\n', "path"),
])
def test_bad_spark_config_is_one_line_exit_2(tmp_path: Path, warehouse: str,
                                             expected: str) -> None:
    root = _shop(tmp_path, warehouse)
    r = invoke_cli("run", "--project", str(root))
    assert r.exit_code == 2, r.output
    assert expected in r.output and "rocky.toml" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_unreachable_spark_connect_fails_fast(tmp_path: Path) -> None:
    root = _shop(tmp_path, 'type = "spark"\nremote = "sc://127.0.0.1:1"\n')
    r = invoke_cli("seed", "--project", str(root))
    assert r.exit_code == 2
    assert "cannot reach Spark Connect server sc://127.0.0.1:1" in r.output
    assert "Traceback" not in r.output


def test_without_pyspark_one_line_says_what_to_install(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    root = _shop(tmp_path, 'type = "spark"\nmaster = "local[2]"\n')
    r = invoke_cli("run", "--project", str(root))
    assert r.exit_code == 2, r.output
    assert "pip install 'rocky-intent[spark]'" in r.output and "rocky.toml" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    # Compiling needs no warehouse, so no pyspark either.
    assert invoke_cli("compile", "--project", str(root)).exit_code == 0
