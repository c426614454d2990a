"""Serve a built site over HTTP on localhost (``rocky docs --serve``).

    >>> with site_server(Path("target/docs"), port=0) as url:   # doctest: +SKIP
    ...     urllib.request.urlopen(url).status
    200
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rocky_engine.errors import UsageError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # core code never prints; the caller reports the URL


def _server(root: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(root))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="pick another port with --port") from exc


@contextmanager
def site_server(root: Path, *, host: str = "127.0.0.1", port: int = 8080) -> Iterator[str]:
    """Serve ``root`` in a background thread for the block; yields the URL."""
    server = _server(root, host, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_site(root: Path, *, host: str = "127.0.0.1", port: int = 8080,
               ready: Callable[[str], None] | None = None) -> None:
    """Serve ``root`` until interrupted; ``ready(url)`` is called once it listens."""
    server = _server(root, host, port)
    try:
        if ready is not None:
            ready(f"http://{host}:{server.server_address[1]}/")
        server.serve_forever()
    finally:
        server.server_close()
