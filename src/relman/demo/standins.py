"""The rehearsal's publishing infrastructure, all on 127.0.0.1 and all labelled as stand-ins:

- the downloads site (relman's own web app, served by uvicorn in a thread) whose API the
  release is registered through, serving `<demo>/downloads` under /ftp/python/;
- a CDN purge endpoint that answers `PURGE` and records every request (`<demo>/cdn/purges.jsonl`);
- stand-in platform builders: they read the hand-off the release wrote and, after a short
  delay, deliver placeholder files (clearly not installers) into the drop folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..version import Version

API_KEY_ENV = "RELMAN_DOWNLOADS_API_KEY"
STANDIN_DELAY_S = 1.5


def _free_port(preferred: int | None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            if port:  # as the servers do: the port a killed rehearsal left in TIME_WAIT is free again
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


class SiteServer:
    """relman's downloads site on 127.0.0.1, in a thread (uvicorn)."""

    def __init__(self, data_dir: Path, ftp_root: Path, api_keys: dict[str, str], port: int | None = None, *,
                 state_dir: Path | None = None, options: dict[str, Any] | None = None):
        import uvicorn

        from ..site.app import Site, create_app

        self.site = Site(data_dir=data_dir, api_keys=api_keys, state_dir=state_dir,
                         options={"ftp_root": str(ftp_root), **(options or {})})
        self.port = _free_port(port)
        config = uvicorn.Config(create_app(self.site), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="demo-site", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SiteServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the demo's downloads site did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class PurgeRecorder:
    """A stand-in CDN purge endpoint: 200 for every PURGE, each one appended to a JSONL file."""

    def __init__(self, log: Path, port: int | None = None):
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PURGE(self) -> None:
                with recorder.lock, open(recorder.log, "a") as out:
                    out.write(json.dumps({"path": self.path, "time": time.time()}) + "\n")
                body = b'{"status": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", _free_port(port)), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="demo-cdn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def purged(self) -> list[str]:
        if not self.log.is_file():
            return []
        return [json.loads(line)["path"] for line in self.log.read_text().splitlines() if line.strip()]

    def start(self) -> PurgeRecorder:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def placeholder_bytes(platform: str, name: str, version: str) -> bytes:
    return (f"STAND-IN {platform} build output for relman's rehearsal of {version}: {name}\n"
            "This is a placeholder delivered by the demo's stand-in platform builder, not an installer.\n").encode()


@dataclass
class StandInBuilders:
    """Stand-in platform builders: deliver placeholders for each hand-off written in `handoff_dir`."""

    handoff_dir: Path
    delay_s: float = STANDIN_DELAY_S
    delivered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-platform-builders", daemon=True)
        self._seen: dict[str, float] = {}

    def start(self) -> StandInBuilders:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            if not self.handoff_dir.is_dir():
                continue
            for path in sorted(self.handoff_dir.glob("*.json")):
                if path.name == "sent.json" or path.name in self.delivered:
                    continue
                first = self._seen.setdefault(path.name, time.monotonic())
                if time.monotonic() - first >= self.delay_s:
                    self.deliver(json.loads(path.read_text()))
                    self.delivered.append(path.name)

    @staticmethod
    def deliver(handoff: dict[str, Any]) -> None:
        drop = Path(handoff["drop"])
        drop.mkdir(parents=True, exist_ok=True)
        sums = []
        for name in handoff["files"]:
            data = placeholder_bytes(handoff["platform"], name, handoff["version"])
            tmp = drop / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, drop / name)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        (drop / f"SHA256SUMS.{handoff['platform']}").write_text("".join(sums))


@dataclass
class DemoPublishing:
    site: SiteServer
    cdn: PurgeRecorder
    builders: StandInBuilders
    api_key: str
    sshd: Any = None          # relman.demo.sshd.Sshd with --sftp

    def settings(self, root: Path) -> dict[str, Any]:
        """The `[publish]` settings of the rehearsal (endpoints only: the steps are the real ones)."""
        common = {"site_url": self.site.url, "file_url": self.site.url + "/ftp/python/{normalized}/",
                  "api_key_env": API_KEY_ENV, "cdn_purge": self.cdn.url, "drop_dir": str(root / "drop"),
                  "handoff_timeout_s": 120.0}
        if self.sshd is not None:
            return {**common, "target": "sftp", "sftp_host": "127.0.0.1", "sftp_port": self.sshd.port,
                    "sftp_user": self.sshd.user, "sftp_known_hosts": str(self.sshd.known_hosts),
                    "sftp_key": str(self.sshd.user_key), "sftp_root": str(root / "downloads"),
                    "sftp_docs_root": str(root / "docs")}
        return {**common, "target": "local", "downloads_dir": str(root / "downloads"), "docs_dir": str(root / "docs")}


@contextmanager
def demo_publishing(root: Path, version: Version, buildbot_url: str | None = None, *,
                    sftp: bool = False) -> Iterator[DemoPublishing]:
    """Start the site, the purge recorder, the stand-in builders (and with `sftp` a local
    OpenSSH sshd as the downloads server); stop them afterwards."""
    site_dir = root / "site"
    site_dir.mkdir(parents=True, exist_ok=True)
    (root / "downloads").mkdir(exist_ok=True)
    # The same ports on a resumed rehearsal when they are free: the endpoints are run inputs.
    ports_file = site_dir / "ports.json"
    ports = json.loads(ports_file.read_text()) if ports_file.is_file() else {}
    key = secrets.token_hex(16)
    # The whole web app: downloads, plus the dashboard and the runs of this rehearsal.
    site = SiteServer(site_dir, root / "downloads", {"rm": key}, ports.get("site"), state_dir=root / "state",
                      options={"cycle": str(root / "release-cycle.json"), "buildbot": buildbot_url}).start()
    cdn = PurgeRecorder(root / "cdn" / "purges.jsonl", ports.get("cdn")).start()
    sshd = _start_sshd(root, ports.get("sshd")) if sftp else None
    ports_file.write_text(json.dumps({"site": site.port, "cdn": cdn.httpd.server_address[1],
                                      **({"sshd": sshd.port} if sshd else {})}) + "\n")
    builders = StandInBuilders(root / "work" / "handoff").start()
    previous = os.environ.get(API_KEY_ENV)
    os.environ[API_KEY_ENV] = f"rm:{key}"
    try:
        yield DemoPublishing(site, cdn, builders, key, sshd)
    finally:
        if sshd is not None:
            sshd.stop()
        if previous is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = previous
        builders.stop()
        cdn.stop()
        site.stop()


def _start_sshd(root: Path, port: int | None) -> Any:
    from ..errors import UsageError
    from .sshd import Sshd, find_sshd

    path = find_sshd()
    if path is None:
        raise UsageError("--sftp needs OpenSSH's sshd on this machine", hint="apt-get install openssh-server, "
                                                                          "or rehearse without --sftp")
    return Sshd(path, root / "sshd", port=_free_port(port)).start()


__all__ = [
    "API_KEY_ENV",
    "DemoPublishing",
    "PurgeRecorder",
    "SiteServer",
    "StandInBuilders",
    "demo_publishing",
    "placeholder_bytes",
]
