"""A reverse proxy that fails on a schedule: fault injection for every remote effect.

`FaultProxy(upstream, schedule)` forwards each HTTP request (any method, headers and body) to
`upstream` and answers with what came back — unless the schedule says otherwise for that
request. The schedule is a list consumed one request at a time (then "ok" forever, or the
`after` value):

  "ok"       forward the request
  "500"…     answer with that HTTP status and a small JSON body, without forwarding
  "reset"    close the connection without answering (a connection reset)
  "timeout"  hold the connection for `hold_s` seconds, then close it
  "partial"  forward, then send only half of the answer's body and close

`paths` restricts the faults to requests whose path starts with one of them (others pass).
Every request is recorded as (method, path, what was done) in `log`; `forwarded` counts the
requests that reached the upstream, so a test can prove nothing was done twice.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FaultProxy:
    def __init__(self, upstream: str, schedule: list[str] | None = None, *, after: str = "ok",
                 paths: tuple[str, ...] = ("/",), hold_s: float = 3.0):
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.upstream_prefix = parts.path.rstrip("/")
        self.schedule = list(schedule or [])
        self.after = after
        self.paths = paths
        self.hold_s = hold_s
        self.log: list[tuple[str, str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy._next(self.path)
                with proxy._lock:
                    proxy.log.append((self.command, self.path, action))
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "timeout":
                    time.sleep(proxy.hold_s)
                    self.close_connection = True
                    return
                if action.isdigit():
                    data = b'{"error": "injected fault"}'
                    self.send_response(int(action))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                status, headers, data = proxy._forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if action == "partial":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_PURGE = _handle  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _next(self, path: str) -> str:
        if not path.startswith(self.paths):
            return "ok"
        with self._lock:
            return self.schedule.pop(0) if self.schedule else self.after

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, self.upstream_prefix + path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            with self._lock:
                self.forwarded.append((method, path))
            return response.status, response.getheaders(), data
        finally:
            connection.close()

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for _, _, action in self.log:
            result[action] = result.get(action, 0) + 1
        return result
