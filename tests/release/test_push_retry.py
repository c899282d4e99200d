"""A fork that hangs up twice, then works: the push step retries and lands once (issue 8 point 5)."""

from __future__ import annotations

from conftest import git

from .released import unfinished
from relman.demo.sample import create_sample_project
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release.session import ReleaseSession
from relman.version import Version

VERSION = "3.14.0rc1"

# Push 1: the server dies before taking anything (the client sees "remote end hung up").
# Push 2: the refs land, then the server dies before answering (the client sees a failure too).
# The re-probe before the next retry must find the refs there and not push a third time.
HOOK = """#!/bin/sh
count=$(cat "{counter}" 2>/dev/null || echo 0)
if [ "$(basename "$0")" = pre-receive ]; then
    count=$((count + 1)); echo $count > "{counter}"
    [ $count -eq 1 ] && kill -9 $PPID
    exit 0
fi
cat >> "{log}"
[ $count -eq 2 ] && kill -9 $PPID
exit 0
"""



def test_push_to_a_flaky_fork_retries_and_lands_once(tmp_path):
    sample = create_sample_project(tmp_path / "s", Version.parse(VERSION))
    counter, log = tmp_path / "pushes", tmp_path / "received.log"
    for name in ("pre-receive", "post-receive"):
        hook = sample.fork / "hooks" / name
        hook.write_text(HOOK.format(counter=counter, log=log))
        hook.chmod(0o755)
    session = ReleaseSession.open(VERSION, sample.repo, state_dir=tmp_path / "state",
                                  overrides={"signing": {"allow_unsigned": True}, "build": {"docs": False}})
    result = session.run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert unfinished(result.steps) == [], [result.steps[s].error for s in result.failed]

    journal = session_journal(session)
    attempts = journal.attempts(result.run_id, "source.push-fork")
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "already-done"]
    assert "hung up" in attempts[0]["error"]
    assert counter.read_text().strip() == "2", "exactly two pushes reached the fork"
    received = log.read_text().splitlines()
    tag_updates = [line for line in received if line.endswith(f"refs/tags/v{VERSION}")]
    assert len(tag_updates) == 1, received
    assert git(sample.fork, "rev-parse", f"v{VERSION}") == git(sample.repo, "rev-parse", f"v{VERSION}")


def session_journal(session):
    from relman.engine.journal import Journal

    return Journal(session.db_path)
