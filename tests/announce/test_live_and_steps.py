"""Live milestone posts under a kill and a resume; the announce and schedule steps in the DAG."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relman.announce.live import MILESTONES
from relman.engine.journal import Journal
from relman.engine.plan import Plan
from relman.engine.step import Step, StepContext
from relman.errors import StepFailed
from relman.release.announce import (ANNOUNCE_SEND, PUBLISH_VERIFIED, SCHEDULE_MARK, mark_in_schedule, mark_probe,
                                     send_announcement_step)
from relman.release.context import Release
from relman.release.workflow import release_steps
from relman.schedule.cycle import load_cycle
from relman.vcs import Git


KILL_WHEN_POSTED = textwrap.dedent("""
    import os, signal, sys, threading, time
    from pathlib import Path
    from relman.demo.rehearsal import prepare, run_demo
    from relman.engine.runner import Observer

    root = Path(sys.argv[1])
    feed = root / "live-feed.jsonl"

    def kill_once_posted():
        # the moment the post is in the feed, before the runner can journal the step as done
        while b'"artifacts-ready"' not in (feed.read_bytes() if feed.exists() else b""):
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGKILL)

    class KillAfterPost(Observer):
        def step_status(self, step_id, status, info=""):
            if step_id == "live.artifacts-ready" and status == "running":
                threading.Thread(target=kill_once_posted, daemon=True).start()

    run_demo(root, observer=KillAfterPost())
""")


def test_live_posts_are_not_duplicated_after_a_kill_and_a_resume(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    killed = subprocess.run([sys.executable, "-c", KILL_WHEN_POSTED, str(root)], capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    feed = root / "live-feed.jsonl"
    before = [json.loads(line)["milestone"] for line in feed.read_text().splitlines()]
    assert "artifacts-ready" in before and "published" not in before

    resumed = subprocess.run([sys.executable, "-m", "relman.cli.main", "demo", "--dir", str(root), "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["run_id"] == 1 and summary["status"] == "done"
    entries = [json.loads(line) for line in feed.read_text().splitlines()]
    milestones = [e["milestone"] for e in entries]
    assert sorted(milestones) == sorted(MILESTONES), milestones            # each milestone exactly once
    assert len({e["key"] for e in entries}) == len(MILESTONES)
    journal = Journal(root / "state" / "relman.db")
    outcomes = [a["outcome"] for a in journal.attempts(1, "live.artifacts-ready")]
    journal.close()
    assert outcomes[-1] in ("done", "already-done")
    # a third run of the finished rehearsal posts nothing more
    again = subprocess.run([sys.executable, "-m", "relman.cli.main", "demo", "--dir", str(root), "--json"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert feed.read_text().count("\n") == len(MILESTONES)


def test_live_posts_are_off_unless_enabled() -> None:
    live = [f"live.{m}" for m in MILESTONES]
    off = Plan.build("release", release_steps(), {"version": "3.14.1", "live_posts": False})
    assert set(live) <= set(off.steps) and set(live) <= off.skipped
    on = Plan.build("release", release_steps(), {"version": "3.14.1", "live_posts": True})
    assert not set(live) & on.skipped
    assert "source.push-fork" in on.ancestors["live.tag-pushed"]
    assert {"build.verify", "build.reproducible", "build.test-source"} <= on.ancestors["live.artifacts-ready"]


def test_announce_send_exists_only_after_publish_verify() -> None:
    from relman.release.announce import announce_steps as steps_for

    full = release_steps()
    assert {PUBLISH_VERIFIED, ANNOUNCE_SEND} <= {s.id for s in full}
    without = [s for s in full if s.id != PUBLISH_VERIFIED]
    assert ANNOUNCE_SEND not in {s.id for s in steps_for(without)}                   # no publishing, no sending
    # a profile that publishes nothing (no artifact manifest) skips the sending too
    generic = Plan.build("release", full, {"version": "1.4.0", "profile": "generic", "announce_channels": ["email"]})
    assert PUBLISH_VERIFIED in generic.skipped and ANNOUNCE_SEND in generic.skipped
    # no channel configured: nothing to send, no gate to answer (the drafts are still written)
    quiet = Plan.build("release", full, {"version": "3.14.1", "profile": "cpython", "announce_channels": []})
    assert ANNOUNCE_SEND in quiet.skipped and "announce.drafts" not in quiet.skipped
    loud = Plan.build("release", full, {"version": "3.14.1", "profile": "cpython", "announce_channels": ["email"]})
    assert ANNOUNCE_SEND not in loud.skipped
    publish = Step(PUBLISH_VERIFIED, "verify what users download", lambda ctx: {"checked": 5},
                   deps=("post.push-upstream",), phase="publish")
    from relman.release.announce import announce_steps, live_steps
    from relman.release.build import build_steps
    from relman.release.post import post_steps
    from relman.release.preflight import preflight_steps
    from relman.release.source import source_steps

    steps = preflight_steps() + source_steps() + build_steps() + post_steps(("source.push-fork",)) + [publish]
    extra = announce_steps(steps) + live_steps(steps)
    plan = Plan.build("release", steps + extra, {"version": "3.14.1", "live_posts": True, "profile": "cpython",
                                                 "announce_channels": ["email"]})
    assert ANNOUNCE_SEND not in plan.skipped   # (a skipped step carries no dependencies in its run)
    send = next(s for s in extra if s.id == ANNOUNCE_SEND)
    assert PUBLISH_VERIFIED in send.deps and send.gate is not None and send.gate.id == "announce"
    assert send.irreversible
    assert {PUBLISH_VERIFIED, "post.push-upstream", "build.verify"} <= plan.ancestors[ANNOUNCE_SEND]
    assert next(s for s in extra if s.id == "live.published").deps == (PUBLISH_VERIFIED,)


def _ctx(step: Step, release: Release, deps: dict) -> StepContext:
    return StepContext(step, {"version": release.version.text}, deps, {"release": release}, frozenset({"announce"}),
                       queue.Queue())


def test_the_send_step_refuses_before_publishing_is_verified(demo_run) -> None:
    session = demo_run.session
    release = Release(session.version, session.repo, session.settings, Git(session.repo), session.work_dir)
    step = Step(ANNOUNCE_SEND, "send", send_announcement_step)
    for deps in ({}, {PUBLISH_VERIFIED: {"skipped": "no upload target", "published": False}}):
        with pytest.raises(StepFailed, match="publishing has not been verified"):
            send_announcement_step(_ctx(step, release, deps))
    # verified, but no channel configured: nothing is sent, and the run says so
    out = send_announcement_step(_ctx(step, release, {PUBLISH_VERIFIED: {"checked": 5, "published": True}}))
    assert out["sent"] == [] and "no channels configured" in out["note"]


def test_the_schedule_step_marks_the_release_with_its_tag_date(demo_run, tmp_path: Path) -> None:
    session = demo_run.session
    git = Git(session.repo)
    tag_day = datetime.fromtimestamp(int(git.out("for-each-ref", "--format=%(creatordate:unix)",
                                                 "refs/tags/v3.14.0rc1")), UTC).date()
    planned = tag_day - timedelta(days=3)
    data = tmp_path / "python-releases.toml"
    data.write_text(f"""# the sample's schedule
