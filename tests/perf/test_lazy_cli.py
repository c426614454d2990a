"""Start-up hygiene: `rocky compile` imports only what compiling needs.

Command modules load on first use (``_app.LAZY_COMMANDS``), duckdb only when a warehouse is
opened, and sqlglot only when something must be parsed.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from rocky_engine.cli._app import LAZY_COMMANDS, cli
from rocky_engine.scaffold import init_project

HEAVY = ("duckdb", "rocky_engine.drift", "rocky_engine.execution",
         "rocky_engine.cli.run_cmds", "rocky_engine.cli.drift_cmds")


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_stored_help_matches_the_command(name: str) -> None:
    module, text = LAZY_COMMANDS[name]
    importlib.import_module(f"rocky_engine.cli.{module}")
    cmd = cli.commands[name]
    assert cmd.help is not None
    assert click.Command(name, help=text).get_short_help_str(45) == cmd.get_short_help_str(45)
    assert click.Command(name, help=text).get_short_help_str(200) == cmd.get_short_help_str(200)


def test_every_registered_engine_command_is_in_the_lazy_table() -> None:
    for module in {m for m, _ in LAZY_COMMANDS.values()}:
        importlib.import_module(f"rocky_engine.cli.{module}")
    engine = {n for n, c in cli.commands.items()
              if (c.callback is not None and c.callback.__module__.startswith("rocky_engine."))
              or isinstance(c, click.Group)}
    assert engine <= set(LAZY_COMMANDS)


def _probe(code: str, cwd: Path | None = None) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         cwd=cwd, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


_RUN = """
import contextlib, io, json, sys
from rocky_engine.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    try:
        main({args!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"code": code, "loaded": sorted(m for m in {heavy!r} if m in sys.modules),
                  "sqlglot": "sqlglot" in sys.modules, "out": buf.getvalue()}}))
"""


def test_help_lists_every_engine_command_without_importing_them() -> None:
    got = _probe(_RUN.format(args=["--help"], heavy=HEAVY))
    assert got["code"] == 0
    for name in LAZY_COMMANDS:
        assert f"\n  {name} " in str(got["out"])
    assert "rocky_engine.cli.run_cmds" not in got["loaded"]  # type: ignore[operator]
    assert "Parse every model, resolve the DAG" in str(got["out"])


def _project(root: Path, n: int = 60) -> Path:
    """A project big enough for the load cache: a source and a chain of ``n`` models."""
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text('[project]\nname = "p"\ndialect = "duckdb"\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n[tables.t.columns]\nid = "INTEGER"\namount = "DECIMAL(10,2)"\n')
    (root / "models" / "m000.sql").write_text("SELECT id, amount FROM raw.t\n")
    for i in range(1, n):
        (root / "models" / f"m{i:03d}.sql").write_text(
            f"SELECT id, amount + {i} AS amount FROM m{i - 1:03d}\n")
    (root / "models" / "m001.toml").write_text('[columns.id]\ntype = "INTEGER"\n')
    return root


def test_small_project_compile_loads_no_warehouse(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    init_project(root, example="shop")
    got = _probe(_RUN.format(args=["compile", "--project", str(root)], heavy=HEAVY))
    assert got["code"] == 0 and got["loaded"] == []


def test_compile_loads_no_warehouse_and_a_warm_one_no_parser(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    args = ["compile", "--project", str(root)]
    cold = _probe(_RUN.format(args=args, heavy=HEAVY))
    assert cold["code"] == 0 and cold["loaded"] == []
    warm = _probe(_RUN.format(args=args, heavy=HEAVY))
    assert warm["code"] == 0 and warm["loaded"] == []
    assert warm["sqlglot"] is False, "a warm compile should need no SQL parser"
    assert "0 errors" in str(warm["out"])


def test_a_compile_of_an_unchanged_project_loads_neither_pydantic_nor_the_project(
        tmp_path: Path) -> None:
    import time

    root = _project(tmp_path / "p")
    time.sleep(2.1)  # stamps are only trusted for files last changed 2 s before the load
    args = ["compile", "--project", str(root)]
    heavy = (*HEAVY, "pydantic", "rocky_engine.project", "rocky_engine.config")
    first = _probe(_RUN.format(args=args, heavy=heavy))
    assert first["code"] == 0 and "pydantic" in first["loaded"]  # type: ignore[operator]
    again = _probe(_RUN.format(args=args, heavy=heavy))
    assert again["code"] == 0 and again["loaded"] == [] and again["sqlglot"] is False
    # Same report but for the time taken and the cache count.
    assert str(again["out"]).split(" · ")[:-2] == str(first["out"]).split(" · ")[:-2]
    assert str(again["out"]).endswith("· 60 cached\n")
    (root / "models" / "m010.sql").write_text("SELECT id, amount FROM m009\n")
    edited = _probe(_RUN.format(args=args, heavy=heavy))
    assert edited["code"] == 0 and "rocky_engine.project" in edited["loaded"]  # type: ignore[operator]
