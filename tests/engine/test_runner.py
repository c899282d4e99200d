"""The engine: parallelism, failure and resume, retries, timeouts, gates, drift, lock, hash chain."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from relman.engine import ApprovalPolicy, Gate, Journal, Plan, Retry, Runner, Step, run_lock
from relman.engine.runner import refuse_drift
from relman.errors import LockHeld, StepFailed, TransientError

from .helpers import Recorder, chain, make_runner, noop, sleeper


def test_ready_steps_really_overlap(tmp_path):
    record: dict = {}
    steps = [Step("a", "a", sleeper(0.4, record)), Step("b", "b", sleeper(0.4, record)),
             Step("c", "c", sleeper(0.0, record), deps=("a", "b"))]
    runner = make_runner(tmp_path, steps)
    result = runner.execute(runner.create_run())
    assert result.status == "done"
    (a0, a1), (b0, b1), (c0, _) = record["a"], record["b"], record["c"]
    assert a0 < b1 and b0 < a1, "a and b should run at the same time"
    assert c0 >= max(a1, b1), "c waits for both"


def test_a_failed_step_leaves_a_resumable_run(tmp_path):
    calls = {"a": 0, "b": 0, "c": 0}
    broken = {"yes": True}

    def counted(name):
        def action(ctx):
            calls[name] += 1
            if name == "b" and broken["yes"]:
                raise StepFailed("b broke")
            return {"n": calls[name]}
        return action

    steps = [Step("a", "a", counted("a")), Step("b", "b", counted("b"), deps=("a",)),
             Step("c", "c", counted("c"), deps=("b",))]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    first = runner.execute(run_id)
    assert first.status == "failed" and first.failed == ["b"] and first.exit_code == 1
    assert first.steps["c"].status == "pending"
    assert "b broke" in first.steps["b"].error
    broken["yes"] = False
    second = runner.execute(run_id)
    assert second.status == "done"
    assert calls == {"a": 1, "b": 2, "c": 1}, "a finished step is never run again"
    outcomes = [a["outcome"] for a in runner.journal.attempts(run_id, "b")]
    assert outcomes == ["failed", "done"]


def test_retries_transient_failures_with_backoff(tmp_path):
    tries = []

    def flaky(ctx):
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise TransientError("server busy")
        return {"tries": len(tries)}

    steps = [Step("flaky", "flaky", flaky, retry=Retry(attempts=4, backoff_s=0.05, factor=2))]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "done"
    assert [a["outcome"] for a in runner.journal.attempts(run_id)] == ["retry", "retry", "done"]
    assert tries[1] - tries[0] >= 0.05 and tries[2] - tries[1] >= 0.1, "the backoff doubles"


def test_retries_give_up(tmp_path):
    def always(ctx):
        raise TransientError("still down")

    runner = make_runner(tmp_path, [Step("x", "x", always, retry=Retry(attempts=2, backoff_s=0.01))])
    result = runner.execute(runner.create_run())
    assert result.status == "failed" and "still down" in result.steps["x"].error


def test_timeouts_fail_the_step_and_cancel_its_waits(tmp_path):
    def slow(ctx):
        ctx.wait_for(lambda: False, what="a file that never comes", timeout=30, interval=0.05)

    runner = make_runner(tmp_path, [Step("slow", "slow", slow, timeout_s=0.3), Step("after", "after", noop,
                                                                                     deps=("slow",))])
    started = time.monotonic()
    result = runner.execute(runner.create_run())
    assert time.monotonic() - started < 5
    assert result.status == "failed"
    error = result.steps["slow"].error
    assert "time limit" in error or "waiting for a file that never comes" in error
    assert result.steps["after"].status == "pending"


def test_wait_for_has_its_own_timeout(tmp_path):
    def waits(ctx):
        ctx.wait_for(lambda: False, what="the Windows installer", timeout=0.2, interval=0.05)

    result = (r := make_runner(tmp_path, [Step("w", "w", waits)])).execute(r.create_run())
    assert result.status == "failed" and "the Windows installer" in result.steps["w"].error


def test_probe_skips_work_already_done(tmp_path):
    ran = []
    steps = [Step("p", "p", lambda ctx: ran.append(1), probe=lambda ctx: {"found": True})]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    result = runner.execute(run_id)
    assert result.status == "done" and not ran
    assert result.steps["p"].outputs == {"found": True}
    assert runner.journal.attempts(run_id)[0]["outcome"] == "already-done"


def test_conditions_skip_steps(tmp_path):
    steps = [Step("always", "a", noop), Step("b1-only", "b", noop, condition=lambda p: p["level"] == "b"),
             Step("after", "c", noop, deps=("b1-only",))]
    runner = make_runner(tmp_path, steps, params={"level": "rc"})
    result = runner.execute(runner.create_run())
    assert result.status == "done"
    assert result.steps["b1-only"].status == "skipped" and result.steps["after"].status == "done"


def test_outputs_flow_to_dependents(tmp_path):
    steps = [Step("make", "m", lambda ctx: {"commit": "abc"}),
             Step("use", "u", lambda ctx: {"got": ctx.dep("make")["commit"]}, deps=("make",))]
    result = (r := make_runner(tmp_path, steps)).execute(r.create_run())
    assert result.steps["use"].outputs == {"got": "abc"}


# ---- gates -------------------------------------------------------------------------------

GATED = Gate("push", "Push it?")


def gated_steps(ran):
    return [Step("prep", "prep", lambda ctx: ran.append("prep")),
            Step("push", "push", lambda ctx: ran.append("push"), deps=("prep",), gate=GATED),
            Step("independent", "independent", lambda ctx: ran.append("independent"))]


def test_unapproved_gate_pauses_then_resumes_when_approved(tmp_path):
    ran: list = []
    runner = make_runner(tmp_path, gated_steps(ran))
    run_id = runner.create_run()
    first = runner.execute(run_id)
    assert first.status == "paused" and first.exit_code == 3 and first.paused == [("push", "push")]
    assert sorted(ran) == ["independent", "prep"], "work not behind the gate still runs"
    runner.approvals = ApprovalPolicy(approve=frozenset({"push"}), who="alice")
    second = runner.execute(run_id)
    assert second.status == "done" and ran.count("push") == 1 and ran.count("prep") == 1
    approval = runner.journal.approvals(run_id)["push"]
    assert (approval["decision"], approval["who"], approval["how"]) == ("approved", "alice", "flag:--approve")


@pytest.mark.parametrize("policy, how", [
    (ApprovalPolicy(approve_all=True), "flag:--yes"),
    (ApprovalPolicy(approve=frozenset({"push"})), "flag:--approve"),
    (ApprovalPolicy(policy=frozenset({"push"}), policy_name="ci policy"), "policy"),
    (ApprovalPolicy(policy=frozenset({"*"}), policy_name="demo"), "policy"),
])
def test_gate_modes(tmp_path, policy, how):
    ran: list = []
    runner = make_runner(tmp_path, gated_steps(ran), approvals=policy)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "done"
    assert runner.journal.approvals(run_id)["push"]["how"] == how


def test_approve_list_only_approves_named_gates(tmp_path):
    ran: list = []
    runner = make_runner(tmp_path, gated_steps(ran), approvals=ApprovalPolicy(approve=frozenset({"other"})))
    assert runner.execute(runner.create_run()).status == "paused"


@pytest.mark.parametrize("answer, status", [(True, "done"), (False, "paused"), (None, "paused")])
def test_interactive_gate(tmp_path, answer, status):
    ran: list = []
    recorder = Recorder(answers={"push": answer})
    runner = make_runner(tmp_path, gated_steps(ran), approvals=ApprovalPolicy(interactive=True, who="bob"),
                         observer=recorder)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == status
    assert recorder.prompts == ["push"]
    if answer is not None:
        assert runner.journal.approvals(run_id)["push"]["decision"] == ("approved" if answer else "declined")
        assert runner.journal.approvals(run_id)["push"]["how"] == "interactive"


def test_gate_raised_at_run_time(tmp_path):
    old = Gate("old-repo", "Continue with an old checkout?")
    ran = []

    def check(ctx):
        ctx.require_approval(old, "the last commit is 3 days old")
        ran.append("checked")
        return {"ok": True}

    runner = make_runner(tmp_path, [Step("age", "age", check)])
    run_id = runner.create_run()
    assert runner.execute(run_id).paused == [("age", "old-repo")]
    assert not ran
    runner.approvals = ApprovalPolicy(approve=frozenset({"old-repo"}))
    assert runner.execute(run_id).status == "done" and ran == ["checked"]
    assert runner.journal.approvals(run_id)["old-repo"]["note"] == "the last commit is 3 days old"


# ---- drift, lock, chain -------------------------------------------------------------------

def test_changed_inputs_are_detected_on_resume(tmp_path):
    steps = [Step("build", "build", noop, uses=("version",)), Step("push", "push", noop, deps=("build",), gate=GATED)]
    runner = make_runner(tmp_path, steps, params={"version": "3.14.0rc1"})
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "paused"
    changed = Runner(runner.journal, Plan.build("test", steps, {"version": "3.14.0rc2"}), key="test")
    drifts, params = changed.drift(run_id)
    assert [d.step_id for d in drifts] == ["build"]
    assert drifts[0].changes() == {"version": ("3.14.0rc1", "3.14.0rc2")}
    assert params == {"version": ("3.14.0rc1", "3.14.0rc2")}
    message = str(refuse_drift(drifts, params))
    assert "3.14.0rc1" in message and "3.14.0rc2" in message and "--accept-changes" in message
    same = Runner(runner.journal, Plan.build("test", steps, {"version": "3.14.0rc1"}), key="test")
    assert same.drift(run_id) == ([], {})


def test_lock_refuses_a_second_run(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from relman.engine import run_lock
        with run_lock(Path({str(tmp_path)!r}), "cpython:3.14.0rc1"):
            print("locked", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld) as info:
            with run_lock(tmp_path, "cpython:3.14.0rc1"):
                pass
        assert str(holder.pid) in str(info.value)
        with run_lock(tmp_path, "cpython:3.14.0rc2"):  # another release is not blocked
            pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path, "cpython:3.14.0rc1"):  # released when the holder died (SIGKILL)
        pass


def test_hash_chain_detects_an_edited_or_deleted_event(tmp_path):
    runner = make_runner(tmp_path, chain(5))
    run_id = runner.create_run()
    runner.execute(run_id)
    journal = runner.journal
    assert journal.verify_chain(run_id) == []
    db = sqlite3.connect(journal.path)
    ids = [r[0] for r in db.execute("SELECT id FROM events WHERE run_id=? ORDER BY id", (run_id,))]
    db.execute("UPDATE events SET data='{\"outcome\": \"forged\"}' WHERE id=?", (ids[4],))
    db.commit()
    assert journal.verify_chain(run_id)[0] == ids[4]
    db.execute("UPDATE events SET data=(SELECT data FROM events WHERE id=?) WHERE id=?", (ids[3], ids[4]))
    db.execute("DELETE FROM events WHERE id=?", (ids[7],))
    db.commit()
    assert ids[8] in Journal(journal.path).verify_chain(run_id)


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    from relman.errors import UsageError
    bad = tmp_path / "state.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError) as info:
        Journal(bad)
    assert "not a relman journal" in str(info.value)


def test_a_step_after_a_skipped_one_does_not_wait_on_the_skipped_ones_dependencies(tmp_path):
    """A skipped step is finished from the start: what depends on it does not inherit its
    dependencies, so a paused gate before the skipped step does not hold the work after it."""
    from relman.engine import Journal, Plan, Runner, Step
    from relman.engine.runner import ApprovalPolicy
    from relman.engine.step import Gate

    ran = []
    steps = [Step("push", "push", lambda ctx: ran.append("push"), gate=Gate("push", "push?")),
             Step("check-pushed", "only on remote workers", lambda ctx: ran.append("check"), deps=("push",),
                  condition=lambda params: False),
             Step("build", "build", lambda ctx: ran.append("build") or {}, deps=("check-pushed",))]
    plan = Plan.build("skip", steps, {})
    assert plan.ancestors["build"] == frozenset({"check-pushed"})
    journal = Journal(tmp_path / "state.db")
    runner = Runner(journal, plan, key="skip", approvals=ApprovalPolicy(interactive=False))
    result = runner.execute(runner.create_run())
    assert result.status == "paused" and ran == ["build"], ran
