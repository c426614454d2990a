"""Drift repair: plan, draft (offline AST rewrites or an LLM), check, validate, publish.

    >>> from intent_agent.repair import repair_project        # doctest: +SKIP
    >>> repair_project("shop").status                          # doctest: +SKIP
    'validated'

Modules: ``changes`` (the change record and the drift fingerprint), ``rewrite`` (minimal
text edits driven by the AST), ``plan`` (per-model context), ``offline`` (the
deterministic repairer), ``llm`` (drafting with a provider, bounded rounds), ``safety``
(what a patch may be and touch), ``validate`` (the isolated warehouse branch),
``pr_body`` (the pull request), ``loop`` (the whole agent loop).
"""

from __future__ import annotations

__all__ = [
    "CannotRewrite",
    "FilePatch",
    "Finding",
    "ModelPatch",
    "Patch",
    "RepairResult",
    "SchemaChange",
    "UnsafePatch",
    "Validation",
    "fingerprint",
    "from_drift",
    "repair_project",
]

# Imported on first use: `rocky --help` and `rocky watch` import this package, and the loop
# pulls in sqlglot, the compiler, git and the providers.
_LAZY = {
    "SchemaChange": "changes", "fingerprint": "changes", "from_drift": "changes",
    "FilePatch": "loop", "RepairResult": "loop", "repair_project": "loop",
    "Finding": "offline", "ModelPatch": "offline", "CannotRewrite": "rewrite",
    "Patch": "safety", "UnsafePatch": "safety", "Validation": "validate",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'intent_agent.repair' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"intent_agent.repair.{module}"), name)
