"""Headless Chromium from Debian's package, driven by Playwright (which never downloads one).

Absence of the browser is a failure, not a skip: ``.ci/run`` installs ``chromium``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str:
    for path in CANDIDATES:
        if Path(path).exists():
            return path
    found = shutil.which("chromium")
    if found:
        return found
    raise AssertionError(
        "headless Chromium not found (looked for /usr/bin/chromium): the browser tests of "
        "`rocky docs` need Debian's `chromium` package (`apt-get install chromium`; .ci/run "
        "installs it)")


@contextmanager
def chromium(viewport: tuple[int, int] = (1400, 900)) -> Iterator[Any]:
    """A fresh persistent Chromium context (own user-data-dir), closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="rocky-chromium-") as data:
        context = p.chromium.launch_persistent_context(
            data, executable_path=executable, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": viewport[0], "height": viewport[1]})
        try:
            yield context
        finally:
            context.close()


class PageErrors:
    """Console errors and uncaught exceptions of a page, collected as they happen."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.messages.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.messages.append(f"request failed: {r.url}"))
