"""Benchmark ``rocky import dbt``: a generated dbt project imported from its manifest, and the
imported project's cold ``rocky compile`` against ``dbt parse --no-partial-parse``.

    .venv/bin/python bench/dbt_import_bench.py --dbt /path/to/venv/bin/dbt          # 1,000
    .venv/bin/python bench/dbt_import_bench.py --dbt "$ROCKY_BENCH_DBT" --models 500

It generates a layered project (``bench/gen_project.py``) and its dbt twin (sources with
their columns and types), runs ``dbt compile`` once to write the manifest (setup, not
timed), then times, each as a fresh process, side by side in one run:

* **import** — ``rocky import dbt TWIN DEST`` (the manifest path); target < 10 s at 1,000
  models;
* **rocky compile, cold** — the imported project, no compile cache;
* **dbt parse --no-partial-parse** — the dbt twin; target: rocky cold < 0.5x dbt parse.

dbt comes from ``--dbt PATH`` or ``$ROCKY_BENCH_DBT`` (e.g. the test suite's cached
environment, ``~/.cache/rocky-tests/dbt-*/bin/dbt``); there is no figure without it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_bench import ROCKY, _fmt, run
from gen_project import generate, write_dbt_twin


def bench(n: int, workdir: Path, dbt: str, repeat: int) -> dict[str, float]:
    gen = generate(workdir / f"rocky_{n}", n)
    twin = workdir / f"dbt_{n}"
    write_dbt_twin(gen, twin)
    print(f"{n} models: dbt compile (setup, not timed) ...", flush=True)
    setup = run([dbt, "compile", "--project-dir", str(twin), "--profiles-dir", str(twin)],
                cwd=twin)
    if setup.returncode != 0 or not (twin / "target" / "manifest.json").is_file():
        raise SystemExit(f"dbt compile failed (exit {setup.returncode}):\n{setup.stdout[-2000:]}")
    dest = workdir / f"imported_{n}"
    imports, colds, parses = [], [], []
    for _ in range(repeat):
        imp = run([str(ROCKY), "import", "dbt", str(twin), str(dest), "--force"])
        if imp.returncode != 0:
            raise SystemExit(f"import failed (exit {imp.returncode}):\n{imp.stdout[-2000:]}")
        imports.append(imp)
        shutil.rmtree(dest / "target", ignore_errors=True)
        cold = run([str(ROCKY), "compile", "--project", str(dest)])
        if cold.returncode != 0:
            raise SystemExit(f"the imported project does not compile:\n{cold.stdout[-2000:]}")
        colds.append(cold)
        parses.append(run([dbt, "parse", "--no-partial-parse", "--project-dir", str(twin),
                           "--profiles-dir", str(twin)], cwd=twin))
    imp, cold, parse = (min(rs, key=lambda r: r.wall) for rs in (imports, colds, parses))
    summary = [ln for ln in cold.stdout.splitlines() if " models, " in ln]
    print(f"  {summary[-1] if summary else ''}")
    print(_fmt("rocky import dbt (manifest)", imp, f"target < 10 s: "
               f"{'met' if imp.wall < 10 else 'NOT met'}"))
    print(_fmt("rocky compile, cold (imported)", cold))
    print(_fmt("dbt parse --no-partial-parse", parse))
    ratio = cold.wall / parse.wall
    print(f"  {'':<34} rocky cold / dbt parse = {ratio:.2f} (target < 0.5: "
          f"{'met' if ratio < 0.5 else 'NOT met'}); best of {repeat}")
    return {"import": imp.wall, "rocky_cold": cold.wall, "dbt_parse": parse.wall,
            "ratio": ratio}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dbt", default=os.environ.get("ROCKY_BENCH_DBT"),
                    help="dbt executable with dbt-duckdb (default: $ROCKY_BENCH_DBT)")
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the projects")
    args = ap.parse_args()
    if not args.dbt:
        raise SystemExit("no dbt: pass --dbt PATH (dbt-core + dbt-duckdb) or set ROCKY_BENCH_DBT")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args.models, args.keep, args.dbt, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="rocky-dbt-bench-") as tmp:
            bench(args.models, Path(tmp), args.dbt, args.repeat)


if __name__ == "__main__":
    main()
