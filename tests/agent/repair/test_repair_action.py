"""The GitHub Action, run locally: its shell steps with GitHub's environment variables,
against the fake GitHub API on 127.0.0.1 and a bare repository as `origin`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mini_yaml
import pytest
from fakes.github_api import FakeGitHub
from repair_helpers import alter_warehouse, git

REPO = Path(__file__).resolve().parents[3]
TOKEN = "ghs_secret_token_123"


def _action() -> dict:
    return mini_yaml.load((REPO / "action.yml").read_text())


def _expand(text: str, inputs: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs."):]]
        if expr == "github.token":
            return TOKEN
        raise AssertionError(f"unexpected expression {expr}")

    return re.sub(r"\$\{\{(.*?)\}\}", sub, text)


def _condition(expr: str | None, inputs: dict[str, str]) -> bool:
    if not expr:
        return True
    m = re.fullmatch(r"inputs\.([\w-]+) == '(\w+)'", expr.strip())
    assert m, f"unsupported if: {expr}"
    return inputs[m.group(1)] == m.group(2)


def test_action_shape() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert set(action["outputs"]) >= {"status", "branch", "pr_url"}
    steps = action["runs"]["steps"]
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in steps)
    assert any("pip install" in s.get("run", "") and "rocky-intent" in s["run"] for s in steps)
    repair = next(s for s in steps if s.get("id") == "repair")
    assert "--open-pr" in repair["run"] and "--format json" in repair["run"]
    for name, out in action["outputs"].items():
        assert out["value"] == f"${{{{ steps.repair.outputs.{name} }}}}"


def test_example_workflow_triggers() -> None:
    wf = mini_yaml.load((REPO / "examples" / "github" / "rocky-repair.yml").read_text())
    on = wf["on"]
    assert "schedule" in on and "workflow_dispatch" in on
    assert on["repository_dispatch"]["types"] == ["schema-changed"]
    assert wf["permissions"] == {"contents": "write", "pull-requests": "write"}


@pytest.mark.slow
def test_action_steps_run_locally(shop_repo: Path, fake_github: FakeGitHub, tmp_path: Path
                                  ) -> None:
    alter_warehouse(shop_repo, "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount")
    inputs = {"project": ".", "python-version": "3.11", "rocky-version": "",
              "install": "false",  # rocky is already installed in this venv; no network
              "open-pr": "true", "token": "${{ github.token }}"}
    inputs = {k: _expand(v, inputs) for k, v in inputs.items()}
    output = tmp_path / "github_output"
    output.write_text("")
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ROCKY_"))}
    env.update({
        "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(shop_repo),
        "GITHUB_REPOSITORY": fake_github.repo, "GITHUB_API_URL": fake_github.url,
        "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner_temp),
        "GITHUB_EVENT_NAME": "repository_dispatch",
    })
    ran = []
    for step in _action()["runs"]["steps"]:
        if not _condition(step.get("if"), inputs) or "run" not in step:
            continue
        assert step["shell"] == "bash"
        step_env = dict(env)
        step_env.update({k: _expand(str(v), inputs) for k, v in (step.get("env") or {}).items()})
        script = tmp_path / f"step{len(ran)}.sh"
        script.write_text(_expand(step["run"], inputs))
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=shop_repo, env=step_env, capture_output=True, text=True,
                              timeout=300, check=False)
        ran.append(step.get("id") or step.get("name"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert TOKEN not in proc.stdout + proc.stderr
    assert ran == ["repair"]
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    assert outputs["status"] == "validated"
    assert outputs["branch"].startswith("rocky/repair-")
    assert outputs["pr_url"] == "https://github.example/acme/shop/pull/1"
    assert fake_github.pulls[1]["head"]["ref"] == outputs["branch"]
    origin = shop_repo.parent / "origin.git"
    assert git(origin, "rev-parse", f"refs/heads/{outputs['branch']}") == outputs["commit"]
