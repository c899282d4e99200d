"""git lock files: a stale one (no git runs) is cleared and journaled; one a live git holds is
reported, never removed, and preflight.clean refuses it (issue 8 point 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from .released import unfinished
from relman.demo.sample import create_sample_project
from relman.engine.journal import Journal
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release.session import ReleaseSession
from relman.version import Version

VERSION = "3.14.0rc1"


def session_for(tmp_path, sample):
    return ReleaseSession.open(VERSION, sample.repo, state_dir=tmp_path / "state",
                               overrides={"signing": {"allow_unsigned": True}, "build": {"docs": False}})


def test_a_lock_held_by_a_live_git_is_reported_and_kept(tmp_path):
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    lock = sample.repo / ".git" / "index.lock"
    # `git commit -a` holds index.lock while its pre-commit hook runs
    hook = sample.repo / ".git" / "hooks" / "pre-commit"
    started = tmp_path / "hook-started"
    hook.write_text(f"#!/bin/sh\ntouch {started}\nsleep 60\n")
    hook.chmod(0o755)
    holder = subprocess.Popen(["git", "commit", "-a", "--allow-empty", "-m", "someone else's commit"],
                              cwd=sample.repo, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (lock.exists() and started.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists()
        hook.unlink()   # only that commit waits
        session = session_for(tmp_path, sample)
        result = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
        assert result.failed == ["preflight.clean"]
        error = result.steps["preflight.clean"].error
        assert "index.lock" in error and f"pid {holder.pid}" in error, error
        assert lock.exists(), "a lock a live git holds is never removed"
        events = Journal(session.db_path).events(result.run_id)
        assert any(e["kind"] == "git-lock-held" and holder.pid in e["data"]["pids"] for e in events)
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()

    # The holder is gone (killed with its lock): the next run clears the lock and goes on.
    assert lock.exists()
    result = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert unfinished(result.steps) == [], [result.steps[s].error for s in result.failed]
    assert not lock.exists()
    events = Journal(session.db_path).events(result.run_id)
    assert any(e["kind"] == "git-stale-lock-cleared" and e["data"]["lock"] == ".git/index.lock" for e in events)
