"""The web app in a real browser: Debian's Chromium, headless, driven by Playwright.

The pages render, a run page follows its run without a reload, and a gate is approved by
clicking (the run then goes on). A screenshot of each is kept in build/test-artifacts/web/.
Playwright never downloads a browser here: it is pointed at /usr/bin/chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)
from conftest import require_module, require_tool

from relman.readiness.sources import ReadinessSources
from relman.site.app import Site, create_app

from .webhelpers import KEY, LiveRun, Workflow, serving, wait_until

ARTIFACTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "web"
CYCLE = str(Path(__file__).parents[1] / "fixtures" / "readiness" / "python-releases.toml")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    chromium = require_tool("chromium", "/usr/bin/chromium")
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def site_for(tmp_path: Path, state: Path, buildbot: str | None = None) -> Site:
    user, key = KEY.split(":")
    return Site(data_dir=tmp_path / "site", state_dir=state, api_keys={user: key},
                options={"readiness": ReadinessSources(buildbot=buildbot, cycle=CYCLE, state_dir=state),
                         "refresh_s": 1.0})


def test_dashboard_renders_in_chromium(browser, cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    site = site_for(tmp_path, tmp_path / "state", cpython_like_master.url)
    with serving(create_app(site)) as url:
        # A viewer in India with British date habits: what the page shows must be converted.
        page = browser.new_page(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Kolkata", locale="en-GB")
        page.goto(url + "/")
        # The first verdicts arrive through the live region, without a reload.
        page.wait_for_selector("section.branch.verdict-unreleasable", timeout=30_000)
        assert page.locator("h1").inner_text() == "Release status"
        main = page.locator("section.branch", has_text="main").first
        assert "Unreleasable" in main.inner_text() and "Tier-1 build failed" in main.inner_text()
        links = main.locator("a.evidence")
        assert links.count() >= 2
        assert links.first.get_attribute("href").startswith(cpython_like_master.url.rstrip("/") + "/#/builders/")
        # Times are shown in the viewer's zone, UTC kept in the title.
        stamp = page.locator("p.freshness time").first
        assert stamp.get_attribute("title") == stamp.get_attribute("datetime")
        assert stamp.get_attribute("datetime").endswith("+00:00") and "+00:00" not in stamp.inner_text()
        utc = datetime.fromisoformat(stamp.get_attribute("datetime"))
        assert stamp.inner_text() == utc.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%d/%m/%Y, %H:%M:%S")
        screenshot(page, "dashboard")
        page.set_viewport_size({"width": 390, "height": 844})          # a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        screenshot(page, "dashboard-phone")
        page.close()


def test_run_page_follows_the_run_without_a_reload(browser, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    flow = Workflow()
    run = LiveRun(state, flow, wait_s=0.0).start()
    wait_until(lambda: run.step_status("build.archive") == "running", "the build step")
    with serving(create_app(site_for(tmp_path, state))) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{url}/runs/{run.run_id}")
        page.wait_for_selector('tr#step-build\\.archive[data-state="running"]')
        page.evaluate("window.__sameDocument = true")
        flow.release.set()                         # the run advances to its gate
        page.wait_for_selector('tr#step-ship\\.push[data-state="paused"]', timeout=15_000)
        assert page.evaluate("window.__sameDocument") is True      # updated in place, not reloaded
        assert page.locator('tr#step-build\\.archive[data-state="done"]').count() == 1
        assert page.locator("#run-status").inner_text() == "paused"
        # every step links to its log
        href = page.locator('tr#step-build\\.archive a').first.get_attribute("href")
        assert href == f"/runs/{run.run_id}/steps/build.archive"
        screenshot(page, "run-live")
        page.goto(url + href)
        assert "built Python-3.14.0rc1.tgz" in page.locator("#step-log").inner_text()
        screenshot(page, "run-step-log")
        page.close()
    assert run.join().status == "paused"


def test_a_gate_is_approved_by_clicking_and_the_run_goes_on(browser, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    flow = Workflow()
    flow.release.set()
    run = LiveRun(state, flow, wait_s=60.0).start()
    wait_until(lambda: run.step_status("ship.push") == "paused", "the gate")
    with serving(create_app(site_for(tmp_path, state))) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(f"{url}/runs/{run.run_id}")
        # Refused without the right key: nothing journaled, the run still waits.
        page.get_by_label("API key (user:key)").fill("rm:wrong")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_selector("text=a valid API key")
        assert run.thread.is_alive() and run.step_status("ship.push") == "paused"
        screenshot(page, "gate-refused-without-key")

        page.goto(f"{url}/runs/{run.run_id}")
        page.get_by_label("API key (user:key)").fill(KEY)
        page.get_by_label("Note (optional)").fill("tag checked")
        screenshot(page, "gate-waiting")
        page.get_by_role("button", name="Approve").click()
        page.wait_for_selector("text=approved and journaled")
        assert KEY.split(":")[1] not in page.content()                  # the key is not kept in the page
        page.wait_for_selector('#run-status:text-is("done")', timeout=20_000)   # live: the run went on
        assert page.locator('tr#step-ship\\.announce[data-state="done"]').count() == 1
        assert "web:127.0.0.1" in page.locator("body").inner_text()
        screenshot(page, "gate-approved-run-done")
        page.close()
    result = run.join()
    assert result.status == "done"
    approval = run.journal.approvals(run.run_id)["push-upstream"]
    assert (approval["who"], approval["how"]) == ("rm", "web:127.0.0.1")


def test_release_page_renders_in_chromium(browser, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from .downloads_helpers import AUTH, file_body, make_site, seed

    api = "/api/v1/downloads/"

    site = make_site(tmp_path)
    app = create_app(site)
    with TestClient(app) as client:                 # register a release through the API, as publishing does
        uris = seed(client, published=True)
        tarball = "https://downloads.example.org/ftp/python/3.14.0/Python-3.14.0rc1.tar.xz"
        response = client.post(api + "release_file/", headers=AUTH, json=file_body(
            uris, "XZ compressed source tarball", tarball, button=True, gpg_signature_file=tarball + ".asc",
            sbom_spdx2_file=tarball + ".spdx.json", filesize=23_000_000))
        assert response.status_code == 201, response.text
    with serving(app) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url + "/downloads/release/python-3140rc1/")
        assert "Python 3.14.0rc1" in page.locator("h1").inner_text()
        button = page.locator(".download-button a.button.primary")
        assert button.get_attribute("href") == tarball
        assert page.locator(f'a[href="{tarball}.asc"]').count() == 1
        screenshot(page, "release-page")
        page.close()
