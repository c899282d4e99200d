"""The release diary: the story, the SVG timeline and the JSON of a real rehearsal, and of a run with waits."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.announce.diary import render_diary
from relman.cli.main import cli
from relman.engine.journal import DONE, FAILED, Journal
from relman.errors import UsageError

SVG = "{http://www.w3.org/2000/svg}"


def test_demo_diary_tells_every_step_in_time_order(demo_run, demo_journal) -> None:
    run_id = demo_run.result.run_id
    steps = demo_journal.steps(run_id)
    story = render_diary(demo_journal, run_id, "md")
    assert story.startswith("# Release diary: 3.14.0rc1")
    for sid in steps:
        assert f"`{sid}`" in story, sid
    # each milestone section starts with its time; sections come in time order, and so do the steps in them
    sections = re.findall(r"^## (.+?) — (\d\d:\d\d:\d\d) UTC", story, flags=re.M)
    main = ["Pre-flight checks", "The release commit and the tag", "Builds", "Back upstream"]
    assert [title for title, _ in sections if title in main] == main
    assert {"Live posts", "The announcement", "The schedule"} <= {title for title, _ in sections}
    assert [t for _, t in sections] == sorted(t for _, t in sections)
    for block in story.split("\n## ")[1:len(sections) + 1]:
        times = re.findall(r"^- \S+ (\d\d:\d\d:\d\d) `", block, flags=re.M)
        assert times == sorted(times)
    assert "gate `push-upstream` approved by demo policy" in story
    assert demo_run.report.read_text() == story                     # the demo wrote the same story


def test_demo_diary_json_times_are_monotonic(demo_run, demo_journal) -> None:
    data = json.loads(render_diary(demo_journal, demo_run.result.run_id, "json"))
    executed = {sid for sid, row in demo_journal.steps(demo_run.result.run_id).items() if row.attempts}
    bars = data["timeline"]
    assert {b["step"] for b in bars} == executed
    starts = [b["start"] for b in bars]
    assert starts == sorted(starts)
    assert all(b["end"] >= b["start"] for b in bars)
    assert data["started_at"] <= min(starts) and data["ended_at"] >= max(b["end"] for b in bars)
    milestone_starts = [m["start"] for m in data["milestones"] if m["start"] is not None]
    assert milestone_starts == sorted(milestone_starts)
    # steps run in parallel in the demo (the builds and the fork push): more than one lane
    assert max(b["lane"] for b in bars) >= 1
    by_step = {b["step"]: b for b in bars}
    assert by_step["build.artifacts"]["start"] >= by_step["source.tag"]["end"]   # dependencies respected


def test_demo_diary_svg_has_one_bar_per_executed_step(demo_run, demo_journal) -> None:
    run_id = demo_run.result.run_id
    svg = render_diary(demo_journal, run_id, "svg")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    bars = [r for r in root.iter(f"{SVG}rect") if "bar" in (r.get("class") or "").split()]
    executed = [sid for sid, row in demo_journal.steps(run_id).items() if row.attempts]
    assert sorted(b.get("data-step") for b in bars) == sorted(executed)
    assert len(bars) == len(executed)
    assert all(float(b.get("width")) > 0 for b in bars)
    gates = [p.get("data-gate") for p in root.iter(f"{SVG}path") if p.get("class") == "gate"]
    approved = demo_journal.approvals(run_id)
    assert sorted(gates) == sorted(approved) and {"push-fork", "push-upstream"} <= set(gates)
    # a bar's x follows its start time
    xs = {b.get("data-step"): float(b.get("x")) for b in bars}
    assert xs["preflight.tools"] < xs["source.tag"] < xs["build.test-source"] < xs["post.push-upstream"]
    assert Path(demo_run.report).with_suffix(".svg").read_text() == svg


def test_report_command_formats(demo_run, tmp_path: Path) -> None:
    state = str(Path(demo_run.session.db_path).parent)
    runner = CliRunner()
    out = tmp_path / "diary.html"
    result = runner.invoke(cli, ["report", str(demo_run.result.run_id), "--state", state, "--format", "html",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<h2>Builds" in page
    from relman.announce.diary import diary_html

    journal = Journal(Path(state) / "relman.db")
    fragment = diary_html(journal, demo_run.result.run_id)                # what the web app embeds
    journal.close()
    assert fragment.startswith('<article class="diary">') and "<!doctype" not in fragment and "<svg" in fragment
    svg = runner.invoke(cli, ["report", str(demo_run.result.run_id), "--state", state, "--format", "svg"])
    ET.fromstring(svg.output)
    bad = runner.invoke(cli, ["report", "999", "--state", state])
    assert bad.exit_code == 2 and "no run 999" in bad.output


def test_waits_retries_and_who_was_waited_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "relman.db")
    run_id = journal.create_run("p:r:3.14.1", "release", {"version": "3.14.1"},
                                [("build.artifacts", "build", "build"), ("post.push-upstream", "push", "post"),
                                 ("post.never", "never ran", "post")])
    journal.start_attempt(run_id, "build.artifacts", "f", {})
    journal.end_attempt(run_id, "build.artifacts", "retry", error="worker lost")
    journal.start_attempt(run_id, "build.artifacts", "f", {})
    journal.end_attempt(run_id, "build.artifacts", "done", step_status=DONE, outputs={})
    journal.start_attempt(run_id, "post.push-upstream", "f", {})
    journal.event(run_id, "post.push-upstream", "gate-waiting", {"gate": "push-upstream", "question": "Push?"})
    journal.end_attempt(run_id, "post.push-upstream", "gate", step_status="paused")
    time.sleep(0.05)
    journal.record_approval(run_id, "push-upstream", "post.push-upstream", "approved", "hugo", "flag:--approve")
    journal.start_attempt(run_id, "post.push-upstream", "f", {})
    journal.end_attempt(run_id, "post.push-upstream", "failed", step_status=FAILED, error="remote hung up")
    story = render_diary(journal, run_id, "md")
    assert re.search(r"waited [\d.]+ s at gate `push-upstream` for hugo — “Push\?”", story)
    assert "2 attempts" in story and "## Incidents" in story and "worker lost" in story and "remote hung up" in story
    assert "`post.never`" in story
    data = json.loads(render_diary(journal, run_id, "json"))
    assert [w["answered_by"] for w in data["waits"]] == ["hugo"]
    assert data["waits"][0]["to"] - data["waits"][0]["from"] >= 0.05
    root = ET.fromstring(render_diary(journal, run_id, "svg"))
    assert [r.get("data-gate") for r in root.iter(f"{SVG}rect") if r.get("class") == "wait"] == ["push-upstream"]
    assert len([r for r in root.iter(f"{SVG}rect") if "bar" in (r.get("class") or "").split()]) == 2
    with pytest.raises(UsageError, match="unknown diary format"):
        render_diary(journal, run_id, "pdf")
    journal.close()


def test_the_diary_says_which_worker_built_what(tmp_path):
    """Builds on Buildbot workers keep their facts in the step outputs; the diary lists them."""
    from relman.announce.diary import diary_markdown
    from relman.engine import Plan, Runner, Step

    record = {"job": "artifacts", "worker": "w1", "user": "relman-worker", "host": "build-01",
              "platform": "Linux-6.1-x86_64", "python": "3.11.2", "relman": "0.1.0",
              "build_url": "http://127.0.0.1:8010/#/builders/1/builds/7"}
    second = {**record, "job": "artifacts (second build)", "worker": "w2", "host": "rm-laptop", "user": "hugo",
              "same_user": True}
    step = Step("build.artifacts", "build the release files", lambda ctx: {"workers": [record], "second": second},
                phase="build")
    journal = Journal(tmp_path / "relman.db")
    runner = Runner(journal, Plan.build("release", [step], {"version": "3.14.0rc1"}), key="3.14.0rc1")
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "done"
    text = diary_markdown(journal, run_id)
    assert "## Who built what" in text
    assert ("| w1 | relman-worker@build-01, Linux-6.1-x86_64 | 3.11.2 | 0.1.0 "
            "| [log](http://127.0.0.1:8010/#/builders/1/builds/7) |") in text
    assert "| w2 | hugo@rm-laptop, Linux-6.1-x86_64 (same user as the release manager: NOT isolated) |" in text
    assert text.count("NOT isolated") == 1
