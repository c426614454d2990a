"""The GitHub client against the fake API on 127.0.0.1."""

from __future__ import annotations

import pytest
from fakes.github_api import FakeGitHub

from intent_agent.github import GitHubClient, GitHubError, GitHubSettings
from rocky_engine.config import GithubConfig
from rocky_engine.errors import ConfigError

TOKEN = "ghs_secret_token_123"


def _client(gh: FakeGitHub, token: str = TOKEN) -> GitHubClient:
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.repo}
    return GitHubClient(GitHubSettings.resolve(GithubConfig(), env))


def test_settings_precedence() -> None:
    env = {"GITHUB_REPOSITORY": "env/repo", "GITHUB_API_URL": "https://ghe.example/api/v3/",
           "GITHUB_TOKEN": "x"}
    s = GitHubSettings.resolve(GithubConfig(repo="cfg/repo"), env)
    assert (s.repo, s.api_url, s.token) == ("cfg/repo", "https://ghe.example/api/v3", "x")
    s = GitHubSettings.resolve(GithubConfig(), env)
    assert s.repo == "env/repo"
    assert "x" not in repr(GitHubSettings.resolve(GithubConfig(), {"GITHUB_TOKEN": "sekrit"})
                           ).replace("api.github.com", "")
    with pytest.raises(ConfigError, match="owner/name"):
        GitHubSettings.resolve(GithubConfig(repo="nonsense"), {})


def test_client_needs_token_and_repo() -> None:
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        GitHubClient(GitHubSettings.resolve(GithubConfig(repo="a/b"), {}))
    with pytest.raises(ConfigError, match="repository"):
        GitHubClient(GitHubSettings.resolve(GithubConfig(), {"GITHUB_TOKEN": "t"}))


def test_open_then_update_never_duplicates(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as client:
        first = client.open_or_update_pr(branch="rocky/repair-1", title="t1", body="b1")
        second = client.open_or_update_pr(branch="rocky/repair-1", title="t2", body="b2")
    assert first.created and not second.created
    assert first.number == second.number == 1
    assert len(fake_github.pulls) == 1
    assert fake_github.pulls[1]["body"] == "b2"
    assert fake_github.pulls[1]["base"]["ref"] == "main"
    get = fake_github.requests[0]
    assert get.method == "GET" and get.query == {"head": "acme:rocky/repair-1", "state": "open"}
    assert [r.method for r in fake_github.requests] == ["GET", "POST", "GET", "PATCH"]


@pytest.mark.parametrize("status,headers,pattern", [
    (401, {}, "rejected the token"),
    (403, {}, "may not do this"),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000"}, "rate limit"),
    (429, {"retry-after": "60"}, "rate limit"),
    (404, {}, "not found"),
    (422, {}, "refused the pull request"),
    (500, {}, "GitHub API error 500"),
])
def test_api_errors_are_clear_and_never_leak_the_token(
        fake_github: FakeGitHub, status: int, headers: dict[str, str], pattern: str) -> None:
    fake_github.fail_next(status, headers, message=f"boom {TOKEN}")
    with _client(fake_github) as client, pytest.raises(GitHubError) as info:
        client.open_or_update_pr(branch="b", title="t", body="x")
    assert pattern in info.value.message
    assert TOKEN not in info.value.render()
    assert "kept locally" in (info.value.hint or "")


def test_wrong_token_is_401(fake_github: FakeGitHub) -> None:
    with _client(fake_github, token="wrong") as client, pytest.raises(GitHubError, match="401"):
        client.open_or_update_pr(branch="b", title="t", body="x")


def test_unreachable_api_is_a_clear_error() -> None:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_REPOSITORY": "a/b"}
    client = GitHubClient(GitHubSettings.resolve(GithubConfig(), env), timeout=2)
    with client, pytest.raises(GitHubError, match="cannot reach") as info:
        client.open_or_update_pr(branch="b", title="t", body="x")
    assert TOKEN not in info.value.render()
