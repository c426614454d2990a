"""The agent's intent commands, registered through the ``rocky.commands`` entry points.

Each is a thin wrapper over a library call: :func:`~intent_agent.explain.explain_model`,
:func:`~intent_agent.gen_tests.generate_tests`, :func:`~intent_agent.intent.confirm_intent`.
"""

from __future__ import annotations

import click

from intent_agent.providers.base import Provider
from intent_agent.providers.factory import make_provider
from rocky_engine.cli._app import EXIT_OK, EXIT_PROBLEM, Options, emit, global_options, pass_options
from rocky_engine.context import Context


def _provider(ctx: Context, offline: bool) -> Provider:
    if offline:
        from intent_agent.providers.offline import OfflineProvider

        return OfflineProvider()
    return make_provider(ctx.project.config.agent)


_offline_option = click.option(
    "--offline", is_flag=True, default=False,
    help="Use the deterministic offline provider whatever [agent] provider says.")


@click.command("explain")
@click.argument("model")
@_offline_option
@global_options
@pass_options
def explain_cmd(opts: Options, model: str, offline: bool) -> int:
    """Explain MODEL from its intent, SQL and lineage, and check they agree.

    Shows what the model produces, its grain and whether the SQL guarantees it, where
    each column comes from, its filters, joins and aggregations, and every mismatch
    between the SQL and the stated intent.

    \b
    Example:
        rocky explain customers
        rocky explain customers --format json
    """
    from intent_agent.explain import explain_model, render_text

    ctx = Context.load(opts.project, opts.console())
    result = explain_model(ctx.project, model, _provider(ctx, offline), compiled=ctx.compile())

    def text() -> None:
        for line in render_text(result):
            click.echo(line)
        if result.prompt:
            from intent_agent.prompting import PromptStats

            click.echo(PromptStats(**result.prompt).render(), err=True)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)

    emit(opts, result.model_dump(mode="json"), text)
    return EXIT_OK


@click.command("gen-tests")
@click.argument("model")
@click.option("--write", is_flag=True, default=False,
              help="Add the tests that hold to the model's sidecar (comments are kept).")
@_offline_option
@global_options
@pass_options
def gen_tests_cmd(opts: Options, model: str, write: bool, offline: bool) -> int:
    """Derive data tests for MODEL from its intent and run them on the current data.

    Tests that hold are offered (and added to the sidecar with --write); tests that
    fail are findings, the data or the intent is wrong, and exit with status 1.
    The model must have been built (`rocky run`).

    \b
    Example:
        rocky run && rocky gen-tests customers
        rocky gen-tests customers --write
    """
    from intent_agent.gen_tests import generate_tests, render_text

    ctx = Context.load(opts.project, opts.console())
    report = generate_tests(ctx, model, _provider(ctx, offline), write=write)

    def text() -> None:
        for line in render_text(report):
            click.echo(line)

    emit(opts, report.to_json(), text)
    return EXIT_PROBLEM if report.findings else EXIT_OK


@click.group("intent")
def intent_group() -> None:
    """Manage a model's stated intent.

    \b
    Example:
        rocky intent confirm customers
    """


@intent_group.command("confirm")
@click.argument("model")
@global_options
@pass_options
def confirm_cmd(opts: Options, model: str) -> int:
    """Record that MODEL's intent still describes its SQL (stores the SQL's sha256).

    `rocky compile` warns when the SQL changes after its intent was confirmed.

    \b
    Example:
        rocky intent confirm customers
    """
    from intent_agent.intent import confirm_intent

    ctx = Context.load(opts.project, opts.console())
    result = confirm_intent(ctx.project, model)

    def text() -> None:
        state = "confirmed" if result.changed else "already confirmed"
        click.echo(f"{result.model}: intent {state} for SQL sha256 {result.confirmed_sql[:12]} "
                   f"({result.sidecar})")

    emit(opts, result.to_json(), text)
    return EXIT_OK
