"""The fault suite: SIGKILL at random points, a full disk, and a push the remote rejects.

Each kill test runs the real CLI in a subprocess, kills it after a delay drawn (seeded,
so reproducible) from the measured length of an uninterrupted run, then checks the
invariants: prod is the old or the new state and never a mix, files are the old or the
new text and always valid, git has no half-made commit, no lock is left behind — and a
plain re-run succeeds with exactly the result of an uninterrupted run.

Already covered elsewhere (not repeated): one kill inside a slow CREATE TABLE
(tests/execution/test_state_lock.py), promote under an injected SQL failure
(tests/execution/test_branches.py), a push to a missing remote / a failing push
(tests/agent/repair/test_repair_gitops.py).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hardening_helpers import assert_clean, tally
from repair_helpers import GIT_ENV, alter_warehouse, checkout_state, git, make_repo, prod_snapshot

Cli = Callable[..., Any]
pytestmark = pytest.mark.slow

RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"
KILLS = int(os.environ.get("ROCKY_FAULT_KILLS", "3"))


def _rocky(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "rocky_engine", *args, "--project", str(root)]


def _env() -> dict[str, str]:
    env = {**os.environ, **GIT_ENV}
    env.pop("GITHUB_TOKEN", None)
    return env


def _timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, check=False, text=True, env=_env(), timeout=240)
    return time.monotonic() - start, done


def _kill_after(cmd: list[str], delay: float) -> bool:
    """Start ``cmd``, SIGKILL it after ``delay`` seconds; True when it was really killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env())
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return True


def _delays(seed: int, duration: float, n: int = KILLS) -> list[float]:
    # Past interpreter start-up (~a third of a short command) up to the end of the work.
    rng = random.Random(seed)
    return sorted(rng.uniform(0.25 * duration, 1.05 * duration) for _ in range(n))


