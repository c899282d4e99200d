"""Local stand-ins for Mastodon and Discourse: real HTTP servers answering in the recorded API shapes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MASTODON_401 = {"error": "The access token is invalid"}
MASTODON_422 = {"error": "Validation failed: Text character limit of 500 exceeded"}
DISCOURSE_403 = {"errors": ["You are not permitted to view the requested resource. The API username or key is invalid."],
                 "error_type": "invalid_access"}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeService:
    kind: str                                   # "mastodon" or "discourse"
    token: str
    mode: str = "ok"                            # ok | 401 | 500 | slow
    delay: float = 2.0
    requests: list[Seen] = field(default_factory=list)
    url: str = ""

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if self.mode == "500":
            return 500, "<html><body><h1>We're sorry, but something went wrong.</h1></body></html>"
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.kind == "mastodon":
            if seen.path != "/api/v1/statuses" or seen.method != "POST":
                return 404, {"error": "Record not found"}
            if seen.headers.get("authorization") != f"Bearer {self.token}" or self.mode == "401":
                return 401, MASTODON_401
            text = seen.body.get("status", "")
            if len(text) > 500:
                return 422, MASTODON_422
            number = len([r for r in self.requests if r.path == seen.path]) - 1
            return 200, {"id": f"11330{number}", "created_at": "2025-10-07T18:00:00.000Z", "visibility":
                         seen.body.get("visibility", "public"), "url": f"{self.url}/@python/11330{number}",
                         "content": f"<p>{text}</p>", "account": {"username": "python"}}
        if seen.path != "/posts.json" or seen.method != "POST":
            return 404, {"errors": ["The requested URL or resource could not be found."], "error_type": "not_found"}
        if seen.headers.get("api-key") != self.token or not seen.headers.get("api-username") or self.mode == "401":
            return 403, DISCOURSE_403
        return 200, {"id": 3141, "topic_id": 59, "topic_slug": "python-3-14-1-is-now-available", "post_number": 1,
                     "username": seen.headers.get("api-username"), "raw": seen.body.get("raw")}


@contextmanager
def fake_service(kind: str, token: str = "s3cret-token", mode: str = "ok") -> Iterator[FakeService]:
    service = FakeService(kind, token, mode)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = raw.decode("utf-8", "replace")
            seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            service.requests.append(seen)
            status, answer = service.answer(seen)
            data = (json.dumps(answer) if not isinstance(answer, str) else answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(answer, str) else "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
