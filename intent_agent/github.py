"""A small GitHub REST client: open a pull request for a repair branch, or update it.

Settings come from the environment and ``[github]`` in rocky.toml: the token only ever
from ``GITHUB_TOKEN``; the API base from ``[github] api_url``, else ``$GITHUB_API_URL``
(GitHub Enterprise sets it in Actions), else the public API; the repository from
``[github] repo``, else ``$GITHUB_REPOSITORY``::

    >>> settings = GitHubSettings.resolve(GithubConfig(repo="acme/shop"), env={})
    >>> settings.repo, settings.api_url, settings.token is None
    ('acme/shop', 'https://api.github.com', True)

Errors (401, 403, 404, 422, rate limits, network) are :class:`GitHubError` with a message
a person can act on; the token never appears in any message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx2

from rocky_engine.config import GithubConfig
from rocky_engine.errors import ConfigError, ProblemError

DEFAULT_API = "https://api.github.com"


class GitHubError(ProblemError):
    """The GitHub API refused or failed; the local branch is kept."""


@dataclass(frozen=True)
class GitHubSettings:
    repo: str | None
    api_url: str
    base: str
    remote: str
    token: str | None

    @classmethod
    def resolve(cls, config: GithubConfig, env: Mapping[str, str] = os.environ) -> GitHubSettings:
        repo = config.repo or env.get("GITHUB_REPOSITORY") or None
        if repo is not None and (repo.count("/") != 1 or not all(repo.split("/"))):
            raise ConfigError(f"GitHub repository {repo!r} is not `owner/name`",
                              hint="set [github] repo = \"owner/name\" in rocky.toml")
        api = (config.api_url or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        return cls(repo=repo, api_url=api, base=config.base, remote=config.remote,
                   token=env.get("GITHUB_TOKEN") or None)

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return (f"GitHubSettings(repo={self.repo!r}, api_url={self.api_url!r}, base={self.base!r},"
                f" remote={self.remote!r}, token={'***' if self.token else None})")


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool  # False when an open PR for the branch was updated


class GitHubClient:
    """``open_or_update_pr`` over ``GET/POST/PATCH /repos/{o}/{r}/pulls``."""

    def __init__(self, settings: GitHubSettings, *, timeout: float = 30.0,
                 transport: httpx2.BaseTransport | None = None) -> None:
        if not settings.token:
            raise ConfigError("GITHUB_TOKEN is not set", hint="export GITHUB_TOKEN to open PRs")
        if not settings.repo:
            raise ConfigError("no GitHub repository configured",
                              hint="set [github] repo = \"owner/name\" in rocky.toml, or "
                                   "GITHUB_REPOSITORY")
        self.settings = settings
        self._token = settings.token
        self._client = httpx2.Client(
            base_url=settings.api_url, timeout=timeout, transport=transport,
            headers={
                "Authorization": f"Bearer {settings.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "rocky-intent",
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_or_update_pr(self, *, branch: str, title: str, body: str,
                          base: str | None = None) -> PullRequest:
        """The open PR from ``branch`` with this title and body; never a duplicate."""
        repo = self.settings.repo or ""
        owner = repo.split("/")[0]
        found = self._request("GET", f"/repos/{repo}/pulls",
                              params={"head": f"{owner}:{branch}", "state": "open"})
        if not isinstance(found, list):
            raise _unexpected("GET", "pulls", "a list of pull requests")
        open_prs = [pr for pr in found if isinstance(pr, dict) and "number" in pr]
        if len(open_prs) != len(found):
            raise _unexpected("GET", "pulls", "pull request objects")
        if open_prs:
            number = _number(open_prs[0], "GET")
            data = self._request("PATCH", f"/repos/{repo}/pulls/{number}",
                                 json={"title": title, "body": body})
            url = data.get("html_url", "") if isinstance(data, dict) else ""
            return PullRequest(number, str(url), created=False)
        data = self._request("POST", f"/repos/{repo}/pulls", json={
            "title": title, "head": branch, "base": base or self.settings.base, "body": body,
            "maintainer_can_modify": True,
        })
        if not isinstance(data, dict):
            raise _unexpected("POST", "pulls", "a pull request object")
        return PullRequest(_number(data, "POST"), str(data.get("html_url", "")), created=True)

    # ------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx2.TimeoutException:
            raise GitHubError(f"GitHub API timed out ({method} {path})",
                              hint="retry later; the branch is kept locally") from None
        except httpx2.HTTPError as exc:
            raise GitHubError(f"cannot reach the GitHub API at {self.settings.api_url}: "
                              f"{self._redact(type(exc).__name__ + ': ' + str(exc))}",
                              hint="check GITHUB_API_URL and the network; the branch is kept "
                                   "locally") from None
        if response.status_code >= 400:
            raise self._error(method, path, response)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise GitHubError(f"GitHub API sent a reply that is not JSON ({method} {path})") from None

    def _error(self, method: str, path: str, response: httpx2.Response) -> GitHubError:
        status = response.status_code
        detail = self._redact(_message(response))
        repo = self.settings.repo
        keep = "the branch is kept locally"
        headers = response.headers
        if status == 429 or (status == 403 and (headers.get("x-ratelimit-remaining") == "0"
                                                or "rate limit" in detail.lower())):
            reset = headers.get("x-ratelimit-reset") or headers.get("retry-after") or "?"
            return GitHubError(f"GitHub API rate limit reached ({status}; resets at {reset})",
                               hint=f"re-run later; {keep}")
        if status == 401:
            return GitHubError("GitHub rejected the token (401 Unauthorized)",
                               hint=f"check that GITHUB_TOKEN is valid and not expired; {keep}")
        if status == 403:
            return GitHubError(f"the token may not do this on {repo} (403 Forbidden: {detail})",
                               hint="give it `contents: write` and `pull-requests: write` "
                                    f"permissions; {keep}")
        if status == 404:
            return GitHubError(f"repository {repo} not found, or the token cannot see it (404)",
                               hint=f"check [github] repo / GITHUB_REPOSITORY and the token's "
                                    f"access; {keep}")
        if status == 422:
            return GitHubError(f"GitHub refused the pull request (422: {detail})",
                               hint=f"is the branch pushed and the base branch "
                                    f"`{self.settings.base}` right? {keep}")
        return GitHubError(f"GitHub API error {status} on {method} {path}: {detail}",
                           hint=keep)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _message(response: httpx2.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(data, dict):
        return str(data)[:200]
    parts = [str(data.get("message", ""))]
    for err in data.get("errors") or []:
        parts.append(str(err.get("message") or err.get("code") or err) if isinstance(err, dict)
                     else str(err))
    return "; ".join(p for p in parts if p)[:300]


def _unexpected(method: str, what: str, expected: str) -> GitHubError:
    return GitHubError(f"GitHub API answered {method} /{what} with something other than "
                       f"{expected}",
                       hint="check GITHUB_API_URL points at the GitHub REST API; the branch is "
                            "kept locally")


def _number(pr: dict[str, Any], method: str) -> int:
    try:
        return int(pr["number"])
    except (KeyError, TypeError, ValueError):
        raise _unexpected(method, "pulls", "a pull request with a number") from None
