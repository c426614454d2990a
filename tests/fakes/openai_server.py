"""A fake OpenAI-compatible server on 127.0.0.1, driven by the real ``openai`` SDK in tests.

The ``openai`` 3.x SDK speaks through ``httpx2``, which ``respx`` cannot intercept, so the
tests start a real HTTP server on a loopback port instead. Replies are scripted per model
name; each reply can be content, an HTTP error with headers (``Retry-After``), a delay (for
timeouts) and usage figures. Every request is recorded.

    >>> with FakeOpenAIServer() as server:                          # doctest: +SKIP
    ...     server.script("m1", FakeReply(content='{"summary": "ok"}'))
    ...     server.script("m1", FakeReply(status=429, headers={"Retry-After": "0"}))
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="test")
    ...     server.requests[0].body["model"]

Options: ``refuse_json_schema`` answers 400 to ``response_format.type == "json_schema"``
(as llama.cpp's server does for unsupported schemas); ``responder`` computes a reply from
the request when the model's script is empty; ``default`` is used after that.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer. ``status`` != 200 sends an OpenAI-style error body instead."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cost: float | None = None
    refusal: str | None = None
    raw_body: str | None = None  # sent verbatim (e.g. broken JSON at the HTTP level)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def response_format(self) -> str | None:
        fmt = self.body.get("response_format")
        return fmt.get("type") if isinstance(fmt, dict) else None

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.body.get("messages", [])
                     if m.get("role") == "system"), "")

    @property
    def last_user(self) -> str:
        users = [m["content"] for m in self.body.get("messages", []) if m.get("role") == "user"]
        return users[-1] if users else ""


Responder = Callable[[RecordedRequest], FakeReply]


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as s:`` (or ``start()``/``stop()``)."""

    def __init__(self, *, refuse_json_schema: bool = False, responder: Responder | None = None,
                 default: FakeReply | None = None) -> None:
        self.refuse_json_schema = refuse_json_schema
        self.responder = responder
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[FakeReply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def script(self, model: str, *replies: FakeReply) -> Self:
        """Queue replies for ``model``, answered in order (one per request)."""
        with self._lock:
            self._scripts[model].extend(replies)
        return self

    def requests_for(self, model: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.model == model]

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(data or b"{}")
                except json.JSONDecodeError:
                    body = {}
                request = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body)
                with server._lock:
                    server.requests.append(request)
                reply = server._reply_for(request)
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply, request)

            def do_GET(self) -> None:
                payload = {"object": "list", "data": [
                    {"id": m, "object": "model"} for m in sorted(server._scripts)]}
                self._write(200, json.dumps(payload), {})

            def _send(self, reply: FakeReply, request: RecordedRequest) -> None:
                if reply.raw_body is not None:
                    self._write(reply.status, reply.raw_body, reply.headers)
                    return
                if reply.status != 200:
                    err = {"error": {"message": reply.content or f"HTTP {reply.status}",
                                     "type": "fake_error", "code": reply.status}}
                    self._write(reply.status, json.dumps(err), reply.headers)
                    return
                usage: dict[str, Any] = {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                }
                if reply.cost is not None:
                    usage["cost"] = reply.cost
                message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                if reply.refusal is not None:
                    message["refusal"] = reply.refusal
                payload = {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": request.model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": usage,
                }
                self._write(200, json.dumps(payload), reply.headers)

            def _write(self, status: int, text: str, headers: dict[str, str]) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ replies

    def _reply_for(self, request: RecordedRequest) -> FakeReply:
        if self.refuse_json_schema and request.response_format == "json_schema":
            return FakeReply(status=400, content="response_format json_schema is not supported")
        with self._lock:
            queue = self._scripts.get(request.model)
            if queue:
                return queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        if self.default is not None:
            return self.default
        return FakeReply(status=404, content=f"no scripted reply for model {request.model!r}")
