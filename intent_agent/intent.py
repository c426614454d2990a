"""``rocky intent confirm MODEL``: record that the intent still describes the SQL.

The sidecar keeps the sha256 of the model's SQL in ``[intent] confirmed_sql``; the
compiler warns when the SQL no longer matches it, so stale intent is visible::

    >>> confirm_intent(project, "customers").confirmed_sql[:12]   # doctest: +SKIP
    '3f1c0a9b2d4e'
"""

from __future__ import annotations

from dataclasses import dataclass

from intent_agent.sidecar_edit import set_confirmed_sql
from rocky_engine.errors import UsageError
from rocky_engine.project import Project


@dataclass(frozen=True)
class ConfirmResult:
    model: str
    sidecar: str
    confirmed_sql: str
    previous: str | None

    @property
    def changed(self) -> bool:
        return self.previous != self.confirmed_sql

    def to_json(self) -> dict[str, object]:
        return {"model": self.model, "sidecar": self.sidecar, "confirmed_sql": self.confirmed_sql,
                "previous": self.previous, "changed": self.changed}


def confirm_intent(project: Project, name: str) -> ConfirmResult:
    model = project.model(name)
    if model is None:
        raise UsageError(f"no model named `{name}`", hint="see `rocky compile` for the models")
    digest = model.sql_hash
    path, previous = set_confirmed_sql(project, model.name, digest)
    rel = path.resolve().relative_to(project.root.resolve()).as_posix()
    return ConfirmResult(model.name, rel, digest, previous)
