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

__all__ = [  # the typed compile names are imported on first use (see __getattr__)
    "CompileResult",
    "CompiledColumn",
    "CompiledModel",
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
    "compile_project",
    "load_project",
]

# Imported on first use, so `import rocky_engine` (every CLI start) stays cheap:
# the project loader pulls in pydantic, the compiler sqlglot's optimizer.
_LAZY = {
    "Model": "rocky_engine.project",
    "Project": "rocky_engine.project",
    "SourceColumn": "rocky_engine.project",
    "SourceTable": "rocky_engine.project",
    "load_project": "rocky_engine.project",
    "CompileResult": "rocky_engine.compiler",
    "CompiledColumn": "rocky_engine.compiler",
    "CompiledModel": "rocky_engine.compiler",
    "compile_project": "rocky_engine.compiler",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rocky_engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
