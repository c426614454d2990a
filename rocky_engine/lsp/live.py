"""The project as an editor sees it: files on disk plus unsaved buffers, compiled in memory.

    >>> live = LiveProject.open("path/to/shop")                        # doctest: +SKIP
    >>> changed = live.set_text("models/stg_orders.sql", "SELECT ...")  # doctest: +SKIP
    >>> live.diagnostics("models/stg_orders.sql")                       # doctest: +SKIP

Opening compiles the project once (answered from the compile cache when it is warm). An
edit of a model's SQL or sidecar re-types that model and, where its schema changed, its
dependents (:class:`~rocky_engine.compiler.incremental.LiveState`); a file created or
deleted, a source or ``rocky.toml`` edit, or an edit that makes a cycle recompiles the
whole project in memory (the compile cache keeps that cheap). Every change returns the
files whose diagnostics changed, so the server publishes only those.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from rocky_engine.compiler import compile_project
from rocky_engine.compiler.incremental import LiveState
from rocky_engine.errors import Diagnostic, ProjectLoadError, RockyError, Severity
from rocky_engine.files import find_root
from rocky_engine.project import Model, Project, load_project, validate_sidecar_text


class LiveProject:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.overlays: dict[str, str] = {}  # relative path -> unsaved text
        self.project: Project | None = None
        self.state: LiveState | None = None
        # Problems that stop a file from loading (a broken sidecar, rocky.toml, sources).
        self.load_errors: dict[str, list[Diagnostic]] = {}
        self._published: dict[str, tuple[Diagnostic, ...]] = {}
        self.version = 0  # bumped by every change: caches keyed on it
        self.last_seconds = 0.0

    @classmethod
    def open(cls, path: str | Path) -> LiveProject:
        live = cls(find_root(Path(path)))
        live.reload()
        return live

    # ------------------------------------------------------------------ queries

    def model_of(self, rel: str) -> Model | None:
        """The model whose SQL (or sidecar) file is ``rel``."""
        if self.project is None:
            return None
        stem = rel.rsplit("/", 1)[-1]
        if not rel.startswith("models/") or not stem.endswith((".sql", ".toml")):
            return None
        model = self.project.models.get(stem.rsplit(".", 1)[0].lower())
        if model is None:
            return None
        if rel == model.path or rel == model.sidecar_path or rel == model.path[:-4] + ".toml":
            return model
        return None

    def text_of(self, rel: str) -> str | None:
        """The text of ``rel`` as the editor has it (buffer, else disk)."""
        if rel in self.overlays:
            return self.overlays[rel]
        try:
            return (self.root / rel).read_text(encoding="utf-8")
        except OSError:
            return None

    def diagnostics(self, rel: str) -> tuple[Diagnostic, ...]:
        return self._current().get(rel, ())

    def all_diagnostics(self) -> dict[str, tuple[Diagnostic, ...]]:
        return dict(self._current())

    # ------------------------------------------------------------------ changes

    def set_text(self, rel: str, text: str) -> set[str]:
        """An unsaved buffer of ``rel`` now holds ``text``; returns files to republish (the
        edited file always: an editor expects an answer to every edit)."""
        rel = _norm(rel)
        if self.overlays.get(rel) == text:
            return {rel}
        self.overlays[rel] = text
        return self._apply(rel) | {rel}

    def drop_text(self, rel: str) -> set[str]:
        """The buffer of ``rel`` was closed: the file on disk applies again."""
        rel = _norm(rel)
        if self.overlays.pop(rel, None) is None:
            return set()
        return self._apply(rel)

    def files_changed(self, rels: Iterable[str]) -> set[str]:
        """Files were created, deleted or changed on disk (a save, a checkout, a new model)."""
        rels = {_norm(r) for r in rels}
        if not rels:
            return set()
        structural = any(r not in self.overlays for r in rels)
        return self.reload() if structural else set()

    def reload(self) -> set[str]:
        """Load from disk, apply the buffers, compile everything (in memory)."""
        # A big project is a few million long-lived objects: the cyclic collector rescanning
        # them after every few thousand allocations cost more than the load itself. Paused
        # while loading, then frozen out of its sight (a resident server keeps them).
        was = gc.isenabled()
        gc.disable()
        try:
            return self._reload()
        finally:
            gc.freeze()
            if was:
                gc.enable()

    def _reload(self) -> set[str]:
        t0 = time.perf_counter()
        self.version += 1
        self.load_errors = {}
        errors: list[ProjectLoadError] = []
        try:
            project = load_project(self.root, sidecar_errors=errors)
        except RockyError as exc:
            self._load_error(exc)
            self.last_seconds = time.perf_counter() - t0
            return self._diff()
        for problem in errors:
            self._load_error(problem)
        for rel, text in self.overlays.items():
            project = self._overlay(project, rel, text)
        self.project = project
        result = compile_project(project)
        self.state = LiveState.of(result)
        self.last_seconds = time.perf_counter() - t0
        return self._diff()

    # ------------------------------------------------------------------ internals

    def _apply(self, rel: str) -> set[str]:
        t0 = time.perf_counter()
        self.version += 1
        if self.project is None or self.state is None:
            return self.reload()
        model = self.model_of(rel)
        if model is None or rel.startswith(("sources/",)) or rel == "rocky.toml":
            return self.reload()
        text = self.text_of(rel)
        if text is None:
            return self.reload()
        self.load_errors.pop(rel, None)
        project = self._overlay(self.project, rel, text)
        self.project = project
        sidecar_texts = {r: t for r, t in self.overlays.items() if r.endswith(".toml")}
        done = self.state.recompile(project, [model.name], sidecar_texts=sidecar_texts)
        if done is None:
            result = compile_project(project)
            self.state = LiveState.of(result)
        self.last_seconds = time.perf_counter() - t0
        return self._diff()

    def _overlay(self, project: Project, rel: str, text: str) -> Project:
        stem = rel.rsplit("/", 1)[-1]
        name = stem.rsplit(".", 1)[0].lower()
        model = project.models.get(name)
        if model is None or not rel.startswith("models/"):
            return project
        if rel == model.path:
            new = replace(model, sql=text)
        elif stem.endswith(".toml"):
            try:
                sidecar = validate_sidecar_text(self.root, rel, text)
            except ProjectLoadError as exc:
                self._load_error(exc, rel)
                return project
            new = replace(model, sidecar=sidecar, sidecar_path=rel)
        else:
            return project
        models = dict(project.models)
        models[name] = new
        return replace(project, models=models)

    def _load_error(self, exc: RockyError, rel: str | None = None) -> None:
        loc = exc.location
        file = rel or (loc.file if loc is not None else "") or "rocky.toml"
        self.load_errors.setdefault(file, []).append(Diagnostic(
            code=exc.code if exc.code.startswith("R") else "R003", severity=Severity.ERROR,
            message=exc.message, file=file, line=loc.line if loc is not None else 0,
            col=loc.col if loc is not None else 0, hint=exc.hint))

    def _current(self) -> dict[str, tuple[Diagnostic, ...]]:
        by_file: dict[str, list[Diagnostic]] = {}
        if self.state is not None:
            for name in self.state.order:
                for d in self.state.diagnostics.get(name, ()):
                    by_file.setdefault(d.file, []).append(d)
        for file, diags in self.load_errors.items():
            by_file.setdefault(file, []).extend(diags)
        return {f: tuple(ds) for f, ds in by_file.items() if f}

    def _diff(self) -> set[str]:
        now = self._current()
        changed = {f for f in now.keys() | self._published.keys()
                   if now.get(f, ()) != self._published.get(f, ())}
        self._published = now
        return changed


def _norm(rel: str) -> str:
    return rel.replace("\\", "/").lstrip("./") if rel.startswith("./") else rel.replace("\\", "/")
