"""Golden diagnostics for the broken-model corpus (fixtures/compile/broken, one defect each)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rocky_engine.codes import CODES
from rocky_engine.compiler.render import render_diagnostics
from tests.compiler.conftest import CORPUS, compile_dir

CASES = sorted(p for p in (CORPUS / "broken").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_model_diagnostics(case: Path, make_project: Callable[..., Path],
                                  update_golden: bool) -> None:
    root = make_project(overlay=case)
    result = compile_dir(root, use_cache=False)
    rendered = render_diagnostics(result.diagnostics) + "\n"
    golden = case / "expected.txt"
    if update_golden:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"missing {golden}: run pytest tests/compiler --update-golden"
    assert rendered == golden.read_text(encoding="utf-8")
    # The defect the case is named after is reported, and it is the only kind reported
    # (besides I140 for models downstream of it).
    code = case.name.split("_", 1)[0]
    codes = {d.code for d in result.diagnostics}
    assert code in codes
    if code != "I140":
        assert codes - {"I140"} == {code}
    bad = result.models.get("bad")
    if bad is not None and CODES[code].severity.value == "error":
        assert bad.status == "error" and not result.ok


def test_every_case_names_a_known_code() -> None:
    assert {c.name.split("_", 1)[0] for c in CASES} <= set(CODES)
