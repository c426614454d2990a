"""Promote on a warehouse without multi-statement transactions (Spark): a journaled swap.

Where DDL is transactional (DuckDB, Postgres) ``promote`` replaces prod objects inside one
transaction. Elsewhere it must still never leave prod half promoted, whatever moment the
process dies at (kill -9 included). The swap is written ahead in ``_rocky.promote_journal``
(rows are only ever appended: an append is atomic where an update is not):

1. ``begin``    — the promote is under way (prod untouched so far);
2. every table model is copied from the branch to ``<model>__rocky_promote`` in prod;
3. ``prepared`` — every copy is complete; the row lists what replaces what;
4. each model is swapped in (drop the prod object, rename the copy; a view is
   re-created from its SQL bound to prod);
5. ``done``.

The next writing command (:func:`recover`, called when the writer lock is taken) finishes
what an interrupted promote left: after ``prepared`` it rolls forward (every step is
idempotent), before it rolls back (the copies are dropped; prod was never touched).

    >>> recover(adapter)            # doctest: +SKIP
    [Recovered(promote_id='...', branch='fix', action='rolled_forward')]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from rocky_engine.adapters.base import WarehouseAdapter, table_ref
from rocky_engine.execution.state_tables import STATE_SCHEMA, ensure_state, now, ts

JOURNAL = "promote_journal"
STAGE_SUFFIX = "__rocky_promote"
_FINISHED = ("done", "rolled_forward", "rolled_back")


@dataclass(frozen=True)
class Recovered:
    """What :func:`recover` did about one interrupted promote."""

    promote_id: str
    branch: str
    action: str  # rolled_forward | rolled_back

    def describe(self) -> str:
        how = "finished it (rolled forward)" if self.action == "rolled_forward" else \
            "undid it (rolled back; prod was untouched)"
        return f"an interrupted promote of branch {self.branch!r} was found: {how}"


@dataclass(frozen=True)
class Swap:
    """One model of a promote: what goes where."""

    model: str
    materialized: str  # table | view
    prod_sql: str

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "materialized": self.materialized,
                "prod_sql": self.prod_sql}


def journaled_promote(adapter: WarehouseAdapter, promote_id: str, base: str, schema: str,
                      branch: str, swaps: Sequence[Swap],
                      step: Callable[[str], None] | None = None) -> None:
    """Promote ``swaps`` from branch ``schema`` into ``base``, journaled (module docstring).

    ``step(name)`` is called after every step (``begin``, ``staged:<model>``,
    ``prepared``, ``dropped:<model>``, ``swapped:<model>``, ``done``): the tests kill the
    process there.
    """
    hook = step or (lambda _name: None)
    _append(adapter, promote_id, branch, base, "begin", [])
    hook("begin")
    for s in swaps:
        if s.materialized != "view":  # a table or an incremental model
            stage = s.model + STAGE_SUFFIX
            adapter.drop_relation(base, stage)
            adapter.create_table_as(base, stage,
                                    exp.select(exp.Star()).from_(table_ref(schema, s.model)))
            hook(f"staged:{s.model}")
    _append(adapter, promote_id, branch, base, "prepared", swaps)
    hook("prepared")
    _apply(adapter, base, swaps, hook)
    _append(adapter, promote_id, branch, base, "done", [])
    hook("done")


def _apply(adapter: WarehouseAdapter, base: str, swaps: Sequence[Swap],
           hook: Callable[[str], None]) -> None:
    """Swap every staged copy in; safe to repeat from any point (roll forward)."""
    for s in swaps:
        kinds = adapter.relations(base)
        if s.materialized != "view":  # a table or an incremental model
            stage = s.model + STAGE_SUFFIX
            if stage.lower() not in kinds:
                continue  # swapped in already
            existing = kinds.get(s.model.lower())
            if existing is not None:
                adapter.drop_relation(base, s.model, kind=existing)
            hook(f"dropped:{s.model}")
            adapter.rename(base, stage, s.model, kind="table")
        else:
            existing = kinds.get(s.model.lower())
            if existing == "table":
                adapter.drop_relation(base, s.model, kind="table")
            hook(f"dropped:{s.model}")
            query = sqlglot.parse_one(s.prod_sql, dialect=adapter.dialect)
            assert isinstance(query, exp.Query)
            adapter.create_view(base, s.model, query, replace=True)
        hook(f"swapped:{s.model}")


def recover(adapter: WarehouseAdapter) -> list[Recovered]:
    """Finish (roll forward) or undo (roll back) every interrupted promote."""
    ensure_state(adapter)
    rows = adapter.fetchall(
        exp.select("promote_id", "branch", "base_schema", "step", "payload")
        .from_(table_ref(STATE_SCHEMA, JOURNAL)).order_by("at", "promote_id"))
    promotes: dict[str, dict[str, Any]] = {}
    for promote_id, branch, base, step, payload in rows:
        entry = promotes.setdefault(promote_id, {"branch": branch, "base": base, "steps": {}})
        entry["steps"][step] = payload
    out = []
    for promote_id, entry in promotes.items():
        steps = entry["steps"]
        if any(s in steps for s in _FINISHED):
            continue
        base, branch = entry["base"], entry["branch"]
        if "prepared" in steps:
            swaps = [Swap(**s) for s in json.loads(steps["prepared"] or "[]")]
            _apply(adapter, base, swaps, lambda _name: None)
            action = "rolled_forward"
        else:
            for name, kind in adapter.relations(base).items():
                if name.endswith(STAGE_SUFFIX):
                    adapter.drop_relation(base, name, kind=kind)
            action = "rolled_back"
        _append(adapter, promote_id, branch, base, action, [])
        out.append(Recovered(promote_id, branch, action))
    return out


def _append(adapter: WarehouseAdapter, promote_id: str, branch: str, base: str, step: str,
            swaps: Sequence[Swap]) -> None:
    payload = json.dumps([s.to_json() for s in swaps])
    adapter.execute(exp.insert(
        exp.values([(promote_id, branch, base, step, payload, ts(now()))]),
        table_ref(STATE_SCHEMA, JOURNAL),
        columns=["promote_id", "branch", "base_schema", "step", "payload", "at"]))
