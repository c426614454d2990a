"""The error hierarchy and the diagnostic record shared by every part of rocky.

    RockyError                 one root; never shown as a traceback without --debug
    ├── UsageError             bad command-line usage                       (exit 2)
    ├── ConfigError            a project file is malformed or inconsistent  (exit 2)
    │   └── ProjectLoadError   rocky.toml / sources / models / sidecars
    ├── WarehouseError         the warehouse refused or failed              (exit 2)
    │   └── LockTimeout        another writer holds the warehouse lock
    └── ProblemError           the project has the problem the command reports (exit 1)

Every user-facing error renders as one line in the compiler style::

    models/orders.sql:12:8: error[R104]: column "amout" not found (did you mean "amount"?)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Location:
    """A place in a project file; line and col are 1-based, 0 when unknown."""

    file: str
    line: int = 0
    col: int = 0

    def render(self) -> str:
        if self.line and self.col:
            return f"{self.file}:{self.line}:{self.col}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


@dataclass(frozen=True)
class Subject:
    """What a diagnostic is about: a relation, or one of its columns, as lineage names them.

    ``relation`` is a model name or ``schema.table`` for a source (lower-case); ``node`` is
    the lineage node id (``relation.column``, or the relation alone).

    >>> Subject("raw.orders", "amount").node
    'raw.orders.amount'
    >>> Subject("stg_orders").node
    'stg_orders'
    """

    relation: str
    column: str | None = None

    @property
    def node(self) -> str:
        return f"{self.relation}.{self.column}" if self.column else self.relation

    def to_json(self) -> dict[str, object]:
        return {"relation": self.relation, "column": self.column, "node": self.node}


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a project, with a stable code (see ``rocky_engine.codes``)."""

    code: str
    severity: Severity
    message: str
    file: str = ""
    line: int = 0
    col: int = 0
    hint: str | None = None
    snippet: str | None = None
    model: str | None = None
    end_col: int = 0
    # The relations / columns this finding is about (drift blames changes through these).
    subjects: tuple[Subject, ...] = ()

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.col)

    def headline(self) -> str:
        where = self.location.render() + ": " if self.file else ""
        text = f"{where}{self.severity.value}[{self.code}]: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "hint": self.hint,
            "model": self.model,
            "subjects": [s.to_json() for s in self.subjects],
        }


class RockyError(Exception):
    """Root of every error rocky raises on purpose."""

    exit_code: int = 2
    code: str = "R000"

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        if code is not None:
            self.code = code

    def render(self) -> str:
        where = self.location.render() + ": " if self.location else ""
        text = f"{where}error[{self.code}]: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "severity": "error",
            "message": self.message,
            "file": loc.file if loc else "",
            "line": loc.line if loc else 0,
            "col": loc.col if loc else 0,
            "hint": self.hint,
        }


class UsageError(RockyError):
    exit_code = 2
    code = "R001"


class ConfigError(RockyError):
    exit_code = 2
    code = "R002"


class ProjectLoadError(ConfigError):
    code = "R003"


class WarehouseError(RockyError):
    exit_code = 2
    code = "R004"


class LockTimeout(WarehouseError):
    code = "R005"


class ProblemError(RockyError):
    """The project has the problem the command exists to report (exit 1)."""

    exit_code = 1
    code = "R006"


def relpath(path: Path, root: Path) -> str:
    """A path as the user sees it: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
