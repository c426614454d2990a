"""`rocky demo` ends with the drift → repair chapter, offline."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_repair_chapter(tmp_path: Path, run_cli) -> None:
    res = run_cli("demo", "--keep", str(tmp_path))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "== rocky repair" in out and ": validated" in out
    assert "total_amount AS amount" in out
    assert "### Validation evidence" in out and "✅ pass" in out
    assert "customers: unchanged" in out
    assert (tmp_path / "shop" / ".git").is_dir()
