"""Benchmark ``rocky lsp`` through a real LSP client (pygls') on a large project.

    .venv/bin/python bench/lsp_bench.py                   # 10,000 models
    .venv/bin/python bench/lsp_bench.py --models 1000 --repeat 5

Generates a project (``bench/gen_project.py``), warms the compile cache with ``rocky
compile`` (what a user's earlier compile leaves), then starts ``rocky lsp`` as an editor
would and measures, side by side with the CLI's own warm compile:

* **start** — from spawning the server to its "compiled" message (warm cache);
* **edit, schema kept** — a comment added to the model most others read: ``didChange``
  until the model's diagnostics arrive;
* **edit, schema changed** — a column of that model renamed, which its readers use:
  ``didChange`` until the last dependant's new diagnostics arrive (how many are counted);
* **hover** and **completion** round trips on that model;
* **memory** — the server process's peak RSS.

Targets at 10,000 models: schema-kept edit ≤ 100 ms, dependants ≤ 500 ms, hover and
completion ≤ 50 ms, start ≤ 3 s, memory ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_project import generate

from rocky_engine.lsp.client import LspClient

ROCKY = Path(sys.executable).with_name("rocky")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fmt(values: list[float]) -> str:
    return (f"{min(values) * 1000:7.1f} / {statistics.median(values) * 1000:7.1f} / "
            f"{max(values) * 1000:7.1f} ms")


def _wait_publish(c: LspClient, rel: str, after: int, timeout: float = 60) -> float:
    uri = c.uri(rel)
    c.wait(lambda: sum(1 for _, u in c.events if u == uri) > after, f"diagnostics of {rel}",
           timeout)
    return [w for w, u in c.events if u == uri][after]


def _quiet(c: LspClient, since: int, quiet: float = 1.0) -> list[tuple[float, str]]:
    """Events after index ``since``, once none arrived for ``quiet`` seconds."""
    while True:
        n = len(c.events)
        time.sleep(quiet)
        if len(c.events) == n:
            return c.events[since:]


def bench(n_models: int, repeat: int, workdir: Path) -> None:
    root = workdir / f"lsp{n_models}"
    gen = generate(root, n_models)
    t0 = time.perf_counter()
    subprocess.run([str(ROCKY), "compile", "--project", str(root)], check=False,
                   capture_output=True)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([str(ROCKY), "compile", "--project", str(root)], check=False,
                       capture_output=True)
        warm.append(time.perf_counter() - t0)
    # The model most others read: its schema change fans out the furthest.
    counts_by_model: dict[str, int] = {}
    for ups in gen.refs.values():
        for up in ups:
            counts_by_model[up] = counts_by_model.get(up, 0) + 1
    model = max((m for m in counts_by_model if not m.startswith("raw.")),
                key=lambda m: (counts_by_model[m], m))
    rel = f"models/{model}.sql"
    text = (root / rel).read_text(encoding="utf-8")
    readers = [m for m, ups in gen.refs.items() if model in ups]
    print(f"\n== {n_models:,} models (edited model: {model}, {len(readers)} direct readers)")
    print(f"rocky compile (CLI): cold {cold:.1f} s, warm median {statistics.median(warm):.2f} s")

    starts: list[float] = []
    for _ in range(max(1, min(repeat, 3))):
        c = LspClient(root)
        t0 = time.perf_counter()
        c.start()  # returns on the server's "N models compiled" message
        starts.append(time.perf_counter() - t0)
        c.stop()
    c = LspClient(root)
    c.start()
    try:
        c.open(rel, text)
        kept: list[float] = []
        for i in range(repeat):
            n = c.publishes(rel)
            edited = text.rstrip().rstrip(";") + f"\n-- edit {i}\n"
            sent = time.perf_counter()
            c.change(rel, edited)
            kept.append(_wait_publish(c, rel, n) - sent)
        # A column every reader uses, renamed: each reader breaks (R104), and their own
        # dependants are then not checked (I140): the whole cascade is re-published.
        first_col = re.search(r"\bAS\s+(\w+)", text, re.IGNORECASE)
        assert first_col is not None
        column = first_col.group(1)
        changed: list[float] = []
        counts: list[int] = []
        for i in range(repeat):
            for version, body in ((f"{column}_renamed_{i}", None), (column, text)):
                since = len(c.events)
                edited = body if body is not None else re.sub(
                    rf"\bAS\s+{column}\b", f"AS {version}", text, count=1)
                sent = time.perf_counter()
                c.change(rel, edited)
                events = _quiet(c, since)
                others = [w for w, u in events if u != c.uri(rel)]
                if body is None:
                    changed.append((max(others) if others else events[-1][0]) - sent)
                    counts.append(len({u for _, u in events}) - 1)
        line, col = next((i, ln.index(column)) for i, ln in enumerate(text.splitlines())
                         if re.search(rf"\bAS\s+{column}\b", ln))
        hovers, completions = [], []
        for _ in range(max(repeat, 5)):
            t0 = time.perf_counter()
            assert c.hover(rel, line, col + 1) is not None
            hovers.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            c.completion(rel, line, col)
            completions.append(time.perf_counter() - t0)
        peak = _peak_rss_mb(c.pid) if c.pid else float("nan")
    finally:
        c.stop()
    print(f"{'':34} best / median / worst   target")
    print(f"{'start, warm cache':34} {_fmt(starts)}   ≤ 3000 ms")
    print(f"{'edit, schema kept':34} {_fmt(kept)}   ≤ 100 ms")
    print(f"{'edit, schema changed (dependants)':34} {_fmt(changed)}   ≤ 500 ms"
          f"   ({statistics.median(counts):.0f} dependant files re-published)")
    print(f"{'hover':34} {_fmt(hovers)}   ≤ 50 ms")
    print(f"{'completion':34} {_fmt(completions)}   ≤ 50 ms")
    print(f"{'server peak memory':34} {peak:7.0f} MB   ≤ 1536 MB")
    print(f"ratio: start / warm CLI compile = "
          f"{statistics.median(starts) / statistics.median(warm):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, nargs="+", default=[10000])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rocky-lsp-bench-") as tmp:
        for n in args.models:
            bench(n, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
