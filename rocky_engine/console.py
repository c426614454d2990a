"""The console seam: core code reports through it and never prints.

Three implementations: :class:`TerminalConsole` (rich, to stderr so stdout stays for
results), :class:`JsonConsole` (events kept quiet, stdout reserved for one JSON document)
and :class:`SilentConsole` for tests and library use.

    >>> console = SilentConsole()
    >>> with console.progress("building", total=2) as step:
    ...     step("stg_orders")
    ...     step("customers")
    >>> console.events
    [('progress', 'building', 2), ('step', 'stg_orders'), ('step', 'customers')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Console(Protocol):
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def line(self, message: str) -> None: ...

    def progress(self, description: str, total: int) -> Any:
        """Context manager yielding ``step(label)``, called once per unit of work."""
        ...


class SilentConsole:
    """Records events; prints nothing."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def info(self, message: str) -> None:
        self.events.append(("info", message))

    def warn(self, message: str) -> None:
        self.events.append(("warn", message))

    def line(self, message: str) -> None:
        self.events.append(("line", message))

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[str], None]]:
        self.events.append(("progress", description, total))
        yield lambda label: self.events.append(("step", label))


class TerminalConsole:
    """Human output on stderr: messages, per-item lines, a progress bar on long work."""

    def __init__(self, *, color: bool | None = None, quiet: bool = False) -> None:
        from rich.console import Console as RichConsole

        self._rich = RichConsole(stderr=True, highlight=False, no_color=color is False,
                                 force_terminal=color if color else None)
        self.quiet = quiet

    @property
    def rich(self) -> Any:
        return self._rich

    def info(self, message: str) -> None:
        if not self.quiet:
            self._rich.print(message, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        self._rich.print(f"[yellow]warning:[/yellow] {_escape(message)}")

    def line(self, message: str) -> None:
        if not self.quiet:
            self._rich.print(message, markup=False, soft_wrap=True)

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[str], None]]:
        if self.quiet or total < 20 or not self._rich.is_terminal:
            yield lambda label: None
            return
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        # No auto-refresh: that would start a thread, and the compiler must not fork its
        # worker processes while another thread runs. The bar redraws as steps arrive.
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=self._rich, transient=True, auto_refresh=False,
        ) as bar:
            task = bar.add_task(description, total=total)
            last = [0.0]

            def step(label: str) -> None:
                bar.advance(task)
                now = time.monotonic()
                if now - last[0] >= 0.1:
                    last[0] = now
                    bar.refresh()

            bar.refresh()
            yield step


class JsonConsole(SilentConsole):
    """For ``--format json``: stdout carries only the final document; warnings go to stderr."""

    def warn(self, message: str) -> None:
        import sys

        super().warn(message)
        print(f"warning: {message}", file=sys.stderr)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
