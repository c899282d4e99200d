"""Read-only checks marked `recheck` run again on every invocation (issue 9 point 2)."""

from __future__ import annotations

from relman.engine import ApprovalPolicy, Gate, Step
from relman.errors import CheckFailed

from .helpers import make_runner

GATE = Gate("go", "go?")


def steps(world: dict, acted: list) -> list[Step]:
    def check(ctx):
        if world["dirty"]:
            raise CheckFailed("the tree is dirty")
        return {"clean": True, "rechecking": ctx.rechecking}

    return [Step("check", "clean tree", check, recheck=True),
            Step("once", "a check that is not rechecked", lambda ctx: {}),
            Step("act", "the effect", lambda ctx: acted.append(1) or {}, deps=("check", "once"), gate=GATE)]


def test_a_resume_never_proceeds_on_a_tree_the_check_refuses(tmp_path):
    world, acted = {"dirty": False}, []
    runner = make_runner(tmp_path, steps(world, acted))
    run_id = runner.create_run()
    assert runner.execute(run_id).status == "paused"        # waits at the gate, the check passed

    world["dirty"] = True
    runner = make_runner(tmp_path, steps(world, acted), approvals=ApprovalPolicy(approve_all=True))
    result = runner.execute(run_id)
    assert result.failed == ["check"] and acted == []
    assert result.steps["act"].status != "done"
    assert [a["outcome"] for a in runner.journal.attempts(run_id, "once")] == ["done"], "only rechecks run again"

    world["dirty"] = False
    runner = make_runner(tmp_path, steps(world, acted), approvals=ApprovalPolicy(approve_all=True))
    result = runner.execute(run_id)
    assert result.status == "done" and acted == [1]
    assert result.steps["check"].outputs == {"clean": True, "rechecking": True}
    assert [a["outcome"] for a in runner.journal.attempts(run_id, "check")] == ["done", "failed", "done"]


def test_nothing_else_starts_before_the_rechecks_passed(tmp_path):
    order = []
    world = {"dirty": False}

    def check(ctx):
        order.append("check")
        if world["dirty"]:
            raise CheckFailed("dirty")
        return {}

    def effect(ctx):
        order.append("effect")
        return {}

    plan = [Step("check", "c", check, recheck=True), Step("a", "a", lambda ctx: {}, deps=("check",)),
            Step("effect", "independent of the check's outcome only by timing", effect, deps=("a",), gate=GATE)]
    runner = make_runner(tmp_path, plan)
    run_id = runner.create_run()
    runner.execute(run_id)
    world["dirty"] = True
    runner = make_runner(tmp_path, plan, approvals=ApprovalPolicy(approve_all=True))
    assert runner.execute(run_id).failed == ["check"]
    assert order == ["check", "check"]
