"""Every command is documented: help with a runnable example, and a current docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from rocky_engine.cli.reference import help_text, iter_commands, render

DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMANDS = iter_commands()


def test_commands_found() -> None:
    names = {p for p, _ in COMMANDS}
    assert {"rocky init", "rocky seed", "rocky demo"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_help_has_example(path: str, cmd) -> None:
    text = help_text(path, cmd)
    assert "Example" in text, f"`{path} --help` has no Example block"
    assert "rocky " in text.split("Example", 1)[1]


def test_cli_reference_is_current() -> None:
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/cli.md is stale: run `python -m rocky_engine.cli.reference > docs/cli.md`"
    )