def _no_tmp_relations(root: Path) -> list[str]:
    conn = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return [r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_name LIKE '%rocky_tmp%'").fetchall()]
    finally:
        conn.close()


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


# ------------------------------------------------------------------ rocky run

def test_kill_run_at_random_points(built_box: Path, tmp_path: Path) -> None:
    root = built_box
    # A change to a table model, so each run really rewrites prod.
    (root / "models" / "customers.sql").write_text(
        (root / "models" / "customers.sql").read_text() + "\n-- touched\n")
    reference = _copy(root, tmp_path / "reference")
    duration, done = _timed(_rocky(reference, "run"))
    assert done.returncode == 0, done.stderr
    expected = prod_snapshot(reference)
    for i, delay in enumerate(_delays(11, duration)):
        killed = _kill_after(_rocky(root, "run"), delay)
        # Every prod object is whole: its content is that of a complete build.
        mid = prod_snapshot(root)
        whole = mid == expected and not _no_tmp_relations(root)
        res = subprocess.run(_rocky(root, "run", "--format", "json"), capture_output=True,
                             check=False, text=True, env=_env(), timeout=240)
        ok = whole and res.returncode == 0 and prod_snapshot(root) == expected
        tally("kill", f"run killed={killed} at {delay:.2f}s", ok)
        assert whole, f"kill {i} at {delay:.2f}s left prod inconsistent"
        assert res.returncode == 0, res.stderr  # no leftover lock blocks the re-run
        assert prod_snapshot(root) == expected
        assert not _no_tmp_relations(root)


# ------------------------------------------------------------------ branch promote

def _branch_ready(root: Path) -> None:
    model = root / "models" / "stg_orders.sql"
    model.write_text(model.read_text().replace("FROM raw.orders", "FROM raw.orders WHERE id % 2 = 0"))
    for args in (("branch", "create", "fix"), ("run", "--branch", "fix", "--select", "stg_orders+")):
        done = subprocess.run(_rocky(root, *args), capture_output=True, check=False, text=True, env=_env())
        assert done.returncode == 0, done.stderr


def test_kill_branch_promote_at_random_points(built_box: Path, tmp_path: Path) -> None:
    root = built_box
    before = prod_snapshot(root)
    _branch_ready(root)
    reference = _copy(root, tmp_path / "reference")
    duration, done = _timed(_rocky(reference, "branch", "promote", "fix"))
    assert done.returncode == 0, done.stderr
    after = prod_snapshot(reference)
    assert after != before
    for i, delay in enumerate(_delays(23, duration)):
        trial = _copy(root, tmp_path / f"trial{i}")
        killed = _kill_after(_rocky(trial, "branch", "promote", "fix"), delay)
        mid = prod_snapshot(trial)
        atomic = mid in (before, after)
        res = subprocess.run(_rocky(trial, "branch", "promote", "fix"), capture_output=True,
                             check=False, text=True, env=_env(), timeout=240)
        ok = atomic and res.returncode == 0 and prod_snapshot(trial) == after
        tally("kill", f"promote killed={killed} at {delay:.2f}s", ok)
        assert atomic, f"kill {i} at {delay:.2f}s left prod half-promoted"
        assert res.returncode == 0, res.stderr
        assert prod_snapshot(trial) == after
        assert not _no_tmp_relations(trial)


# ------------------------------------------------------------------ drift --accept

def test_kill_drift_accept_at_random_points(sandbox: Path, tmp_path: Path) -> None:
    root = sandbox
    alter_warehouse(root, RENAME, "ALTER TABLE raw.customers ADD COLUMN tier VARCHAR")
    sources = root / "sources" / "raw.toml"
    old = sources.read_text()
    reference = _copy(root, tmp_path / "reference")
    duration, done = _timed(_rocky(reference, "drift", "--accept", "--yes"))
    assert done.returncode == 0, done.stderr
    new = (reference / "sources" / "raw.toml").read_text()
    assert new != old
    for i, delay in enumerate(_delays(37, duration)):
        sources.write_text(old)
        killed = _kill_after(_rocky(root, "drift", "--accept", "--yes"), delay)
        text = sources.read_text()
        whole = text in (old, new)
        tomllib.loads(text)  # always valid TOML
        leftovers = [p.name for p in sources.parent.iterdir() if p.name != "raw.toml"]
        res = subprocess.run(_rocky(root, "drift", "--accept", "--yes"), capture_output=True,
                             check=False, text=True, env=_env(), timeout=240)
        ok = whole and not leftovers and res.returncode == 0 and sources.read_text() == new
        tally("kill", f"drift --accept killed={killed} at {delay:.2f}s", ok)
        assert whole, f"kill {i} at {delay:.2f}s left a half-written sources file"
        assert not leftovers, leftovers
        assert res.returncode == 0, res.stderr
        assert sources.read_text() == new
        check = subprocess.run(_rocky(root, "drift", "--check"), capture_output=True, check=False, text=True,
                               env=_env(), timeout=240)
        assert check.returncode == 0, check.stdout + check.stderr


# ------------------------------------------------------------------ repair

def _repo(root: Path, origin: Path) -> Path:
    make_repo(root, origin=origin)
    return root


def _git_ok(root: Path) -> None:
    git(root, "fsck", "--no-dangling")
    git(root, "worktree", "prune")
    for branch in git(root, "branch", "--list", "rocky/*", "--format=%(refname:short)").split():
        # A rocky branch, when there is one, holds a whole commit whose model compiles.
        git(root, "cat-file", "-e", f"{branch}^{{commit}}")


def test_kill_repair_at_random_points(built_box: Path, tmp_path: Path) -> None:
    root = _repo(built_box, tmp_path / "origin.git")
    alter_warehouse(root, RENAME)
    reference = _copy(root, tmp_path / "reference")
    duration, done = _timed(_rocky(reference, "repair", "--format", "json"))
    assert done.returncode == 0, done.stdout + done.stderr
    expected = json.loads(done.stdout)
    assert expected["status"] == "validated"
    expected_sql = git(reference, "show", f"{expected['commit']}:models/stg_orders.sql")
    prod = prod_snapshot(root)
    main_head = git(root, "rev-parse", "main")
    for i, delay in enumerate(_delays(41, duration)):
        trial = _copy(root, tmp_path / f"trial{i}")
        before = checkout_state(trial)
        killed = _kill_after(_rocky(trial, "repair"), delay)
        untouched = checkout_state(trial) == before and prod_snapshot(trial) == prod
        _git_ok(trial)
        res = subprocess.run(_rocky(trial, "repair", "--format", "json"), capture_output=True,
                             check=False, text=True, env=_env(), timeout=240)
        data = json.loads(res.stdout) if res.stdout.startswith("{") else {}
        ok = (untouched and res.returncode == 0 and data.get("status") == "validated"
              and git(trial, "rev-parse", "main") == main_head)
        tally("kill", f"repair killed={killed} at {delay:.2f}s", ok)
        assert untouched, f"kill {i} at {delay:.2f}s touched the checkout or prod"
        assert res.returncode == 0 and data["status"] == "validated", res.stdout + res.stderr
        assert git(trial, "rev-parse", "main") == main_head  # no half-made commit on main
        assert git(trial, "show", f"{data['commit']}:models/stg_orders.sql") == expected_sql
        assert prod_snapshot(trial) == prod
        _git_ok(trial)


# ------------------------------------------------------------------ disk full

@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A 6 MB tmpfs (needs root and mount); skipped where it cannot be made."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): disk-full not simulated")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_disk_full_during_run_is_a_clear_error_and_recovers(
        tiny_disk: Path, _built_hardening_template: Path, run_cli: Cli) -> None:
    root = _copy(_built_hardening_template, tiny_disk / "shop")
    prod = prod_snapshot(root)
    (root / "models" / "huge.sql").write_text(
        "SELECT range AS id, repeat(md5(range::VARCHAR), 8) AS pad FROM range(3000000)")
    (root / "models" / "huge.toml").write_text('materialized = "table"\n')
    res = run_cli("run", "--project", str(root))
    assert_clean(res, (1, 2), category="disk", case="disk full during run")
    assert "No space left on device" in res.output
    # Free the space, as an operator would, and run again: prod is whole and rebuilt.
    (root / "models" / "huge.sql").unlink()
    (root / "models" / "huge.toml").unlink()
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    again = run_cli("run", "--project", str(root))
    assert_clean(again, (0,), category="disk", case="run after the disk was freed")
    assert prod_snapshot(root) == prod
    assert not _no_tmp_relations(root)


