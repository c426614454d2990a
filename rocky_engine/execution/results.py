"""What ``rocky run`` reports: one record per model and one for the whole run."""

from __future__ import annotations

from dataclasses import dataclass

from rocky_engine.errors import Diagnostic, Severity


@dataclass(frozen=True)
class ModelRun:
    """How one model's build went. ``status``: success | error | skipped."""

    name: str
    materialized: str
    status: str
    relation: str
    seconds: float = 0.0
    rows: int | None = None  # tables only: counting a view would execute it
    error: str | None = None
    skipped_because: str | None = None  # the failed upstream model
    # Incremental models: rows the run inserted/updated/deleted, whether it built the
    # whole table ("full") or added a batch ("incremental"), what on_schema_change did.
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None
    mode: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        # inserted/updated/deleted/mode/note are null for views and tables, so every
        # entry has the same keys.
        return {
            "name": self.name, "materialized": self.materialized, "status": self.status,
            "relation": self.relation, "seconds": round(self.seconds, 4), "rows": self.rows,
            "error": self.error, "skipped_because": self.skipped_because,
            "inserted": self.inserted, "updated": self.updated, "deleted": self.deleted,
            "mode": self.mode, "note": self.note,
        }

    def render(self) -> str:
        """The progress line a person sees, e.g. ``OK    customers  table  0.02s  40 rows``."""
        label = {"success": "OK", "error": "ERROR", "skipped": "SKIP"}[self.status]
        text = f"  {label:<5} {self.name:<32} {self.materialized:<11} {self.seconds:7.2f}s"
        if self.rows is not None:
            text += f"  {self.rows} rows"
        if self.mode == "incremental":
            text += f" (+{self.inserted} new, {self.updated} updated"
            text += f", {self.deleted} deleted)" if self.deleted else ")"
        elif self.mode == "full":
            text += " (full build)"
        if self.note:
            text += f"  [{self.note}]"
        if self.error:
            text += f"  {self.error}"
        if self.skipped_because:
            text += f"  (upstream {self.skipped_because} failed)"
        return text


@dataclass(frozen=True)
class RunResult:
    """The outcome of ``rocky run``; ``ok`` is False on compile errors or any failed model."""

    run_id: str
    schema: str
    branch: str | None
    selected: tuple[str, ...]
    models: tuple[ModelRun, ...]
    seconds: float
    diagnostics: tuple[Diagnostic, ...] = ()
    recovered_from: str | None = None  # the stale lock holder this run took over from

    @property
    def compile_errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.compile_errors and all(m.status == "success" for m in self.models)

    def count(self, status: str) -> int:
        return sum(1 for m in self.models if m.status == status)

    def model(self, name: str) -> ModelRun | None:
        return next((m for m in self.models if m.name == name.lower()), None)

    def summary(self) -> str:
        if self.compile_errors:
            return (f"compile failed with {len(self.compile_errors)} error(s); "
                    "nothing was run")
        where = f"branch {self.branch} ({self.schema})" if self.branch else self.schema
        return (f"ran {len(self.models)} models into {where} in {self.seconds:.2f}s: "
                f"{self.count('success')} ok, {self.count('error')} failed, "
                f"{self.count('skipped')} skipped")

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "run_id": self.run_id,
            "schema": self.schema,
            "branch": self.branch,
            "selected": list(self.selected),
            "seconds": round(self.seconds, 4),
            "counts": {s: self.count(s) for s in ("success", "error", "skipped")},
            "models": [m.to_json() for m in self.models],
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "recovered_from": self.recovered_from,
        }