[metadata."3.14"]
pep = 745
status = "prerelease"
branch = "3.14"
release-manager = "Sample Release Manager"

[[release."3.14"]]
stage = "3.14.0 beta 4"
state = "actual"
date = {planned - timedelta(days=20)}

[[release."3.14"]]
stage = "3.14.0 candidate 1"
state = "expected"
date = {planned}
""")
    settings = session.settings.model_copy(update={"readiness": session.settings.readiness.model_copy(
        update={"cycle": str(data)})})
    release = Release(session.version, session.repo, settings, git, session.work_dir)
    step = Step(SCHEDULE_MARK, "mark", mark_in_schedule)
    assert mark_probe(_ctx(step, release, {})) is None
    out = mark_in_schedule(_ctx(step, release, {}))
    assert out["changes"] == ["3.14.0 candidate 1: expected → actual",
                              f"3.14.0 candidate 1: date {planned} → {tag_day}"]
    entry = load_cycle(data).release(session.version)
    assert (entry.state, entry.date) == ("actual", tag_day)
    assert data.read_text().startswith("# the sample's schedule")
    assert mark_probe(_ctx(step, release, {})) is not None                 # done: a resumed run skips it


def test_live_posts_to_mastodon_once_with_the_milestone_key(tmp_path: Path) -> None:
    from relman.announce.live import live_key, post_live
    from relman.config import AnnounceSettings

    from .servers import fake_service

    with fake_service("mastodon") as server:
        s = AnnounceSettings.model_validate({"live": {"enabled": True, "channel": "mastodon"},
                                             "mastodon": {"url": server.url}})
        key = live_key("CPython:/src/cpython:3.14.1", "tag-pushed")
        env = {"MASTODON_TOKEN": "s3cret-token"}
        first = post_live("tag-pushed", "The tag v3.14.1 is pushed.", key=key, settings=s,
                          feed=tmp_path / "live-feed.jsonl", env=env)
        second = post_live("tag-pushed", "The tag v3.14.1 is pushed.", key=key, settings=s,
                           feed=tmp_path / "live-feed.jsonl", env=env)
    assert first["posted"] and not second["posted"] and second["already"]
    (seen,) = server.requests
    assert seen.headers["idempotency-key"] == key and seen.body["status"] == "The tag v3.14.1 is pushed."
    ledger = json.loads((tmp_path / "live-posts.json").read_text())
    assert ledger[key]["id"] == "113300" and "s3cret-token" not in json.dumps(ledger)
