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
]
