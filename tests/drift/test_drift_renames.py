"""Rename evidence and matching, without a warehouse."""

from __future__ import annotations

from rocky_engine.drift.fingerprints import Fingerprint
from rocky_engine.drift.renames import (
    THRESHOLD,
    ColumnSide,
    match,
    name_similarity,
    neighbours,
    score_columns,
    score_tables,
)
from rocky_engine.drift.report import Candidate, LiveColumn
from rocky_engine.project import SourceColumn


def _fixed(scores: dict[tuple[str, str], float]):  # type: ignore[no-untyped-def]
    return lambda old, new: Candidate(new, scores.get((old, new), 0.0))


def test_clear_rename() -> None:
    m = match(["amount"], ["total", "note"], _fixed({("amount", "total"): 0.9,
                                                     ("amount", "note"): 0.3}))
    assert m.renames == {"amount": Candidate("total", 0.9)}
    assert not m.ambiguous


def test_two_close_candidates_are_ambiguous_never_guessed() -> None:
    m = match(["amount"], ["a1", "a2"], _fixed({("amount", "a1"): 0.9, ("amount", "a2"): 0.85}))
    assert m.renames == {}
    assert [c.name for c in m.ambiguous["amount"]] == ["a1", "a2"]
    assert m.ambiguous_new == {"a1": ("amount",), "a2": ("amount",)}


def test_two_vanished_claiming_one_new_column_is_ambiguous() -> None:
    m = match(["net", "gross"], ["amount"],
              _fixed({("net", "amount"): 0.8, ("gross", "amount"): 0.78}))
    assert m.renames == {}
    assert set(m.ambiguous_new["amount"]) == {"net", "gross"}
    assert set(m.ambiguous) == {"net", "gross"}


def test_a_clearly_stronger_claim_wins() -> None:
    m = match(["net", "gross"], ["amount"],
              _fixed({("net", "amount"): 0.95, ("gross", "amount"): 0.6}))
    assert m.renames == {"net": Candidate("amount", 0.95)}
    assert "gross" not in m.renames


def test_below_threshold_is_not_a_rename() -> None:
    m = match(["a"], ["b"], _fixed({("a", "b"): THRESHOLD - 0.01}))
    assert m == match([], [], _fixed({}))


def test_name_similarity() -> None:
    assert name_similarity("customer_id", "CUSTOMER_ID") == 1.0
    assert name_similarity("amount", "amount_usd") > name_similarity("amount", "status")
    assert name_similarity("order_total_amount", "total_amount_order") == 1.0  # same words


def test_neighbours_skip_vanished_and_new_columns() -> None:
    cols = ["id", "old", "x_new", "status"]
    assert neighbours(cols, {"id", "status"}, "old") == ("id", "status")
    assert neighbours(["id", "status", "total"], {"id", "status"}, "total") == ("status", None)


FP = Fingerprint(rows=10, nulls=0, distinct=10, min="1.00", max="9.00",
                 sketch=tuple(f"{i:02x}" for i in range(10)))
OTHER = Fingerprint(rows=10, nulls=0, distinct=10, min="100", max="900",
                    sketch=tuple(f"{i:02x}" for i in range(100, 110)))


def _side(name: str, typ: str = "DECIMAL(10,2)", fp: Fingerprint | None = None,
          nb: tuple[str | None, str | None] = ("status", None)) -> ColumnSide:
    return ColumnSide(name, typ, nb, fp)


def test_identical_values_make_a_confident_rename() -> None:
    c = score_columns(_side("amount", fp=FP), _side("total", fp=FP), table="raw.orders")
    assert c.confidence >= 0.9
    assert any("identical" in e for e in c.evidence)


def test_different_values_veto_a_lookalike() -> None:
    c = score_columns(_side("amount", fp=FP), _side("amount2", fp=OTHER), table="raw.orders")
    assert c.confidence < THRESHOLD
    assert any("differ" in e for e in c.evidence)


def test_without_stored_values_the_evidence_says_so() -> None:
    c = score_columns(_side("amount"), _side("amount_usd"), table="raw.orders")
    assert c.confidence >= THRESHOLD  # same type, same place, similar name
    assert any("no earlier values" in e for e in c.evidence)


def test_different_type_and_place_is_not_a_rename() -> None:
    c = score_columns(_side("amount"), _side("note", "VARCHAR", nb=("id", "status")),
                      table="raw.orders")
    assert c.confidence < THRESHOLD
    assert any("type differs" in e for e in c.evidence)


def test_widened_type_still_counts_a_little() -> None:
    a = score_columns(_side("qty", "INTEGER"), _side("quantity", "BIGINT"), table="t")
    b = score_columns(_side("qty", "INTEGER"), _side("quantity", "VARCHAR"), table="t")
    assert a.confidence > b.confidence
    assert any("widened" in e for e in a.evidence)


def test_table_scores() -> None:
    old = [SourceColumn("id", "INTEGER"), SourceColumn("amount", "DECIMAL(10,2)")]
    same = [LiveColumn("id", "INTEGER"), LiveColumn("amount", "DECIMAL(10,2)")]
    other = [LiveColumn("sku", "VARCHAR")]
    good = score_tables("payments", old, 5, "payments_v2", same, 5, schema="raw")
    bad = score_tables("payments", old, 5, "products", other, 9, schema="raw")
    assert good.confidence >= THRESHOLD > bad.confidence
    assert any("same 2 columns" in e for e in good.evidence)
    blind = score_tables("payments", old, None, "payments_v2", same, None, schema="raw")
    assert any("no earlier row count" in e for e in blind.evidence)
