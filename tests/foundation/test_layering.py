"""The engine never imports the agent or the agent's libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "rocky_engine"
FORBIDDEN = ("openai", "git", "intent_agent", "httpx", "httpx2")


def test_engine_source_has_no_forbidden_imports() -> None:
    offenders = []
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ENGINE.parent)}:{node.lineno}: {name}")
    assert offenders == []


def test_importing_engine_and_cli_loads_no_agent_libraries() -> None:
    code = (
        "import sys, pkgutil, importlib, rocky_engine, rocky_engine.cli\n"
        "for m in pkgutil.walk_packages(rocky_engine.__path__, 'rocky_engine.'):\n"
        "    if m.name != 'rocky_engine.__main__': importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
