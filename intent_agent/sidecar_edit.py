"""Edit a model's sidecar in place with tomlkit: comments, order and layout are kept.

    >>> append_tests(project, "customers", [make_test(type="unique", column="id")])  # doctest: +SKIP
    >>> set_confirmed_sql(project, "customers", "9f2c...")                           # doctest: +SKIP

Every edit is re-validated by loading the sidecar again; an edit that would leave an
invalid sidecar is not written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from rocky_engine.config import Sidecar
from rocky_engine.errors import ConfigError, Location, UsageError
from rocky_engine.project import Model, Project

_KEY_ORDER = ("type", "column", "columns", "values", "to", "field", "expression", "min", "max",
              "name", "severity")


def sidecar_path(project: Project, model: Model) -> Path:
    if model.sidecar_path:
        return project.root / model.sidecar_path
    return (project.root / model.path).with_suffix(".toml")


def append_tests(project: Project, model_name: str, tests: Sequence[Any],
                 comment: str | None = None) -> Path:
    """Add ``tests`` as ``[[tests]]`` entries after the existing ones."""
    model = _model(project, model_name)
    path = sidecar_path(project, model)
    doc = _load(path)
    existing = doc.get("tests")
    if existing is None:
        aot = tomlkit.aot()
        for test in tests:
            aot.append(_table(test, comment))
        doc.append("tests", aot)
    elif isinstance(existing, AoT):
        if len(existing) and not existing[-1].as_string().endswith("\n\n"):
            existing[-1].add(tomlkit.nl())
        for test in tests:
            existing.append(_table(test, comment))
    else:
        raise ConfigError("`tests` in the sidecar is not an array of tables",
                          location=Location(_rel(project, path)),
                          hint="write each test as a [[tests]] table")
    _save(project, path, doc)
    return path


def set_confirmed_sql(project: Project, model_name: str, digest: str) -> tuple[Path, str | None]:
    """Store ``digest`` as ``[intent] confirmed_sql``; return the path and the previous value."""
    model = _model(project, model_name)
    if model.sidecar.intent is None:
        raise UsageError(f"model {model.name} has no [intent] to confirm",
                         location=Location(model.sidecar_path or model.path),
                         hint="add [intent] purpose = \"...\" to its sidecar first")
    path = sidecar_path(project, model)
    doc = _load(path)
    intent = doc.get("intent")
    previous = model.sidecar.intent.confirmed_sql
    if isinstance(intent, str):
        # The short form `intent = "..."` becomes a table; its text is the purpose.
        table = tomlkit.table()
        table["purpose"] = str(intent)
        table["confirmed_sql"] = digest
        doc.remove("intent")
        doc.append("intent", table)
    elif isinstance(intent, (Table, dict)):
        intent["confirmed_sql"] = digest
    else:
        raise ConfigError("`intent` in the sidecar is neither a string nor a table",
                          location=Location(_rel(project, path)))
    _save(project, path, doc)
    return path, previous


def _model(project: Project, name: str) -> Model:
    model = project.model(name)
    if model is None:
        raise UsageError(f"no model named `{name}`", hint="see `rocky compile` for the models")
    return model


def _load(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    return tomlkit.parse(path.read_text(encoding="utf-8"))


def _table(test: Any, comment: str | None) -> Table:
    data = test.model_dump(exclude_none=True)
    if data.get("severity") == "error":
        data.pop("severity")  # the default: keep generated entries as short as hand-written ones
    table = tomlkit.table()
    for key in sorted(data, key=lambda k: _KEY_ORDER.index(k) if k in _KEY_ORDER else 99):
        table[key] = data[key]
    if comment:
        table.comment(comment)
    table.add(tomlkit.nl())
    return table


def _save(project: Project, path: Path, doc: tomlkit.TOMLDocument) -> None:
    import tomllib

    from pydantic import ValidationError

    text = tomlkit.dumps(doc)
    try:
        Sidecar.model_validate(tomllib.loads(text))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"refusing to write an invalid sidecar: {str(exc).splitlines()[0]}",
                          location=Location(_rel(project, path))) from None
    path.write_text(text, encoding="utf-8")


def _rel(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path)
