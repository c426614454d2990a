"""The intent chapter of ``rocky demo``: explain a model, then derive tests from its intent.

Meant to run after the models are built and before drift/repair::

    def _later_steps():
        return [*execution_steps(), *intent_steps(), *repair_steps()]
"""

from __future__ import annotations

from collections.abc import Callable

import click

from rocky_engine.context import Context


def intent_steps() -> list[tuple[str, Callable[[Context], None]]]:
    return [
        ("rocky explain customers", _explain),
        ("rocky gen-tests order_payments --write", _gen_tests),
    ]


def _explain(ctx: Context) -> None:
    from intent_agent.explain import explain_model, render_text
    from intent_agent.providers import OfflineProvider

    result = explain_model(ctx.project, "customers", OfflineProvider(), compiled=ctx.compile())
    for line in render_text(result):
        click.echo(line)


def _gen_tests(ctx: Context) -> None:
    from intent_agent.gen_tests import generate_tests, render_text
    from intent_agent.providers import OfflineProvider

    report = generate_tests(ctx, "order_payments", OfflineProvider(), write=True)
    for line in render_text(report):
        click.echo(line)
