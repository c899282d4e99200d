"""The Buildbot REST client: against the real master, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from relman.ci.buildbot import FAILURE, SUCCESS, BuildbotClient, api_root
from relman.cli.main import cli
from relman.errors import ExternalServiceError, StepTimeout, UsageError

from buildbot_fixture import cpython_like_master  # noqa: F401


def run(coro):
    return asyncio.run(coro)


def test_builders_builds_workers(cpython_like_master) -> None:  # noqa: F811
    async def go():
        async with BuildbotClient(cpython_like_master.url) as bb:
            builders = await bb.builders()
            tagged = await bb.builders(tag="3.14")
            one = await bb.builder("AMD64 Windows11 3.x")
            by_name = await bb.builds("AMD64 Windows11 3.x", limit=None)
            by_id = await bb.builds(one.builderid, limit=2)
            failures = await bb.builds(one.builderid, limit=None, results=[FAILURE])
            workers = await bb.workers()
            changes = await bb.build_changes(by_id[0].buildid)
            return builders, tagged, one, by_name, by_id, failures, workers, changes
    builders, tagged, one, by_name, by_id, failures, workers, changes = run(go())
    assert len(builders) == 14 and all("3.14" in b.tags for b in tagged) and len(tagged) == 6
    assert one.name == "AMD64 Windows11 3.x" and "tier-1" in one.tags
    assert [b.number for b in by_name] == [3, 2, 1]
    assert [b.results for b in by_name] == [FAILURE, FAILURE, SUCCESS]
    assert [b.number for b in by_id] == [3, 2] and by_id[0].started_at and by_id[0].complete
    assert [b.number for b in failures] == [3, 2]
    state = {w.name: w.connected for w in workers}
    assert state == {"w-ubuntu": True, "w-fedora": True, "w-macos": True, "w-gentoo": False, "w-aix": False}
    assert one.builderid in next(w for w in workers if w.name == "w-ubuntu").builderids
    assert changes == []    # forced builds carry no changes


def test_force_build_with_properties_and_wait(cpython_like_master) -> None:  # noqa: F811
    async def go():
        async with BuildbotClient(cpython_like_master.url) as bb:
            ids = await bb.force_build("Sandbox", {"tag": "v3.14.1", "outcome": "0"})
            good = await bb.wait_for_build(ids[0], timeout=60, poll=0.2, properties=["tag"])
            ids = await bb.force_build("Sandbox", {"tag": "v3.14.2", "outcome": "3"})
            bad = await bb.wait_for_build(ids[0], timeout=60, poll=0.2)
            return good, bad
    good, bad = run(go())
    assert good.results == SUCCESS and good.properties["tag"] == "v3.14.1"
    assert bad.results == FAILURE and bad.number == good.number + 1


def test_wait_for_build_times_out_then_completes(cpython_like_master) -> None:  # noqa: F811
    async def go():
        async with BuildbotClient(cpython_like_master.url) as bb:
            [request] = await bb.force_build("Sandbox", {"outcome": "$(sleep 2; echo 0)"})
            with pytest.raises(StepTimeout, match=f"{request} did not finish within 0.3 s"):
                await bb.wait_for_build(request, timeout=0.3, poll=0.1)
            return await bb.wait_for_build(request, timeout=60, poll=0.2)
    assert run(go()).results == SUCCESS


def test_wait_for_an_unknown_request(cpython_like_master) -> None:  # noqa: F811
    async def go():
        async with BuildbotClient(cpython_like_master.url) as bb:
            await bb.wait_for_build(999_999, timeout=5, poll=0.1)
    with pytest.raises(ExternalServiceError, match="no build request 999999"):
        run(go())


def test_unknown_builder_is_a_clear_error(cpython_like_master) -> None:  # noqa: F811
    async def go():
        async with BuildbotClient(cpython_like_master.url) as bb:
            await bb.builder("No Such Builder")
    with pytest.raises(ExternalServiceError, match="No%20Such%20Builder|No Such Builder"):
        run(go())


# ---- misbehaving servers -----------------------------------------------------------------

class BadServer:
    def __init__(self, mode: str):
        self.mode, self.hits = mode, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.hits += 1
                if outer.mode == "slow":
                    time.sleep(1.5)
                codes = {"404": 404, "500": 500, "400": 400}
                body = {"truncated": b'{"builders": [{"builderid": 1, "na',
                        "html": b"<html>proxy error</html>",
                        "wrong-shape": json.dumps({"items": []}).encode(),
                        "missing-field": json.dumps({"builders": [{"name": "x"}], "meta": {}}).encode(),
                        }.get(outer.mode, json.dumps({"error": "boom"}).encode())
                try:
                    self.send_response(codes.get(outer.mode, 200))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None   # the client hanging up on a slow answer is expected
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bad_server(request):
    server = BadServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("bad_server,words,hits", [
    ("truncated", "malformed or truncated JSON", 1),
    ("html", "malformed or truncated JSON", 1),
    ("wrong-shape", "no 'builders' list", 1),
    ("missing-field", "a builder lacks 'builderid'", 1),
    ("404", "HTTP 404", 1),
    ("400", "HTTP 400", 1),
    ("500", "HTTP 500", 3),     # retried: 1 + 2 retries
    ("slow", "timed out after 0.5 s", 3),
], indirect=["bad_server"])
def test_bad_answers_become_errors_naming_the_url(bad_server: BadServer, words: str, hits: int) -> None:
    async def go():
        async with BuildbotClient(bad_server.url, timeout=0.5, retries=2, backoff=0.01) as bb:
            await bb.builders()
    with pytest.raises(ExternalServiceError) as caught:
        run(go())
    assert words in str(caught.value)
    assert bad_server.url.rstrip("/") + "/api/v2/builders" in str(caught.value)
    assert bad_server.hits == hits


def test_connection_refused_after_retries() -> None:
    server = BadServer("ok")
    url = server.url
    server.close()

    async def go():
        async with BuildbotClient(url, retries=1, backoff=0.01) as bb:
            await bb.workers()
    with pytest.raises(ExternalServiceError, match="could not connect") as caught:
        run(go())
    assert "gave up after 2 attempts" in str(caught.value)


@pytest.mark.parametrize("bad_server", ["truncated"], indirect=True)
def test_status_cli_reports_the_failure_without_a_traceback(bad_server: BadServer, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["status", "--buildbot", bad_server.url, "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "malformed or truncated JSON" in result.output and "/api/v2/" in result.output
    assert "Traceback" not in result.output


def test_status_cli_usage_errors(tmp_path) -> None:
    runner = CliRunner()
    none = runner.invoke(cli, ["status", "--state-dir", str(tmp_path), "--repo", str(tmp_path)])
    assert none.exit_code == 2 and "nothing to judge" in none.output
    bad = runner.invoke(cli, ["status", "--buildbot", "not-a-url", "--state-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "not a Buildbot URL" in bad.output


@pytest.mark.parametrize("url,root", [("http://h:8010/", "http://h:8010"), ("https://b.example/all/", "https://b.example/all"),
                                      ("https://b.example/all/api/v2/", "https://b.example/all")])
def test_api_root(url: str, root: str) -> None:
    assert api_root(url) == root


def test_api_root_rejects_non_urls() -> None:
    with pytest.raises(UsageError):
        api_root("buildbot.python.org")
