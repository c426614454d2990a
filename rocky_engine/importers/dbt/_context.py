"""The objects of the dbt-compatible Jinja context: relations, macros, ``adapter``, ``api``,
``config``, ``target``, ``exceptions``, ``modules`` and the query results macros read.

Whatever would need the warehouse raises :class:`Refused`, which the Jinja path turns into the
model's refusal (naming the macros it went through).

    >>> str(Relation("dev", "main", "orders"))
    '"dev"."main"."orders"'
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import jinja2

from rocky_engine.importers.dbt._project import load_yaml


class Refused(Exception):
    """The model needs something rocky cannot give while compiling (the warehouse).

    ``via`` collects the macros it passed through, innermost first, so the reason names the
    macro the model called (``dbt_utils.get_column_values``), not only the deepest one.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.via: list[str] = []

    def reason(self) -> str:
        if not self.via:
            return str(self)
        chain = list(reversed(self.via))
        inner = f" (via {' -> '.join(chain[1:4])})" if len(chain) > 1 else ""
        return f"{chain[0]}{inner}: {self}"


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _raise_return(value: Any = "") -> None:
    raise _Return(value)


class Relation(Mapping[str, Any]):
    """What ``ref()``, ``source()`` and ``this`` return; renders like dbt's relation.

    Like dbt's, it is a mapping (``dbt_utils._is_relation`` checks ``obj is mapping`` and its
    ``metadata.type``). ``columns`` answers ``adapter.get_columns_in_relation`` when the
    columns are known without the warehouse (a seed, a model), else it refuses.
    """

    def __init__(self, database: str, schema: str, identifier: str, *, cte: str | None = None,
                 columns: Callable[[], list[str]] | None = None, what: str = ""):
        self.database, self.schema, self.identifier = database, schema, identifier
        self.name = self.table = identifier
        self._cte = cte
        self._columns = columns
        self._what = what or identifier
        self.is_cte = cte is not None

    def columns(self) -> list[str]:
        if self._columns is None:
            raise Refused(f"asks the warehouse for the columns of {self._what}")
        return self._columns()

    def _dict(self) -> dict[str, Any]:
        return {"database": self.database, "schema": self.schema, "identifier": self.identifier,
                "type": self.type, "metadata": {"type": "DuckDBRelation"},
                "path": {"database": self.database, "schema": self.schema,
                         "identifier": self.identifier}}

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Relation) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __str__(self) -> str:
        if self._cte:
            return self._cte
        return ".".join(f'"{p}"' for p in (self.database, self.schema, self.identifier) if p)

    def __html__(self) -> str:  # so jinja does not escape it
        return str(self)

    def render(self) -> str:
        return str(self)

    def include(self, **_: Any) -> Relation:
        return self

    is_relation = True
    type = "table"

    def quote(self, **_: Any) -> Relation:
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise Refused(f"uses relation.{name}, which needs the warehouse")


class _Macro:
    """A macro callable as dbt calls it: ``return(...)`` gives the call's value."""

    def __init__(self, name: str, source: str, env: jinja2.Environment, ctx: Any, origin: str,
                 package: str = ""):
        self.name, self.source, self.env, self.ctx, self.origin = name, source, env, ctx, origin
        self.package = package
        self._fn: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            template = self.env.from_string(self.source)
            # Read the macro from the template's own context, not its module: a module
            # exports no `_private` names, and dbt_utils calls `_is_relation` & co.
            context = template.new_context(self.ctx, shared=True)
            for _ in template.root_render_func(context):
                pass
            self._fn = context.vars[self.name]
        try:
            return self._fn(*args, **kwargs)
        except _Return as ret:
            return ret.value
        except Refused as exc:
            exc.via.append(f"{self.package}.{self.name}" if self.package else self.name)
            raise


class _Namespace:
    def __init__(self, name: str, macros: dict[str, Any], fallback: Callable[[str], Any] | None = None):
        self._name, self._macros, self._fallback = name, macros, fallback

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        if item in self._macros:
            return self._macros[item]
        if self._fallback is not None:
            found = self._fallback(item)
            if found is not None:
                return found
        raise Refused(f"uses {self._name}.{item}, which is not a macro of `{self._name}`")


class _Adapter:
    def __init__(self, dispatch: Callable[..., Any], adapter_type: str = "duckdb") -> None:
        self.dispatch = dispatch
        self._type = adapter_type

    def quote(self, name: str) -> str:
        return f'"{name}"'

    def type(self) -> str:
        return self._type

    def get_columns_in_relation(self, relation: Any) -> list[_Column]:
        if not isinstance(relation, Relation):
            raise Refused(f"calls adapter.get_columns_in_relation({relation!r}), which needs the "
                          "warehouse while compiling")
        try:
            names = relation.columns()
        except Refused as exc:
            raise Refused(f"calls adapter.get_columns_in_relation({relation.identifier}), "
                          f"which {exc}") from None
        return [_Column(c, relation.identifier) for c in names]

    def __getattr__(self, item: str) -> Any:
        raise Refused(f"uses adapter.{item}, which needs the warehouse while compiling")


class _Column:
    """A column as ``adapter.get_columns_in_relation`` gives it: its name is known (a seed's
    header, a model's SQL), its warehouse type is not, so asking for it refuses."""

    def __init__(self, name: str, relation: str) -> None:
        self.column = self.name = name
        self._relation = relation

    @property
    def quoted(self) -> str:
        return f'"{self.column}"'

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        raise Refused(f"asks for the warehouse type of column {self.column} of {self._relation} "
                      f"(column.{item})")


