"""Fault injection on the remote effects and reads relman depends on: HTTP 500s, connection
resets, timeouts and truncated answers from a proxy that fails on a schedule, and a full disk.

Each fault is either retried to success (and the upstream saw the request once) or ends in a
clear message, and a re-run completes with nothing lost or doubled. Each test prints its
counts (`-s` shows them); tests/faults/README.md says what is covered.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import threading

import pytest
from click.testing import CliRunner

from conftest import REQUIRE_ALL, require_tool
from faults.proxy import FaultProxy

from relman.ci.buildbot import BuildbotClient
from relman.cli.main import cli
from relman.errors import ExternalServiceError

BUILDERS = {"builders": [{"builderid": 1, "name": "AMD64 Debian 3.14", "tags": ["3.14", "stable", "tier-1"],
                          "description": None}], "meta": {"total": 1}}


class Recorded:
    """An upstream answering fixed JSON documents by path, counting what it served."""

    def __init__(self, documents: dict[str, object]):
        self.served: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                upstream.served.append(path)
                document = documents.get(path)
                data = json.dumps(document if document is not None else {"error": "not found"}).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def buildbot_upstream():
    upstream = Recorded({"/api/v2/builders": BUILDERS})
    yield upstream
    upstream.close()


def _builders(url: str, **kwargs):
    async def go():
        async with BuildbotClient(url, backoff=0.05, **kwargs) as client:
            return await client.builders()
    return asyncio.run(go())


@pytest.mark.parametrize("schedule", [["500"], ["502", "503"], ["reset"], ["reset", "500"], ["timeout"],
                                      ["partial"]])
def test_buildbot_reads_are_retried_to_success(buildbot_upstream, schedule):
    with FaultProxy(buildbot_upstream.url, list(schedule), hold_s=2.0) as proxy:
        builders = _builders(proxy.url, timeout=1.0, retries=2)
    assert [b.name for b in builders] == ["AMD64 Debian 3.14"]
    assert len(proxy.forwarded) == 1 + schedule.count("partial")  # faults never reached the master
    print(f"buildbot {schedule}: {proxy.counts()}")


def test_buildbot_that_keeps_failing_gives_a_clear_error(buildbot_upstream):
    with FaultProxy(buildbot_upstream.url, after="500") as proxy:
        with pytest.raises(ExternalServiceError) as error:
            _builders(proxy.url, retries=2)
    message = str(error.value)
    assert "HTTP 500" in message and proxy.url in message and "gave up after 3 attempts" in message
    assert proxy.counts() == {"500": 3}


def test_status_through_a_failing_buildbot_exits_1_with_a_message(buildbot_upstream):
    with FaultProxy(buildbot_upstream.url, after="reset") as proxy:
        result = CliRunner().invoke(cli, ["status", "--buildbot", proxy.url])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and proxy.url.split("//")[1] in result.output


@pytest.fixture
def tracker_upstream():
    from readiness.github_server import github_server, issue

    with github_server([issue(140001, "Crash in the JIT", ["release-blocker", "3.14"])]) as server:
        yield server.url.removesuffix("/repos/python/cpython")


@pytest.mark.parametrize("schedule", [["500"], ["reset"], ["timeout", "502"]])
def test_tracker_reads_are_retried_to_success(tracker_upstream, schedule):
    from relman.readiness.blockers import GitHubTracker

    with FaultProxy(tracker_upstream, list(schedule), hold_s=2.0) as proxy:
        tracker = GitHubTracker(proxy.url + "/repos/python/cpython", timeout=1.0, backoff_s=0.05)
        found = asyncio.run(tracker.blockers())
    assert [i.number for i in found] == [140001]
    print(f"tracker {schedule}: {proxy.counts()}")


def test_tracker_that_keeps_failing_gives_a_clear_error(tracker_upstream):
    from relman.readiness.blockers import GitHubTracker

    with FaultProxy(tracker_upstream, after="503") as proxy:
        tracker = GitHubTracker(proxy.url + "/repos/python/cpython", backoff_s=0.01)
        with pytest.raises(ExternalServiceError) as error:
            asyncio.run(tracker.blockers())
    assert "HTTP 503" in str(error.value)


# ---- a full disk -------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 16 KiB tmpfs: room for the archives, not for everything a build writes."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs here: {done.stderr.decode().strip()}"
        if REQUIRE_ALL:
            pytest.fail(message + " (RELMAN_REQUIRE_ALL=1; CI runs as root)")
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture(scope="module")
def tagged_sample(tmp_path_factory):
    from relman.demo.sample import create_sample_project
    from relman.version import Version

    return create_sample_project(tmp_path_factory.mktemp("sample"), Version.parse("3.14.0rc1")).repo


def test_a_full_disk_stops_the_build_cleanly_and_a_rerun_completes(small_disk, tagged_sample, tmp_path):
    require_tool("mount")
    out = small_disk / "out"
    result = CliRunner().invoke(cli, ["artifacts", "build", "3.14.0b1", "--repo", str(tagged_sample),
                                      "-o", str(out), "--no-docs"])
    assert result.exit_code == 1, result.output
    assert "no space left on the device" in result.output and "Traceback" not in result.output
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "a half-written file was left"
    # Room again (a bigger disk at the same place): the same command completes, and the files
    # equal a build that never ran out of space.
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    again = CliRunner().invoke(cli, ["artifacts", "build", "3.14.0b1", "--repo", str(tagged_sample),
                                     "-o", str(out), "--no-docs"])
    assert again.exit_code == 0, again.output
    clean = CliRunner().invoke(cli, ["artifacts", "build", "3.14.0b1", "--repo", str(tagged_sample),
                                     "-o", str(tmp_path / "clean"), "--no-docs"])
    assert clean.exit_code == 0
    for name in ("Python-3.14.0b1.tgz", "Python-3.14.0b1.tar.xz", "SHA256SUMS"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    shutil.rmtree(tmp_path / "clean")
