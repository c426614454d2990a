"""Typed compile: parse → resolve → DAG → qualify → infer types → check types → contracts.

    >>> from rocky_engine.compiler import compile_project      # doctest: +SKIP
    >>> result = compile_project(project)                      # doctest: +SKIP
    >>> result.ok, result.order[:2]                            # doctest: +SKIP
    (True, ['stg_customers', 'stg_orders'])

One pass per module (``parse``, ``resolve``, ``infer``, ``checks``, ``contracts``), the
per-model driver in ``model``, the project driver (cache, DAG order, workers) in
``pipeline``. Codes of every diagnostic: :mod:`rocky_engine.codes`.
"""

from __future__ import annotations

from rocky_engine.compiler.ir import (
    UNKNOWN,
    CompiledColumn,
    CompiledModel,
    CompileResult,
    CompileStats,
    Reference,
)
from rocky_engine.compiler.pipeline import compile_project

__all__ = [
    "UNKNOWN",
    "CompileResult",
    "CompileStats",
    "CompiledColumn",
    "CompiledModel",
    "Reference",
    "compile_project",
]
