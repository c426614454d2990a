"""Rename detection from evidence: a vanished name and a new one that are the same thing.

Each (vanished, new) pair gets a score from independent pieces of evidence — same type,
name similarity, the same position among the surviving columns, and the values (the new
column's fingerprint against the last known fingerprint of the vanished one). A pair is a
rename only when it clears :data:`THRESHOLD` and is each side's clear best; two
candidates within :data:`MARGIN` of each other make the case *ambiguous*, which is
reported and never guessed.

    >>> pairs = {("amount", "total"): 0.9, ("amount", "total_eur"): 0.85}
    >>> m = match(["amount"], ["total", "total_eur"], lambda a, b: Candidate(b, pairs[(a, b)]))
    >>> m.renames, sorted(m.ambiguous)
    ({}, ['amount'])
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rocky_engine.drift.fingerprints import Fingerprint, describe_match
from rocky_engine.drift.report import Candidate, LiveColumn
from rocky_engine.drift.typechange import canonical_type, classify_type_change, family
from rocky_engine.project import SourceColumn

THRESHOLD = 0.55
MARGIN = 0.1


@dataclass(frozen=True)
class Matching:
    """``renames``: old -> chosen candidate; ``ambiguous``: old -> the close candidates."""

    renames: dict[str, Candidate] = field(default_factory=dict)
    ambiguous: dict[str, tuple[Candidate, ...]] = field(default_factory=dict)
    # new names that are a close candidate of more than one old name (or of an ambiguous one)
    ambiguous_new: dict[str, tuple[str, ...]] = field(default_factory=dict)


def match(old: Sequence[str], new: Sequence[str],
          score: Callable[[str, str], Candidate]) -> Matching:
    """Pair vanished names with new names; see the module docstring for the rules."""
    scored: dict[str, list[Candidate]] = {}
    for o in old:
        cands = [score(o, n) for n in new]
        scored[o] = sorted((c for c in cands if c.confidence >= THRESHOLD),
                           key=lambda c: (-c.confidence, c.name))
    by_new: dict[str, list[tuple[float, str]]] = {}
    for o, cands in scored.items():
        for c in cands:
            by_new.setdefault(c.name, []).append((c.confidence, o))
    renames: dict[str, Candidate] = {}
    ambiguous: dict[str, tuple[Candidate, ...]] = {}
    ambiguous_new: dict[str, set[str]] = {}

    def flag(o: str, cand: Candidate) -> None:
        if cand not in ambiguous.get(o, ()):
            ambiguous[o] = ambiguous.get(o, ()) + (cand,)
        ambiguous_new.setdefault(cand.name, set()).add(o)

    for o, cands in scored.items():
        if not cands or o in ambiguous:
            continue
        best = cands[0]
        close = [c for c in cands if best.confidence - c.confidence < MARGIN]
        if len(close) > 1:
            for c in close:
                flag(o, c)
            continue
        rivals = sorted(by_new[best.name], reverse=True)
        close_rivals = [r for r in rivals if rivals[0][0] - r[0] < MARGIN]
        if len(close_rivals) > 1 and o in {r[1] for r in close_rivals}:
            # Two vanished names claim this new one about equally: neither is guessed.
            for _, rival in close_rivals:
                if rival not in renames:
                    flag(rival, next(c for c in scored[rival] if c.name == best.name))
            continue
        if rivals[0][1] != o:
            continue  # another vanished name claims this new one more strongly
        renames[o] = best
    return Matching(renames, ambiguous,
                    {k: tuple(sorted(v)) for k, v in ambiguous_new.items()})


def name_similarity(a: str, b: str) -> float:
    """0..1: the better of character similarity and shared ``_``-separated words."""
    a, b = a.lower(), b.lower()
    chars = difflib.SequenceMatcher(None, a, b).ratio()
    wa, wb = set(a.split("_")) - {""}, set(b.split("_")) - {""}
    words = len(wa & wb) / len(wa | wb) if wa | wb else 0.0
    return max(chars, words)


@dataclass(frozen=True)
class ColumnSide:
    """What is known about one side of a candidate column rename."""

    name: str
    type: str
    neighbours: tuple[str | None, str | None]  # surviving column before / after it
    fingerprint: Fingerprint | None = None


def score_columns(old: ColumnSide, new: ColumnSide, *, table: str,
                  dialect: str | None = "duckdb") -> Candidate:
    """Score ``old`` (declared, vanished) against ``new`` (live, undeclared)."""
    points = 0.0
    evidence: list[str] = []
    if canonical_type(old.type, dialect) == canonical_type(new.type, dialect):
        points += 0.35
        evidence.append(f"same type {new.type}")
    elif (family(old.type, dialect) == family(new.type, dialect)
          and classify_type_change(old.type, new.type, dialect) == "widening"):
        points += 0.2
        evidence.append(f"type widened {old.type} -> {new.type}")
    else:
        evidence.append(f"type differs ({old.type} vs {new.type})")
    sim = name_similarity(old.name, new.name)
    points += 0.25 * sim
    evidence.append(f"name similarity {sim:.2f}")
    same = [a == b for a, b in zip(old.neighbours, new.neighbours)]
    if all(same):
        points += 0.2
        evidence.append("same position among the surviving columns")
    elif any(same):
        points += 0.1
        evidence.append("adjacent to the same surviving column")
    if old.fingerprint is not None and new.fingerprint is not None:
        vsim, sentence = describe_match(old.fingerprint, new.fingerprint,
                                        f"{table}.{old.name}")
        evidence.append(sentence)
        if vsim >= 0.999 and old.fingerprint == new.fingerprint:
            points += 0.45
        elif vsim >= 0.8:
            points += 0.35
        elif vsim >= 0.5:
            points += 0.1
        elif vsim < 0.2:
            points -= 0.4
    elif old.fingerprint is None:
        evidence.append(f"no earlier values of {table}.{old.name} were stored: "
                        "judged on type, name and position only")
    else:
        evidence.append(f"values of {new.name} could not be read: "
                        "judged on type, name and position only")
    return Candidate(new.name, round(max(0.0, min(points, 0.99)), 2), tuple(evidence))


def neighbours(columns: Sequence[str], surviving: set[str], name: str
               ) -> tuple[str | None, str | None]:
    """The surviving columns just before and after ``name`` in ``columns`` (lower-case)."""
    kept = [c.lower() for c in columns if c.lower() in surviving or c.lower() == name.lower()]
    i = kept.index(name.lower())
    return (kept[i - 1] if i > 0 else None, kept[i + 1] if i + 1 < len(kept) else None)


def score_tables(old_name: str, old_columns: Sequence[SourceColumn], old_rows: int | None,
                 new_name: str, new_columns: Sequence[LiveColumn], new_rows: int | None,
                 *, schema: str, dialect: str | None = "duckdb") -> Candidate:
    """Score a vanished declared table against a new, undeclared live table."""
    points = 0.0
    evidence: list[str] = []
    a = {(c.name.lower(), canonical_type(c.type, dialect)) for c in old_columns}
    b = {(c.name.lower(), canonical_type(c.type, dialect)) for c in new_columns}
    overlap = len(a & b) / len(a | b) if a | b else 0.0
    if overlap == 1.0:
        points += 0.5
        evidence.append(f"same {len(a)} columns with the same types")
    elif overlap >= 0.7:
        points += 0.3
        evidence.append(f"{len(a & b)} of {len(a | b)} columns match by name and type")
    else:
        evidence.append(f"only {len(a & b)} of {len(a | b)} columns match")
    sim = name_similarity(old_name, new_name)
    points += 0.2 * sim
    evidence.append(f"name similarity {sim:.2f}")
    if old_rows is not None and new_rows is not None:
        if old_rows == new_rows:
            points += 0.2
            evidence.append(f"same row count as the last known {schema}.{old_name} ({new_rows})")
        else:
            evidence.append(f"row count {new_rows} vs last known {old_rows}")
    else:
        evidence.append(f"no earlier row count of {schema}.{old_name} was stored")
    return Candidate(new_name, round(max(0.0, min(points, 0.99)), 2), tuple(evidence))
