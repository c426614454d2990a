"""The editor integration: ``rocky lsp`` and the live, in-memory project behind it.

:class:`LiveProject` (no LSP library needed) keeps a compiled project with unsaved buffers
applied; :mod:`.features` answers hover, definition, references, completion and code
actions on it; :mod:`.server` speaks the Language Server Protocol (pygls, the ``lsp``
extra).
"""

from __future__ import annotations

from rocky_engine.lsp.live import LiveProject

__all__ = ["LiveProject"]
