"""Schedule data: python-releases.toml and release-cycle.json, files and URLs, cached, offline."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relman.errors import ExternalServiceError, UsageError
from relman.schedule import load_cycle, parse_stage
from relman.version import Version

FIXTURES = Path(__file__).parents[1] / "fixtures" / "readiness"


@pytest.mark.parametrize("stage,version", [("3.14.0 alpha 1", "3.14.0a1"), ("3.14.0 beta 4", "3.14.0b4"),
                                           ("3.14.0 candidate 3", "3.14.0rc3"), ("3.14.0 final", "3.14.0"),
                                           ("3.14.1", "3.14.1"), ("3.8.20 final", "3.8.20"),
                                           ("3.14.5 candidate 1", "3.14.5rc1")])
def test_parse_stage(stage: str, version: str) -> None:
    assert parse_stage(stage) == Version.parse(version)


def test_toml_branches_and_statuses() -> None:
    cycle = load_cycle(FIXTURES / "python-releases.toml")
    assert list(cycle.branches) == ["3.15", "3.14", "3.12", "3.9"]
    assert [b.branch for b in cycle.active()] == ["main", "3.14", "3.12"]
    main = cycle.find("main")
    assert (main.version, main.tag, main.status) == ("3.15", "3.x", "feature")
    assert cycle.find("3.x") is main and cycle.find("3.15") is main
    assert cycle.find("3.12").status == "security"
    assert cycle.find("3.9").active is False
    with pytest.raises(UsageError, match="no branch '2.7'"):
        cycle.find("2.7")


def test_next_release_and_countdown() -> None:
    info = load_cycle(FIXTURES / "python-releases.toml").find("3.14")
    assert info.next_release(date(2025, 11, 25)).version == Version.parse("3.14.1")
    assert info.countdown(date(2025, 11, 25)) == "3.14.1 in one week (2025-12-02)"
    assert info.countdown(date(2025, 11, 30)) == "3.14.1 in 2 days (2025-12-02)"
    assert info.next_release(date(2025, 12, 3)).version == Version.parse("3.14.2")
    # every expected release in the past: the earliest pending one, overdue
    assert info.countdown(date(2026, 2, 10)) == "3.14.1 overdue by 70 days (2025-12-02)"


def test_release_cycle_json_file_and_round_trip() -> None:
    cycle = load_cycle(FIXTURES / "release-cycle.json")
    assert cycle.find("main").version == "3.16" and cycle.find("3.15").status == "prerelease"
    original = json.loads((FIXTURES / "release-cycle.json").read_text())
    assert cycle.release_cycle_json() == original
    assert cycle.find("3.14").next_release() is None


@pytest.mark.parametrize("content,words", [('{"3.14": {"branch": "3.14", "status": "retired"}}', "unknown branch status"),
                                           ('{"3.14": {"branch": ', "malformed or truncated JSON"),
                                           ("[metadata.\"3.14\"]\nstatus = ", "malformed TOML")])
def test_bad_schedule_files(tmp_path: Path, content: str, words: str) -> None:
    suffix = ".toml" if "metadata" in content else ".json"
    path = tmp_path / f"cycle{suffix}"
    path.write_text(content)
    with pytest.raises(UsageError) as caught:
        load_cycle(path)
    assert words in str(caught.value) and str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such schedule file"):
        load_cycle(tmp_path / "nope.toml")


class _Server:
    def __init__(self, body: bytes):
        self.body, self.hits, self.fail = body, 0, False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.hits += 1
                if outer.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/api/release-cycle.json"


def test_url_is_cached_and_usable_offline(tmp_path: Path) -> None:
    server = _Server((FIXTURES / "release-cycle.json").read_bytes())
    try:
        first = load_cycle(server.url, cache_dir=tmp_path)
        again = load_cycle(server.url, cache_dir=tmp_path)
        assert server.hits == 1 and first.release_cycle_json() == again.release_cycle_json()
        server.fail = True
        stale = load_cycle(server.url, cache_dir=tmp_path, max_age=0)
        assert stale.stale and "cached copy" in stale.warnings[0] and server.hits == 2
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    offline = load_cycle(server.url, cache_dir=tmp_path, offline=True)
    assert offline.find("main").version == "3.16"
    with pytest.raises(UsageError, match="offline, and no cached copy"):
        load_cycle("http://127.0.0.1:9/other.json", cache_dir=tmp_path, offline=True)
    with pytest.raises(ExternalServiceError, match="could not fetch"):
        load_cycle("http://127.0.0.1:9/other.json", cache_dir=tmp_path, timeout=2)
