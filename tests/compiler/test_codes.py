"""The diagnostic code table: every code has an emitter, a test case and a docs line."""

from __future__ import annotations

import re

from rocky_engine.codes import CODES, diag, render_docs
from rocky_engine.errors import Severity
from tests.compiler.conftest import CORPUS, REPO

ENGINE = REPO / "rocky_engine"
TESTS = REPO / "tests" / "compiler"


def _engine_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in ENGINE.rglob("*.py")
                     if p.name != "codes.py")


def test_every_code_has_an_emitter() -> None:
    source = _engine_sources()
    missing = [code for code in CODES if f'"{code}"' not in source]
    assert missing == []


def test_every_code_has_a_test_case() -> None:
    cases = {p.name.split("_", 1)[0] for p in (CORPUS / "broken").iterdir() if p.is_dir()}
    tests = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py")
                      if p.name != "test_codes.py")
    missing = [code for code in CODES if code not in cases and f'"{code}"' not in tests]
    assert missing == []


def test_codes_are_well_formed() -> None:
    for code, spec in CODES.items():
        assert re.fullmatch(r"[RWI]\d{3}", code)
        prefix = {Severity.ERROR: "R", Severity.WARNING: "W", Severity.INFO: "I"}[spec.severity]
        assert code[0] == prefix, code
        assert spec.title and spec.explanation and spec.example


def test_docs_page_is_up_to_date() -> None:
    page = REPO / "docs" / "diagnostics.md"
    assert page.read_text(encoding="utf-8") == render_docs(), (
        "regenerate: python -m rocky_engine.codes > docs/diagnostics.md")
    for code in CODES:
        assert f"`{code}`" in page.read_text(encoding="utf-8")


def test_diag_uses_the_table_severity_unless_overridden() -> None:
    assert diag("W130", "x").severity is Severity.WARNING
    assert diag("W130", "x", severity=Severity.ERROR).severity is Severity.ERROR


def test_unknown_code_is_rejected() -> None:
    import pytest

    with pytest.raises(KeyError):
        diag("R999", "nope")
