"""``rocky gen-tests MODEL``: derive data tests from the intent, run them, keep those that hold.

Where the tests come from:

- the grain → ``unique`` (one or several columns) and ``not_null`` per grain column;
- column contracts with ``nullable = false`` → ``not_null``; column intents that state
  a value rule ("lower-cased", "never negative", "one of ...") → the same tests as rules;
- rules the offline reader understands (``never negative``, ``is one of ...``,
  ``lower case``, ...) → ``expression`` / ``accepted_values`` / ``not_null`` tests;
- a column named like another model's single-column grain → ``relationships`` to it;
- with an LLM provider, the rules the offline reader could not translate.

Every candidate is executed against the current data before it is offered. Those that
hold are offered (and written with ``write=True``); those that fail are *findings* — the
data or the intent is wrong — and are never silently dropped or written::

    >>> report = generate_tests(ctx, "customers", OfflineProvider())    # doctest: +SKIP
    >>> [(t.origin, t.status) for t in report.tests][:2]                 # doctest: +SKIP
    [('grain', 'existing'), ('grain', 'existing')]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlglot
from pydantic import BaseModel, Field, ValidationError
from sqlglot import exp

from intent_agent.facts import ModelFacts, model_facts
from intent_agent.prompting import PromptStats, render
from intent_agent.providers.base import Provider, Verdict, is_offline
from intent_agent.rules import make_test, read_column_intent, read_rule
from intent_agent.safety import UnsafeOutput, check_test_expression
from intent_agent.sidecar_edit import append_tests, sidecar_path
from rocky_engine.context import Context
from rocky_engine.errors import WarehouseError
from rocky_engine.execution.data_tests import run_data_test, test_name

STATUSES = ("holds", "fails", "error", "existing", "refused")


class ProposedTest(BaseModel):
    """One test an LLM proposes (the reply schema); rocky validates it before running it."""

    type: Literal["not_null", "unique", "accepted_values", "relationships", "expression",
                  "row_count"]
    column: str | None = None
    columns: list[str] | None = None
    values: list[str | int | float | bool] | None = None
    to: str | None = None
    field: str | None = None
    expression: str | None = Field(None, description="one boolean SQL expression over the "
                                                     "model's columns, true for a good row")
    min: int | None = None
    max: int | None = None
    rule: str = Field("", description="the intent rule this test checks, verbatim")


class TestProposals(BaseModel):
    tests: list[ProposedTest] = Field(default_factory=list)


@dataclass(frozen=True)
class GeneratedTest:
    test: Any  # a rocky_engine.config DataTest
    origin: str
    status: str  # one of STATUSES
    failing_rows: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test.model_dump(exclude_none=True, mode="json")
                if self.test is not None else None,
                "origin": self.origin, "status": self.status,
                "failing_rows": self.failing_rows, "message": self.message}


@dataclass(frozen=True)
class GenTestsReport:
    model: str
    sidecar: str
    provider: str
    tests: tuple[GeneratedTest, ...]
    untranslated: tuple[str, ...]
    written: int = 0
    prompt: PromptStats | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def holding(self) -> list[GeneratedTest]:
        return [t for t in self.tests if t.status == "holds"]

    @property
    def findings(self) -> list[GeneratedTest]:
        return [t for t in self.tests if t.status in ("fails", "error", "refused")]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "sidecar": self.sidecar, "provider": self.provider,
            "tests": [t.to_json() for t in self.tests],
            "holding": len(self.holding), "findings": len(self.findings),
            "untranslated_rules": list(self.untranslated), "written": self.written,
            "prompt": self.prompt.__dict__ if self.prompt else None, "notes": list(self.notes),
        }


def generate_tests(ctx: Context, name: str, provider: Provider, *, write: bool = False,
                   compiled: Any | None = None) -> GenTestsReport:
    project = ctx.project
    facts = model_facts(project, name, compiled if compiled is not None else ctx.compile())
    model = project.model(name)
    assert model is not None  # model_facts raised otherwise
    candidates, untranslated = _offline_candidates(ctx, facts)
    existing = {_key(t) for t in model.sidecar.tests}
    model_names = set(project.models)
    schema = project.config.warehouse.schema_
    prompt: PromptStats | None = None
    notes: list[str] = []
    results: list[GeneratedTest] = []
    seen: set[str] = set()
    # Read-only and sandboxed: a generated test can read the model, nothing else.
    with ctx.adapter(read_only=True, sandboxed=True, create=False) as adapter:
        if adapter.table(schema, model.name) is None:
            raise WarehouseError(
                f"model {model.name} is not built in the warehouse (schema {schema})",
                hint=f"run `rocky run --select {model.name}` first: generated tests are "
                     "executed against the current data before they are offered",
            )

        def run(test: Any, origin: str) -> GeneratedTest:
            # The engine's own runner: a generated test means exactly what `rocky test` runs.
            outcome = run_data_test(adapter, test, model.name.lower(), schema, model_names,
                                    project.dialect)
            if outcome.status == "error":
                return GeneratedTest(test, origin, "error", message=outcome.message)
            if outcome.status in ("fail", "warn"):
                return GeneratedTest(test, origin, "fails", outcome.failing_rows,
                                     outcome.message or "the data breaks it")
            return GeneratedTest(test, origin, "holds")

        def add(test: Any, origin: str) -> None:
            key = _key(test)
            if key in seen:
                return
            seen.add(key)
            if key in existing:
                results.append(GeneratedTest(test, origin, "existing",
                                             message="already in the sidecar"))
            else:
                results.append(run(test, origin))

        for test, origin in candidates:
            add(test, origin)
        if untranslated and not is_offline(provider):
            samples = _warehouse_text(adapter, schema, model.name)
            proposals, prompt, refused, llm_notes = _ask_llm(
                provider, facts, model.sidecar.tests, candidates, untranslated,
                lambda t: run(t, "llm"), project, samples)
            notes += llm_notes
            results += refused
            translated = set()
            for test, rule in proposals:
                add(test, f"llm: {rule}" if rule else "llm")
                translated.add(rule.strip().lower())
            untranslated = [r for r in untranslated if r.strip().lower() not in translated]
    written = 0
    if write:
        keep = [r.test for r in results if r.status == "holds"]
        if keep:
            append_tests(project, model.name, keep, comment="generated by rocky gen-tests")
            written = len(keep)
    return GenTestsReport(
        model=model.name, sidecar=_rel(ctx, sidecar_path(project, model)),
        provider=provider.name, tests=tuple(results), untranslated=tuple(untranslated),
        written=written, prompt=prompt, notes=tuple(notes),
    )


# ---------------------------------------------------------------------------- offline


def _offline_candidates(ctx: Context, facts: ModelFacts) -> tuple[list[tuple[Any, str]], list[str]]:
    out: list[tuple[Any, str]] = []
    outputs = {c.lower(): c for c in facts.column_names}
    grain = [outputs.get(g.lower(), g) for g in facts.grain]
    if grain and all(g.lower() in outputs for g in grain):
        if len(grain) == 1:
            out.append((make_test(type="unique", column=grain[0]), "grain"))
        else:
            out.append((make_test(type="unique", columns=grain), "grain"))
        out += [(make_test(type="not_null", column=g), "grain") for g in grain]
    for col in facts.columns:
        if col.contract_nullable is False:
            out.append((make_test(type="not_null", column=col.name), "contract"))
    equalities = [eq for f in facts.filters for eq in f.equalities]
    untranslated = []
    for rule in facts.rules:
        reading = read_rule(rule, facts.column_names, equalities)
        if reading.status == "testable":
            out += [(t, f"rule: {rule}") for t in reading.tests]
        elif reading.status == "untranslated":
            untranslated.append(rule)
    for col in facts.columns:
        if col.intent:
            out += [(t, f"intent of {col.name}") for t in read_column_intent(col.name, col.intent)]
    out += _relationships(ctx, facts)
    return out, untranslated


def _relationships(ctx: Context, facts: ModelFacts) -> list[tuple[Any, str]]:
    """A column named like another model's one-column grain points at that model."""
    project = ctx.project
    reads = _reads_map(project)
    downstream = {m for m in reads if facts.name.lower() in _closure(reads, m)}
    own = {g.lower() for g in facts.grain}
    out = []
    for col in facts.columns:
        if col.name.lower() in own:
            continue
        parents = []
        for m in project.models.values():
            intent = m.sidecar.intent
            if (m.name.lower() == facts.name.lower() or m.name.lower() in downstream
                    or intent is None or [g.lower() for g in intent.grain] != [col.name.lower()]):
                continue
            parents.append((len(_closure(reads, m.name.lower())), m.name))
        if parents:
            parent = min(parents)[1]  # the most upstream one, usually the staging model
            out.append((make_test(type="relationships", column=col.name, to=parent,
                                  field=col.name), f"grain of {parent}"))
    return out


