"""Small workflows for engine tests."""

from __future__ import annotations

import time
from pathlib import Path

from relman.engine import ApprovalPolicy, Journal, Plan, Runner, Step
from relman.engine.runner import Observer


class Recorder(Observer):
    def __init__(self, answers=None):
        self.statuses: list[tuple[str, str]] = []
        self.logs: list[str] = []
        self.answers = dict(answers or {})
        self.prompts: list[str] = []

    def step_status(self, step_id, status, info=""):
        self.statuses.append((step_id, status))

    def log(self, step_id, message):
        self.logs.append(message)

    def prompt(self, gate, step, detail):
        self.prompts.append(gate.id)
        return self.answers.get(gate.id)


def make_runner(tmp: Path, steps, params=None, approvals=None, observer=None, key="test", max_parallel=8):
    journal = Journal(tmp / "state.db")
    plan = Plan.build("test", steps, params or {})
    return Runner(journal, plan, key=key, approvals=approvals or ApprovalPolicy(), observer=observer or Recorder(),
                  max_parallel=max_parallel)


def sleeper(seconds: float, record: dict | None = None):
    def action(ctx):
        start = time.monotonic()
        time.sleep(seconds)
        if record is not None:
            record[ctx.step.id] = (start, time.monotonic())
        return {"slept": seconds}
    return action


def noop(ctx):
    return {}


def chain(n: int, prefix: str = "s") -> list[Step]:
    return [Step(f"{prefix}{i}", f"step {i}", noop, deps=(f"{prefix}{i - 1}",) if i else ()) for i in range(n)]
