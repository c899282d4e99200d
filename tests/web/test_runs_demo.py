"""`relman demo --serve`: the site left running shows the rehearsal's own run, its gates and
its dashboard (the demo's state folder and schedule)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from relman.demo.rehearsal import run_demo


@pytest.mark.slow
def test_the_demo_site_shows_the_rehearsals_run(tmp_path: Path) -> None:
    seen: dict[str, httpx.Response] = {}

    def look(outcome) -> None:
        base = outcome.site_url
        run_id = outcome.result.run_id
        seen["runs"] = httpx.get(f"{base}/runs/")
        seen["run"] = httpx.get(f"{base}/runs/{run_id}")
        seen["json"] = httpx.get(f"{base}/runs/{run_id}.json")
        seen["report"] = httpx.get(f"{base}/runs/{run_id}/report")
        # the dashboard judges (in its judging process, started from the site's own thread)
        deadline = time.monotonic() + 60
        while not (status := httpx.get(f"{base}/status.json")).json()["judged_at"] and time.monotonic() < deadline:
            time.sleep(0.2)
        seen["status"] = status
        seen["dashboard"] = httpx.get(f"{base}/")

    outcome = run_demo(tmp_path / "demo", serve=look, as_json=True)
    assert outcome.result.status == "done"
    run_id = outcome.result.run_id
    assert seen["runs"].status_code == 200 and f'href="/runs/{run_id}"' in seen["runs"].text
    data = seen["json"].json()
    assert data["run"]["status"] == "done" and data["version"] == outcome.session.version.text
    assert {s["id"] for p in data["phases"] for s in p["steps"]} == set(outcome.result.steps)
    assert all(s["status"] in ("done", "skipped") for p in data["phases"] for s in p["steps"])
    # the demo's policy approved the gates, journaled as such, shown on the run page
    assert data["approvals"] and all(a["how"] == "policy" for a in data["approvals"])
    assert 'data-live-final="1"' in seen["run"].text and "Gate decisions" in seen["run"].text
    assert seen["report"].status_code == 200 and "Release diary" in seen["report"].text
    assert seen["dashboard"].status_code == 200 and seen["status"].status_code == 200
    status = seen["status"].json()
    assert status["judged_at"] and status["error"] is None, status
    assert [v["branch"] for v in status["verdicts"]], status      # the demo's schedule's branches
    assert 'class="branch card verdict-' in seen["dashboard"].text
