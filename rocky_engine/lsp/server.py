"""``rocky lsp``: the Language Server Protocol over stdio (pygls), on a :class:`LiveProject`.

    $ rocky lsp --project path/to/shop      # an editor starts this; it speaks LSP on stdio

The server compiles the project once when the client initializes (the workspace root, or
``--project``), then answers from memory: diagnostics on every change of a model's SQL or
sidecar buffer (and on dependants whose inputs changed), hover, go to definition, find
references (the downstream columns a column feeds), completion and code actions from
diagnostic hints. Positions are taken as characters of the line: exact for the ASCII SQL
models are written in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from rocky_engine import __version__
from rocky_engine.errors import Diagnostic, RockyError, Severity
from rocky_engine.lsp import features
from rocky_engine.lsp.live import LiveProject

_SEVERITY = {Severity.ERROR: t.DiagnosticSeverity.Error,
             Severity.WARNING: t.DiagnosticSeverity.Warning,
             Severity.INFO: t.DiagnosticSeverity.Information}
_KIND = {"model": t.CompletionItemKind.Class, "source": t.CompletionItemKind.Module,
         "column": t.CompletionItemKind.Field, "schema": t.CompletionItemKind.Folder}


class RockyLanguageServer(LanguageServer):
    def __init__(self, project_dir: str | None = None) -> None:
        super().__init__("rocky", __version__,
                         text_document_sync_kind=t.TextDocumentSyncKind.Full)
        self.project_dir = project_dir
        self.live: LiveProject | None = None

    # -- paths ------------------------------------------------------------------

    def rel(self, uri: str) -> str | None:
        if self.live is None:
            return None
        path = to_fs_path(uri)
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self.live.root.resolve()).as_posix()
        except ValueError:
            return None

    def uri(self, rel: str) -> str:
        assert self.live is not None
        return from_fs_path(str(self.live.root / rel)) or ""

    def publish(self, files: set[str]) -> None:
        if self.live is None:
            return
        for rel in sorted(files):
            diags = [_lsp_diagnostic(d) for d in self.live.diagnostics(rel)]
            self.text_document_publish_diagnostics(
                t.PublishDiagnosticsParams(uri=self.uri(rel), diagnostics=diags))


def _lsp_diagnostic(d: Diagnostic) -> t.Diagnostic:
    line = max(d.line - 1, 0)
    col = max(d.col - 1, 0)
    end = max(d.end_col, d.col) if d.line else col + 1
    message = d.message + (f"\n{d.hint}" if d.hint else "")
    return t.Diagnostic(
        range=t.Range(start=t.Position(line=line, character=col),
                      end=t.Position(line=line, character=end)),
        message=message, severity=_SEVERITY.get(d.severity, t.DiagnosticSeverity.Error),
        code=d.code, source="rocky",
        data={"code": d.code, "hint": d.hint or "", "line": d.line, "col": d.col,
              "end_col": d.end_col})


def _range(place: features.Place) -> t.Range:
    return t.Range(start=t.Position(line=place.line, character=place.col),
                   end=t.Position(line=place.end_line, character=place.end_col))


def build_server(project_dir: str | None = None) -> RockyLanguageServer:
    server = RockyLanguageServer(project_dir)

    @server.feature(t.INITIALIZED)
    def _initialized(ls: RockyLanguageServer, params: t.InitializedParams) -> None:
        folder = ls.project_dir or ls.workspace.root_path or "."
        try:
            ls.live = LiveProject.open(folder)
        except RockyError as exc:
            ls.window_show_message(t.ShowMessageParams(
                type=t.MessageType.Error, message=f"rocky: {exc.message}"))
            return
        ls.publish(set(ls.live.all_diagnostics()))
        ls.window_log_message(t.LogMessageParams(
            type=t.MessageType.Info,
            message=f"rocky: {len(ls.live.project.models) if ls.live.project else 0} models "
                    f"compiled in {ls.live.last_seconds:.2f}s"))

    def _changed(ls: RockyLanguageServer, uri: str, text: str) -> None:
        rel = ls.rel(uri)
        if rel is None or ls.live is None:
            return
        ls.publish(ls.live.set_text(rel, text))

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def _open(ls: RockyLanguageServer, params: t.DidOpenTextDocumentParams) -> None:
        _changed(ls, params.text_document.uri, params.text_document.text)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def _change(ls: RockyLanguageServer, params: t.DidChangeTextDocumentParams) -> None:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        _changed(ls, params.text_document.uri, doc.source)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def _close(ls: RockyLanguageServer, params: t.DidCloseTextDocumentParams) -> None:
        rel = ls.rel(params.text_document.uri)
        if rel is not None and ls.live is not None:
            ls.publish(ls.live.drop_text(rel))

    @server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def _watched(ls: RockyLanguageServer, params: t.DidChangeWatchedFilesParams) -> None:
        if ls.live is None:
            return
        rels = [r for r in (ls.rel(c.uri) for c in params.changes) if r is not None]
        ls.publish(ls.live.files_changed(rels))

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def _hover(ls: RockyLanguageServer, params: t.HoverParams) -> t.Hover | None:
        rel = ls.rel(params.text_document.uri)
        if rel is None or ls.live is None:
            return None
        info = features.hover(ls.live, rel, params.position.line, params.position.character)
        if info is None:
            return None
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown,
                                                value=info.markdown),
                       range=_range(info.place) if info.place is not None else None)

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    def _definition(ls: RockyLanguageServer, params: t.DefinitionParams) -> t.Location | None:
        rel = ls.rel(params.text_document.uri)
        if rel is None or ls.live is None:
            return None
        place = features.definition(ls.live, rel, params.position.line,
                                    params.position.character)
        if place is None:
            return None
        return t.Location(uri=ls.uri(place.file), range=_range(place))

    @server.feature(t.TEXT_DOCUMENT_REFERENCES)
    def _references(ls: RockyLanguageServer, params: t.ReferenceParams) -> list[t.Location]:
        rel = ls.rel(params.text_document.uri)
        if rel is None or ls.live is None:
            return []
        places = features.references(
            ls.live, rel, params.position.line, params.position.character,
            include_declaration=bool(params.context and params.context.include_declaration))
        return [t.Location(uri=ls.uri(p.file), range=_range(p)) for p in places]

    @server.feature(t.TEXT_DOCUMENT_COMPLETION,
                    t.CompletionOptions(trigger_characters=[".", " "]))
    def _completion(ls: RockyLanguageServer, params: t.CompletionParams) -> t.CompletionList:
        rel = ls.rel(params.text_document.uri)
        items: list[t.CompletionItem] = []
        cut = False
        if rel is not None and ls.live is not None:
            found, cut = features.completion(ls.live, rel, params.position.line,
                                             params.position.character)
            items = [t.CompletionItem(label=c.label, kind=_KIND.get(c.kind), detail=c.detail)
                     for c in found]
        return t.CompletionList(is_incomplete=cut, items=items)

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION,
                    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
    def _code_action(ls: RockyLanguageServer, params: t.CodeActionParams) -> list[t.CodeAction]:
        rel = ls.rel(params.text_document.uri)
        if rel is None or ls.live is None:
            return []
        wanted = {(d.code, d.range.start.line, d.range.start.character)
                  for d in params.context.diagnostics}
        ours = [d for d in ls.live.diagnostics(rel)
                if (d.code, d.line - 1, d.col - 1) in wanted]
        out: list[t.CodeAction] = []
        for fix in features.code_actions(ls.live, rel, ours):
            edit = t.WorkspaceEdit(changes={
                ls.uri(fix.place.file): [t.TextEdit(range=_range(fix.place), new_text=fix.text)]})
            diag = [_lsp_diagnostic(fix.diagnostic)] if fix.diagnostic is not None else None
            out.append(t.CodeAction(title=fix.title, kind=t.CodeActionKind.QuickFix,
                                    edit=edit, diagnostics=diag, is_preferred=True))
        return out

    return server


def serve(project_dir: str | None = None, **_: Any) -> None:
    """Run the server on stdin/stdout until the client exits."""
    logging.getLogger("pygls").setLevel(logging.WARNING)
    build_server(project_dir).start_io()
