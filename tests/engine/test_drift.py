"""Drift by fingerprint: steps declare their real inputs; a change is shown as a diff with the
finished steps it affects; accepting re-stamps ("keep") or re-runs ("rerun") once."""

from __future__ import annotations

from relman.engine import ApprovalPolicy, Gate, Plan, Runner, Step
from relman.engine.runner import describe_drift

from .helpers import Recorder, make_runner

GATED = Gate("push", "Push?")


def workflow(tmp_path, ran: list[str]):
    source = tmp_path / "news.txt"
    signing = tmp_path / "signing.txt"

    def act(name):
        def action(ctx):
            ran.append(name)
            return {"ran": name}
        return action

    return [
        Step("commit", "commit the news", act("commit"), inputs=lambda p: {"news": source.read_text()},
             on_drift="keep", probe=lambda ctx: {"probed": True} if ran.count("commit") else None),
        Step("build", "build and sign", act("build"), deps=("commit",),
             inputs=lambda p: {"signing": {"key": signing.read_text(), "docs": True}}, on_drift="rerun",
             probe=lambda ctx: {"probed": True} if ran.count("build") else None),  # stale files look done
        Step("test", "test the build", act("test"), deps=("build",)),
        Step("push", "push", act("push"), deps=("test",), gate=GATED),
    ], source, signing


def test_changed_inputs_are_a_diff_with_the_steps_they_affect_and_accepting_is_once(tmp_path):
    ran: list[str] = []
    steps, news, signing = workflow(tmp_path, ran)
    news.write_text("one fragment")
    signing.write_text("KEY1")
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "paused"
    assert ran == ["commit", "build", "test"]
    assert runner.drift(run_id) == ([], {}), "nothing changed: no drift"

    news.write_text("two fragments")
    signing.write_text("KEY2")
    drifts, params = runner.drift(run_id)
    assert sorted(d.step_id for d in drifts) == ["build", "commit"]
    text = describe_drift(drifts, params, runner.plan, runner.journal.steps(run_id))
    assert "step build: signing.key: 'KEY1' -> 'KEY2'" in text, text
    assert "step commit: news: 'one fragment' -> 'two fragments'" in text
    assert "affects commit and the finished steps after it: build, test; on accepting: keep" in text
    assert "affects build and the finished steps after it: test; on accepting: re-run" in text

    choice = runner.accept_drift(run_id, drifts, params, "flag:--accept-changes")
    assert choice == {"keep": ["commit"], "rerun": ["build"], "reset": ["build", "test"]}
    assert runner.drift(run_id) == ([], {}), "accepted once: re-stamped"
    runner.approvals = ApprovalPolicy(approve=frozenset({"push"}))
    assert runner.execute(run_id).status == "done"
    assert ran == ["commit", "build", "test", "build", "test", "push"], "build re-ran without its probe; commit kept"
    accepted = [e for e in runner.journal.events(run_id) if e["kind"] == "drift-accepted"]
    assert accepted[0]["data"]["kept"] == ["commit"] and accepted[0]["data"]["how"] == "flag:--accept-changes"
    assert runner.journal.verify(run_id) == []

    again = Runner(runner.journal, Plan.build("test", steps, {}), key="test", observer=Recorder())
    assert again.drift(run_id) == ([], {}), "the next resume does not ask again"


def test_inputs_changed_by_the_run_itself_are_not_drift(tmp_path):
    """A step with an effect that changes another step's input (relman's own merge moving the
    release branch) re-stamps it: only changes made between invocations are drift."""
    branch = tmp_path / "branch.txt"
    branch.write_text("base")
    from relman.engine import LOCAL, Effect

    def merge(ctx):
        branch.write_text("base + release merged")
        return {}

    steps = [Step("cut", "cut the branch", lambda ctx: {}, inputs=lambda p: {"branch": branch.read_text()}),
             Step("merge", "merge back", merge, deps=("cut",), effects=(Effect(LOCAL, "merges"),)),
             Step("push", "push", lambda ctx: {}, deps=("merge",), gate=GATED)]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "paused"
    assert runner.drift(run_id) == ([], {})
    assert any(e["kind"] == "inputs-restamped" and e["data"]["by"] == "merge" for e in runner.journal.events(run_id))
    branch.write_text("someone committed")
    assert [d.step_id for d in runner.drift(run_id)[0]] == ["cut"], "a change between invocations is drift"


def test_nothing_reruns_once_published(tmp_path):
    from relman.engine import IRREVERSIBLE, Effect
    key = tmp_path / "key.txt"
    key.write_text("K1")
    steps = [Step("build", "build", lambda ctx: {}, inputs=lambda p: {"key": key.read_text()}),
             Step("publish", "publish", lambda ctx: {}, deps=("build",), effects=(Effect(IRREVERSIBLE, "public"),)),
             Step("announce", "announce", lambda ctx: {}, deps=("publish",), gate=GATED)]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    runner.execute(run_id)
    key.write_text("K2")
    drifts, params = runner.drift(run_id)
    assert runner.plan.drift_choices([d.step_id for d in drifts], runner.journal.steps(run_id))["rerun"] == []


def test_a_step_killed_inside_is_credited_with_its_changes(tmp_path):
    """Killed after its effect but before it was journaled done: at resume, the change it made is
    its own, not drift (a kill test must converge without --accept-changes)."""
    from relman.engine import LOCAL, Effect

    branch = tmp_path / "branch.txt"
    branch.write_text("base")
    steps = [Step("cut", "cut", lambda ctx: {}, inputs=lambda p: {"branch": branch.read_text()}),
             Step("merge", "merge", lambda ctx: {}, deps=("cut",), effects=(Effect(LOCAL, "merges"),))]
    runner = make_runner(tmp_path, steps)
    run_id = runner.create_run()
    runner.execute(run_id)
    runner.journal.reset_steps(run_id, ["merge"], kind="test-setup")
    runner.journal.start_attempt(run_id, "merge", "x", {})    # the journal as a kill inside `merge` leaves it
    branch.write_text("base + merged")
    assert [d.step_id for d in runner.drift(run_id)[0]] == ["cut"]
    runner.credit_interrupted(run_id)
    assert runner.drift(run_id) == ([], {})
    assert runner.journal.verify(run_id) == []
