"""Git operations: a worktree per repair, the user's checkout never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from repair_helpers import git, make_repo

from intent_agent.gitops import GitError, RepairWorkspace, branch_name, find_repo
from rocky_engine.errors import ConfigError


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "work" / "proj"
    (root / "models").mkdir(parents=True)
    (root / "models" / "m.sql").write_text("SELECT 1 AS a\n")
    (root / "models" / "n.sql").write_text("SELECT 2 AS b\n")
    make_repo(tmp_path / "work", origin=tmp_path / "origin.git")
    return tmp_path / "work", root


def _snapshot(top: Path) -> tuple[str, str, str, dict[str, str]]:
    files = {str(p.relative_to(top)): p.read_text() for p in top.rglob("*")
             if p.is_file() and ".git" not in p.parts}
    return (git(top, "status", "--porcelain"), git(top, "rev-parse", "--abbrev-ref", "HEAD"),
            git(top, "rev-parse", "HEAD"), files)


def test_branch_name_is_safe() -> None:
    assert branch_name("ABC/../x y") == "rocky/repair-abc-x-y"


def test_repair_in_worktree_leaves_a_dirty_checkout_untouched(tmp_path: Path) -> None:
    top, root = _repo(tmp_path)
    (root / "models" / "m.sql").write_text("SELECT 1 AS a -- my uncommitted edit\n")
    (root / "scratch.txt").write_text("untracked")
    before = _snapshot(top)
    with RepairWorkspace.open(root, branch_name("f00")) as ws:
        assert ws.project_dir != root
        # the worktree holds the committed state, not the user's edit
        assert (ws.project_dir / "models" / "m.sql").read_text() == "SELECT 1 AS a\n"
        (ws.project_dir / "models" / "n.sql").write_text("SELECT 3 AS b\n")
        info = ws.commit(["models/n.sql"], "rocky: fix n")
        ws.push("origin")
    assert _snapshot(top) == before
    assert info.created
    assert git(top, "show", f"{info.sha}:proj/models/n.sql") == "SELECT 3 AS b"
    assert git(top, "rev-parse", f"{info.sha}^") == before[2]
    assert git(tmp_path / "origin.git", "rev-parse", "refs/heads/rocky/repair-f00") == info.sha
    assert "rocky-repair" not in git(top, "worktree", "list")


def test_rerun_reuses_the_branch_and_updates_it(tmp_path: Path) -> None:
    _top, root = _repo(tmp_path)
    shas = []
    for text in ("SELECT 3 AS b\n", "SELECT 3 AS b\n", "SELECT 4 AS b\n"):
        with RepairWorkspace.open(root, branch_name("f00")) as ws:
            (ws.project_dir / "models" / "n.sql").write_text(text)
            info = ws.commit(["models/n.sql"], "rocky: fix n")
            ws.push("origin")
            shas.append(info)
    assert shas[0].sha == shas[1].sha and not shas[1].created
    assert shas[2].sha != shas[1].sha and shas[2].created
    assert git(tmp_path / "origin.git", "rev-parse", "refs/heads/rocky/repair-f00") == shas[2].sha


def test_nothing_to_commit_and_missing_remote(tmp_path: Path) -> None:
    _top, root = _repo(tmp_path)
    with RepairWorkspace.open(root, branch_name("f01")) as ws:
        with pytest.raises(GitError, match="changes no file"):
            ws.commit(["models/n.sql"], "noop")
        (ws.project_dir / "models" / "n.sql").write_text("SELECT 5 AS b\n")
        ws.commit(["models/n.sql"], "fix")
        with pytest.raises(GitError, match="remote `upstream` does not exist") as info:
            ws.push("upstream")
    assert "kept locally" in (info.value.hint or "")


def test_push_failure_is_clear(tmp_path: Path) -> None:
    top, root = _repo(tmp_path)
    git(top, "remote", "add", "broken", "https://user:s3cret@127.0.0.1:9/x.git")
    with RepairWorkspace.open(root, branch_name("f02")) as ws:
        (ws.project_dir / "models" / "n.sql").write_text("SELECT 5 AS b\n")
        ws.commit(["models/n.sql"], "fix")
        with pytest.raises(GitError, match="push to `broken` failed") as info:
            ws.push("broken")
    assert "s3cret" not in info.value.render()
    assert git(top, "rev-parse", "--verify", "refs/heads/rocky/repair-f02")


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a git repository"):
        find_repo(tmp_path)


def test_the_worktree_gets_the_projects_caches_and_compiles_warm(tmp_path: Path) -> None:
    from rocky_engine.compiler import compile_project
    from rocky_engine.project import load_project
    from tests.perf.test_lazy_cli import _project

    root = _project(tmp_path / "work" / "proj")
    make_repo(tmp_path / "work", origin=tmp_path / "origin.git")
    compile_project(load_project(root))  # the user's compile: target/ is git-ignored
    assert git(tmp_path / "work", "status", "--porcelain") == ""
    with RepairWorkspace.open(root, branch_name("f02")) as ws:
        assert (ws.project_dir / "target" / "rocky_compile.cache").is_file()
        warm = compile_project(load_project(ws.project_dir))
        assert warm.ok and warm.stats.parsed == 0 and warm.stats.recompiled == 0
        path = ws.project_dir / "models" / "m030.sql"
        path.write_text(path.read_text().replace("amount + 30", "amount * 2"))
        patched = compile_project(load_project(ws.project_dir))
        fresh = compile_project(load_project(ws.project_dir), use_cache=False)
        assert patched.to_json()["models"] == fresh.to_json()["models"]
        assert 1 <= patched.stats.recompiled < 10
        assert ws.commit(["models/m030.sql"], "rocky: fix m030").created
