"""rocky's deterministic engine: project loading, typed compile, lineage, execution.

The public API is what this module re-exports; everything else is private.
"""

from __future__ import annotations

__version__ = "0.1.0"

from rocky_engine.errors import (
    ConfigError,
    Diagnostic,
    Location,
    ProblemError,
    ProjectLoadError,
    RockyError,
    Severity,
    UsageError,
    WarehouseError,
)
from rocky_engine.project import Model, Project, SourceColumn, SourceTable, load_project

__all__ = [
    "ConfigError",
    "Diagnostic",
    "Location",
    "Model",
    "ProblemError",
    "Project",
    "ProjectLoadError",
    "RockyError",
    "Severity",
    "SourceColumn",
    "SourceTable",
    "UsageError",
    "WarehouseError",
    "__version__",
    "load_project",
    # typed compile (imported on first use: it loads sqlglot's optimizer)
    "CompileResult",
    "CompiledColumn",
    "CompiledModel",
    "compile_project",
]

_LAZY = {"CompileResult", "CompiledColumn", "CompiledModel", "compile_project"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import rocky_engine.compiler as _compiler

        return getattr(_compiler, name)
    raise AttributeError(f"module 'rocky_engine' has no attribute {name!r}")
