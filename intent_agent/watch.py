"""``rocky watch``: the repair agent as a long-running watcher.

Every ``interval`` it introspects the live catalog (schemas only, no data read: cheap)
and, when the declared sources drifted, runs :func:`~intent_agent.repair.repair_project`
once per distinct drift. A drift already repaired, under review or failed is remembered
by its fingerprint in ``.rocky/watch/state.json`` and not repaired again. It stops
cleanly on SIGINT/SIGTERM between cycles::

    >>> parse_interval("5m"), parse_interval("90s"), parse_interval("1h30m")
    (300.0, 90.0, 5400.0)
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from intent_agent.repair.changes import fingerprint, from_drift
from rocky_engine.cli._app import Options, emit, global_options, pass_options
from rocky_engine.console import Console, SilentConsole
from rocky_engine.context import Context
from rocky_engine.errors import RockyError, UsageError
from rocky_engine.project import load_project

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(text: str) -> float:
    """Seconds in ``5m``, ``30s``, ``1h30m`` or a bare number of seconds."""
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        seconds = float(raw)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise UsageError(f"invalid interval {text!r}", hint="use e.g. 30s, 5m, 1h")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError(f"interval {text!r} must be positive")
    return seconds


@dataclass(frozen=True)
class Cycle:
    number: int
    at: str
    drift: str | None  # fingerprint, None when the sources match
    action: str  # no_drift | repaired | skipped | error
    status: str | None = None
    branch: str | None = None
    pr_url: str | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.number, "at": self.at, "drift": self.drift, "action": self.action,
                "status": self.status, "branch": self.branch, "pr_url": self.pr_url,
                "message": self.message}

    def render(self) -> str:
        head = f"[{self.at}] cycle {self.number}: "
        if self.action == "no_drift":
            return head + "no drift"
        if self.action == "skipped":
            return head + f"drift {self.drift} already handled ({self.status}); skipped"
        if self.action == "error":
            return head + f"error: {self.message}"
        text = head + f"drift {self.drift} -> repair {self.status}"
        if self.branch:
            text += f" on {self.branch}"
        if self.pr_url:
            text += f" ({self.pr_url})"
        return text


@dataclass
class WatchSummary:
    cycles: list[Cycle] = field(default_factory=list)
    stopped_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"cycles": [c.to_json() for c in self.cycles], "stopped_by": self.stopped_by,
                "repairs": sum(1 for c in self.cycles if c.action == "repaired")}


Repairer = Callable[..., Any]


def watch(path: Path | str, *, interval: float, max_cycles: int | None = None,
          open_pr: bool = False, console: Console | None = None,
          env: Mapping[str, str] | None = None, repairer: Repairer | None = None,
          stop: threading.Event | None = None,
          on_cycle: Callable[[Cycle], None] | None = None) -> WatchSummary:
    """Poll and repair until ``max_cycles`` or a stop signal; returns every cycle."""
    from intent_agent.repair.loop import repair_project

    console = console or SilentConsole()
    repairer = repairer or repair_project
    stop = stop or threading.Event()
    root = load_project(path).root
    state_file = root / ".rocky" / "watch" / "state.json"
    handled = _load_state(state_file)
    summary = WatchSummary()
    number = 0
    with _signals(stop):
        while True:
            number += 1
            cycle = _cycle(number, root, handled, open_pr, console, env, repairer)
            summary.cycles.append(cycle)
            if cycle.action == "repaired" and cycle.drift:
                handled[cycle.drift] = {"status": cycle.status, "branch": cycle.branch,
                                        "pr_url": cycle.pr_url, "at": cycle.at}
                _save_state(state_file, handled)
            console.info(cycle.render())
            if on_cycle is not None:
                on_cycle(cycle)
            if max_cycles is not None and number >= max_cycles:
                summary.stopped_by = "max_cycles"
                break
            if stop.wait(interval):
                summary.stopped_by = "signal"
                break
            if stop.is_set():
                summary.stopped_by = "signal"
                break
    return summary


def _cycle(number: int, root: Path, handled: dict[str, Any], open_pr: bool, console: Console,
           env: Mapping[str, str] | None, repairer: Repairer) -> Cycle:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        # Introspection only: renames are judged on type, name and position, no data read.
        report = Context(load_project(root), SilentConsole()).drift(read_values=False,
                                                                    record=False)
    except RockyError as exc:
        return Cycle(number, at, None, "error", message=exc.render())
    if not report.drifted:
        return Cycle(number, at, None, "no_drift")
    key = fingerprint(from_drift(c) for c in report.changes)
    if key in handled:
        return Cycle(number, at, key, "skipped", status=handled[key].get("status"),
                     branch=handled[key].get("branch"))
    try:
        result = repairer(root, console=console, open_pr=open_pr, env=env)
    except RockyError as exc:
        return Cycle(number, at, key, "error", message=exc.render())
    return Cycle(number, at, key, "repaired", status=result.status, branch=result.branch,
                 pr_url=result.pr_url)


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data.get("handled", {}) if isinstance(data, dict) else {}


def _save_state(path: Path, handled: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"handled": handled}, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


@contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop``; the current cycle finishes, the next never starts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@click.command("watch")
@click.option("--interval", default="5m", show_default=True,
              help="Time between polls: 30s, 5m, 1h ...")
@click.option("--max-cycles", type=click.IntRange(min=1), default=None,
              help="Stop after this many polls (default: run until SIGINT/SIGTERM).")
@click.option("--open-pr", is_flag=True, default=False,
              help="Open or update a pull request for each repair (token from GITHUB_TOKEN).")
@global_options
@pass_options
def watch_cmd(opts: Options, interval: str, max_cycles: int | None, open_pr: bool) -> int:
    """Poll the live catalog and run `rocky repair` once per new drift.

    Each cycle is logged; a drift already repaired or under review is not repaired again
    (remembered in .rocky/watch/state.json). Ctrl-C or SIGTERM stops between cycles.

    \b
    Example:
        rocky watch --interval 5m --open-pr
        rocky watch --interval 1s --max-cycles 3 --format json
    """
    seconds = parse_interval(interval)
    console = opts.console()
    # JSON mode keeps stdout for the final document; each cycle is still logged, on stderr.
    log = (lambda c: click.echo(c.render(), err=True)) if opts.json else None
    summary = watch(opts.project, interval=seconds, max_cycles=max_cycles, open_pr=open_pr,
                    console=console, on_cycle=log)
    emit(opts, summary.to_json(),
         lambda: click.echo(f"watch stopped ({summary.stopped_by}) after "
                            f"{len(summary.cycles)} cycle(s)"))
    errors = any(c.action == "error" for c in summary.cycles)
    return 1 if errors else 0
