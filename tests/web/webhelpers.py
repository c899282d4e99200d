"""Shared by the web tests: a small gated workflow run by a real Runner in a thread, and a real
uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relman.engine import ApprovalPolicy, Gate, Journal, Plan, Runner, Step
from relman.engine.runner import RunResult

KEY = "rm:correct-horse-battery"
PUSH = Gate("push-upstream", "Push the release to the world?")


@dataclass
class Workflow:
    """prep.checkout → build.archive (waits for `release` to be set) → ship.push [gate] → ship.announce"""

    release: threading.Event = field(default_factory=threading.Event)

    def steps(self) -> list[Step]:
        def checkout(ctx):
            ctx.log("checked out 3.14.0rc1")
            return {"commit": "abc123"}

        def archive(ctx):
            ctx.log("waiting for the build machine")
            while not self.release.wait(0.05):
                ctx.check_cancelled()
            ctx.log("built Python-3.14.0rc1.tgz")
            return {"archive": "Python-3.14.0rc1.tgz"}

        def push(ctx):
            ctx.log("pushed v3.14.0rc1")
            return {"pushed": True}

        def announce(ctx):
            return {"announced": True}

        return [Step("prep.checkout", "check out the release branch", checkout, phase="prep"),
                Step("build.archive", "build the source archive", archive, deps=("prep.checkout",), phase="build"),
                Step("ship.push", "push the tag upstream", push, deps=("build.archive",), gate=PUSH, phase="ship"),
                Step("ship.announce", "announce the release", announce, deps=("ship.push",), phase="ship")]


class LiveRun:
    """A runner executing in a background thread, over `<state>/relman.db` like a release session."""

    def __init__(self, state: Path, workflow: Workflow, *, wait_s: float = 30.0, run_id: int | None = None):
        self.journal = Journal(state / "relman.db")
        self.runner = Runner(self.journal, Plan.build("release", workflow.steps(), {"version": "3.14.0rc1",
                                                                                   "work_dir": str(state / "work")}),
                             key="demo:3.14.0rc1", approvals=ApprovalPolicy(wait_s=wait_s))
        self.run_id = run_id if run_id is not None else self.runner.create_run()
        self.result: RunResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._go, daemon=True)

    def _go(self) -> None:
        try:
            self.result = self.runner.execute(self.run_id)
        except BaseException as error:  # noqa: BLE001  (surfaced by join())
            self.error = error

    def start(self) -> LiveRun:
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0) -> RunResult:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def step_status(self, step_id: str) -> str:
        return Journal(self.journal.path).steps(self.run_id)[step_id].status


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A real uvicorn server for `app` on 127.0.0.1, with its lifespan; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the web server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
