"""Steps, their effects and gates, and the context a step runs with.

The engine is generic: a step is an id, a description, dependencies and two callables:
`probe` ("is this already done?") and `action` ("do it"). Both return JSON-able outputs.
Nothing here knows about Python releases.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import procs
from ..errors import Cancelled, RelmanError, StepFailed, StepTimeout, TransientError, is_transient, retry_delay

LOCAL, REMOTE, IRREVERSIBLE = "local", "remote", "irreversible"
EFFECT_KINDS = (LOCAL, REMOTE, IRREVERSIBLE)


@dataclass(frozen=True)
class Effect:
    """Something a step does to the world: `local` (files, local git), `remote` (a server,
    undoable), or `irreversible` (cannot be taken back: a public push, an announcement)."""

    kind: str
    what: str

    def __post_init__(self) -> None:
        if self.kind not in EFFECT_KINDS:
            raise ValueError(f"effect kind must be one of {EFFECT_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class Gate:
    """A question a person (or a policy) must approve before the step acts."""

    id: str
    question: str


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    backoff_s: float = 0.5
    factor: float = 2.0
    max_backoff_s: float = 30.0
    on: tuple[type[BaseException], ...] = (TransientError,)

    def delay(self, attempt: int) -> float:
        return retry_delay(attempt, self.backoff_s, self.factor, self.max_backoff_s)

    def retries(self, error: BaseException) -> bool:
        """Worth another attempt: one of `on`, or a transient failure by the one shared rule
        (`errors.is_transient`: timeouts, resets, 5xx, a remote that hung up)."""
        return isinstance(error, self.on) or is_transient(error)


Outputs = dict[str, Any]
Action = Callable[["StepContext"], Outputs | None]
Probe = Callable[["StepContext"], Outputs | None]
Condition = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Step:
    id: str
    description: str
    action: Action
    deps: tuple[str, ...] = ()
    phase: str = ""
    probe: Probe | None = None
    condition: Condition | None = None
    condition_text: str = ""          # how `plan` explains the condition
    effects: tuple[Effect, ...] = ()
    gate: Gate | None = None
    uses: tuple[str, ...] = ()        # run parameters this step depends on (fingerprinted)
    inputs: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None  # extra fingerprinted inputs
    timeout_s: float | None = None
    retry: Retry | None = None
    recheck: bool = False             # read-only check run again on every invocation, even when done
    gate_detail: Callable[[StepContext], str] | None = None  # what the gate approves, shown with the question
    on_drift: str = "rerun"           # inputs changed and accepted: "rerun" the step, or "keep" its result

    def __post_init__(self) -> None:
        if self.on_drift not in ("rerun", "keep"):
            raise ValueError(f"step {self.id}: on_drift must be 'rerun' or 'keep', not {self.on_drift!r}")

    def applies(self, params: Mapping[str, Any]) -> bool:
        return self.condition is None or bool(self.condition(params))

    def fingerprint_inputs(self, params: Mapping[str, Any]) -> dict[str, Any]:
        values = {name: params.get(name) for name in self.uses}
        if self.inputs is not None:
            values.update(self.inputs(params))
        return values

    @property
    def irreversible(self) -> bool:
        return any(e.kind == IRREVERSIBLE for e in self.effects)


class GateRequired(Exception):
    """Raised by an action that discovers at run time that it needs approval (for example
    "the checkout is two days old: continue?"). The runner resolves the gate exactly like a
    declared one and runs the step again once approved."""

    def __init__(self, gate: Gate, detail: str = ""):
        super().__init__(gate.question)
        self.gate = gate
        self.detail = detail


@dataclass
class StepContext:
    """What a running step sees: run parameters, its dependencies' outputs, shared resources,
    and ways to report (log, progress) and to wait (with a timeout, always)."""

    step: Step
    params: Mapping[str, Any]
    dep_outputs: Mapping[str, Outputs]
    resources: Mapping[str, Any]
    approved_gates: frozenset[str]
    _events: queue.Queue
    cancel_event: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None
    attempt: int = 1
    resumed: bool = False
    rechecking: bool = False          # a done `recheck` step run again on a later invocation

    # ---- reporting -----------------------------------------------------------------------
    def log(self, message: str) -> None:
        self._events.put(("log", self.step.id, str(message)))

    def progress(self, done: float, total: float | None, label: str = "") -> None:
        self._events.put(("progress", self.step.id, (done, total, label)))

    def dep(self, step_id: str) -> Outputs:
        return self.dep_outputs.get(step_id) or {}

    def approved(self, gate_id: str) -> bool:
        return gate_id in self.approved_gates

    def require_approval(self, gate: Gate, detail: str = "") -> None:
        if gate.id not in self.approved_gates:
            raise GateRequired(gate, detail)

    # ---- time ----------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled(f"step {self.step.id} was cancelled (timed out or interrupted)")

    def remaining(self, timeout: float | None = None) -> float | None:
        limits = [t for t in (timeout, None if self.deadline is None else self.deadline - time.monotonic())
                  if t is not None]
        return max(0.0, min(limits)) if limits else None

    def sleep(self, seconds: float) -> None:
        if self.cancel_event.wait(seconds):
            self.check_cancelled()

    def wait_for(self, predicate: Callable[[], Any], *, what: str, timeout: float,
                 interval: float = 0.5) -> Any:
        """Poll `predicate` until it returns something truthy; every wait has a timeout."""
        started = time.monotonic()
        limit = started + (self.remaining(timeout) or 0)
        while True:
            self.check_cancelled()
            result = predicate()
            if result:
                return result
            self.progress(time.monotonic() - started, limit - started, f"waiting for {what} (s)")
            if time.monotonic() >= limit:
                raise StepTimeout(f"timed out after {time.monotonic() - started:.1f} s waiting for {what}",
                                  hint="run again to keep waiting, or raise the timeout in relman.toml")
            self.sleep(min(interval, max(0.0, limit - time.monotonic())))

    def run(self, argv: Sequence[str], *, cwd: str | os.PathLike | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None,
            check: bool = True, tail_lines: int = 30) -> subprocess.CompletedProcess:
        """Run a command in its own process group; the whole group is killed when the step is
        cancelled (timeout, Ctrl-C) or its time runs out."""
        limit = self.remaining(timeout)
        started = time.monotonic()
        try:
            with procs.cancel_scope(self.cancel_event):
                done = procs.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, timeout=limit, merge_stderr=True)
        except subprocess.TimeoutExpired:
            raise StepTimeout(f"`{' '.join(argv)}` ran out of time after {time.monotonic() - started:.0f} s") from None
        text = done.stdout or ""
        result = subprocess.CompletedProcess(list(argv), done.returncode, text, "")
        if check and done.returncode != 0:
            tail = "\n".join(text.splitlines()[-tail_lines:])
            raise StepFailed(f"`{' '.join(argv)}` exited {done.returncode}:\n{tail}")
        return result


def failure_text(error: BaseException) -> str:
    if isinstance(error, RelmanError):
        return str(error)
    return f"{type(error).__name__}: {error}"
