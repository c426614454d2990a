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

from intent_agent.repair.changes import SchemaChange, fingerprint, from_drift
from intent_agent.repair.loop import FilePatch, RepairResult, repair_project
from intent_agent.repair.offline import Finding, ModelPatch
from intent_agent.repair.rewrite import CannotRewrite
from intent_agent.repair.safety import Patch, UnsafePatch
from intent_agent.repair.validate import Validation

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