class _ApiColumn:
    """``api.Column``: dbt's base Column class methods that need no warehouse."""

    TYPE_LABELS: ClassVar[dict[str, str]] = {"STRING": "TEXT"}

    @classmethod
    def translate_type(cls, dtype: str) -> str:
        return cls.TYPE_LABELS.get(str(dtype).upper(), str(dtype))

    @staticmethod
    def string_type(size: int) -> str:
        return f"character varying({size})"

    @staticmethod
    def numeric_type(dtype: str, precision: Any, scale: Any) -> str:
        return str(dtype) if precision is None or scale is None else f"{dtype}({precision},{scale})"


class _ApiRelation:
    @staticmethod
    def add_ephemeral_prefix(name: str) -> str:
        return f"__dbt__cte__{name}"

    def __getattr__(self, item: str) -> Any:
        raise Refused(f"uses api.Relation.{item}")


class _Api:
    Relation = _ApiRelation()
    Column = _ApiColumn

    def __getattr__(self, item: str) -> Any:
        raise Refused(f"uses api.{item}")


class _Result(dict):  # type: ignore[type-arg]
    """What ``load_result`` gives: ``data`` rows and an agate-like ``table``."""

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        super().__init__(data=[list(r) for r in rows], table=_Table(columns, rows), response="OK")


class _Table:
    """The part of an agate table that macros read: rows, column names, column values."""

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.column_names = tuple(columns)
        self.rows = [tuple(r) for r in rows]
        self.columns = [_TableColumn(c, [r[i] for r in rows]) for i, c in enumerate(columns)]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class _TableColumn:
    def __init__(self, name: str, values: list[Any]) -> None:
        self.name, self._values = name, values

    def values(self) -> tuple[Any, ...]:
        return tuple(self._values)


class _Config:
    def __init__(self, base: dict[str, Any]) -> None:
        self.values = dict(base)

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        for a in args:
            if isinstance(a, dict):
                self.values.update(a)
        self.values.update(kwargs)
        return ""

    def get(self, key: str, default: Any = None, *_: Any, **__: Any) -> Any:
        return self.values.get(key, default)

    def require(self, key: str, *_: Any) -> Any:
        if key not in self.values:
            raise Refused(f"config `{key}` is required by a macro but not set")
        return self.values[key]


def _needs_warehouse(what: str) -> Callable[..., Any]:
    def fn(*_: Any, **__: Any) -> Any:
        raise Refused(f"calls {what}, which needs the warehouse while compiling")
    return fn


def _compiler_error(msg: str = "", *_: Any) -> None:
    raise Refused(f"raises a compiler error: {' '.join(str(msg).split())}")


class _Exceptions:
    raise_compiler_error = staticmethod(_compiler_error)

    @staticmethod
    def warn(*_: Any, **__: Any) -> str:
        return ""

    def __getattr__(self, item: str) -> Any:
        return _compiler_error


class _Flags:
    FULL_REFRESH = False
    STORE_FAILURES = False
    WHICH = "compile"

    def __getattr__(self, item: str) -> Any:
        return None


class _Target(dict):  # type: ignore[type-arg]
    def __getattr__(self, item: str) -> Any:
        try:
            return self[item]
        except KeyError:
            raise AttributeError(item) from None


class _Modules:
    datetime = _dt
    re = re
    itertools = itertools

    def __getattr__(self, item: str) -> Any:
        raise Refused(f"uses modules.{item}")


_MISSING = object()


def _fromyaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _toyaml(value: Any) -> str:
    import yaml

    return str(yaml.safe_dump(value, sort_keys=False))


def _env_var(name: str, default: Any = _MISSING) -> Any:
    if name in os.environ:
        return os.environ[name]
    if default is _MISSING:
        raise Refused(f"env_var('{name}') is not set and has no default")
    return default


def _target(root: Path, project: dict[str, Any]) -> dict[str, Any]:
    """The target of the project's profile, when a profiles.yml is at hand; else DuckDB."""
    out: dict[str, Any] = {"name": "dev", "type": "duckdb", "schema": "main",
                           "database": "dev", "threads": 1, "profile_name": project.get("profile")}
    for candidate in (root / "profiles.yml",
                      Path(os.environ.get("DBT_PROFILES_DIR", "~/.dbt")).expanduser() / "profiles.yml"):
        if not candidate.is_file():
            continue
        try:
            data = load_yaml(candidate, str(candidate))
        except Exception:  # noqa: BLE001 - a broken profile only costs the defaults
            return out
        prof = (data or {}).get(project.get("profile") or "") if isinstance(data, dict) else None
        if not isinstance(prof, dict):
            return out
        name = str(prof.get("target") or "dev")
        cfg = (prof.get("outputs") or {}).get(name) or {}
        out.update({k: v for k, v in cfg.items() if isinstance(v, (str, int, float, bool))})
        out["name"] = name
        if "database" not in cfg and out["type"] == "duckdb":
            path = str(cfg.get("path") or ":memory:")
            out["database"] = "memory" if path == ":memory:" else Path(path).stem
        out.setdefault("schema", "main")
        break
    return out
