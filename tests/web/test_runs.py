"""/runs/: run pages from the journal, live fragments, step logs, the diary, and gates answered
from the web exactly like a terminal approval (who, how, when; the same journal method)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from relman.engine import ApprovalPolicy, Journal
from relman.site.app import Site, create_app

from .webhelpers import KEY, PUSH, LiveRun, Workflow, wait_until


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def client_for(state: Path, tmp_path: Path, **options) -> TestClient:
    user, key = KEY.split(":")
    site = Site(data_dir=tmp_path / "site", state_dir=state, api_keys={user: key}, options=options)
    return TestClient(create_app(site), client=("203.0.113.9", 50000))


def paused_at_gate(state: Path, wait_s: float = 0.0) -> LiveRun:
    """A run that did its work and stopped at the push gate (as `relman run` without --yes)."""
    flow = Workflow()
    flow.release.set()
    run = LiveRun(state, flow, wait_s=wait_s).start()
    if wait_s == 0.0:
        assert run.join().status == "paused"
    else:
        wait_until(lambda: run.step_status("ship.push") == "paused", "the gate")
    return run


def test_without_a_journal_the_runs_page_says_how_to_get_one(state: Path, tmp_path: Path) -> None:
    with client_for(state, tmp_path) as client:
        page = client.get("/runs/")
        assert page.status_code == 200 and "No runs yet" in page.text
        assert not (state / "relman.db").exists()        # reading never creates a journal
        assert client.get("/runs/1").status_code == 404


def test_run_page_shows_steps_gates_events_and_links_every_step_to_its_log(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state)
    with client_for(state, tmp_path) as client:
        listing = client.get("/runs/")
        assert f'href="/runs/{run.run_id}"' in listing.text and "3.14.0rc1" in listing.text
        assert "paused" in listing.text

        page = client.get(f"/runs/{run.run_id}")
        assert page.status_code == 200
        html = page.text
        for step in ("prep.checkout", "build.archive", "ship.push", "ship.announce"):
            assert f'href="/runs/{run.run_id}/steps/{step}"' in html, step
        assert re.search(r'id="step-prep.checkout" data-state="done"', html)
        assert re.search(r'id="step-ship.push" data-state="paused"', html)
        assert "Push the release to the world?" in html and f'action="/runs/{run.run_id}/gates/push-upstream"' in html
        assert 'type="password"' in html and "gate-waiting" in html           # the form, and the event log
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00">', html)

        log = client.get(f"/runs/{run.run_id}/steps/build.archive")
        assert log.status_code == 200 and "built Python-3.14.0rc1.tgz" in log.text
        assert client.get(f"/runs/{run.run_id}/steps/no.such").status_code == 404

        data = client.get(f"/runs/{run.run_id}.json").json()
        assert [g["gate"] for g in data["gates"]] == ["push-upstream"]
        assert any(e["kind"] == "gate-waiting" for e in data["events"])


def test_step_page_shows_a_job_log_only_from_the_runs_own_work_folder(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state)
    work = state / "work"
    work.mkdir()
    (work / "job.log").write_text("compiling Python-3.14.0rc1\n")
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not for the web\n")
    journal = Journal(state / "relman.db")
    journal.end_attempt(run.run_id, "prep.checkout", "done", step_status="done", outputs={"log": str(work / "job.log")})
    journal.end_attempt(run.run_id, "build.archive", "done", step_status="done", outputs={"log": str(secret)})
    with client_for(state, tmp_path) as client:
        assert "compiling Python-3.14.0rc1" in client.get(f"/runs/{run.run_id}/steps/prep.checkout").text
        page = client.get(f"/runs/{run.run_id}/steps/build.archive").text
        assert "not for the web" not in page and "Job log" not in page


def test_live_fragment_is_304_until_the_run_advances(state: Path, tmp_path: Path) -> None:
    flow = Workflow()
    run = LiveRun(state, flow, wait_s=0.0).start()
    wait_until(lambda: any(e["kind"] == "log" and e["step_id"] == "build.archive"
                           for e in Journal(state / "relman.db").events(run.run_id)), "the build step to wait")
    with client_for(state, tmp_path) as client:
        url = f"/runs/{run.run_id}/fragment"
        first = client.get(url)
        assert first.status_code == 200 and 'id="step-build.archive" data-state="running"' in first.text
        assert "waiting for the build machine" in first.text            # what the running step is doing
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        flow.release.set()
        assert run.join().status == "paused"
        after = client.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert after.status_code == 200
        assert 'id="step-build.archive" data-state="done"' in after.text
        assert 'id="step-ship.push" data-state="paused"' in after.text


def test_a_finished_run_tells_the_page_to_stop_polling(state: Path, tmp_path: Path) -> None:
    flow = Workflow()
    flow.release.set()
    run = LiveRun(state, flow).start()
    run.runner.approvals = ApprovalPolicy(approve_all=True)
    assert run.join().status == "done"
    with client_for(state, tmp_path) as client:
        assert client.get(f"/runs/{run.run_id}/fragment").headers.get("x-live-final") == "1"
        assert 'data-live-final="1"' in client.get(f"/runs/{run.run_id}").text


@pytest.mark.parametrize("headers, form", [
    ({}, {"decision": "approve"}),                                              # no key at all
    ({}, {"decision": "approve", "credentials": "rm:wrong"}),                  # wrong key
    ({"Authorization": "ApiKey other:correct-horse-battery"}, {"decision": "approve"}),   # right key, wrong user
    ({"Authorization": "Bearer correct-horse-battery"}, {"decision": "approve"}),         # wrong scheme
])
def test_gate_decisions_are_refused_without_the_key(state: Path, tmp_path: Path, headers, form) -> None:
    run = paused_at_gate(state)
    with client_for(state, tmp_path) as client:
        answer = client.post(f"/runs/{run.run_id}/gates/push-upstream", data=form, headers=headers,
                             follow_redirects=False)
        assert answer.status_code == 401 and "API key" in answer.text
    assert Journal(state / "relman.db").approvals(run.run_id) == {}


def test_a_site_without_keys_refuses_every_decision(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state)
    site = Site(data_dir=tmp_path / "site", state_dir=state, api_keys={})
    with TestClient(create_app(site)) as client:
        answer = client.post(f"/runs/{run.run_id}/gates/push-upstream", data={"decision": "approve",
                                                                               "credentials": ":"})
        assert answer.status_code == 401 and "RELMAN_SITE_API_KEYS" in answer.text
    assert Journal(state / "relman.db").approvals(run.run_id) == {}


def test_approval_from_the_web_is_journaled_like_a_terminal_one_and_resumes_the_run(state: Path,
                                                                                   tmp_path: Path) -> None:
    run = paused_at_gate(state)
    with client_for(state, tmp_path) as client:
        url = f"/runs/{run.run_id}/gates/push-upstream"
        assert client.post(url, data={"decision": "maybe", "credentials": KEY}).status_code == 400
        assert client.post(f"/runs/{run.run_id}/gates/push-fork", data={"decision": "approve",
                                                                        "credentials": KEY}).status_code == 409
        answer = client.post(url, data={"decision": "approve", "credentials": KEY, "note": "checked the tag"},
                             follow_redirects=False)
        assert answer.status_code == 303
        page = client.get(answer.headers["location"])
        assert KEY.split(":")[1] not in page.text                      # the key is never echoed
        assert "approved and journaled" in page.text
        assert client.post(url, data={"decision": "approve", "credentials": KEY}).status_code == 409  # once

    journal = Journal(state / "relman.db")
    approval = journal.approvals(run.run_id)["push-upstream"]
    assert (approval["decision"], approval["who"], approval["how"]) == ("approved", "rm", "web:203.0.113.9")
    assert approval["step_id"] == "ship.push" and "checked the tag" in approval["note"]
    assert journal.verify_chain(run.run_id) == []

    # The next `relman run` resumes with it: the gated step and what follows it run.
    resumed = LiveRun(state, Workflow(), wait_s=0.0, run_id=run.run_id)
    result = resumed.start().join()
    assert result.status == "done" and result.steps["ship.announce"].status == "done"


def test_a_live_run_picks_up_a_web_approval_and_goes_on(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state, wait_s=30.0)
    with client_for(state, tmp_path) as client:
        page = client.get(f"/runs/{run.run_id}")
        assert "Approve" in page.text and "Refuse" in page.text
        answer = client.post(f"/runs/{run.run_id}/gates/push-upstream", data={"decision": "approve"},
                             headers={"Authorization": f"ApiKey {KEY}", "Accept": "application/json"})
        assert answer.status_code == 200 and answer.json()["who"] == "rm"
        result = run.join()
        assert result.status == "done" and result.steps["ship.announce"].status == "done"
        kinds = [e["kind"] for e in json.loads(client.get(f"/runs/{run.run_id}.json").text)["events"]]
        assert kinds.index("gate-approved") < kinds.index("gate-picked-up")
    # Two writers (the runner, the site) appended to one hash chain: it is intact.
    assert Journal(state / "relman.db").verify_chain(run.run_id) == []


def test_a_refusal_ends_the_wait_and_leaves_the_run_paused(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state, wait_s=60.0)
    with client_for(state, tmp_path) as client:
        answer = client.post(f"/runs/{run.run_id}/gates/push-upstream",
                             data={"decision": "refuse", "credentials": KEY, "note": "tag is wrong"},
                             follow_redirects=False)
        assert answer.status_code == 303
        result = run.join(timeout=20)      # without the refusal it would wait 60 s
        assert result.status == "paused" and result.exit_code == 3
        page = client.get(f"/runs/{run.run_id}").text
        assert "Refused" in page and "tag is wrong" in page and "Approve" in page  # still answerable
    approval = Journal(state / "relman.db").approvals(run.run_id)[PUSH.id]
    assert approval["decision"] == "declined" and approval["how"] == "web:203.0.113.9"


def test_the_report_page_renders_the_release_diary(state: Path, tmp_path: Path) -> None:
    run = paused_at_gate(state)
    with client_for(state, tmp_path) as client:
        page = client.get(f"/runs/{run.run_id}/report")
        assert page.status_code == 200
        assert "Release diary: 3.14.0rc1" in page.text and "ship.push" in page.text
        assert client.get("/runs/999/report").status_code == 404
