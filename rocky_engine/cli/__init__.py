"""The ``rocky`` command line. Each command is a thin wrapper over a ``Context`` call."""

from __future__ import annotations

from rocky_engine.cli import project_cmds  # noqa: F401  (registers commands)
from rocky_engine.cli import lineage_cmds  # noqa: F401
from rocky_engine.cli import drift_cmds  # noqa: F401
from rocky_engine.cli import compile_cmds  # noqa: F401
from rocky_engine.cli import run_cmds  # noqa: F401
from rocky_engine.cli._app import cli, main

__all__ = ["cli", "main"]
