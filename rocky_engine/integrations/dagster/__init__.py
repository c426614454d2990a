"""rocky in Dagster: models as assets, tests as asset checks, drift as a sensor.

Needs the optional extra: ``pip install 'rocky-intent[dagster]'``.

    # definitions.py, loaded by `dagster dev -f definitions.py`
    from rocky_engine.integrations.dagster import rocky_definitions

    defs = rocky_definitions("path/to/project")

Everything goes through the engine's public API (``Context``: compile, lineage, run,
test, drift), in process and warehouse-agnostic. The repair job the drift sensor
requests is provided by the agent through the ``rocky.dagster`` entry-point group
(:data:`ENTRY_POINT_GROUP`), so the engine never imports it.
"""

from __future__ import annotations

from rocky_engine.integrations.dagster._definitions import (
    ENTRY_POINT_GROUP,
    REPAIR_ENTRY_POINT,
    rocky_definitions,
)
from rocky_engine.integrations.dagster._execute import LogConsole
from rocky_engine.integrations.dagster._sensor import DRIFT_TAG, PROJECT_TAG, drift_fingerprint
from rocky_engine.integrations.dagster._specs import check_name

__all__ = [
    "DRIFT_TAG",
    "ENTRY_POINT_GROUP",
    "PROJECT_TAG",
    "REPAIR_ENTRY_POINT",
    "LogConsole",
    "check_name",
    "drift_fingerprint",
    "rocky_definitions",
]
