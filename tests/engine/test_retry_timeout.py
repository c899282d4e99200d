"""Retries and timeouts that work (issue 8 point 5).

One rule says which failures are transient; the retry policy uses it; before each retry of a
step with effects the probe runs again; a step that runs past its limit is really stopped
(its commands killed, its waits cancelled) before it is marked failed, and nothing it started
lands afterwards.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from relman.engine import LOCAL, REMOTE, Effect, Retry, Step
from relman.errors import (
    Cancelled,
    ExternalServiceError,
    StepTimeout,
    TransientError,
    is_transient,
)
from relman.vcs import Git, GitError

from .helpers import make_runner


@pytest.mark.parametrize(("error", "transient"), [
    (GitError("`git push fork` failed: fatal: the remote end hung up unexpectedly"), True),
    (GitError("`git ls-remote fork` failed: ssh: connect to host x port 22: Connection reset by peer\n"
              "fatal: Could not read from remote repository."), True),
    (GitError("`git push` failed: error: RPC failed; HTTP 502 curl 22 The requested URL returned error: 502"), True),
    (GitError("`git push fork` did not finish in 300 s"), True),
    (ExternalServiceError("python.org answered HTTP 503 Service Unavailable"), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (TimeoutError("read timed out"), True),
    (TransientError("server busy"), True),
    (GitError("`git push` failed: ! [rejected] 3.14 -> 3.14 (non-fast-forward)"), False),
    (GitError("`git push` failed: git@github.com: Permission denied (publickey).\n"
              "fatal: Could not read from remote repository."), False),
    (GitError("`git push` failed: ERROR: Repository not found.\nfatal: Could not read from remote repository."), False),
    (GitError("`git push` failed: ! [remote rejected] main (pre-receive hook declined)"), False),
    (ExternalServiceError("HTTP 404 Not Found"), False),
    (ValueError("bad version"), False),
    (StepTimeout("step ran past its time limit"), False),
    (Cancelled("stopped"), False),
])
def test_one_rule_for_transient_failures(error, transient):
    assert is_transient(error) is transient
    assert Retry().retries(error) is transient


def test_git_failures_are_retried_until_they_pass(tmp_path):
    calls = []

    def flaky_push(ctx):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise GitError("`git push fork` failed: fatal: the remote end hung up unexpectedly")
        return {"pushed": True}

    step = Step("push", "push", flaky_push, retry=Retry(attempts=3, backoff_s=0.01),
                effects=(Effect(REMOTE, "pushes"),))
    runner = make_runner(tmp_path, [step])
    result = runner.execute(runner.create_run())
    assert result.status == "done" and len(calls) == 3
    outcomes = [a["outcome"] for a in runner.journal.attempts(result.run_id, "push")]
    assert outcomes == ["retry", "retry", "done"]


def test_a_permanent_git_failure_is_not_retried(tmp_path):
    calls = []

    def rejected(ctx):
        calls.append(1)
        raise GitError("`git push` failed: ! [rejected] main -> main (non-fast-forward)")

    runner = make_runner(tmp_path, [Step("push", "push", rejected, retry=Retry(attempts=5, backoff_s=0.01))])
    result = runner.execute(runner.create_run())
    assert result.failed == ["push"] and len(calls) == 1


def test_the_probe_runs_again_before_each_retry(tmp_path):
    """The push landed although the command reported a failure: the retry must not push again."""
    remote = {"pushed": 0}

    def push(ctx):
        remote["pushed"] += 1           # it lands…
        raise GitError("`git push` failed: fatal: the remote end hung up unexpectedly")  # …but says it failed

    def probe(ctx):
        return {"pushed": True} if remote["pushed"] else None

    step = Step("push", "push", push, probe=probe, retry=Retry(attempts=3, backoff_s=0.01),
                effects=(Effect(REMOTE, "pushes"),))
    runner = make_runner(tmp_path, [step])
    result = runner.execute(runner.create_run())
    assert result.status == "done" and remote["pushed"] == 1
    outcomes = [a["outcome"] for a in runner.journal.attempts(result.run_id, "push")]
    assert outcomes == ["retry", "already-done"]


def slow_remote(tmp_path: Path, seconds: float) -> tuple[Git, Path]:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nsleep {seconds}\n")
    hook.chmod(0o755)
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=work, check=True)
    return Git(work), bare


def test_a_timed_out_push_never_lands_afterwards(tmp_path):
    git, bare = slow_remote(tmp_path, 2)

    def push(ctx):
        git.run("push", "-q", str(bare), "HEAD:refs/heads/main")
        return {"pushed": True}

    runner = make_runner(tmp_path, [Step("push", "push to a slow remote", push, timeout_s=0.5,
                                         effects=(Effect(REMOTE, "pushes"),))])
    result = runner.execute(runner.create_run())
    assert result.failed == ["push"]
    assert "time limit" in result.steps["push"].error
    time.sleep(3)   # longer than the hook: had the push carried on, it would have landed by now
    refs = subprocess.run(["git", "ls-remote", str(bare)], capture_output=True, text=True, check=True).stdout
    assert "refs/heads/main" not in refs, "the push of a timed-out step landed after the run moved on"
    left = subprocess.run(["pgrep", "-f", "git-receive-pack|pre-receive"], capture_output=True, text=True, check=False).stdout
    assert str(bare) not in left


def test_a_timed_out_step_is_failed_only_once_it_stopped(tmp_path):
    ended = threading.Event()
    marker = tmp_path / "written"

    def stubborn(ctx):
        try:
            time.sleep(1.0)             # not cooperative: the engine cannot interrupt plain Python
            marker.write_text("late")
            return {}
        finally:
            ended.set()

    def cooperative(ctx):
        ctx.sleep(30)                   # cancelled at the deadline
        (tmp_path / "never").write_text("x")
        return {}

    steps = [Step("stubborn", "ignores cancellation", stubborn, timeout_s=0.2, effects=(Effect(LOCAL, "a file"),)),
             Step("polite", "waits cooperatively", cooperative, timeout_s=0.2)]
    runner = make_runner(tmp_path, steps)
    result = runner.execute(runner.create_run())
    assert ended.is_set(), "execute returned while the timed-out step was still running"
    assert set(result.failed) == {"stubborn", "polite"}
    assert "effects may have landed" in result.steps["stubborn"].error
    assert not (tmp_path / "never").exists()
    outcomes = [a["outcome"] for a in runner.journal.attempts(result.run_id, "stubborn")]
    assert outcomes == ["timeout"]
