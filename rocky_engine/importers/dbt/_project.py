"""Reading a dbt project's own files: ``dbt_project.yml``, yml property files, profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rocky_engine.errors import ConfigError, Location, UsageError


def load_yaml(path: Path, display: str) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", location=Location(display)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", location=Location(display, line),
                          hint="fix the YAML (dbt would refuse it too)") from None


def dbt_project(dbt_dir: Path) -> dict[str, Any]:
    """``dbt_project.yml`` as a dict; a folder without one is not a dbt project (exit 2)."""
    if not dbt_dir.is_dir():
        raise UsageError(f"{dbt_dir} is not a folder", hint="pass the dbt project folder")
    path = dbt_dir / "dbt_project.yml"
    if not path.is_file():
        raise UsageError(f"{dbt_dir} is not a dbt project (no dbt_project.yml)",
                         location=Location(str(dbt_dir)),
                         hint="pass the folder holding dbt_project.yml")
    data = load_yaml(path, "dbt_project.yml")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigError("dbt_project.yml has no `name`", location=Location("dbt_project.yml", 1))
    return data


def paths(project: dict[str, Any], key: str, default: str) -> list[str]:
    value = project.get(key) or [default]
    return [str(v) for v in (value if isinstance(value, list) else [value])]
