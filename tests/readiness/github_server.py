"""A local HTTP server answering like GitHub's REST API for /repos/{owner}/{repo}/issues.

It filters by `labels` (comma-separated: all must match, as on GitHub) and `state`, pages with
`per_page`/`page` and a `Link: <…>; rel="next"` header, and records the requests it saw.
`mode` makes it misbehave: "truncated" JSON, "401", "500", "not-a-list".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


def issue(number: int, title: str, labels: list[str], milestone: str | None = None, pr: bool = False) -> dict:
    data = {
        "url": f"https://api.github.com/repos/python/cpython/issues/{number}",
        "html_url": f"https://github.com/python/cpython/issues/{number}",
        "number": number, "state": "open", "title": title,
        "labels": [{"id": 1000 + i, "name": name, "color": "ededed", "default": False} for i, name in enumerate(labels)],
        "milestone": {"title": milestone, "number": 7, "state": "open"} if milestone else None,
        "user": {"login": "someone"}, "comments": 3, "created_at": "2026-09-01T10:00:00Z",
        "updated_at": "2026-11-01T10:00:00Z", "body": "…",
    }
    if pr:
        data["pull_request"] = {"url": f"https://api.github.com/repos/python/cpython/pulls/{number}"}
    return data


class GitHubServer:
    def __init__(self, issues: list[dict], mode: str = "ok"):
        self.issues = issues
        self.mode = mode
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, dict(self.headers)))
                parts = urlsplit(self.path)
                if not parts.path.startswith("/repos/python/cpython/issues"):
                    return self._send(404, {"message": "Not Found"})
                if server.mode == "401":
                    return self._send(401, {"message": "Bad credentials"})
                if server.mode == "500":
                    return self._send(500, {"message": "Server Error"})
                if server.mode == "truncated":
                    body = json.dumps(server.issues)[:40].encode()
                    return self._raw(200, body)
                if server.mode == "not-a-list":
                    return self._send(200, {"message": "surprise"})
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                wanted = [l for l in query.get("labels", "").split(",") if l]
                found = [i for i in server.issues if i["state"] == query.get("state", "open")
                         and all(w in {l["name"] for l in i["labels"]} for w in wanted)]
                per_page = int(query.get("per_page", 30))
                page = int(query.get("page", 1))
                chunk = found[(page - 1) * per_page: page * per_page]
                headers = {}
                if page * per_page < len(found):
                    nxt = dict(query, page=str(page + 1))
                    headers["Link"] = f'<http://{self.headers["Host"]}{parts.path}?{urlencode(nxt)}>; rel="next"'
                self._send(200, chunk, headers)

            def _send(self, code: int, data: object, headers: dict[str, str] | None = None) -> None:
                self._raw(code, json.dumps(data).encode(), headers)

            def _raw(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/repos/python/cpython"


@contextmanager
def github_server(issues: list[dict], mode: str = "ok") -> Iterator[GitHubServer]:
    server = GitHubServer(issues, mode)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
