"""The compile snapshot never answers differently from a compile without any cache.

A project whose files did not change is answered from the last compile's snapshot; a project
where only a few models' SQL changed (same references, same output schema, still ok) is
answered by compiling just those models against the snapshot (``_delta``). Everything else
takes the full path. Here a seeded random walk of edits of every kind checks, after each
edit, that the cached answer equals a compile with no cache at all — and that the fast paths
were really taken where they apply.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from rocky_engine.compiler import compile_project, pipeline
from rocky_engine.compiler.ir import CompileResult
from rocky_engine.project import load_project

N = 60


def _write_project(root: Path) -> Path:
    """Three layers over two sources, joins and aggregates, some contracts: enough files
    (over 50) for the load cache, so snapshots apply."""
    (root / "models").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "rocky.toml").write_text('[project]\nname = "p"\ndialect = "duckdb"\n')
    (root / "sources" / "raw.toml").write_text(
        'schema = "raw"\n'
        '[tables.orders.columns]\nid = "INTEGER"\ncustomer_id = "INTEGER"\n'
        'amount = "DECIMAL(10,2)"\nordered_at = "DATE"\n'
        '[tables.customers.columns]\nid = "INTEGER"\nname = "VARCHAR"\n')
    for i in range(N):
        (root / "models" / f"m{i:03d}.sql").write_text(_sql(i))
    for i in range(0, N, 7):
        (root / "models" / f"m{i:03d}.toml").write_text(
            '[columns.id]\ntype = "INTEGER"\n')
    return root


def _sql(i: int, *, threshold: int = 0, extra: str = "") -> str:
    if i < 10:
        return (f"SELECT o.id, o.customer_id, o.amount + {i} AS amount, c.name{extra}\n"
                "FROM raw.orders AS o JOIN raw.customers AS c ON c.id = o.customer_id\n"
                f"WHERE o.amount > {threshold}\n")
    a, b = i - 1 - (i % 3), i - 10 + (i % 5)
    return (f"WITH x AS (SELECT id, customer_id, amount, name FROM m{a:03d})\n"
            f"SELECT x.id, x.customer_id, x.amount + y.amount AS amount, x.name{extra}\n"
            f"FROM x JOIN m{b:03d} AS y ON y.id = x.id\n"
            f"WHERE x.amount > {threshold}\n")


def _comparable(result: CompileResult) -> dict[str, Any]:
    doc = result.to_json()
    stats = doc.pop("stats", None)
    assert stats is None or isinstance(stats, dict)
    lineage = {name: tuple(m.lineage) for name, m in result.models.items()}
    return {"doc": doc, "order": result.order, "lineage": lineage,
            "dag": {n: result.dag.parents(n) for n in result.dag.nodes},
            "diags": [(d.code, d.severity, d.file, d.line, d.col, d.message, d.hint)
                      for d in result.diagnostics]}


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which way each cached compile was answered: 'snapshot', 'delta' or 'full'."""
    taken: list[str] = []
    real_from, real_delta = pipeline._Compiler._from_snapshot, pipeline._Compiler._delta
    real_scan = pipeline._Compiler._scan_all

    def from_snapshot(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = real_from(self, *args, **kwargs)
        if out is not None and not kwargs.get("replaced"):
            taken.append("snapshot")
        return out

    def delta(self: Any, t0: float) -> Any:
        out = real_delta(self, t0)
        if out is not None:
            taken.append("delta")
        return out

    def scan_all(self: Any, models: Any) -> Any:
        taken.append("full")
        return real_scan(self, models)

    monkeypatch.setattr(pipeline._Compiler, "_from_snapshot", from_snapshot)
    monkeypatch.setattr(pipeline._Compiler, "_delta", delta)
    monkeypatch.setattr(pipeline._Compiler, "_scan_all", scan_all)
    return taken


QUICK: list[str] = []  # projects answer_unchanged answered for (the test saw it used)


def _check(root: Path, strict: bool = False) -> CompileResult:
    cached = compile_project(load_project(root), strict=strict)
    fresh = compile_project(load_project(root), strict=strict, use_cache=False)
    assert _comparable(cached) == _comparable(fresh)
    assert cached.stats.models == fresh.stats.models
    assert cached.stats.columns == fresh.stats.columns
    assert cached.stats.unknown_types == fresh.stats.unknown_types
    # Nothing changed since that compile: answered without loading, and the same.
    quick = pipeline.answer_unchanged(root, strict=strict)
    if quick is not None:
        QUICK.append(str(root))
        assert _comparable(quick) == _comparable(fresh)
        assert quick.stats.columns == fresh.stats.columns
    return cached


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads happen 10 s after the files were last touched, so their stamps are trusted
    (a real edit is never that close to a compile in these tests' sense)."""
    import rocky_engine.project as project_mod

    monkeypatch.setattr(project_mod._LoadCache, "_clock",
                        staticmethod(lambda: time.time_ns() + 10_000_000_000))


def test_unchanged_project_is_answered_from_the_snapshot(tmp_path: Path,
                                                         paths: list[str]) -> None:
    root = _write_project(tmp_path / "p")
    first = _check(root)
    assert first.ok and paths[0] == "full"
    paths.clear()
    again = compile_project(load_project(root))
    assert paths == ["snapshot"]
    assert again.stats.parsed == 0 and again.stats.recompiled == 0
    assert again.stats.cache_hits == N
    assert _comparable(again) == _comparable(first)


def test_an_unchanged_project_is_answered_without_loading_it(
        tmp_path: Path, later: None, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _write_project(tmp_path / "p")
    first = _check(root)
    quick = pipeline.answer_unchanged(root / "models")  # from a subfolder, like the CLI
    assert quick is not None and _comparable(quick) == _comparable(first)
    assert quick.stats.parsed == 0 and quick.stats.cache_hits == N
    assert pipeline.answer_unchanged(root, strict=True) is None  # another compile's answer
    model = root / "models" / "m012.sql"
    text = model.read_text()
    # Same size, mtime put back: only the ctime and the content tell.
    stat = model.stat()
    model.write_text(text.replace("x.amount > 0", "x.amount > 9"))
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert pipeline.answer_unchanged(root) is None
    _check(root)
    assert pipeline.answer_unchanged(root) is not None
    (root / "models" / "new.sql").write_text("SELECT 1 AS one\n")  # a file more
    assert pipeline.answer_unchanged(root) is None
    (root / "models" / "new.sql").unlink()  # and gone again: back to the stamped files
    assert pipeline.answer_unchanged(root) is not None
    (root / "models" / "m014.toml").write_text('[columns.id]\ntype = "BIGINT"\n')  # a sidecar
    assert pipeline.answer_unchanged(root) is None
    _check(root)
    model.touch()  # new stamp, same content: answered by the full load, then stamped anew
    assert pipeline.answer_unchanged(root) is None
    _check(root)
    assert pipeline.answer_unchanged(root) is not None


def test_a_project_edited_seconds_before_is_not_trusted_to_stamps(tmp_path: Path) -> None:
    root = _write_project(tmp_path / "p")
    _check(root)  # the files were written just now: their stamps are racy
    assert pipeline.answer_unchanged(root) is None
    assert compile_project(load_project(root)).stats.cache_hits == N


def test_same_schema_edit_compiles_only_that_model(tmp_path: Path, paths: list[str]) -> None:
    root = _write_project(tmp_path / "p")
    _check(root)
    (root / "models" / "m030.sql").write_text(_sql(30, threshold=5))
    paths.clear()
    result = _check(root)
    assert paths[0] == "delta"
    assert result.stats.recompiled == 1 and result.stats.cache_hits == N - 1
    assert not result.models["m030"].from_cache and result.models["m031"].from_cache


def test_schema_change_re_types_the_dependents_and_stops_where_schemas_hold(
        tmp_path: Path, paths: list[str]) -> None:
    root = _write_project(tmp_path / "p")
    first = _check(root)
    children = set(first.dag.children("m030"))
    assert children
    (root / "models" / "m030.sql").write_text(_sql(30, extra=", 1 AS extra"))
    paths.clear()
    result = _check(root)
    assert paths[0] == "delta"
    # m030 has a new column; its dependents read named columns, so their schemas hold and
    # nothing further down is looked at.
    assert result.stats.recompiled == 1 + len(children)
    assert {n for n, m in result.models.items() if not m.from_cache} == {"m030", *children}


def test_a_snapshot_from_a_strict_compile_does_not_answer_a_lenient_one(
        tmp_path: Path, paths: list[str]) -> None:
    root = _write_project(tmp_path / "p")
    (root / "models" / "m005.sql").write_text(
        "SELECT id, customer_id, amount, name, NULL AS nothing FROM m004\n")
    _check(root, strict=True)
    lenient = _check(root)
    strict = _check(root, strict=True)
    assert lenient.ok != strict.ok


def _edit(rng: random.Random, root: Path, originals: dict[str, str]) -> str:
    """One random edit of the project; returns what it did (for the failure message)."""
    models = sorted(p.stem for p in (root / "models").glob("*.sql"))
    name = rng.choice(models)
    path = root / "models" / f"{name}.sql"
    i = int(name[1:]) if name[1:].isdigit() else 0
    kind = rng.choice(["filter", "filter", "filter", "comment", "column", "break", "restore",
                       "reference", "contract", "source", "add", "delete", "two", "cycle"])
    if kind == "filter":
        path.write_text(_sql(i, threshold=rng.randint(1, 99)))
    elif kind == "comment":
        path.write_text(path.read_text() + f"-- note {rng.random()}\n")
    elif kind == "column":
        path.write_text(_sql(i, extra=f", {rng.randint(1, 9)} AS extra"))
    elif kind == "break":
        path.write_text(path.read_text().replace("x.name", "x.nmae").replace("c.name", "c.nmae"))
    elif kind == "restore":
        for rel, text in originals.items():
            if (root / rel).exists() and rel.endswith(".sql"):
                (root / rel).write_text(text)
    elif kind == "reference" and i >= 10:
        path.write_text(path.read_text().replace(f"m{i - 10 + (i % 5):03d}", f"m{i - 10:03d}"))
    elif kind == "contract":
        sidecar = root / "models" / f"{name}.toml"
        spec = rng.choice(['[columns.id]\ntype = "INTEGER"\n', '[columns.id]\ntype = "VARCHAR"\n',
                           '[columns.amount]\nnullable = false\n'])
        sidecar.write_text(spec)
    elif kind == "source":
        text = (root / "sources" / "raw.toml").read_text()
        swap = ('amount = "DECIMAL(10,2)"', 'amount = "DOUBLE"')
        text = text.replace(*swap) if swap[0] in text else text.replace(*reversed(swap))
        (root / "sources" / "raw.toml").write_text(text)
    elif kind == "add":
        (root / "models" / f"z{rng.randint(0, 9999):04d}.sql").write_text(
            f"SELECT id, amount FROM {name}\n")
    elif kind == "delete" and name.startswith("z"):
        path.unlink()
        (root / "models" / f"{name}.toml").unlink(missing_ok=True)
    elif kind == "two":
        other = rng.choice(models)
        path.write_text(path.read_text() + "-- a\n")
        (root / "models" / f"{other}.sql").write_text(
            (root / "models" / f"{other}.sql").read_text() + "-- b\n")
    elif kind == "cycle" and i < 50:
        path.write_text(path.read_text().replace("FROM raw.orders AS o",
                                                 f"FROM m{i + 10:03d} AS o")
                        if i < 10 else path.read_text().replace(f"FROM m{i - 1 - (i % 3):03d}",
                                                                f"FROM m{i + 5:03d}"))
    return f"{kind} {name}"


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_never_make_the_cache_answer_differently(tmp_path: Path, seed: int,
                                                              paths: list[str],
                                                              later: None) -> None:
    root = _write_project(tmp_path / "p")
    originals = {p.relative_to(root).as_posix(): p.read_text()
                 for p in (root / "models").glob("*.sql")}
    rng = random.Random(seed)
    _check(root)
    done = []
    for _ in range(16):
        done.append(_edit(rng, root, originals))
        try:
            _check(root, strict=rng.random() < 0.2)
        except AssertionError as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"after edits {done}: {exc}") from None
    assert "delta" in paths and "full" in paths, paths
    assert QUICK.count(str(root)) >= 10  # and the no-load answer after nearly every edit
