"""Benchmark ``rocky docs`` on a synthetic project, side by side with what it is measured against.

    .venv/bin/python bench/docs_bench.py                         # 10,000 models
    .venv/bin/python bench/docs_bench.py --models 1000 --repeat 3
    .venv/bin/python bench/docs_bench.py --project /tmp/p10k      # reuse a generated project

Prints, in one run (wall seconds, median of ``--repeat`` runs of the real CLI):

* ``rocky compile --format json`` (warm cache) and ``rocky lineage MART.COL --format json``
  (warm index): the baseline;
* ``rocky docs`` (warm): the site, and its ratio to the baseline — target ≤ 1.5×;
* in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright): the catalog
  page from navigation to interactive (rendered and answering a search) — target < 2 s —
  and a column's lineage highlight from the click to the next painted frame — target
  < 300 ms — for a mid-DAG and a mart column (after the graph file is loaded, which is also
  reported).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from gen_project import generate

ROCKY = Path(sys.executable).with_name("rocky")


def timed(cmd: list[str], cwd: Path) -> tuple[float, str, float]:
    """Wall seconds, stdout, and CPU seconds (user + system) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, done.stdout, cpu


def median_of(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    """Median wall and median CPU seconds over ``repeat`` runs."""
    runs = [timed(cmd, cwd) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[2] for r in runs)


def pick_columns(root: Path) -> list[str]:
    """A mid-DAG intermediate column, a mart column, and the widest source blast radius."""
    import json

    _, out, _ = timed([str(ROCKY), "compile", "--format", "json"], root)
    models = json.loads(out)["models"]
    mid = next(m for m in models[len(models) // 2:] if m["name"].startswith("int_"))
    mart = next(m for m in reversed(models) if m["name"].startswith("mart_"))
    from rocky_engine.lineage.store import load_fresh_graph

    graph = load_fresh_graph(root)
    assert graph is not None, "no lineage index: run `rocky lineage` once"
    # The widest blast radius among the first source tables' key columns.
    wide = max((len(graph.downstream(n).nodes), n)
               for r in graph.relations[:200] if graph.relation_kind(r) == "source"
               for n in graph.columns(r)[:1])[1]
    return [f"{mid['name']}.{mid['columns'][2]['name']}".lower(),
            f"{mart['name']}.{mart['columns'][1]['name']}".lower(), wide]


def _any_model(root: Path) -> str:
    return min((root / "models").glob("*.sql")).stem


def browser_figures(site: Path, columns: list[str]) -> dict[str, float]:
    from tests.site.browser import PageErrors, chromium

    figures: dict[str, float] = {}
    with chromium() as context:
        page = context.new_page()
        errors = PageErrors(page)
        start = time.perf_counter()
        page.goto(f"file://{site / 'index.html'}")
        page.wait_for_selector("body[data-view=catalog]", timeout=60_000)
        page.fill("#search", "mart_")
        page.wait_for_function(
            "document.querySelector('#catalog tbody tr a') && "
            "document.querySelector('#catalog tbody tr a').textContent.startsWith('mart_')")
        figures["catalog interactive (navigation to a search answered)"] = (
            time.perf_counter() - start)
        figures["catalog rendered (in-page performance.now)"] = page.evaluate(
            "performance.now()") / 1000  # upper bound: measured after the search too
        for node in columns:
            relation = node.rpartition(".")[0]
            start = time.perf_counter()
            page.goto(f"file://{site / 'index.html'}#/lineage/{relation}")
            page.wait_for_selector(f'body[data-lineage-ready="{relation}"]', timeout=60_000)
            figures[f"lineage view of {relation} (graph file loaded once)"] = (
                time.perf_counter() - start)
            start = time.perf_counter()
            page.click(f'svg g.col[data-node="{node}"]')
            page.wait_for_selector(f'body[data-lineage-ready="{node}"]', timeout=60_000)
            wall = time.perf_counter() - start
            in_page = page.evaluate("ROCKY.lastHighlightMs") / 1000
            drawn = page.eval_on_selector_all("svg .col.hl-up, svg .col.hl-down",
                                              "els => els.length")
            reached = page.evaluate(
                "n => ROCKY.lineage(n, 'upstream').then(u => ROCKY.lineage(n, 'downstream')"
                ".then(d => new Set(u.nodes.concat(d.nodes)).size))", node)
            figures[f"highlight {node} ({reached} columns reached, {drawn} drawn), "
                    "click to painted frame"] = in_page
            figures[f"highlight {node}, as the test driver saw it"] = wall
        if errors.messages:
            raise SystemExit(f"console errors: {errors.messages[:5]}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--project", type=Path, default=None,
                        help="an existing generated project (kept); default: a fresh one")
    args = parser.parse_args()

    tmp = None
    if args.project is not None:
        root = args.project.resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="rocky-docs-bench-"))
        root = tmp / "project"
        generate(root, args.models)
    try:
        print(f"project: {root}")
        cold = timed([str(ROCKY), "compile"], root)[0]  # fills the cache (cold unless reused)
        timed([str(ROCKY), "lineage", "--depth", "0", _any_model(root)], root)  # the index
        columns = pick_columns(root)
        timed([str(ROCKY), "docs"], root)
        compile_s, compile_cpu = median_of([str(ROCKY), "compile", "--format", "json"], root,
                                           args.repeat)
        lineage_s, lineage_cpu = median_of([str(ROCKY), "lineage", columns[1], "--format",
                                            "json"], root, args.repeat)
        docs_s, docs_cpu = median_of([str(ROCKY), "docs"], root, args.repeat)
        baseline, baseline_cpu = compile_s + lineage_s, compile_cpu + lineage_cpu
        site = root / "target" / "docs"
        size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of "
              f"{args.repeat} runs; wall s (cpu s)")
        print(f"first compile (cache fill)                  {cold:8.2f}")
        print(f"warm rocky compile --format json             {compile_s:8.2f} ({compile_cpu:.2f})")
        print(f"warm rocky lineage {columns[1]:<25} {lineage_s:8.2f} ({lineage_cpu:.2f})")
        print(f"  baseline (sum)                             {baseline:8.2f} ({baseline_cpu:.2f})")
        print(f"rocky docs (warm)                            {docs_s:8.2f} ({docs_cpu:.2f})   "
              f"ratio {docs_s / baseline:.2f}x wall, {docs_cpu / baseline_cpu:.2f}x cpu "
              f"(target <= 1.5x)  site {size:.1f} MB")
        for name, value in browser_figures(site, columns).items():
            target = ""
            if name.startswith("catalog interactive"):
                target = "  (target < 2 s)"
            elif "painted frame" in name:
                target = "  (target < 0.3 s)"
            print(f"chromium: {name:<70} {value:8.3f} s{target}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