def test_disk_full_during_drift_accept_keeps_the_sources_file(
        tiny_disk: Path, _seeded_template: Path, run_cli: Cli) -> None:
    root = _copy(_seeded_template, tiny_disk / "shop")
    alter_warehouse(root, RENAME)
    sources = root / "sources" / "raw.toml"
    old = sources.read_text()
    # Fill the disk to the last byte, then accept: the atomic write cannot complete.
    filler = tiny_disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    res = run_cli("drift", "--accept", "--yes", "--project", str(root))
    assert_clean(res, (0, 1, 2), category="disk", case="disk full during drift --accept")
    text = sources.read_text()
    tomllib.loads(text)
    assert text == old or res.exit_code == 0
    assert [p.name for p in sources.parent.iterdir()] == ["raw.toml"]
    filler.unlink()
    again = run_cli("drift", "--accept", "--yes", "--project", str(root))
    assert_clean(again, (0,), category="disk", case="drift --accept after the disk was freed")
    assert "total_amount" in sources.read_text()


# ------------------------------------------------------------------ rejected push

def test_remote_that_rejects_the_push(built_box: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    root = _repo(built_box, origin)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'push refused by policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    (root / "rocky.toml").write_text((root / "rocky.toml").read_text()
                                     + '\n[github]\nrepo = "acme/shop"\n')
    git(root, "commit", "-qam", "github settings")
    alter_warehouse(root, RENAME)
    prod = prod_snapshot(root)
    before = checkout_state(root)
    env = {**_env(), "GITHUB_TOKEN": "ghs_hardening_secret_456",
           "GITHUB_API_URL": "http://127.0.0.1:9"}
    res = subprocess.run(_rocky(root, "repair", "--open-pr", "--format", "json"),
                         capture_output=True, check=False, text=True, env=env, timeout=240)
    out = res.stdout + res.stderr
    ok = (res.returncode in (1, 2) and "Traceback" not in out
          and "ghs_hardening_secret_456" not in out)
    tally("remote", "pre-receive hook rejects the push", ok)
    assert res.returncode in (1, 2), out
    assert "Traceback" not in out and "R999" not in out
    assert "push" in out.lower()
    assert "ghs_hardening_secret_456" not in out
    # The local branch and commit are kept; the user's checkout and prod are not touched.
    assert git(root, "branch", "--list", "rocky/*")
    assert checkout_state(root) == before
    assert prod_snapshot(root) == prod
    assert git(origin, "branch", "--list", "rocky/*") == ""
