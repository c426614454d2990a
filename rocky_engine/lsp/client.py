"""A real LSP client (pygls') talking to ``rocky lsp`` over stdio, driven synchronously.

For the tests and ``bench/lsp_bench.py`` (and anyone scripting the server). The client's
event loop runs in a background thread; each call waits for the server's answer with a
timeout, so a hung server fails the caller instead of hanging it.

    >>> with LspClient(root) as c:                      # doctest: +SKIP
    ...     c.open("models/customers.sql")
    ...     c.hover("models/customers.sql", 16, 7)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

from lsprotocol import types as t
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

_T = TypeVar("_T")
TIMEOUT = 60.0


class LspClient:
    def __init__(self, root: Path, *, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.root = root
        self.command = command or [sys.executable, "-m", "rocky_engine", "lsp"]
        self.env = env
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client = LanguageClient("rocky-tests", "1")
        self.diagnostics: dict[str, list[t.Diagnostic]] = {}
        self.events: list[tuple[float, str]] = []  # (when, uri) of every publish
        self.log: list[str] = []
        self.messages: list[str] = []
        self._cond = threading.Condition()
        self.stderr = b""

        @self.client.feature(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _published(params: t.PublishDiagnosticsParams) -> None:
            with self._cond:
                self.diagnostics[params.uri] = list(params.diagnostics)
                self.events.append((time.perf_counter(), params.uri))
                self._cond.notify_all()

        @self.client.feature(t.WINDOW_LOG_MESSAGE)
        def _log(params: t.LogMessageParams) -> None:
            with self._cond:
                self.log.append(params.message)
                self._cond.notify_all()

        @self.client.feature(t.WINDOW_SHOW_MESSAGE)
        def _show(params: t.ShowMessageParams) -> None:
            with self._cond:
                self.messages.append(params.message)
                self._cond.notify_all()

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, *, wait_for_log: bool = True) -> None:
        self.thread.start()
        self.call(self.client.start_io(*self.command, cwd=str(self.root), env=self.env))
        self.result = self.call(self.client.initialize_async(t.InitializeParams(
            capabilities=t.ClientCapabilities(),
            root_uri=from_fs_path(str(self.root)),
            workspace_folders=[t.WorkspaceFolder(uri=from_fs_path(str(self.root)) or "",
                                                 name="project")])))
        self.client.initialized(t.InitializedParams())
        if wait_for_log:
            self.wait(lambda: bool(self.log or self.messages), "the server's start message")

    @property
    def pid(self) -> int | None:
        server = getattr(self.client, "_server", None)
        return server.pid if server is not None else None

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # a failed caller may have left it dead already
            self.call(self.client.shutdown_async(None), timeout=10)
            self.client.exit(None)
        try:
            self.call(self.client.stop(), timeout=10)
        finally:
            server = getattr(self.client, "_server", None)
            if server is not None and server.returncode is None:
                server.kill()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    # -- plumbing ---------------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = TIMEOUT) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def notify(self, fn: Callable[..., Any], params: Any) -> None:
        self.loop.call_soon_threadsafe(fn, params)

    def wait(self, done: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._cond.wait(left)

    def poll(self, done: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Like :meth:`wait` for conditions that make requests (no lock held meanwhile)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def uri(self, rel: str) -> str:
        return from_fs_path(str(self.root / rel)) or ""

    def diags(self, rel: str) -> list[t.Diagnostic]:
        with self._cond:
            return list(self.diagnostics.get(self.uri(rel), []))

    def codes(self, rel: str) -> list[str]:
        return sorted(str(d.code) for d in self.diags(rel))

    def publishes(self, rel: str) -> int:
        uri = self.uri(rel)
        with self._cond:
            return sum(1 for _, u in self.events if u == uri)

    # -- documents -------------------------------------------------------------------

    def open(self, rel: str, text: str | None = None) -> None:
        """Open ``rel`` (its disk text unless given); returns once its diagnostics came."""
        text = (self.root / rel).read_text(encoding="utf-8") if text is None else text
        self._versions = getattr(self, "_versions", {})
        self._versions[rel] = 1
        before = self.publishes(rel)
        self.notify(self.client.text_document_did_open, t.DidOpenTextDocumentParams(
            text_document=t.TextDocumentItem(uri=self.uri(rel), language_id="sql",
                                             version=1, text=text)))
        self.wait(lambda: self.publishes(rel) > before, f"diagnostics of {rel} on open")

    def change(self, rel: str, text: str) -> None:
        self._versions[rel] += 1
        self.notify(self.client.text_document_did_change, t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=self.uri(rel),
                                                            version=self._versions[rel]),
            content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)]))

    def close(self, rel: str) -> None:
        self.notify(self.client.text_document_did_close, t.DidCloseTextDocumentParams(
            text_document=t.TextDocumentIdentifier(uri=self.uri(rel))))

    def files_changed(self, *changes: tuple[str, t.FileChangeType]) -> None:
        self.notify(self.client.workspace_did_change_watched_files,
                    t.DidChangeWatchedFilesParams(changes=[
                        t.FileEvent(uri=self.uri(rel), type=kind) for rel, kind in changes]))

    # -- requests ----------------------------------------------------------------------

    def _pos(self, rel: str, line: int, col: int) -> dict[str, Any]:
        return {"text_document": t.TextDocumentIdentifier(uri=self.uri(rel)),
                "position": t.Position(line=line, character=col)}

    def hover(self, rel: str, line: int, col: int) -> str | None:
        res = self.call(self.client.text_document_hover_async(
            t.HoverParams(**self._pos(rel, line, col))))
        if res is None:
            return None
        contents = res.contents
        return contents.value if isinstance(contents, t.MarkupContent) else str(contents)

    def definition(self, rel: str, line: int, col: int) -> Any:
        return self.call(self.client.text_document_definition_async(
            t.DefinitionParams(**self._pos(rel, line, col))))

    def references(self, rel: str, line: int, col: int) -> list[t.Location]:
        found = self.call(self.client.text_document_references_async(t.ReferenceParams(
            context=t.ReferenceContext(include_declaration=False),
            **self._pos(rel, line, col))))
        return list(found or [])

    def completion(self, rel: str, line: int, col: int) -> list[t.CompletionItem]:
        res = self.call(self.client.text_document_completion_async(
            t.CompletionParams(**self._pos(rel, line, col))))
        if res is None:
            return []
        return list(res.items) if isinstance(res, t.CompletionList) else list(res)

    def code_actions(self, rel: str, diagnostics: list[t.Diagnostic]) -> list[t.CodeAction]:
        rng = diagnostics[0].range if diagnostics else t.Range(
            start=t.Position(line=0, character=0), end=t.Position(line=0, character=0))
        res = self.call(self.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=self.uri(rel)), range=rng,
            context=t.CodeActionContext(diagnostics=diagnostics))))
        return [a for a in (res or []) if isinstance(a, t.CodeAction)]
