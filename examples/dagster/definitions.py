"""Dagster definitions for a rocky project — copy this file next to your `rocky.toml`.

    pip install 'rocky-intent[dagster]' dagster-webserver
    dagster dev -f definitions.py                 # the UI on http://127.0.0.1:3000
    dagster definitions validate -f definitions.py

Every model is an asset (dependencies, intent, column types and column lineage), every
data test and unit test an asset check, `<project>_build` a job building everything (here
every morning at 06:00), and `<project>_drift` a sensor that runs the repair agent once per
new upstream drift (turn it on in the UI: Automation). The project is the directory
holding this file, or $ROCKY_PROJECT_DIR when set.
"""

from __future__ import annotations

import os
from pathlib import Path

from rocky_engine.integrations.dagster import rocky_definitions

PROJECT_DIR = Path(os.environ.get("ROCKY_PROJECT_DIR") or Path(__file__).resolve().parent)

defs = rocky_definitions(PROJECT_DIR, build_schedule="0 6 * * *")

# To add your own assets, jobs or resources:
#   defs = dagster.Definitions.merge(rocky_definitions(PROJECT_DIR), dagster.Definitions(...))
