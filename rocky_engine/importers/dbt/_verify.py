"""``--verify``: build the dbt project and the imported rocky project on the same seeds, in
two throwaway DuckDB files, and compare every imported model's rows.

dbt runs as a separate process (the user's ``dbt`` with dbt-duckdb; rocky never imports
dbt) against a generated profile pointing at a temporary DuckDB file; its target and log
folders are temporary too, so the user's dbt project is not touched. The comparison is
typed (same column names and types) and order-insensitive (``EXCEPT ALL`` both ways).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rocky_engine.console import Console
from rocky_engine.errors import UsageError
from rocky_engine.importers.dbt._build import BuiltProject
from rocky_engine.importers.dbt._report import REFUSED, ImportReport

_SAMPLE = 3
_DBT_TIMEOUT = 1800


def find_dbt(explicit: str | None) -> str:
    exe = explicit or shutil.which("dbt")
    if not exe or not Path(exe).exists() and not shutil.which(exe):
        raise UsageError("--verify needs dbt with the DuckDB adapter, and no `dbt` was found",
                         hint="pip install dbt-core dbt-duckdb (in any virtualenv) and pass "
                              "--dbt PATH/TO/dbt, or put it on PATH")
    return exe


def _dbt(exe: str, args: list[str], project: Path, profiles: Path, work: Path,
         ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1",
               DBT_PARTIAL_PARSE="false")
    cmd = [exe, *args, "--project-dir", str(project), "--profiles-dir", str(profiles),
           "--target", "rocky_verify", "--target-path", str(work / "target"),
           "--log-path", str(work / "logs")]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=_DBT_TIMEOUT, check=False,
                              env=env, cwd=work)
    except OSError as exc:
        raise UsageError(f"cannot run {exe}: {exc}",
                         hint="pass the dbt executable with --dbt PATH") from None


def verify_import(dbt_dir: Path, project: dict[str, Any], built: BuiltProject,
                  report: ImportReport, dbt_exe: str | None, console: Console) -> None:
    """Fill each model report's ``verify`` (equal | differs | not_run)."""
    exe = find_dbt(dbt_exe)
    with tempfile.TemporaryDirectory(prefix="rocky-verify-") as tmp:
        work = Path(tmp)
        # Named as the project's own DuckDB database, so SQL that spells a relation's full
        # name into its rows (dbt_utils.union_relations' source column) writes the same text
        # on both sides as in the compiled SQL.
        from rocky_engine.importers.dbt._jinja import target_database

        (work / "dbt").mkdir()
        dbt_db = work / "dbt" / f"{target_database(dbt_dir, project)}.duckdb"
        profile = str(project.get("profile") or project["name"])
        (work / "profiles.yml").write_text(json.dumps({profile: {
            "target": "rocky_verify",
            "outputs": {"rocky_verify": {"type": "duckdb", "path": str(dbt_db),
                                         "schema": "main", "threads": 1}}}}), encoding="utf-8")
        console.line("verify: dbt seed + dbt run into a throwaway DuckDB file ...")
        seed = _dbt(exe, ["seed", "--full-refresh"], dbt_dir, work, work)
        if seed.returncode != 0 and "duckdb" in (seed.stdout + seed.stderr).lower() and \
                "could not find adapter" in (seed.stdout + seed.stderr).lower():
            raise UsageError(f"{exe} has no DuckDB adapter", hint="pip install dbt-duckdb")
        run = _dbt(exe, ["run", "--full-refresh"], dbt_dir, work, work)
        manifest = work / "target" / "manifest.json"
        if not manifest.is_file():
            tail = (seed.stdout + seed.stderr + run.stdout + run.stderr).strip().splitlines()[-8:]
            raise UsageError("dbt could not build the project on DuckDB for --verify: "
                             + " / ".join(tail), hint="check that `dbt run` works with "
                             "dbt-duckdb on this project")
        built_ok = _dbt_successes(work / "target" / "run_results.json", manifest)
        relations = _dbt_relations(manifest)

        console.line("verify: rocky seed + rocky run into another throwaway DuckDB file ...")
        rocky_root = work / "rocky"
        for rel, text in built.files.items():
            path = rocky_root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for rel, src in built.copies.items():
            path = rocky_root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, path)
        from rocky_engine.context import Context
        from rocky_engine.errors import RockyError

        ctx = Context.load(rocky_root)
        rocky_failed: dict[str, str] = {}
        try:
            ctx.seed()
            result = ctx.run()
            for d in result.compile_errors:
                rocky_failed.setdefault((d.model or "").lower(), d.headline())
            for m in result.models:
                if m.status != "success":
                    rocky_failed[m.name.lower()] = m.error or f"{m.status}"
        except RockyError as exc:
            for mr in report.models:
                rocky_failed[mr.name.lower()] = exc.render()
        _compare(report, built, relations, built_ok, rocky_failed, ctx, dbt_db)
    report.verified = True


