"""Load a project folder into typed, immutable records.

    >>> project = load_project("path/to/shop")          # doctest: +SKIP
    >>> project.models["customers"].sidecar.intent.grain  # doctest: +SKIP
    ['customer_id']

Every problem is a :class:`ProjectLoadError` naming the file and the key or line.
"""

from __future__ import annotations

import difflib
import functools
import gc
import hashlib
import os
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rocky_engine.config import (
    IDENT_RE,
    WAREHOUSE_TYPES,
    ColumnSpec,
    RockyConfig,
    Sidecar,
    SourceFileSpec,
)
from rocky_engine.errors import Location, ProjectLoadError, relpath
from rocky_engine.files import (
    CONFIG_FILE,
    Stamp,
    find_root,
    model_files,
    signature,
    source_files,
    trusted,
)

LOAD_CACHE_FILE = Path("target") / "rocky_load.cache"
_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str
    nullable: bool = True
    description: str | None = None


@dataclass(frozen=True)
class SourceTable:
    """A declared upstream table: the contract drift is checked against."""

    schema: str
    name: str
    columns: tuple[SourceColumn, ...]
    file: str
    description: str | None = None

    @property
    def fqn(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> SourceColumn | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass(frozen=True)
class Model:
    name: str
    path: str  # relative to the project root, posix
    sql: str
    sidecar: Sidecar
    sidecar_path: str | None = None

    @property
    def sql_hash(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def materialized(self) -> str:
        return self.sidecar.materialized


@dataclass(frozen=True)
class Project:
    root: Path
    config: RockyConfig
    sources: dict[str, SourceTable] = field(default_factory=dict)  # key: "schema.table" lowercase
    models: dict[str, Model] = field(default_factory=dict)  # key: model name lowercase
    source_files: dict[str, str] = field(default_factory=dict)  # schema -> relative file
    # A digest of every file this load read (None when the load cache was off or could not
    # be saved). Equal tokens mean identical project files, so the compiler may answer from
    # its last result. Not an init field: ``dataclasses.replace`` drops it.
    load_token: str | None = field(default=None, init=False, compare=False, repr=False)
    # Each file's content hash by relative path, from the same load (None when no token).
    load_digests: dict[str, str] | None = field(default=None, init=False, compare=False,
                                                repr=False)
    # Each file's stat stamp from the same load: rocky_engine.files.unchanged(root, stamps)
    # tells, without loading, that the project is still exactly what this load read.
    load_stamps: dict[str, Stamp] | None = field(default=None, init=False, compare=False,
                                                 repr=False)

    @property
    def name(self) -> str:
        return self.config.project.name

    @property
    def dialect(self) -> str:
        return self.config.project.dialect

    @property
    def source_schemas(self) -> set[str]:
        return {t.schema.lower() for t in self.sources.values()}

    @property
    def warehouse_path(self) -> Path:
        """The embedded warehouse file (DuckDB); for a server warehouse, where a local
        DuckDB copy would live (``target/sandbox.duckdb``)."""
        wh = self.config.warehouse
        path = getattr(wh, "path", None) or "target/sandbox.duckdb"
        return (self.root / path).resolve()

    def source(self, schema: str, table: str) -> SourceTable | None:
        return self.sources.get(f"{schema}.{table}".lower())

    def model(self, name: str) -> Model | None:
        return self.models.get(name.lower())


# ---------------------------------------------------------------------------- loading


def load_project(path: str | Path = ".", *,
                 sidecar_errors: list[ProjectLoadError] | None = None) -> Project:
    """Load the project at ``path`` (or above it).

    ``sidecar_errors``, when given, collects the errors of sidecars that do not load
    instead of raising the first (their models load without a sidecar): an editor keeps
    answering for the rest of the project while one sidecar is being typed.
    """
    # The cyclic GC rescanning the ~100,000 objects a 10,000-model load builds (none of them
    # garbage) was a quarter of the load's time.
    was = gc.isenabled()
    gc.disable()
    try:
        return _load_project(path, sidecar_errors)
    finally:
        if was:
            gc.enable()


def validate_sidecar_text(root: Path, rel: str, text: str) -> Sidecar:
    """The sidecar ``rel`` (relative to ``root``) as if its file held ``text``.

    Raises :class:`ProjectLoadError` located at the offending line, like a load does.
    """
    path = root / rel
    data = _parse_toml(root, path, text)
    try:
        return Sidecar.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(root, path, exc, Sidecar, text=text) from None


def _load_project(path: str | Path,
                  sidecar_errors: list[ProjectLoadError] | None = None) -> Project:
    root = find_root(Path(path))
    folder = root / "models"
    files = model_files(root, folder) if folder.is_dir() else None
    cache = _LoadCache(root, enabled=files is not None and len(files[0]) >= _LoadCache.MIN_FILES)
    config_path = root / CONFIG_FILE
    config = cache.get(CONFIG_FILE, str(config_path),
                       functools.partial(_read_text, root, config_path),
                       functools.partial(_validated, root, config_path, RockyConfig))
    sources, source_files = _load_sources(root, cache)
    models = _load_models(root, cache, files, sidecar_errors) if files is not None else {}
    token = cache.save() if not sidecar_errors else None
    project = Project(root=root, config=config, sources=sources, models=models,
                      source_files=source_files)
    object.__setattr__(project, "load_token", token)
    if token is not None:
        object.__setattr__(project, "load_digests", {rel: e[2] for rel, e in cache.used.items()})
        object.__setattr__(project, "load_stamps",
                           {rel: (e[0], e[1]) for rel, e in cache.used.items()})
    return project


_Entry = tuple[tuple[int, int, int, int], int, str, Any]  # stat signature, recorded, hash, result


class _LoadCache:
    """What loading each file of a big project produced, in ``target/rocky_load.cache``.

    Reading 11,000 files and validating TOML dominated a warm compile at 10,000 models, so a
    project with at least ``MIN_FILES`` models keeps, per file: its stat signature (size,
    mtime, ctime, inode), when it was recorded, a hash of its content, and the result (the
    model's SQL, a validated sidecar, a source file's tables). A file is not even opened when
    its signature is unchanged *and* it was last modified well before the entry was recorded:
    an edit landing in the same clock tick as the load that recorded it (same size, same
    coarse mtime) is therefore never missed — git's "racy clean" rule. Any other file is read,
    and its content hash decides whether the stored result still applies. Errors are never
    cached; an unreadable cache file is ignored.

        >>> cache = _LoadCache(Path("/nowhere"), enabled=False)
        >>> cache.get("a.sql", "/nowhere/a.sql", lambda: "SELECT 1", str.lower)
        'select 1'
    """

    MIN_FILES = 50
    _FILE = LOAD_CACHE_FILE
    _VERSION = ("rocky-load-cache", 4)
    # A file modified less than this before an entry was recorded is always re-read
    # (filesystem timestamps can be as coarse as 2 s).
    # A load that changed fewer entries than this (and a quarter of them) appends them to
    # the journal instead of rewriting the whole file (10 MB at 10,000 models).
    _APPEND_MAX = 256

    def __init__(self, root: Path, *, enabled: bool) -> None:
        from rocky_engine.cachefile import JournalFile

        self.root = root
        self.path = root / self._FILE
        self.enabled = enabled
        self.now = self._clock()  # before any file is stat'ed or read
        self.entries: dict[str, _Entry] = {}
        self.used: dict[str, _Entry] = {}
        self.changed: dict[str, _Entry] = {}
        self.store = JournalFile(self.path, self._VERSION)
        # Every file this load saw, in the (sorted, deterministic) order it saw them, with
        # its content hash: equal digests mean identical project files.
        self._token = hashlib.blake2b(digest_size=16)
        self.bypassed = False
        if enabled:
            self._read()

    @staticmethod
    def _clock() -> int:
        return time.time_ns()

    def _read(self) -> None:
        loaded = self.store.load()
        if loaded is None:
            return
        try:
            entries, updates = loaded
            if not isinstance(entries, dict):
                return
            for changed, removed in updates:
                entries.update(changed)
                for rel in removed:
                    entries.pop(rel, None)
            self.entries = entries
        except Exception:  # noqa: BLE001 - foreign shape: it is only a cache
            self.entries = {}

    def get(self, rel: str, full: str, read: Callable[[], str], build: Callable[[str], _T]) -> _T:
        """``build(read())`` for the file ``rel`` (at ``full``), or the stored result if unchanged."""
        if not self.enabled:
            return build(read())
        try:
            st = os.stat(full)
        except OSError:
            self.bypassed = True  # this file is in no entry: the load gets no token
            return build(read())  # reports the missing file
        sig = signature(st)
        entry = self.entries.get(rel)
        if entry is not None and trusted(st, (entry[0], entry[1])):
            self.used[rel] = entry
            self._token.update(f"{rel}\0{entry[2]}\0".encode("utf-8", "surrogatepass"))
            return entry[3]  # type: ignore[no-any-return]
        text = read()
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                 digest_size=16).hexdigest()
        result = entry[3] if entry is not None and entry[2] == digest else build(text)
        self.used[rel] = self.changed[rel] = (sig, self.now, digest, result)
        self._token.update(f"{rel}\0{digest}\0".encode("utf-8", "surrogatepass"))
        return result

    def save(self) -> str | None:
        """Keep the entries this load used; write only if something changed.

        A few changed entries are appended to the cache's journal; more, or a long journal,
        rewrite the file with only the entries this load used. Returns the load's token: a
        digest of every file's path and content, so two loads of identical files have the
        same token (None when the cache is off or a file escaped it).
        """
        if not self.enabled or self.bypassed:
            return None
        removed = [rel for rel in self.entries if rel not in self.used]
        touched = len(self.changed) + len(removed)
        store = self.store
        if touched:
            small = touched <= max(self._APPEND_MAX, len(self.used) // 4) \
                and store.log_bytes <= store.base_bytes // 2
            if not (store.base_id is not None and small
                    and store.append((self.changed, removed))):
                store.rewrite(self.used)
        return self._token.hexdigest()


_TomlCache = _LoadCache  # the earlier name


def read_toml(root: Path, path: Path) -> dict[str, Any]:
    return _parse_toml(root, path, _read_text(root, path))


def _read_text(root: Path, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        rel = relpath(path, root)
        raise ProjectLoadError(f"file not found: {rel}", location=Location(rel)) from None
    except UnicodeDecodeError as exc:
        rel = relpath(path, root)
        raise ProjectLoadError(f"not valid UTF-8 ({exc.reason})", location=Location(rel)) from None


def _parse_toml(root: Path, path: Path, text: str) -> dict[str, Any]:
    rel = relpath(path, root)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg)
        raise ProjectLoadError(
            f"invalid TOML: {msg}", location=Location(rel, line, col),
            hint="fix the TOML syntax",
        ) from None


def _load_model(root: Path, path: Path, model: type[_M], data: dict[str, Any] | None = None) -> _M:
    if data is None:
        data = read_toml(root, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(root, path, exc, model) from None


def _validation_error(root: Path, path: Path, exc: ValidationError,
                      model: type[BaseModel], *, text: str | None = None) -> ProjectLoadError:
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
    key = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    if text is None:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    line = _line_of_key(text, [str(p) for p in loc if isinstance(p, str)])
    hint: str | None = None
    if kind == "extra_forbidden":
        message = f"unknown key `{key}`"
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(model), n=1)
        hint = f"did you mean `{close[0]}`?" if close else "remove it or check its spelling"
    elif kind == "missing":
        message = f"missing required key `{key}`"
        hint = "add it"
    elif kind == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag", "")
        expected = (err.get("ctx") or {}).get("expected_tags", "")
        message = f"invalid value for `{key}.type`: unknown kind {tag!r}"
        hint = f"use one of {expected}"
        line = _line_of_value(text, str(tag)) or line
    elif not loc:  # a rule across keys (e.g. materialized = "incremental" needs [incremental])
        message = err["msg"].removeprefix("Value error, ")
        line = line or _line_of_key(text, ["materialized"])
    else:
        message = f"invalid value for `{key}`: {err['msg'].removeprefix('Value error, ')}"
    return ProjectLoadError(message, location=Location(relpath(path, root), line), hint=hint)


def _known_keys(model: type[BaseModel]) -> list[str]:
    """Every key any nested config model accepts, for "did you mean" on a typo."""
    seen: set[type[BaseModel]] = set()
    keys: set[str] = set()

    def walk(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name, f in m.model_fields.items():
            keys.add(f.alias or name)
            for arg in _flatten(f.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    walk(model)
    return sorted(keys)


def _flatten(annotation: Any) -> list[Any]:
    from typing import get_args

    out = [annotation]
    for arg in get_args(annotation):
        out.extend(_flatten(arg))
    return out


def _line_of_value(text: str, value: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if re.search(rf'=\s*["\']{re.escape(value)}["\']', line):
            return i
    return 0


_UNION_TAGS = {
    "not_null", "unique", "accepted_values", "relationships", "expression", "row_count",
    "str", "Intent", "ColumnSpec", "FusionConfig", *WAREHOUSE_TYPES,
}


def _line_of_key(text: str, keys: list[str]) -> int:
    """Best-effort 1-based line where the innermost key of ``keys`` is written."""
    if not keys:
        return 0
    lines = text.splitlines()
    for key in reversed(keys):
        pat = re.compile(
            rf'^\s*(\[+\s*)?([\w."-]+\.)?"?{re.escape(key)}"?\s*(=|\]|\.)'
        )
        for i, line in enumerate(lines, 1):
            if pat.search(line):
                return i
        inline = re.compile(rf'[{{,]\s*"?{re.escape(key)}"?\s*=')
        for i, line in enumerate(lines, 1):
            if inline.search(line):
                return i
    return 0


def _load_sources(root: Path, cache: _LoadCache | None = None,
                  ) -> tuple[dict[str, SourceTable], dict[str, str]]:
    sources: dict[str, SourceTable] = {}
    files: dict[str, str] = {}
    folder = root / "sources"
    if not folder.is_dir():
        return sources, files
    for rel, full in source_files(root):
        path = Path(full)
        read = functools.partial(_read_text, root, path)
        build = functools.partial(_source_file, root, path, rel)
        schema, tables = (cache.get(rel, str(path), read, build) if cache is not None
                          else build(read()))
        if schema.lower() in files:
            raise ProjectLoadError(
                f"source schema `{schema}` is also declared in {files[schema.lower()]}",
                location=Location(rel, _line_of_key(path.read_text(), ["schema"])),
                hint="declare each source schema in one file",
            )
        files[schema.lower()] = rel
        for table in tables:
            sources[f"{schema}.{table.name}".lower()] = table
    return sources, files


def _source_file(root: Path, path: Path, rel: str,
                 text: str) -> tuple[str, tuple[SourceTable, ...]]:
    """One sources file, validated: its schema and its tables (in file order)."""
    spec = _load_model(root, path, SourceFileSpec, _parse_toml(root, path, text))
    schema = spec.schema_
    tables: list[SourceTable] = []
    for table_name, table in spec.tables.items():
        if not IDENT_RE.match(table_name):
            raise ProjectLoadError(
                f"table name `{table_name}` is not a plain identifier",
                location=Location(rel, _line_of_key(path.read_text(), [table_name])),
            )
        seen: set[str] = set()
        for col_name in table.columns:
            if col_name.lower() in seen:
                raise ProjectLoadError(
                    f"column `{col_name}` declared twice in table `{table_name}`",
                    location=Location(rel, _line_of_key(path.read_text(), [col_name])),
                )
            seen.add(col_name.lower())
            _check_type(root, path, table_name, col_name, table.columns[col_name])
        tables.append(SourceTable(
            schema=schema,
            name=table_name,
            columns=tuple(
                SourceColumn(n, c.type, c.nullable, c.description)
                for n, c in table.columns.items()
            ),
            file=rel,
            description=table.description,
        ))
    return schema, tuple(tables)


@functools.lru_cache(maxsize=1024)
def _is_sql_type(text: str) -> bool:
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        exp.DataType.build(text, dialect="duckdb")
    except (ParseError, ValueError):
        return False
    return True


def _check_type(root: Path, path: Path, table: str, column: str, spec: ColumnSpec) -> None:
    if not _is_sql_type(spec.type):
        raise ProjectLoadError(
            f"column `{table}.{column}` has unknown type {spec.type!r}",
            location=Location(relpath(path, root), _line_of_key(path.read_text(), [column])),
            hint="use a SQL type such as INTEGER, VARCHAR, DECIMAL(10,2), DATE, TIMESTAMP",
        )


# Frozen, so one shared instance serves every model without a sidecar. Constructed, not
# validated: validating would build every sidecar validator at import (30 ms, defer_build).
_NO_SIDECAR = Sidecar.model_construct()


def _load_models(root: Path, cache: _LoadCache | None = None,
                 files: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None,
                 sidecar_errors: list[ProjectLoadError] | None = None,
                 ) -> dict[str, Model]:
    models: dict[str, Model] = {}
    folder = root / "models"
    if files is None:
        if not folder.is_dir():
            return models
        files = model_files(root, folder)
    cache = cache if cache is not None else _LoadCache(root, enabled=False)
    sql_files, sidecars = files
    sql_stems = {full[:-4] for _, full in sql_files}
    sidecar_stems = {full[:-5] for _, full in sidecars}
    for rel, full in sidecars:
        if full[:-5] not in sql_stems:
            raise ProjectLoadError(
                f"sidecar has no model: {rel[:-5]}.sql does not exist",
                location=Location(rel),
                hint="rename the sidecar to match its model, or delete it",
            )
    for rel, full in sql_files:
        name = rel.rsplit("/", 1)[-1][:-4]
        if not IDENT_RE.match(name):
            raise ProjectLoadError(
                f"model name `{name}` is not a plain identifier",
                location=Location(rel),
                hint="rename the file to letters, digits and underscores, not starting with a digit",
            )
        if name.lower() in models:
            raise ProjectLoadError(
                f"duplicate model name `{name}` (also {models[name.lower()].path})",
                location=Location(rel),
                hint="model names are unique across models/, whatever the folder",
            )
        sql = cache.get(rel, full, functools.partial(_read_sql, rel, full),
                        functools.partial(_checked_sql, rel))
        stem = full[:-4]
        if stem in sidecar_stems:
            sidecar_path = Path(stem + ".toml")
            sidecar_rel: str | None = rel[:-4] + ".toml"
            try:
                sidecar = cache.get(sidecar_rel, str(sidecar_path),  # type: ignore[arg-type]
                                    functools.partial(_read_text, root, sidecar_path),
                                    functools.partial(_validated, root, sidecar_path, Sidecar))
            except ProjectLoadError as exc:
                if sidecar_errors is None:
                    raise
                sidecar_errors.append(exc)
                sidecar = _NO_SIDECAR
        else:
            sidecar, sidecar_rel = _NO_SIDECAR, None
        models[name.lower()] = Model(name=name, path=rel, sql=sql, sidecar=sidecar,
                                     sidecar_path=sidecar_rel)
    return models


def _read_sql(rel: str, full: str) -> str:
    try:
        with open(full, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise ProjectLoadError(f"not valid UTF-8 ({exc.reason})", location=Location(rel)) from None


def _checked_sql(rel: str, sql: str) -> str:
    _check_single_statement(rel, sql)
    return sql


def _validated(root: Path, path: Path, model: type[_M], text: str) -> _M:
    return _load_model(root, path, model, _parse_toml(root, path, text))


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_CODE_LINE = re.compile(r"^[ \t\r\f\v]*(?!--)[^\s]", re.MULTILINE)


def _obviously_one_statement(sql: str) -> bool:
    """Cheap check for the common case, so 10,000 models are not tokenized on every load.

    True when the file has content and no semicolon except one at its very end; anything
    else goes through the tokenizer (which also finds semicolons inside strings).
    """
    count = sql.count(";")
    if count > 1:
        return False
    if count == 0 and "/*" not in sql:
        # Any line that is not a `--` comment: stops at the first real line (no copy).
        return _CODE_LINE.search(sql) is not None
    body = _COMMENTS.sub(" ", sql).strip()
    if not body.rstrip(";").strip():
        return False
    return count == 0 or (body.endswith(";") and body.count(";") == 1)


def _check_single_statement(rel: str, sql: str) -> None:
    """A model is exactly one statement; syntax errors are left to the compiler."""
    if _obviously_one_statement(sql):
        return
    from sqlglot.errors import TokenError
    from sqlglot.tokens import Tokenizer, TokenType

    try:
        tokens = Tokenizer().tokenize(sql)
    except TokenError:
        return
    statements: list[int] = []  # line of the first token of each statement
    expecting = True
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            expecting = True
        elif expecting:
            statements.append(tok.line)
            expecting = False
    if not statements:
        raise ProjectLoadError(
            "model file is empty", location=Location(rel, 1),
            hint="write one SELECT statement, or delete the file",
        )
    if len(statements) > 1:
        raise ProjectLoadError(
            f"model file holds {len(statements)} statements; a model is exactly one SELECT",
            location=Location(rel, statements[1]),
            hint="split the extra statements into their own model files",
        )
