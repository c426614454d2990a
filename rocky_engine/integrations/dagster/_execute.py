"""What runs when Dagster materialises models or evaluates checks: the engine, in process.

One op builds a whole selection with one ``Context.run`` (the engine orders it, skips
the dependants of a failed model and keeps the run history), then reports each model
to Dagster; one op runs the selected tests with one ``Context.test``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from rocky_engine.context import Context
from rocky_engine.errors import RockyError
from rocky_engine.execution import ModelRun, RunResult, TestResult
from rocky_engine.integrations.dagster._specs import ROW_COUNT, TABLE_NAME, CheckRef, Keys


class LogConsole:
    """The engine's console interface over a Dagster logger (run logs in the UI).

    Per-item lines inside a progress block (one per model built or test run) are logged
    as one message when the block ends: each Dagster log message is an event written to
    the instance's event log, and one per model would double the cost of a run.
    """

    def __init__(self, log: Any) -> None:
        self._log = log
        self._lines: list[str] | None = None

    def info(self, message: str) -> None:
        self._log.info(message)

    def warn(self, message: str) -> None:
        self._log.warning(message)

    def line(self, message: str) -> None:
        if self._lines is not None:
            self._lines.append(message)
        else:
            self._log.info(message)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[str], None]]:
        self._lines = []
        try:
            yield lambda label: None
        finally:
            lines, self._lines = self._lines, None
            self._log.info(f"{description} ({total})" + "".join(f"\n{t}" for t in lines))


@contextmanager
def rocky_errors_as_failures() -> Iterator[None]:
    """A rocky error (bad config, warehouse unreachable, lock timeout) fails the step with
    its one-line message and hint, not a traceback into rocky's internals."""
    try:
        yield
    except RockyError as exc:
        raise dg.Failure(description=exc.render()) from None


def materialize_models(context: dg.AssetExecutionContext, root: Path, keys: Keys,
                       all_models: Sequence[str]) -> Iterator[dg.MaterializeResult]:
    """Build the selected models; one materialization per model built.

    A failed model yields nothing (its dependants are skipped by the engine and yield
    nothing either); after every success is reported the step fails, naming each failed
    model with the warehouse's message.
    """
    _memoize_output_asset_keys(context)
    selected = {keys.model_of(k) for k in context.selected_asset_keys}
    names = [n for n in all_models if n in selected]
    with rocky_errors_as_failures():
        ctx = Context.load(root, LogConsole(context.log))
        result = ctx.run(None if len(names) == len(all_models) else names)
    if result.compile_errors:
        raise dg.Failure(
            description=f"{len(result.compile_errors)} compile error(s); nothing was built:\n"
                        + "\n".join(d.headline() for d in result.compile_errors),
            metadata={"rocky/diagnostics": dg.MetadataValue.json(
                [d.to_json() for d in result.compile_errors])})
    for run in result.models:
        if run.status == "success":
            yield dg.MaterializeResult(asset_key=keys.model(run.name),
                                       metadata=_materialization(run, result))
    failed = [m for m in result.models if m.status == "error"]
    skipped = [m for m in result.models if m.status == "skipped"]
    if failed:
        for m in failed:
            context.log.error(f"{m.name} failed: {m.error}")
        lines = [f"{m.name}: {m.error}" for m in failed]
        lines += [f"{m.name}: not built (upstream {m.skipped_because} failed)" for m in skipped]
        raise dg.Failure(
            description=f"{len(failed)} model(s) failed, {len(skipped)} not built:\n"
                        + "\n".join(lines),
            metadata={"rocky/failed": dg.MetadataValue.json(
                          {m.name: m.error for m in failed}),
                      "rocky/skipped": dg.MetadataValue.json(
                          {m.name: m.skipped_because for m in skipped}),
                      "rocky/run_id": result.run_id})


def _memoize_output_asset_keys(context: dg.AssetExecutionContext) -> None:
    """Compute the step's output asset keys once instead of once per output yielded.

    Dagster 1.13 re-derives them (a walk over every output of the step) for each output a
    multi-asset yields, to check topological order: quadratic in the number of models,
    ~13 ms per model at 1,000 models, more than building them. The set is fixed for the
    life of the step, so a memo changes nothing else.
    """
    step = context.get_step_execution_context()
    try:
        fixed = frozenset(step.get_output_asset_keys())
    except AttributeError:  # another Dagster: it only costs time
        return
    step.get_output_asset_keys = lambda: fixed  # type: ignore[method-assign]


def _materialization(run: ModelRun, result: RunResult) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "rocky/seconds": round(run.seconds, 4),
        "rocky/run_id": result.run_id,
        TABLE_NAME: run.relation,
    }
    if run.rows is not None:  # tables; counting a view would execute it
        meta[ROW_COUNT] = run.rows
    return meta


def evaluate_checks(context: dg.AssetCheckExecutionContext, root: Path, keys: Keys,
                    refs: Sequence[CheckRef]) -> Iterator[dg.AssetCheckResult]:
    """Run the tests of every model with a selected check; report the selected checks."""
    wanted = {(keys.model_of(k.asset_key), k.name) for k in context.selected_asset_check_keys}
    chosen = [r for r in refs if (r.model, r.check) in wanted]
    models = sorted({r.model for r in chosen})
    console = LogConsole(context.log)
    with rocky_errors_as_failures(), console.progress("running tests", total=len(chosen)):
        report = Context.load(root, console).test(models)
    by_model: dict[str, list[TestResult]] = {}
    for res in report.results:
        by_model.setdefault(res.model, []).append(res)
    for ref in chosen:
        got = by_model.get(ref.model, [])
        found = got[ref.index] if ref.index < len(got) else None
        if found is None or found.name != ref.test:
            # The sidecar changed since the definitions were loaded.
            yield dg.AssetCheckResult(
                asset_key=keys.model(ref.model), check_name=ref.check, passed=False,
                description=f"test {ref.test!r} is no longer in {ref.model}'s sidecar; "
                            "reload the definitions",
                metadata={"rocky/status": "error"})
            continue
        yield _check_result(ref, found, keys)


def _check_result(ref: CheckRef, res: TestResult, keys: Keys) -> dg.AssetCheckResult:
    examples = res.to_json()["examples"]
    meta: dict[str, Any] = {"rocky/status": res.status, "failing_rows": res.failing_rows}
    if res.message:
        meta["message"] = res.message
    if isinstance(examples, list) and examples:
        meta["examples"] = dg.MetadataValue.json(examples)
    return dg.AssetCheckResult(
        asset_key=keys.model(ref.model), check_name=ref.check, passed=res.status == "pass",
        severity=dg.AssetCheckSeverity.WARN if res.status == "warn"
        else dg.AssetCheckSeverity.ERROR,
        description=res.message or None, metadata=meta)
