"""Find the macros of an installed dbt: its global project and its adapter's.

dbt's cross-database macros (``dbt.concat``, ``dbt.dateadd``, ``dbt.type_string``, ...) live
in dbt itself (``dbt/include/global_project``) and in the adapter plugin
(``dbt/include/<adapter>``). Packages such as dbt_utils call them, so the Jinja path renders
them from the user's own dbt when one is installed: the SQL is then dbt's, not a copy. Only
the files are read; rocky never imports dbt. The ``dbt`` executable named by ``--dbt`` (or
``ROCKY_DBT``, or the one on PATH) points at the installation.

    >>> find_dbt_macros("duckdb", "/nonexistent/bin/dbt") is None
    True
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DbtMacros:
    """Macro folders of one dbt installation, the adapter's first (it overrides the global
    project's in dbt's own search order)."""

    folders: tuple[Path, ...]
    version: str
    site: Path


def find_dbt_macros(adapter_type: str, executable: str | None = None) -> DbtMacros | None:
    exe = executable or os.environ.get("ROCKY_DBT") or shutil.which("dbt")
    if not exe:
        return None
    path = Path(exe)
    if not path.is_absolute():
        found = shutil.which(exe)
        if not found:
            return None
        path = Path(found)
    # A venv's bin/dbt is a script next to its python; resolve() follows a symlinked venv.
    for venv in dict.fromkeys((path.parent.parent, path.resolve().parent.parent)):
        for site in sorted(venv.glob("lib/python*/site-packages")):
            include = site / "dbt" / "include"
            global_macros = include / "global_project" / "macros"
            if not global_macros.is_dir():
                continue
            folders = [include / adapter_type / "macros", global_macros]
            return DbtMacros(folders=tuple(f for f in folders if f.is_dir()),
                             version=_version(site), site=site)
    return None


def _version(site: Path) -> str:
    for dist in sorted(site.glob("dbt_core-*.dist-info")):
        return dist.name[len("dbt_core-"):-len(".dist-info")]
    return "unknown"


__all__ = ["DbtMacros", "find_dbt_macros"]
