"""Patch safety: a drafted patch is untrusted data until it passes these checks.

A patch may only touch ``models/*.sql``, ``models/*.toml`` and ``sources/*.toml`` inside
the project; a model file must parse to exactly one query (SELECT / WITH / UNION) reading
only relations the project knows, with no statement, file-reading or network table
function anywhere in it. Checks run before anything executes::

    >>> try:
    ...     check_model_sql("SELECT 1; DROP TABLE raw.orders", known={"raw.orders"})
    ... except UnsafePatch as exc:
    ...     print(exc.message)
    a model patch must be exactly one SELECT, found 2 statements
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlglot
from pydantic import ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from rocky_engine.config import Sidecar, SourceFileSpec
from rocky_engine.errors import Location, ProblemError


class UnsafePatch(ProblemError):
    """A drafted patch was refused before it ran."""


@dataclass(frozen=True)
class Patch:
    """A whole-file replacement proposed by a repairer. ``path`` is project-relative, posix."""

    path: str
    new_text: str
    old_text: str = ""
    reason: str = ""


# Statement node types that are never allowed anywhere inside a model.
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in (
        "Create", "Insert", "Update", "Delete", "Drop", "Merge", "Alter", "Command", "Copy",
        "Set", "Pragma", "Attach", "Detach", "Install", "Use", "Transaction", "Commit",
        "Rollback", "Into", "LoadData", "Describe", "Export", "Grant", "Revoke", "Summarize",
    ) if hasattr(exp, name)
)
_DENIED_PREFIX = re.compile(r"^(read_|duckdb_|pragma_|parquet_|load_|current_setting$|system$|"
                            r"shell$)")
_SAFE_TABLE_FUNCTIONS = {"unnest", "range", "generate_series"}
_FILE_FUNCTIONS = {
    "glob", "read_text", "read_blob", "sniff_csv", "query", "query_table", "getenv",
    "parquet_scan", "parquet_metadata", "parquet_schema", "csv_scan", "json_scan",
}


def check_path(path: str, root: Path) -> str:
    """The normalised path when a patch may write it; :class:`UnsafePatch` otherwise.

    >>> check_path("models/customers.sql", Path("/p"))
    'models/customers.sql'
    """
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise UnsafePatch(f"patch path {path!r} is outside the project",
                          hint="patches may only touch models/*.sql, models/*.toml, sources/*.toml")
    top, suffix = pure.parts[0], pure.suffix
    allowed = (top == "models" and suffix in {".sql", ".toml"} and len(pure.parts) >= 2) or (
        top == "sources" and suffix == ".toml" and len(pure.parts) == 2)
    if not allowed or any(part.startswith(".") for part in pure.parts):
        raise UnsafePatch(f"patch path {path!r} is not a model or source file",
                          hint="patches may only touch models/*.sql, models/*.toml, sources/*.toml")
    target = (root / pure).resolve()
    try:
        target.relative_to(root.resolve())
    except ValueError:
        raise UnsafePatch(f"patch path {path!r} resolves outside the project (symlink?)") from None
    return pure.as_posix()


def check_model_sql(sql: str, *, known: Iterable[str], dialect: str = "duckdb",
                    path: str = "") -> exp.Query:
    """Parse ``sql`` as one read-only query over ``known`` relations, or raise UnsafePatch."""
    where = Location(path) if path else None
    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise UnsafePatch(f"the patched model does not parse: {str(exc).splitlines()[0]}",
                          location=where) from None
    if len(statements) != 1:
        raise UnsafePatch(
            f"a model patch must be exactly one SELECT, found {len(statements)} statements",
            location=where)
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise UnsafePatch(f"a model patch must be a SELECT, found {type(tree).__name__.upper()}",
                          location=where)
    known_low = {k.lower() for k in known}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafePatch(f"a model patch may not contain {type(node).__name__.upper()}",
                              location=where)
        if isinstance(node, exp.Func):
            name = _func_name(node)
            if name in _FILE_FUNCTIONS or _DENIED_PREFIX.match(name) or name.endswith("_scan"):
                raise UnsafePatch(f"a model patch may not call {name}(): it reads outside the "
                                  "warehouse", location=where)
        if isinstance(node, exp.Table):
            _check_table(node, known_low, ctes, where)
    return tree


def check_toml(path: str, text: str) -> None:
    """A sidecar or source file must still be a valid one of its kind."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnsafePatch(f"patched {path} is not valid TOML: {exc}", location=Location(path)) from None
    model = SourceFileSpec if path.startswith("sources/") else Sidecar
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise UnsafePatch(f"patched {path} is not a valid {model.__name__}: `{key}`: {first['msg']}",
                          location=Location(path)) from None


def check_patch(patch: Patch, root: Path, *, known: Iterable[str], dialect: str = "duckdb") -> Patch:
    """Every check for one patch; returns it with the normalised path."""
    path = check_path(patch.path, root)
    if path.endswith(".sql"):
        check_model_sql(patch.new_text, known=known, dialect=dialect, path=path)
    else:
        check_toml(path, patch.new_text)
    return Patch(path, patch.new_text, patch.old_text, patch.reason)


def _func_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _check_table(node: exp.Table, known: set[str], ctes: set[str], where: Location | None) -> None:
    this = node.this
    if isinstance(this, exp.Func):
        name = _func_name(this)
        if name not in _SAFE_TABLE_FUNCTIONS:
            raise UnsafePatch(f"a model patch may not read from table function {name}()",
                              location=where)
        return
    if not isinstance(this, exp.Identifier):
        raise UnsafePatch(f"a model patch may not read from `{node.sql()}`", location=where)
    if node.args.get("catalog"):
        raise UnsafePatch(f"a model patch may not read another database (`{node.sql()}`)",
                          location=where)
    name = f"{node.db}.{node.name}".lower() if node.db else node.name.lower()
    if name in known or (not node.db and name in ctes):
        return
    raise UnsafePatch(f"a model patch reads `{node.sql()}`, which is not a model, a declared "
                      "source or a CTE of the query", location=where)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    # sqlglot logs a warning when it falls back to a Command; the refusal says it better.
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
