"""A real dbt (dbt-core + dbt-duckdb, pinned) in its own virtualenv, cached between runs.

dbt is never a rocky dependency: the tests install it beside rocky, once per pin set, under
``$ROCKY_TEST_CACHE`` (default ``~/.cache/rocky-tests``). Two xdist workers racing to
install it serialise on a file lock; a half-built environment is never used (a stamp file marks
a finished install). A test that cannot get dbt fails, it does not
skip.

    >>> sorted(PINS)
    ['dbt-core==1.11.16', 'dbt-duckdb==1.11.1']
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Matching releases: an unpinned dbt-duckdb may want a newer dbt-core than the pin.
PINS = ("dbt-core==1.11.16", "dbt-duckdb==1.11.1")


def cache_root() -> Path:
    base = os.environ.get("ROCKY_TEST_CACHE") or Path.home() / ".cache" / "rocky-tests"
    return Path(base)


def dbt_executable() -> Path:
    """The ``dbt`` executable of the cached environment, installing it on first use.

    Raises ``RuntimeError`` (the calling test fails) when it cannot be installed.
    """
    key = hashlib.sha256("\n".join(PINS + (sys.version,)).encode()).hexdigest()[:12]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"dbt-{key}"
    exe = venv / "bin" / "dbt"
    stamp = venv / ".rocky-complete"
    if stamp.exists():
        return exe
    with open(root / f"dbt-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # another worker finished while we waited
            return exe
        # A stamp marks a finished install: a build interrupted half-way is rebuilt.
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *PINS],
        ]
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200,
                                  check=False)
            if done.returncode != 0:
                raise RuntimeError(f"cannot install dbt ({' '.join(PINS)}): "
                                   f"{' '.join(cmd[:4])} exited {done.returncode}:\n"
                                   f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        stamp.write_text("\n".join(PINS) + "\n", encoding="utf-8")
    return exe


def run_dbt(args: list[str], project_dir: Path, *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``dbt ARGS --project-dir D --profiles-dir D`` with its own log/target dirs, offline."""
    exe = dbt_executable()
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1",
               DBT_NO_PRINT="0")
    cmd = [str(exe), *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=project_dir, check=False)
