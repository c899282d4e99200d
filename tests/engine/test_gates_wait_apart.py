"""Interactive gates are asked without blocking the scheduler (issue 9 point 5)."""

from __future__ import annotations

import threading
import time

from relman.engine import ApprovalPolicy, Gate, Step
from relman.errors import StepFailed

from .helpers import Recorder, make_runner

GATE = Gate("go", "go?")


class SlowPerson(Recorder):
    """Answers only once `ready` is set (or gives up after a while and declines)."""

    def __init__(self, ready: threading.Event):
        super().__init__()
        self.ready = ready
        self.answered_after_ready: bool | None = None

    def prompt(self, gate, step, detail):
        self.prompts.append(gate.id)
        self.answered_after_ready = self.ready.wait(10)
        return self.answered_after_ready


def test_dependent_steps_start_while_the_question_waits(tmp_path):
    started = threading.Event()
    order = []

    def build(ctx):
        time.sleep(0.2)
        order.append("build")
        return {}

    def after_build(ctx):
        order.append("after-build")
        started.set()
        return {}

    steps = [Step("gated", "needs approval", lambda ctx: order.append("gated") or {}, gate=GATE),
             Step("build", "b", build), Step("after-build", "a", after_build, deps=("build",))]
    person = SlowPerson(started)
    runner = make_runner(tmp_path, steps, approvals=ApprovalPolicy(interactive=True), observer=person)
    result = runner.execute(runner.create_run())
    assert person.answered_after_ready is True, "the scheduler was frozen while the question waited"
    assert result.status == "done"
    assert order.index("after-build") < order.index("gated")
    answered = [e for e in runner.journal.events(result.run_id) if e["kind"] == "gate-answered"]
    assert answered and answered[0]["data"]["decision"] == "approved"


def test_no_gate_is_asked_once_the_run_failed(tmp_path):
    def broken(ctx):
        raise StepFailed("broken")

    def slow(ctx):
        time.sleep(0.3)
        return {}

    steps = [Step("broken", "fails at once", broken), Step("slow", "s", slow),
             Step("gated", "after slow", lambda ctx: {}, deps=("slow",), gate=GATE)]
    person = Recorder(answers={"go": True})
    runner = make_runner(tmp_path, steps, approvals=ApprovalPolicy(interactive=True), observer=person)
    result = runner.execute(runner.create_run())
    assert result.status == "failed" and person.prompts == []
    assert result.steps["gated"].status != "done"
