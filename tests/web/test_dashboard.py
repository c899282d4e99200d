"""/: the release status dashboard, judged by the same library call as `relman status`, from a
real Buildbot master, refreshed in the background (and on the master's own events)."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)
from click.testing import CliRunner
from starlette.testclient import TestClient

from relman.cli.main import cli
from relman.readiness import WaiverStore
from relman.readiness.sources import ReadinessSources
from relman.site.app import Site, create_app

from .webhelpers import wait_until

CYCLE = str(Path(__file__).parents[1] / "fixtures" / "readiness" / "python-releases.toml")


def dashboard_app(tmp_path: Path, buildbot: str | None, **options):
    sources = ReadinessSources(buildbot=buildbot, cycle=CYCLE, state_dir=tmp_path / "state")
    site = Site(data_dir=tmp_path / "site", state_dir=tmp_path / "state",
                options={"readiness": sources, "refresh_s": 0.5, **options})
    return site, create_app(site)


def judged(client: TestClient, after: int = 0) -> dict:
    return wait_until(lambda: (doc := client.get("/status.json").json())["refreshes"] > after and doc,
                      "the dashboard to judge")


def test_dashboard_shows_the_verdicts_of_relman_status(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    master = cpython_like_master
    cli_out = CliRunner().invoke(cli, ["status", "--buildbot", master.url, "--cycle", CYCLE,
                                       "--state-dir", str(tmp_path / "state"), "--json"])
    assert cli_out.exit_code == 0, cli_out.output
    expected = {d["branch"]: d for d in json.loads(cli_out.output)}

    _, app = dashboard_app(tmp_path, master.url)
    with TestClient(app) as client:
        doc = judged(client)
        assert doc["error"] is None
        seen = {v["branch"]: v for v in doc["verdicts"]}
        assert list(seen) == list(expected) == ["main", "3.14", "3.12"]
        for branch, verdict in expected.items():
            for key in ("verdict", "featured_problem", "groups", "problems", "blockers", "countdown", "version"):
                assert seen[branch][key] == verdict[key], (branch, key)

        html = client.get("/").text
        assert '<span class="badge unreleasable">Unreleasable</span>' in html
        assert '<span class="badge releasable">Releasable</span>' in html
        assert "Tier-1 build failed" in html and "AMD64 Windows11 3.x" in html
        # every problem's builds link to the master's own build pages
        windows = next(p for p in seen["main"]["problems"] if p["builder"] == "AMD64 Windows11 3.x")
        for evidence in windows["evidence"]:
            assert f'href="{evidence["url"]}"' in html
        assert "Breaking build #2" in html
        if expected["main"]["countdown"]:
            assert expected["main"]["countdown"] in html


def test_a_waiver_shows_up_on_the_next_refresh(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    _, app = dashboard_app(tmp_path, cpython_like_master.url)
    with TestClient(app) as client:
        before = judged(client)
        assert {v["branch"]: v["verdict"] for v in before["verdicts"]}["main"] == "Unreleasable"
        store = WaiverStore(tmp_path / "state")
        until = datetime.now(tz=UTC) + timedelta(hours=2)
        for name in ("AMD64 Fedora 3.x", "AMD64 Windows11 3.x"):
            store.add(f"builder:{name}", who="Hugo", why="known flaky disk", until=until, branch="main")
        after = wait_until(lambda: (d := judged(client))["verdicts"][0]["verdict"] != "Unreleasable" and d,
                           "the waiver to count")
        assert after["verdicts"][0]["verdict"] == "Releasable"
        html = client.get("/").text
        assert "Waivers in force" in html and "known flaky disk" in html and "waived by Hugo" in html


def test_the_dashboard_follows_the_masters_events(cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    """Polling is switched off (10 minutes): only Buildbot's notification can bring a refresh."""
    _, app = dashboard_app(tmp_path, cpython_like_master.url, refresh_s=600)
    with TestClient(app) as client:
        first = judged(client)
        wait_until(lambda: client.get("/status.json").json()["buildbot_events"],
                   "the event stream to be followed")
        cpython_like_master.force(["Sandbox"], outcome="0")    # no branch tag: verdicts stay as they are
        later = judged(client, after=first["refreshes"])
        assert later["refreshes"] > first["refreshes"]


def test_a_page_view_never_waits_on_buildbot(tmp_path: Path) -> None:
    """A master that accepts connections and never answers: the page is served from the cache."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    def release_the_master() -> None:
        stop.set()
        thread.join(5)
        listener.close()               # first: retries are refused, not held again
        for conn in held:
            conn.close()
    try:
        _, app = dashboard_app(tmp_path, f"http://127.0.0.1:{listener.getsockname()[1]}/")
        with TestClient(app) as client:
            wait_until(lambda: held, "the refresher to call the master")
            page = client.get("/")
            assert page.status_code == 200 and "Not judged yet" in page.text
            assert client.get("/status.json").json()["refreshes"] == 0     # still waiting on the master
            release_the_master()           # (so the judging thread ends before the app stops)
    finally:
        release_the_master()


def test_an_unreachable_master_is_reported_on_the_page(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    _, app = dashboard_app(tmp_path, f"http://127.0.0.1:{dead}/")
    with TestClient(app) as client:
        doc = judged(client)
        assert doc["error"] and str(dead) in doc["error"]
        html = client.get("/").text
        assert "Could not read the sources" in html and 'role="alert"' in html


def test_fragment_is_304_until_the_verdicts_change(tmp_path: Path) -> None:
    _, app = dashboard_app(tmp_path, None, refresh_s=600)
    with TestClient(app) as client:
        judged(client)                                   # one refresh, then none for 10 minutes
        first = client.get("/status/fragment")
        assert first.status_code == 200 and "No Buildbot and no tracker" in first.text
        assert client.get("/status/fragment", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":          # 0A: LISTEN
                found.append(address)
    return found


def test_relman_serve_binds_loopback_and_serves_the_dashboard(tmp_path: Path) -> None:
    import subprocess
    import sys

    import httpx

    from .webhelpers import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "relman.cli.main", "serve", "--data", str(tmp_path / "site"),
                             "--state", str(tmp_path / "state"), "--port", str(port), "--cycle", CYCLE],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: _listening(port), "relman serve to listen", timeout=30)
        assert _listening(port) == ["0100007F"]                  # 127.0.0.1 only
        page = wait_until(lambda: (r := httpx.get(f"http://127.0.0.1:{port}/status/fragment")).status_code == 200
                          and "Judged" in r.text and r, "a judged dashboard")
        assert "(security)" in page.text and "N/A" in page.text            # branches from the schedule file
        assert httpx.get(f"http://127.0.0.1:{port}/runs/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
