"""Drift in values: the schema holds, the data changed meaning.

A column's last known fingerprint (stored when ``rocky drift`` last saw the table clean)
is compared with its fingerprint now. Five kinds of ``column_values_changed``:

``scale``       a magnitude quantile (10th/50th/90th percentile of ``|x|``) moved by at
                least ``scale_factor`` either way — cents became currency units;
``new_values``  a low-cardinality text/boolean column holds a value it never held, at a
                share of at least ``new_value_share`` — a new status;
``nulls``       the NULL share grew by at least ``null_rate_increase``;
``duplicates``  a declared key (a model's grain or unique test, traced to the source
                column through copies) that was unique has duplicates;
``format``      at least ``format_share`` of a formatted text column's values have a shape
                it never had (``9-9-9`` dates became ``9/9/9``).

The thresholds come from ``[drift]`` in ``rocky.toml``; the defaults raise nothing on a
table growing with data from the same distribution (tested over 100 appended batches).

    >>> from rocky_engine.config import DriftConfig
    >>> old = Fingerprint(100, 0, 3, "1", "9", (), kind="number", sampled=100,
    ...                   magnitude=(120.0, 1250.0, 9000.0))
    >>> new = Fingerprint(200, 0, 3, "1", "9", (), kind="number", sampled=200,
    ...                   magnitude=(1.2, 12.5, 90.0))
    >>> [(c.change, c.evidence[0]) for c in value_changes("raw.t", "amount", old, new,
    ...                                                   DriftConfig())]
    [('scale', 'median |amount| 1250 -> 12.5 (x0.01)')]
"""

from __future__ import annotations

from rocky_engine.config import DriftConfig
from rocky_engine.drift.fingerprints import Fingerprint
from rocky_engine.drift.report import COLUMN_VALUES_CHANGED, Change

_BP = 10_000  # shares are stored in basis points
# A shape or value below this share of the old column is not "known" (sampling noise).
_KNOWN_BP = 10
# A column has a format when its most common shapes cover this share of its values.
_FORMATTED_BP = 9_500


def value_changes(table: str, column: str, old: Fingerprint, new: Fingerprint,
                  config: DriftConfig) -> list[Change]:
    """The value changes between two fingerprints of one column (at most one per kind)."""
    if not (old.profiled and new.profiled) or old.kind != new.kind:
        return []
    found: list[Change] = []

    def add(kind: str, evidence: list[str], before: dict[str, object],
            after: dict[str, object]) -> None:
        found.append(Change(kind=COLUMN_VALUES_CHANGED, table=table, column=column,
                            change=kind, evidence=tuple(evidence),
                            before=_frozen(before), after=_frozen(after)))

    rate_old, rate_new = old.null_rate, new.null_rate
    if rate_new - rate_old >= config.null_rate_increase:
        add("nulls", [f"NULL share {rate_old:.1%} -> {rate_new:.1%}"],
            {"null_rate": round(rate_old, 4), "rows": old.rows},
            {"null_rate": round(rate_new, 4), "rows": new.rows})
    # A declared key (it has a duplicate rate) holds identifiers, not quantities: its
    # magnitude grows with the table, and under block sampling it depends on which
    # blocks were drawn. Keys are judged by their duplicates, not their scale.
    scale = None if new.dup_rate is not None else _scale(old, new, config.scale_factor)
    if scale is not None:
        label, a, b = scale
        add("scale", [f"{label} |{column}| {_num(a)} -> {_num(b)} (x{_num(b / a)})"],
            {"magnitude_p10_p50_p90": [_round(x) for x in old.magnitude]},
            {"magnitude_p10_p50_p90": [_round(x) for x in new.magnitude]})
    if config.new_values:
        fresh = _new_values(old, new, config.new_value_share)
        if fresh:
            shown = ", ".join(f"{v!r} ({bp / _BP:.1%})" for v, bp in fresh[:5])
            add("new_values", [f"new values: {shown}"],
                {"values": [v for v, _ in old.top]},
                {"values": [v for v, _ in new.top] or None,
                 "new": [v for v, _ in fresh]})
    if config.duplicates and old.dup_rate == 0 and (new.dup_rate or 0) > 0:
        add("duplicates", [f"key was unique; now {new.dup_rate:.2%} of its values repeat"],
            {"duplicate_rate": 0.0}, {"duplicate_rate": round(new.dup_rate or 0, 6)})
    if config.format:
        unknown = _unknown_shapes(old, new)
        if unknown is not None and unknown[0] >= config.format_share * _BP:
            share, shapes = unknown
            add("format", [f"{share / _BP:.1%} of values have a new shape: "
                           + ", ".join(shapes[:3])
                           + f" (was {', '.join(s for s, _ in old.shapes[:3])})"],
                {"shapes": [s for s, _ in old.shapes[:5]]},
                {"shapes": [s for s, _ in new.shapes[:5]], "new_share": share / _BP})
    return found


def _scale(old: Fingerprint, new: Fingerprint,
           factor: float) -> tuple[str, float, float] | None:
    if old.kind != "number" or len(old.magnitude) != 3 or len(new.magnitude) != 3:
        return None
    worst: tuple[str, float, float] | None = None
    worst_ratio = 1.0
    order = (1, 0, 2)  # the median first: on a tie it is the figure to show
    for i in order:
        label, a, b = ("p10", "median", "p90")[i], old.magnitude[i], new.magnitude[i]
        if a <= 0 or b <= 0:
            continue
        ratio = max(a / b, b / a)
        if ratio >= factor and ratio > worst_ratio:
            worst, worst_ratio = (label, a, b), ratio
    return worst


def _new_values(old: Fingerprint, new: Fingerprint,
                share: float) -> list[tuple[str, int]]:
    """Values of ``new`` the old column never held, at a share of at least ``share``."""
    if old.kind not in ("text", "boolean") or not old.top:
        return []  # not a listed (low-cardinality) column before
    known = {v for v, _ in old.top}
    floor = share * _BP
    if new.top:
        return [(v, bp) for v, bp in new.top if v not in known and bp >= floor]
    # No longer low-cardinality: the most common shapes are all we have; report the jump.
    if new.distinct > 2 * max(len(known), 1):
        return [(f"{new.distinct} distinct values (was {len(known)})", _BP)]
    return []


def _unknown_shapes(old: Fingerprint, new: Fingerprint) -> tuple[int, list[str]] | None:
    """(share in basis points, shapes) of ``new`` values whose shape ``old`` never had."""
    if old.kind != "text" or not old.shapes or not new.shapes:
        return None
    if sum(bp for _, bp in old.shapes) < _FORMATTED_BP:
        return None  # free text: no format to lose
    known = {s for s, bp in old.shapes if bp >= _KNOWN_BP}
    listed = sum(bp for _, bp in new.shapes)
    unknown = [(s, bp) for s, bp in new.shapes if s not in known]
    # Values beyond the listed shapes are unknown too.
    share = sum(bp for _, bp in unknown) + max(0, _BP - listed)
    return share, [s for s, _ in unknown]


def _frozen(figures: dict[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in figures.items())


def _round(x: float) -> float:
    """Four significant digits: figures for people, not float noise."""
    return float(f"{x:.4g}")


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"
