"""The run → test → branch chapter of ``rocky demo`` (listed in ``demo._later_steps()``).

Each step calls the same Context method as the CLI command in its title and reports
what a user would see through the context's console.
"""

from __future__ import annotations

from collections.abc import Callable

from rocky_engine.context import Context

BRANCH = "add_order_count"
_MODEL = "daily_revenue"
_OLD = "COUNT(DISTINCT customer_id) AS buyers,"
_NEW = "COUNT(DISTINCT customer_id) AS buyers,\n    COUNT(*) AS completed_orders,"


def execution_steps() -> list[tuple[str, Callable[[Context], None]]]:
    return [
        ("rocky run", _run),
        ("rocky test", _test),
        ("upstream: 6 new payments land in raw.payments", _new_payments),
        ("rocky run   (payment_log is incremental: it only adds the new rows)", _run_again),
        (f"rocky branch create {BRANCH}", _create),
        (f"edit models/{_MODEL}.sql: add a completed_orders column", _edit),
        (f"rocky run --branch {BRANCH} --select {_MODEL}", _run_branch),
        (f"rocky branch diff {BRANCH}", _diff),
        (f"rocky branch promote {BRANCH}", _promote),
    ]


def _reloaded(ctx: Context) -> Context:
    fresh = Context.load(ctx.project.root, ctx.console, warehouse_path=ctx.warehouse_path)
    fresh.lock_timeout = ctx.lock_timeout
    return fresh


def _run(ctx: Context) -> None:
    result = ctx.run()
    ctx.console.line(result.summary())
    _require(result.ok, "rocky run failed")


_INCREMENTAL = "payment_log"


def _new_payments(ctx: Context) -> None:
    from sqlglot import exp

    from rocky_engine.adapters.base import table_ref

    payments = table_ref("raw", "payments")
    with ctx.adapter() as adapter:
        (top_id, top_at) = adapter.fetchall(exp.select("MAX(id)", "MAX(paid_at)")
                                            .from_(payments))[0]
        rows = [(top_id + i, 1 + i * 7, "card", 10 + i, top_at.replace(microsecond=0)
                 .isoformat(sep=" ")) for i in range(1, 7)]
        adapter.execute(exp.insert(
            exp.values([(i, o, m, a, exp.cast(exp.Literal.string(t), "TIMESTAMP"))
                        for i, o, m, a, t in rows]), payments))
    ctx.console.line(f"  raw.payments: +{len(rows)} rows (ids {rows[0][0]}..{rows[-1][0]})")


def _run_again(ctx: Context) -> None:
    result = ctx.run()
    ctx.console.line(result.summary())
    _require(result.ok, "rocky run failed")
    inc = result.model(_INCREMENTAL)
    _require(inc is not None and inc.mode == "incremental",
             f"{_INCREMENTAL} was not built incrementally")
    assert inc is not None
    ctx.console.line(f"  {_INCREMENTAL}: +{inc.inserted} new, {inc.updated} updated "
                     f"(read only the rows from two days before its newest, not all "
                     f"{inc.rows})")


def _test(ctx: Context) -> None:
    report = ctx.test()
    ctx.console.line(report.summary())
    _require(report.ok, "rocky test failed")


def _create(ctx: Context) -> None:
    info = ctx.branch_create(BRANCH)
    ctx.console.line(f"created branch {info.name}: schema {info.schema}, every model a "
                     "zero-copy view over prod")


def _edit(ctx: Context) -> None:
    path = ctx.project.root / "models" / f"{_MODEL}.sql"
    sql = path.read_text(encoding="utf-8")
    if _OLD in sql and "completed_orders" not in sql:
        path.write_text(sql.replace(_OLD, _NEW), encoding="utf-8")
    ctx.console.line(f"  {path.name}: + COUNT(*) AS completed_orders")


def _run_branch(ctx: Context) -> None:
    result = _reloaded(ctx).run([_MODEL], branch=BRANCH)
    ctx.console.line(result.summary())
    _require(result.ok, "rocky run --branch failed")


def _diff(ctx: Context) -> None:
    diff = _reloaded(ctx).branch_diff(BRANCH)
    ctx.console.line(f"branch {diff.branch} ({diff.schema}) vs {diff.base}:")
    for model in diff.models:
        ctx.console.line(model.render())


def _promote(ctx: Context) -> None:
    result = _reloaded(ctx).branch_promote(BRANCH)
    ctx.console.line(f"promoted {', '.join(m.model for m in result.promoted)} to prod "
                     "in one transaction")
    _reloaded(ctx).branch_drop(BRANCH)
    ctx.console.line(f"dropped branch {BRANCH}")


def _require(ok: bool, message: str) -> None:
    if not ok:
        from rocky_engine.errors import ProblemError

        raise ProblemError(message)
