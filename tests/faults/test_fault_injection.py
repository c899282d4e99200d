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


# ---- the downloads API (registration by diff), over real HTTP ---------------------------------

def _desired(uris: dict) -> list:
    from relman.publish.models import ReleaseFilePayload

    base = "https://downloads.example.org/ftp/python/3.14.0/"
    files = [("Gzip", "Python-3.14.0.tgz", "source", False), ("XZ", "Python-3.14.0.tar.xz", "source", True),
             ("Windows", "python-3.14.0-amd64.exe", "windows", True), ("Docs", "python-3.14.0-docs.zip", "source", False)]
    return [ReleaseFilePayload(name=label, slug="3140-" + label.lower(), os=uris[os_slug], release=uris["release"],
                               url=base + name, download_button=button, filesize=10 + i, sha256_sum=f"{i:02x}" * 32,
                               gpg_signature_file=base + name + ".asc")
            for i, (label, name, os_slug, button) in enumerate(files)]


@pytest.mark.parametrize("schedule", [
    ["ok", "500", "ok", "502"],                 # 5xx on a read and on a write: retried
    ["ok", "reset", "reset"],                   # connections reset
    ["ok", "timeout"],                          # no answer in time
    ["ok", "ok", "partial"],                    # a write done by the site whose answer is lost
    ["ok", "500", "500", "500", "500"],         # the site stays down: a clear failure, then a re-run
])
def test_registration_through_faults_registers_each_file_exactly_once(tmp_path, schedule):
    import httpx
    from web.downloads_helpers import AUTH, KEY, make_site, seed
    from web.webhelpers import serving

    from relman.publish.client import Backoff, DownloadsClient, RegistrationFailed
    from relman.site.app import create_app

    with serving(create_app(make_site(tmp_path))) as site_url:
        with httpx.Client(base_url=site_url) as direct:
            class Direct:  # seed() speaks TestClient's subset of httpx
                get, post = direct.get, direct.post
            uris = seed(Direct)  # type: ignore[arg-type]
            with FaultProxy(site_url, list(schedule), paths=("/api/v1/downloads/release_file",), hold_s=2.0) as proxy:
                client = DownloadsClient(proxy.url, KEY, backoff=Backoff(attempts=3, first_s=0.01), timeout=1.0)
                desired = _desired(uris)
                outcome = "completed"
                try:
                    client.register_files(uris["release"], desired)
                except RegistrationFailed as error:
                    outcome = "stopped"
                    assert "run again" in str(error)
                    proxy.schedule.clear()
                    client.register_files(uris["release"], desired)   # the re-run finishes it
                client.close()
            rows = direct.get("/api/v1/downloads/release_file/", params={"limit": 0}, headers=AUTH).json()["objects"]
    assert sorted(r["slug"] for r in rows) == sorted(p.slug for p in desired)     # none lost, none doubled
    buttons = [r["os"] for r in rows if r["download_button"]]
    assert len(buttons) == len(set(buttons))                                        # one button per OS
    print(f"registration {schedule}: {outcome}; proxy {proxy.counts()}")


# ---- the CDN purge -------------------------------------------------------------------------------

class PurgeRecorder:
    def __init__(self):
        self.purged: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PURGE(self) -> None:  # noqa: N802
                recorder.purged.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.mark.parametrize("schedule", [["500"], ["reset"], ["ok", "503", "timeout"]])
def test_cdn_purge_is_retried_and_purges_each_url_once(schedule):
    import httpx

    from relman.publish.purge import purge_urls

    cdn = PurgeRecorder()
    urls = [f"https://www.python.org/ftp/python/3.14.0/{n}" for n in ("a.tgz", "a.tar.xz", "a.tgz.asc")]
    with FaultProxy(cdn.url, list(schedule), hold_s=2.0) as proxy:
        with httpx.Client(timeout=1.0) as http:
            purge_urls(proxy.url, urls, http=http, backoff_s=0.01)
    assert sorted(cdn.purged) == sorted("/ftp/python/3.14.0/" + u.rsplit("/", 1)[1] for u in urls)
    cdn.httpd.shutdown()


def test_cdn_purge_that_keeps_failing_names_the_url_and_what_was_done():
    import httpx

    from relman.publish.purge import purge_urls

    cdn = PurgeRecorder()
    urls = ["https://www.python.org/ftp/python/3.14.0/a.tgz", "https://www.python.org/ftp/python/3.14.0/b.tgz"]
    with FaultProxy(cdn.url, ["ok"], after="500") as proxy:
        with httpx.Client(timeout=1.0) as http, pytest.raises(ExternalServiceError) as error:
            purge_urls(proxy.url, urls, http=http, backoff_s=0.01)
    assert "b.tgz" in str(error.value) and "1 URL(s) purged before it" in str(error.value)
    cdn.httpd.shutdown()


# ---- Mastodon and Discourse ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["mastodon", "discourse"])
@pytest.mark.parametrize("fault", ["500", "reset", "timeout"])
def test_a_failed_announcement_is_a_clear_error_and_the_resend_posts_once(kind, fault):
    from announce.servers import fake_service

    from relman.announce.channels import post_discourse, post_mastodon
    from relman.config import DiscourseChannel, MastodonChannel

    with fake_service(kind, token="s3cret-token") as service:
        with FaultProxy(service.url, [fault], hold_s=3.0) as proxy:
            env = {"TOKEN": "s3cret-token"}
            if kind == "mastodon":
                settings = MastodonChannel(url=proxy.url, token_env="TOKEN")
                send = lambda: post_mastodon("Python 3.14.0 is out!", settings, env=env, timeout=1.0)  # noqa: E731
            else:
                settings = DiscourseChannel(url=proxy.url, api_key_env="TOKEN", username="rm")
                send = lambda: post_discourse("Python 3.14.0", "It is out.", settings, env=env, timeout=1.0)  # noqa: E731
            with pytest.raises(ExternalServiceError) as error:
                send()
            assert "Traceback" not in str(error.value) and ("Mastodon" in str(error.value) or
                                                           "Discourse" in str(error.value))
            assert "s3cret-token" not in str(error.value)
            sent = send()     # the re-send, the fault gone
        assert sent.id is not None
        assert len(service.requests) == 1      # the failed attempt never reached the service
