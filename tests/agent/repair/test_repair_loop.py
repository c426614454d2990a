"""`rocky repair` end to end on the example shop: every drift kind, git, prod, GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.github_api import FakeGitHub
from repair_helpers import alter_warehouse, checkout_state, git, prod_snapshot

from intent_agent.repair import repair_project
from intent_agent.repair.changes import SchemaChange
from intent_agent.repair.offline import plan_findings
from intent_agent.repair.plan import RepairPlan

RENAME = "ALTER TABLE raw.orders RENAME COLUMN amount TO total_amount"
RETYPE = "ALTER TABLE raw.payments ALTER amount TYPE VARCHAR"
TOKEN = "ghs_secret_token_123"


def _branches(root: Path) -> list[str]:
    return [b.strip("* ").strip() for b in git(root, "branch", "--list", "rocky/*").splitlines()]


def test_no_drift(shop_repo: Path, run_cli) -> None:
    res = run_cli("repair", "--project", str(shop_repo), "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "no_drift"
    assert data["branch"] is None and data["patches"] == []


def test_rename_and_retype_validated_json_contract(shop_repo: Path, run_cli) -> None:
    alter_warehouse(shop_repo, RENAME, RETYPE)
    prod = prod_snapshot(shop_repo)
    # A dirty checkout: an uncommitted edit, a staged file and an untracked file.
    (shop_repo / "models" / "customers.sql").write_text(
        (shop_repo / "models" / "customers.sql").read_text() + "\n-- my uncommitted edit\n")
    (shop_repo / "notes.txt").write_text("untracked")
    (shop_repo / "staged.txt").write_text("staged")
    git(shop_repo, "add", "staged.txt")
    before = checkout_state(shop_repo)

    res = run_cli("repair", "--project", str(shop_repo), "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"status", "branch", "commit", "pr_url", "patches", "validation"} <= set(data)
    assert data["status"] == "validated"
    assert data["branch"].startswith("rocky/repair-") and data["pr_url"] is None
    assert sorted(p["path"] for p in data["patches"]) == [
        "models/stg_orders.sql", "models/stg_payments.sql", "sources/raw.toml"]
    v = data["validation"]
    assert v["ok"] and all(v[s]["ok"] for s in ("compile", "build", "tests", "data_diff"))
    diff = {m["model"]: m for m in v["data_diff"]["models"]}
    assert diff["customers"]["status"] == "unchanged"  # a pure rename: outputs equal prod

    # The user's checkout, branch, index and files are exactly as they were; prod too.
    assert checkout_state(shop_repo) == before
    assert prod_snapshot(shop_repo) == prod
    commit = data["commit"]
    assert git(shop_repo, "rev-parse", data["branch"]) == commit
    assert git(shop_repo, "rev-parse", f"{commit}^") == before[2]
    sql = git(shop_repo, "show", f"{commit}:models/stg_orders.sql")
    assert "total_amount AS amount" in sql
    assert "-- Orders with a normalised status." in sql  # comments survive
    sources = git(shop_repo, "show", f"{commit}:sources/raw.toml")
    assert 'total_amount = "DECIMAL(10,2)"' in sources
    assert "# placed | shipped | completed | returned" in sources  # tomlkit kept comments
    assert "my uncommitted edit" not in git(shop_repo, "show", f"{commit}:models/customers.sql")
    body = Path(data["pr_body"]).read_text()
    assert "```mermaid" in body and "total_amount AS amount" in body


@pytest.mark.slow
@pytest.mark.parametrize("statements,kind", [
    (["ALTER TABLE raw.payments RENAME TO payments_v2"], "table_renamed"),
    (["ALTER TABLE raw.customers DROP COLUMN signup_date"], "column_removed"),
    (["ALTER TABLE raw.orders ADD COLUMN coupon VARCHAR"], "column_added"),
    (["CREATE TABLE raw.refunds (id INTEGER, order_id INTEGER)"], "table_added"),
    (["ALTER TABLE raw.payments ALTER id TYPE BIGINT"], "column_type_changed"),
    (["ALTER TABLE raw.customers ALTER email SET NOT NULL"], "column_nullability_changed"),
])
def test_mechanical_kinds_validate(shop_repo: Path, statements: list[str], kind: str) -> None:
    alter_warehouse(shop_repo, *statements)
    prod = prod_snapshot(shop_repo)
    result = repair_project(shop_repo, env={})
    assert [c.kind for c in result.changes] == [kind]
    assert result.status == "validated", [f.render() for f in result.findings]
    assert result.commit and result.exit_code == 0
    assert prod_snapshot(shop_repo) == prod
    if kind == "column_removed":
        sql = git(shop_repo, "show", f"{result.commit}:models/stg_customers.sql")
        assert "signup_date" not in sql and "UPPER(country) AS country_code\n" in sql
    if kind == "column_nullability_changed":
        sources = git(shop_repo, "show", f"{result.commit}:sources/raw.toml")
        assert "nullable = false" in sources.split("[tables.customers.columns]")[1].split(
            "[tables.orders]")[0].split("email")[1].splitlines()[0]
    if kind == "table_renamed":
        sql = git(shop_repo, "show", f"{result.commit}:models/stg_payments.sql")
        assert "FROM raw.payments_v2 AS payments" in sql


@pytest.mark.slow
@pytest.mark.parametrize("statements,needle", [
    (["ALTER TABLE raw.orders DROP COLUMN status"], "raw.orders.status is gone"),
    (["DROP TABLE raw.payments"], "raw.payments was removed"),
    (["ALTER TABLE raw.orders ALTER amount TYPE VARCHAR",
      "UPDATE raw.orders SET amount = 'n/a' WHERE id = 1"], "not safe"),
])
def test_needs_review_leaves_no_commit_and_no_prod_change(
        shop_repo: Path, statements: list[str], needle: str, run_cli) -> None:
    alter_warehouse(shop_repo, *statements)
    prod = prod_snapshot(shop_repo)
    before = checkout_state(shop_repo)
    res = run_cli("repair", "--project", str(shop_repo), "--format", "json")
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "needs_review"
    assert data["commit"] is None and data["branch"] is None
    assert any(needle in f["reason"] for f in data["findings"]), data["findings"]
    assert _branches(shop_repo) == []
    assert checkout_state(shop_repo) == before
    assert prod_snapshot(shop_repo) == prod


def test_ambiguous_rename_is_never_guessed() -> None:
    change = SchemaChange("column_renamed", "raw.orders", column="amount", ambiguous=True,
                          candidates=("amount_net", "amount_gross"))
    findings = plan_findings(RepairPlan((change,), (), ()))
    assert len(findings) == 1
    assert "amount_net, amount_gross" in findings[0].reason and "not guess" in findings[0].reason


@pytest.mark.slow
def test_rerun_updates_the_same_branch_and_pr(shop_repo: Path, fake_github: FakeGitHub) -> None:
    alter_warehouse(shop_repo, RENAME)
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake_github.url,
           "GITHUB_REPOSITORY": fake_github.repo}
    first = repair_project(shop_repo, open_pr=True, env=env)
    second = repair_project(shop_repo, open_pr=True, env=env)
    assert first.status == second.status == "validated"
    assert first.branch == second.branch and first.commit == second.commit
    assert first.pr_number == second.pr_number == 1 and len(fake_github.pulls) == 1
    assert first.pr_url == "https://github.example/acme/shop/pull/1"
    assert [r.method for r in fake_github.requests] == ["GET", "POST", "GET", "PATCH"]
    pr = fake_github.pulls[1]
    assert pr["head"]["ref"] == first.branch and pr["base"]["ref"] == "main"
    assert "raw.orders.amount renamed to total" in pr["title"] + pr["body"] or \
        "raw.orders" in pr["title"]
    assert TOKEN not in pr["body"]
    origin = shop_repo.parent / "origin.git"
    assert git(origin, "rev-parse", f"refs/heads/{first.branch}") == first.commit
    assert _branches(shop_repo) == [first.branch]


def test_without_token_commits_locally_and_writes_the_body(shop_repo: Path) -> None:
    alter_warehouse(shop_repo, RENAME)
    result = repair_project(shop_repo, open_pr=True, env={"GITHUB_REPOSITORY": "acme/shop"})
    assert result.status == "validated" and result.exit_code == 0
    assert result.pr_url is None and not result.pushed
    assert any("GITHUB_TOKEN" in n for n in result.notes)
    body = Path(result.pr_body_path or "")
    assert body.is_file() and body.is_relative_to(shop_repo / ".rocky" / "repair")
    origin = shop_repo.parent / "origin.git"
    assert result.branch not in git(origin, "branch", "--list")


def test_api_error_keeps_the_branch_and_says_why(shop_repo: Path, fake_github: FakeGitHub,
                                                 run_cli, monkeypatch) -> None:
    alter_warehouse(shop_repo, RENAME)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", fake_github.repo)
    fake_github.fail_next(403, message=f"Resource not accessible by integration {TOKEN}")
    res = run_cli("repair", "--project", str(shop_repo), "--open-pr", "--format", "json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["status"] == "validated" and data["pr_url"] is None
    assert "403" in data["publish_error"] and "kept locally" in data["publish_error"]
    assert TOKEN not in res.output
    assert _branches(shop_repo) == [data["branch"]]


def test_not_a_git_repository(seeded_shop: Path, run_cli) -> None:
    from rocky_engine.context import Context

    Context.load(seeded_shop).run()
    alter_warehouse(seeded_shop, RENAME)
    res = run_cli("repair", "--project", str(seeded_shop))
    assert res.exit_code == 2
    assert "not inside a git repository" in res.stderr and "Traceback" not in res.output


def test_text_output(shop_repo: Path, run_cli) -> None:
    alter_warehouse(shop_repo, RENAME)
    res = run_cli("repair", "--project", str(shop_repo))
    assert res.exit_code == 0, res.output
    assert "validated" in res.stdout and "models/stg_orders.sql" in res.stdout
    assert "rocky branch diff repair_" in res.stdout


@pytest.mark.slow
def test_project_in_a_subfolder_of_the_repository(tmp_path: Path, _built_shop_template: Path
                                                  ) -> None:
    import shutil

    from repair_helpers import make_repo

    top = tmp_path / "monorepo"
    shutil.copytree(_built_shop_template, top / "analytics" / "shop",
                    ignore=shutil.ignore_patterns(".git"))
    (top / "README.md").write_text("other code lives here\n")
    make_repo(top)
    root = top / "analytics" / "shop"
    alter_warehouse(root, RENAME)
    result = repair_project(root, env={})
    assert result.status == "validated", [f.render() for f in result.findings]
    files = git(top, "show", "--name-only", "--format=", result.commit or "").splitlines()
    assert sorted(files) == ["analytics/shop/models/stg_orders.sql",
                             "analytics/shop/sources/raw.toml"]
