"""The ``rocky`` command line. Each command is a thin wrapper over a ``Context`` call."""

from __future__ import annotations

# Command modules (``*_cmds``) are imported on first use: see ``_app.LAZY_COMMANDS``.
from rocky_engine.cli._app import cli, main

__all__ = ["cli", "main"]
