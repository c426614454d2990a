"""The import report: per model imported / partial / refused with reasons, tests kept and
skipped, the next step. Rendered as text, as JSON (DESIGN §2 ``import dbt``) and as
``MIGRATION.md`` in the new project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMPORTED, PARTIAL, REFUSED = "imported", "partial", "refused"


@dataclass
class ModelReport:
    name: str
    status: str
    file: str                 # the dbt file
    line: int = 1
    notes: list[str] = field(default_factory=list)
    rocky_file: str | None = None
    verify: str | None = None  # equal | differs | not_run (with --verify)
    verify_detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "file": self.file,
                               "line": self.line, "notes": list(self.notes),
                               "rocky_file": self.rocky_file}
        if self.verify is not None:
            out["verify"] = self.verify
            out["verify_detail"] = self.verify_detail
        return out


@dataclass(frozen=True)
class SkippedTest:
    model: str
    test: str
    reason: str


@dataclass
class ImportReport:
    dest: str
    path: str                 # manifest | jinja
    dbt_dir: str
    models: list[ModelReport]
    tests_imported: int
    tests_skipped: list[SkippedTest]
    notes: list[str] = field(default_factory=list)
    verified: bool = False

    @property
    def ok(self) -> bool:
        return not any(m.status == REFUSED for m in self.models) and not any(
            m.verify == "differs" for m in self.models)

    def count(self, status: str) -> int:
        return sum(1 for m in self.models if m.status == status)

    def next_steps(self) -> list[str]:
        steps = [f"cd {self.dest} && rocky seed && rocky compile"]
        if self.count(REFUSED):
            steps.append("refused models are listed with their reasons in MIGRATION.md: "
                         "port them by hand (or keep them in dbt) and re-run the import")
        if not self.verified:
            steps.append(f"prove the migration (needs dbt and dbt-duckdb): rocky import dbt "
                         f"{self.dbt_dir} {self.dest} --verify --force")
        steps.append("rocky run && rocky test")
        return steps

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "dest": self.dest, "path": self.path,
            "models": [m.to_json() for m in self.models],
            "tests": {"imported": self.tests_imported,
                      "skipped": [{"model": s.model, "test": s.test, "reason": s.reason}
                                  for s in self.tests_skipped]},
            "counts": {s: self.count(s) for s in (IMPORTED, PARTIAL, REFUSED)},
            "notes": list(self.notes), "next": self.next_steps(),
        }

    def render_text(self) -> str:
        how = "from its manifest" if self.path == "manifest" else "by rendering its Jinja"
        out = [f"imported {self.dbt_dir} into {self.dest} ({how})",
               (f"  models: {self.count(IMPORTED)} imported, {self.count(PARTIAL)} partial, "
               f"{self.count(REFUSED)} refused"),
               f"  tests:  {self.tests_imported} imported, {len(self.tests_skipped)} skipped"]
        for note in self.notes:
            out.append(f"  note: {note}")
        width = max((len(m.name) for m in self.models), default=4)
        for m in self.models:
            if m.status == IMPORTED and not m.notes and m.verify in (None, "equal"):
                continue
            out.append(f"  {m.status:<8} {m.name:<{width}}  {m.file}:{m.line}")
            out.extend(f"           - {n}" for n in m.notes)
        if self.verified:
            out.append("verify (rows of dbt's build vs rocky's, order-insensitive, typed):")
            for m in self.models:
                if m.verify is not None:
                    detail = f"  {m.verify_detail}" if m.verify_detail else ""
                    out.append(f"  {m.verify:<8} {m.name:<{width}}{detail}")
        for s in self.tests_skipped:
            out.append(f"  skipped test {s.test} on {s.model or '-'}: {s.reason}")
        out.append("next:")
        out.extend(f"  {s}" for s in self.next_steps())
        return "\n".join(out)

    def render_markdown(self) -> str:
        out = ["# Migration from dbt", "",
               f"Imported by `rocky import dbt` from `{self.dbt_dir}` (the {self.path} path).", "",
               (f"- models: **{self.count(IMPORTED)} imported**, **{self.count(PARTIAL)} partial**,"
               f" **{self.count(REFUSED)} refused**"),
               (f"- tests: **{self.tests_imported} imported**, "
               f"**{len(self.tests_skipped)} skipped**"), ""]
        if self.notes:
            out += ["## Project notes", ""] + [f"- {n}" for n in self.notes] + [""]
        out += ["## Models", "", "| model | status | dbt file | rocky file | notes |",
                "|---|---|---|---|---|"]
        for m in self.models:
            notes = "<br>".join(_md(n) for n in m.notes) or ""
            verify = f" (verify: {m.verify})" if m.verify else ""
            out.append(f"| `{m.name}` | {m.status}{verify} | `{m.file}:{m.line}` | "
                       f"{'`' + m.rocky_file + '`' if m.rocky_file else '—'} | {notes} |")
        out.append("")
        if self.tests_skipped:
            out += ["## Tests not imported", "", "| model | test | why |", "|---|---|---|"]
            out += [f"| `{s.model}` | `{s.test}` | {_md(s.reason)} |" for s in self.tests_skipped]
            out.append("")
        out += ["## Next steps", ""] + [f"1. `{s}`" if s.startswith(("cd ", "rocky "))
                                        else f"1. {s}" for s in self.next_steps()]
        return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
