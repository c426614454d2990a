"""``rocky compile --target``: constructs the warehouse's dialect cannot express (R400)."""

from __future__ import annotations

from pathlib import Path

from rocky_engine.context import Context


def test_r400_is_located_and_names_construct_and_warehouse(shop: Path) -> None:
    (shop / "models" / "odd.sql").write_text(
        "SELECT customer_id,\n  {'k': 1} AS s\nFROM stg_customers\n")
    result = Context.load(shop).compile(target="postgres")
    (d,) = [d for d in result.diagnostics if d.code == "R400"]
    assert (d.file, d.line) == ("models/odd.sql", 2) and 3 <= d.col <= 10  # inside {...}
    assert "struct literal" in d.message and "postgres" in d.message
    assert not result.ok and result.models["odd"].status == "error"
    # The models' own dialect has nothing to report.
    assert Context.load(shop).compile().ok
