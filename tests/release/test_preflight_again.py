"""Preflight runs again on every `relman run` (issue 9 point 2): a resume never proceeds on a
tree the checks would refuse."""

from __future__ import annotations

from conftest import git

from .released import unfinished
from relman.demo.sample import create_sample_project
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release.session import ReleaseSession
from relman.version import Version

VERSION = "3.14.0rc1"



def test_a_resume_rechecks_the_tree_and_the_branch(tmp_path):
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    session = ReleaseSession.open(VERSION, sample.repo, state_dir=tmp_path / "state",
                                  overrides={"signing": {"allow_unsigned": True}, "build": {"docs": False}})
    first = session.run(approvals=ApprovalPolicy(), observer=Observer())
    assert first.status == "paused" and ("source.push-fork", "push-fork") in first.paused

    stray = sample.repo / "Lib" / "stray.py"
    stray.write_text("print('work in progress')\n")
    second = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert second.failed == ["preflight.clean"]
    assert "Lib/stray.py" in second.steps["preflight.clean"].error
    assert second.steps["source.push-fork"].status != "done"
    assert git(sample.fork, "tag", "--list", f"v{VERSION}") == "", "nothing was pushed"
    assert stray.is_file()

    stray.unlink()
    git(sample.repo, "checkout", "-q", "-b", "somewhere-else")
    third = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert third.failed == ["preflight.branch"]
    assert "somewhere-else" in third.steps["preflight.branch"].error

    git(sample.repo, "checkout", "-q", session.settings.git.temp_branch.format(
        tag=f"v{VERSION}", version=VERSION))
    fourth = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert unfinished(fourth.steps) == [], [fourth.steps[s].error for s in fourth.failed]
