"""``rocky_definitions``: one call from a rocky project to Dagster definitions."""

# No `from __future__ import annotations`: Dagster reads the op's `context` and `config`
# annotations as objects, not strings.

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from rocky_engine.context import Context
from rocky_engine.execution import build_plan
from rocky_engine.integrations.dagster._execute import evaluate_checks, materialize_models
from rocky_engine.integrations.dagster._sensor import drift_sensor
from rocky_engine.integrations.dagster._specs import (
    Keys,
    check_refs,
    check_specs,
    dagster_name,
    model_specs,
    source_specs,
)

# Packages add Dagster jobs for a project through this entry-point group, as the agent's
# commands reach the CLI through ``rocky.commands``: the engine never imports the agent.
# An entry point loads to ``factory(project_root: Path, job_name: str) -> JobDefinition``;
# the one named ``repair`` is the job the drift sensor requests.
ENTRY_POINT_GROUP = "rocky.dagster"
REPAIR_ENTRY_POINT = "repair"

JobFactory = Callable[[Path, str], dg.JobDefinition]


def rocky_definitions(project_dir: str | Path, *, key_prefix: Sequence[str] = (),
                      group_name: str | None = None, build_schedule: str | None = None,
                      drift_interval_seconds: int = 300, repair: bool = True) -> dg.Definitions:
    """Dagster definitions for the rocky project at ``project_dir``.

    - every model an asset (upstream models and declared sources as dependencies, the
      intent as description, compiled column types and column lineage as metadata);
      declared sources are external assets;
    - data tests and unit tests as asset checks;
    - ``<project>_build``: a job building every model and running every check, on the
      cron schedule ``build_schedule`` when given (``<project>_build_schedule``);
    - ``<project>_drift``: a sensor requesting ``<project>_repair`` once per new drift,
      when a package (the agent) provides the repair job through ``rocky.dagster``.

    Asset keys are ``[*key_prefix, model]`` and ``[*key_prefix, schema, table]``.

        >>> defs = rocky_definitions("path/to/shop")   # doctest: +SKIP
        >>> defs.resolve_asset_graph().get_all_asset_keys()  # doctest: +SKIP
    """
    ctx = Context.load(project_dir)
    project = ctx.project
    root = project.root
    base = dagster_name(project.config.project.name)
    group = group_name or base
    keys = Keys(key_prefix)
    compiled = ctx.compile()
    plan = build_plan(project)
    graph = ctx.lineage_graph()
    order = list(plan.dag.order())
    kinds = {"rocky", project.config.warehouse.type}

    specs = model_specs(project, plan, compiled, graph, keys, group=group, kinds=kinds)

    @dg.multi_asset(name=f"{base}_models", specs=specs, can_subset=True,
                    description=f"rocky run of project {project.config.project.name}")
    def _models(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        yield from materialize_models(context, root, keys, order)

    assets: list[Any] = [_models, *source_specs(project, keys, group=group)]
    refs = check_refs(project, order)
    checks = []
    if refs:
        @dg.multi_asset_check(name=f"{base}_tests", specs=check_specs(refs, keys),
                              can_subset=True,
                              description=f"rocky test of project {project.config.project.name}")
        def _tests(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
            yield from evaluate_checks(context, root, keys, refs)

        checks.append(_tests)

    build = dg.define_asset_job(
        f"{base}_build", selection=dg.AssetSelection.assets(_models),
        description="Build every model and run every test, as `rocky run` then `rocky test`.")
    jobs: list[Any] = [build]
    schedules = [dg.ScheduleDefinition(name=f"{base}_build_schedule", job=build,
                                       cron_schedule=build_schedule)] if build_schedule else []
    repair_name = f"{base}_repair"
    factory = _job_factory(REPAIR_ENTRY_POINT) if repair else None
    if factory is not None:
        jobs.append(factory(root, repair_name))
    sensor = drift_sensor(root, name=f"{base}_drift",
                          job_name=repair_name if factory is not None else None,
                          minimum_interval_seconds=drift_interval_seconds)
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs, sensors=[sensor],
                          schedules=schedules)


def _job_factory(name: str) -> JobFactory | None:
    """The factory registered under ``name`` in ``rocky.dagster``; None when none is."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        factory: JobFactory = ep.load()
        return factory
    return None