def _reads_map(project: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in project.models.values():
        try:
            tree = sqlglot.parse_one(m.sql, dialect=project.dialect)
        except sqlglot.errors.SqlglotError:
            out[m.name.lower()] = set()
            continue
        ctes = {c.alias.lower() for c in tree.find_all(exp.CTE)}
        out[m.name.lower()] = {t.name.lower() for t in tree.find_all(exp.Table)
                               if not t.db and t.name.lower() not in ctes
                               and t.name.lower() in project.models}
    return out


def _closure(reads: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(reads.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(reads.get(node, ()))
    return seen


# ---------------------------------------------------------------------------- LLM


def _ask_llm(provider: Provider, facts: ModelFacts, existing: list[Any],
             candidates: list[tuple[Any, str]], untranslated: list[str],
             execute: Any, project: Any, samples: list[dict[str, Any]]
             ) -> tuple[list[tuple[Any, str]], PromptStats, list[GeneratedTest], list[str]]:
    request = render(
        "gen_tests", facts=facts.to_prompt(), untranslated=untranslated, samples=samples,
        existing=[_dump(t) for t in existing],
        proposed=_unique_dumps([t for t, _ in candidates], exclude=existing),
    )

    def validate(candidate: TestProposals) -> Verdict:
        # Execution judges: a proposal set scores by how many of its tests hold.
        tests, refused = _accept(candidate, facts, project)
        outcomes = [execute(t) for t, _ in tests]
        holds = sum(1 for o in outcomes if o.status == "holds")
        errors = tuple(r.message for r in refused) + tuple(
            o.message for o in outcomes if o.status == "error")
        return Verdict(ok=not refused and bool(tests), score=float(holds), errors=errors)

    result = provider.complete(request, TestProposals, validate=validate)
    tests, refused = _accept(result.value, facts, project)
    return tests, PromptStats.of(request, result), refused, list(result.notes)


def _accept(proposals: TestProposals, facts: ModelFacts, project: Any
            ) -> tuple[list[tuple[Any, str]], list[GeneratedTest]]:
    """Turn proposals into sidecar tests; anything unsafe or malformed is refused, visibly."""
    columns = facts.column_names
    lower = {c.lower() for c in columns}
    ok: list[tuple[Any, str]] = []
    refused: list[GeneratedTest] = []
    for p in proposals.tests:
        data = p.model_dump(exclude={"rule"}, exclude_none=True)
        try:
            test = make_test(**data)
            named = [c for c in (test.key if test.type == "unique" else
                                 [getattr(test, "column", None)]) if c]
            unknown = [c for c in named if c.lower() not in lower]
            if unknown:
                raise UnsafeOutput(f"unknown column {unknown[0]!r}")
            if test.type == "expression":
                node = check_test_expression(test.expression, columns)
                test = make_test(type="expression", expression=node.sql(dialect="duckdb"))
            if test.type == "relationships" and test.to.lower() not in project.models \
                    and test.to.lower() not in project.sources:
                raise UnsafeOutput(f"unknown relation {test.to!r}")
        except (ValidationError, UnsafeOutput) as exc:
            message = exc.message if isinstance(exc, UnsafeOutput) else (
                exc.errors()[0]["msg"])
            refused.append(GeneratedTest(None, f"llm: {p.rule}" if p.rule else "llm", "refused",
                                         message=f"refused: {message} ({json.dumps(data)[:120]})"))
            continue
        ok.append((test, p.rule))
    return ok, refused


def _warehouse_text(adapter: Any, schema: str, model: str) -> list[dict[str, Any]]:
    """Column comments and a few distinct values per low-cardinality column.

    They help a model translate "status is one of ..." style rules, and they come from
    the warehouse, so the template fences them as data.
    """
    table = adapter.table(schema, model)
    if table is None:
        return []
    out = []
    for col in table.columns:
        ident = exp.column(col.name, quoted=True)
        query = (exp.select(ident).distinct().from_(exp.table_(model, db=schema, quoted=True))
                 .where(exp.Not(this=ident.copy().is_(exp.null())))
                 .order_by(ident.copy()).limit(_SAMPLE_LIMIT + 1))
        try:
            values = [row[0] for row in adapter.fetchall(query)]
        except WarehouseError:
            values = []
        if len(values) > _SAMPLE_LIMIT:
            values = []  # not a small set of codes: values would only add noise
        if values or col.comment:
            out.append({"column": col.name, "comment": col.comment,
                        "values": [str(v)[:80] for v in values]})
    return out


_SAMPLE_LIMIT = 8


# ---------------------------------------------------------------------------- helpers


def _dump(test: Any) -> dict[str, Any]:
    data = test.model_dump(exclude_none=True, mode="json")
    if data.get("severity") == "error":
        data.pop("severity")  # the default says nothing
    return data


def _unique_dumps(tests: list[Any], exclude: list[Any]) -> list[dict[str, Any]]:
    seen = {_key(t) for t in exclude}
    out = []
    for t in tests:
        if _key(t) not in seen:
            seen.add(_key(t))
            out.append(_dump(t))
    return out


def _key(test: Any) -> str:
    """Identity of a test, ignoring its name/severity and spelling of the expression."""
    data = test.model_dump(exclude={"name", "severity"}, exclude_none=True, mode="json")
    if data.get("type") == "unique":
        data = {"type": "unique", "key": sorted(k.lower() for k in test.key)}
    for k in ("column", "field", "to"):
        if k in data:
            data[k] = str(data[k]).lower()
    if data.get("type") == "expression":
        try:
            data["expression"] = sqlglot.parse_one(data["expression"]).sql().lower()
        except sqlglot.errors.SqlglotError:
            pass
    if data.get("type") == "accepted_values":
        data["values"] = sorted(str(v) for v in data["values"])
    return json.dumps(data, sort_keys=True)


def _rel(ctx: Context, path: Any) -> str:
    try:
        return path.resolve().relative_to(ctx.project.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def render_text(report: GenTestsReport) -> list[str]:
    lines = [(f"{report.model}: {len(report.tests)} test(s) derived from its intent "
              f"(provider {report.provider})")]
    for t in report.tests:
        what = _describe(t.test) if t.test is not None else "(invalid proposal)"
        mark = {"holds": "holds   ", "fails": "FAILS   ", "error": "ERROR   ",
                "existing": "existing", "refused": "REFUSED "}[t.status]
        line = f"  {mark} {what}  [{t.origin}]"
        if t.message and t.status != "existing":
            line += f" — {t.message}"
        lines.append(line)
    if report.untranslated:
        lines.append("rules not translated into tests"
                     + (" (the offline provider handles structured intent only; an LLM "
                        "provider translates free text)" if report.provider == "offline" else "")
                     + ":")
        lines += [f"  - {r}" for r in report.untranslated]
    if report.findings:
        lines.append(f"{len(report.findings)} finding(s): a failing test means the data or "
                     "the intent is wrong; fix one of them, the test is not written")
    if report.written:
        lines.append(f"wrote {report.written} test(s) to {report.sidecar}")
    elif report.holding:
        lines.append(f"{len(report.holding)} new test(s) hold; re-run with --write to add them "
                     f"to {report.sidecar}")
    if report.prompt is not None:
        lines.append(report.prompt.render())
    lines += [f"note: {n}" for n in report.notes]
    return lines


def _describe(test: Any) -> str:
    """The engine's label for the test, with the accepted values spelled out (a proposal
    is judged on them)."""
    if test.type == "accepted_values":
        return f"accepted_values({test.column} in {', '.join(map(str, test.values))})"
    return test_name(test.model_copy(update={"name": None}))
