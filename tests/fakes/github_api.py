"""A fake GitHub REST API on 127.0.0.1: just the pull-request endpoints rocky uses.

    >>> with FakeGitHub(token="t0k", repo="acme/shop") as gh:       # doctest: +SKIP
    ...     os.environ["GITHUB_API_URL"] = gh.url
    ...     ...                                # rocky repair --open-pr
    ...     gh.pulls[1]["body"]

``fail_next(status, headers=None, message="")`` makes the next request answer with an
error (401/403/404/422/429...). Every request is recorded with its headers and body.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class GitHubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


class FakeGitHub:
    def __init__(self, *, token: str = "test-token", repo: str = "acme/shop") -> None:
        self.token = token
        self.repo = repo
        self.pulls: dict[int, dict[str, Any]] = {}
        self.requests: list[GitHubRequest] = []
        self._failures: deque[tuple[int, dict[str, str], str]] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, headers: dict[str, str] | None = None,
                  message: str = "") -> None:
        self._failures.append((status, headers or {}, message))

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        req = GitHubRequest(h.command, parts.path, query, {k.lower(): v for k, v in h.headers.items()},
                            body)
        with self._lock:
            self.requests.append(req)
            status, payload, headers = self._answer(req)
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _answer(self, req: GitHubRequest) -> tuple[int, Any, dict[str, str]]:
        if self._failures:
            status, headers, message = self._failures.popleft()
            return status, {"message": message or f"fake error {status}"}, headers
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        base = f"/repos/{self.repo}/pulls"
        if not req.path.startswith(base):
            return 404, {"message": "Not Found"}, {}
        owner = self.repo.split("/")[0]
        if req.method == "GET" and req.path == base:
            head = req.query.get("head", "")
            state = req.query.get("state", "open")
            found = [pr for pr in self.pulls.values()
                     if f"{owner}:{pr['head']['ref']}" == head and pr["state"] == state]
            return 200, found, {}
        if req.method == "POST" and req.path == base:
            for key in ("title", "head", "base"):
                if not req.body.get(key):
                    return 422, {"message": "Validation Failed",
                                 "errors": [{"message": f"{key} is missing"}]}, {}
            if any(pr["head"]["ref"] == req.body["head"] and pr["state"] == "open"
                   for pr in self.pulls.values()):
                return 422, {"message": "Validation Failed",
                             "errors": [{"message": "A pull request already exists"}]}, {}
            number = len(self.pulls) + 1
            pr = {
                "number": number, "state": "open", "title": req.body["title"],
                "body": req.body.get("body", ""), "head": {"ref": req.body["head"]},
                "base": {"ref": req.body["base"]},
                "html_url": f"https://github.example/{self.repo}/pull/{number}",
            }
            self.pulls[number] = pr
            return 201, pr, {}
        if req.method == "PATCH" and req.path.startswith(base + "/"):
            try:
                number = int(req.path.rsplit("/", 1)[1])
            except ValueError:
                return 404, {"message": "Not Found"}, {}
            pr = self.pulls.get(number)
            if pr is None:
                return 404, {"message": "Not Found"}, {}
            for key in ("title", "body", "state"):
                if key in req.body:
                    pr[key] = req.body[key]
            return 200, pr, {}
        return 404, {"message": "Not Found"}, {}
