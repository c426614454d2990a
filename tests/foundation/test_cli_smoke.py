from __future__ import annotations

import json
from pathlib import Path


def test_version_and_help(run_cli) -> None:
    r = run_cli("--version")
    assert r.exit_code == 0 and "rocky" in r.output
    r = run_cli("--help")
    assert r.exit_code == 0 and "init" in r.output


def test_init_seed_json_after_subcommand(run_cli, tmp_path: Path) -> None:
    r = run_cli("init", str(tmp_path / "p"), "--example", "shop")
    assert r.exit_code == 0, r.output
    r = run_cli("seed", "--project", str(tmp_path / "p"), "--format", "json")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert {s["table"]: s["rows"] for s in payload["seeds"]} == {
        "raw.customers": 40, "raw.orders": 160, "raw.payments": 177}


def test_global_options_before_subcommand(run_cli, tmp_path: Path) -> None:
    run_cli("init", str(tmp_path / "p"), "--example", "shop")
    r = run_cli("--project", str(tmp_path / "p"), "--format", "json", "seed")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["seeds"]


def test_json_output_small_is_indented_big_is_an_outline_of_the_same_value() -> None:
    import json
    from pathlib import PurePosixPath

    from rocky_engine.cli._app import _OUTLINE_ITEMS, dumps_json

    small = {"ok": True, "models": [{"name": "m", "columns": [{"a": 1}]}], "p": PurePosixPath("x")}
    assert dumps_json(small) == json.dumps(small, indent=2, default=str)
    big = {"ok": False, "models": [{"name": f"m{i}", "columns": [{"n": "é\"x", "v": None}]}
                                   for i in range(_OUTLINE_ITEMS + 1)],
           "stats": {"models": 1}, "empty": [], "nested": {"deep": {"er": [1, 2]}}}
    text = dumps_json(big)
    assert json.loads(text) == big
    lines = text.splitlines()
    assert len(lines) == _OUTLINE_ITEMS + 1 + 12  # one line per model
    assert lines[3].startswith('    {"name": "m0"')