def _rocky_name(node: dict[str, Any]) -> str:
    """The rocky model a dbt model node became (a version is named ``<name>_v<v>``)."""
    name = str(node["name"])
    return (name if node.get("version") is None else f"{name}_v{node['version']}").lower()


def _dbt_successes(path: Path, manifest: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
    except (OSError, json.JSONDecodeError):
        return set()
    return {_rocky_name(nodes[r["unique_id"]]) if r["unique_id"] in nodes
            else r["unique_id"].split(".")[-1].lower()
            for r in data.get("results", []) if r.get("status") == "success"}


def _dbt_relations(path: Path) -> dict[str, tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {_rocky_name(n): (n.get("schema") or "main", n.get("alias") or n["name"])
            for n in data.get("nodes", {}).values() if n.get("resource_type") == "model"}


def _compare(report: ImportReport, built: BuiltProject, relations: dict[str, tuple[str, str]],
             built_ok: set[str], rocky_failed: dict[str, str], ctx: Any, dbt_db: Path) -> None:
    from rocky_engine.errors import WarehouseError

    with ctx.adapter(read_only=True) as adapter:
        adapter.execute(f"ATTACH '{dbt_db}' AS dbt (READ_ONLY)")
        schema = ctx.project.config.warehouse.schema_
        catalog = adapter.fetchall("SELECT current_database()")[0][0]
        for m in report.models:
            key = m.name.lower()
            if m.status == REFUSED or m.rocky_file is None:
                m.verify, m.verify_detail = "not_run", ("refused" if m.status == REFUSED
                                                        else "no rocky model (inlined)")
                continue
            if key not in built_ok or key not in relations:
                m.verify, m.verify_detail = "not_run", "dbt did not build it"
                continue
            if key in rocky_failed:
                m.verify, m.verify_detail = "differs", f"rocky did not build it: {rocky_failed[key]}"
                continue
            d_schema, d_name = relations[key]
            try:
                left = _columns(adapter, "dbt", d_schema, d_name)
                right = _columns(adapter, catalog, schema, m.name)
                if [c.lower() for c, _ in left] != [c.lower() for c, _ in right] or \
                        [t for _, t in left] != [t for _, t in right]:
                    m.verify = "differs"
                    m.verify_detail = (f"columns: dbt {_fmt_cols(left)} vs rocky "
                                       f"{_fmt_cols(right)}")
                    continue
                cols = ", ".join(_q(c) for c, _ in left)
                d_rel = f"dbt.{_q(d_schema)}.{_q(d_name)}"
                r_rel = f"{_q(catalog)}.{_q(schema)}.{_q(m.name)}"
                only_dbt = adapter.fetchall(
                    f"SELECT {cols} FROM {d_rel} EXCEPT ALL SELECT {cols} FROM {r_rel}")
                only_rocky = adapter.fetchall(
                    f"SELECT {cols} FROM {r_rel} EXCEPT ALL SELECT {cols} FROM {d_rel}")
                n = adapter.fetchall(f"SELECT count(*) FROM {d_rel}")[0][0]
            except WarehouseError as exc:
                m.verify, m.verify_detail = "differs", f"cannot compare: {exc.message}"
                continue
            if only_dbt or only_rocky:
                m.verify = "differs"
                m.verify_detail = (f"{len(only_dbt)} row(s) only in dbt, {len(only_rocky)} only "
                                   f"in rocky; e.g. dbt {only_dbt[:_SAMPLE]} rocky "
                                   f"{only_rocky[:_SAMPLE]}")
            else:
                m.verify, m.verify_detail = "equal", f"{n} rows"


def _columns(adapter: Any, catalog: str, schema: str, name: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in adapter.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = ?"
        " AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)"
        " ORDER BY ordinal_position", [catalog, schema, name])]


def _fmt_cols(cols: list[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{c} {t}" for c, t in cols) + ")"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
