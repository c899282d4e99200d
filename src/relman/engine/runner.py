"""Run a plan: every ready step in parallel (bounded), everything journaled, resumable by step id.

The main thread owns the journal and the gates; steps run in worker threads and report back
through a queue. A finished step is never run again. An interrupted step is probed ("already
done?") and re-run if not. A step whose inputs changed since it ran is shown before
continuing. Gates are approved by a flag, a policy, or a person; a gate nobody approved
pauses the run, which resumes later.
"""

from __future__ import annotations

import getpass
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .. import procs
from ..errors import Cancelled, LockHeld, StepTimeout, UsageError
from .journal import DONE, FAILED, FINISHED_STATES, PAUSED, PENDING, RUNNING, SKIPPED, Journal, StepRow
from .plan import Plan, diff_values, fingerprint
from .step import Gate, GateRequired, Retry, Step, StepContext, failure_text

APPROVED, DECLINED, WAITING, ASKING = "approved", "declined", "waiting", "asking"
STOPPING_MESSAGE = "stopping… (Ctrl-C again to force)"


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


@dataclass
class ApprovalPolicy:
    """How gates are answered: `--yes`, `--approve G1,G2`, a named policy, or a person."""

    approve_all: bool = False
    approve: frozenset[str] = frozenset()
    policy: frozenset[str] = frozenset()      # gate ids (or "*") a configured policy pre-approves
    policy_name: str = "policy"
    interactive: bool = False
    who: str = field(default_factory=current_user)
    # A run left with nothing to do but gates stays alive this long, looking in the journal for
    # a decision made elsewhere (the web app, another terminal); 0 ends it paused at once.
    wait_s: float = 0.0


@dataclass
class Drift:
    step_id: str
    before: dict[str, Any]
    after: dict[str, Any]

    def changes(self) -> dict[str, tuple[Any, Any]]:
        keys = sorted(set(self.before) | set(self.after))
        return {k: (self.before.get(k), self.after.get(k)) for k in keys if self.before.get(k) != self.after.get(k)}


@dataclass
class RunResult:
    run_id: int
    status: str                        # done, failed, paused
    steps: dict[str, StepRow]
    failed: list[str]
    paused: list[tuple[str, str]]      # (step id, gate id)
    wall_s: float

    @property
    def exit_code(self) -> int:
        return {"done": 0, "failed": 1, "paused": 3}.get(self.status, 1)


@contextmanager
def run_lock(state_dir: Path, key: str) -> Iterator[None]:
    """One process per release. The OS drops the lock when the holder dies, even by SIGKILL."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    state_dir.mkdir(parents=True, exist_ok=True)
    lock_path = state_dir / f"{safe}.lock"
    pid_path = state_dir / f"{safe}.pid"
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = pid_path.read_text().strip() if pid_path.exists() else "unknown"
        raise LockHeld(f"release {key} is already being run by another relman process (pid {holder})",
                       hint="wait for it to finish or pause; the lock is released as soon as that process exits") from None
    try:
        pid_path.write_text(str(os.getpid()))
        yield
    finally:
        lock.release()


class Observer:
    """What the runner tells the display. The default does nothing."""

    def run_started(self, run_id: int, plan: Plan, statuses: Mapping[str, str], resumed: bool) -> None: ...
    def step_status(self, step_id: str, status: str, info: str = "") -> None: ...
    def log(self, step_id: str, message: str) -> None: ...
    def progress(self, step_id: str, done: float, total: float | None, label: str) -> None: ...
    def prompt(self, gate: Gate, step: Step, detail: str) -> bool | None: return None
    def waiting(self, step_id: str, seconds: float) -> None: ...   # time spent waiting for an answer
    def notice(self, message: str) -> None: ...                   # a run-wide message (stopping, recovery)
    def run_finished(self, result: RunResult) -> None: ...


class Runner:
    def __init__(self, journal: Journal, plan: Plan, *, key: str, resources: Mapping[str, Any] | None = None,
                 approvals: ApprovalPolicy | None = None, observer: Observer | None = None,
                 max_parallel: int = 8, redact: Callable[[str], str] = lambda s: s):
        self.journal = journal
        self.plan = plan
        self.key = key
        self.resources = dict(resources or {})
        self.approvals = approvals or ApprovalPolicy()
        self.observer = observer or Observer()
        self.max_parallel = max(1, max_parallel)
        self.redact = redact

    # ---- run selection and drift ---------------------------------------------------------
    def _step_rows(self) -> list[tuple[str, str, str]]:
        return [(sid, s.description, s.phase) for sid, s in self.plan.steps.items()]

    def create_run(self) -> int:
        return self.journal.create_run(self.key, self.plan.name, self.plan.params, self._step_rows())

    def drift(self, run_id: int) -> tuple[list[Drift], dict[str, tuple[Any, Any]]]:
        """Steps already done whose inputs differ now, and the run parameters that changed."""
        run = self.journal.get_run(run_id)
        param_changes = {k: (run.params.get(k), self.plan.params.get(k))
                         for k in sorted(set(run.params) | set(self.plan.params))
                         if run.params.get(k) != self.plan.params.get(k)}
        drifts = []
        for sid, row in self.journal.steps(run_id).items():
            if row.status != DONE or sid not in self.plan.steps or row.inputs is None:
                continue
            now = _jsonish(self.plan.inputs_of(sid))
            if fingerprint(now) != row.fingerprint:
                drifts.append(Drift(sid, row.inputs, now))
        return drifts, param_changes

    def accept_drift(self, run_id: int, drifts: list[Drift], param_changes: Mapping[str, tuple[Any, Any]],
                     how: str) -> dict[str, list[str]]:
        """Accept changed inputs once: "keep" steps are re-stamped, "rerun" steps (and the finished
        steps after them) run again. One chained event; the next resume does not ask again."""
        choice = self.plan.drift_choices([d.step_id for d in drifts], self.journal.steps(run_id))
        data = {"changes": {k: list(v) for k, v in param_changes.items()},
                "steps": {d.step_id: {k: list(v) for k, v in d.changes().items()} for d in drifts},
                "accepted_by": self.approvals.who, "how": how, "kept": choice["keep"], "rerun": choice["rerun"]}
        stamps = {sid: (fingerprint(d.after), d.after) for d in drifts if (sid := d.step_id) in choice["keep"]}
        self.journal.restamp(run_id, stamps, kind="drift-accepted", data=data, params=self.plan.params)
        if choice["rerun"]:
            self.journal.reset_steps(run_id, choice["reset"], forced=choice["rerun"], kind="drift-rerun",
                                     data={"who": self.approvals.who, "how": how})
        return choice

    def credit_interrupted(self, run_id: int) -> None:
        """A process killed inside a step with effects never re-stamped what that step changed:
        credit the changes found now to it (before drift is computed)."""
        for sid, row in self.journal.steps(run_id).items():
            if row.status == RUNNING and sid in self.plan.steps and self.plan.steps[sid].effects:
                self.restamp_own_changes(run_id, sid)

    def restamp_own_changes(self, run_id: int, by: str) -> None:
        """Inputs that changed while this process ran a step with effects changed by relman itself:
        re-stamp the finished steps, so only changes made between invocations count as drift."""
        stamps = {}
        for sid, row in self.journal.steps(run_id).items():
            if row.status != DONE or sid not in self.plan.steps or row.inputs is None:
                continue
            now = _jsonish(self.plan.inputs_of(sid))
            if fingerprint(now) != row.fingerprint:
                stamps[sid] = (fingerprint(now), now)
        if stamps:
            self.journal.restamp(run_id, stamps, kind="inputs-restamped",
                                 data={"by": by, "note": "changed by this run's own step"})

    # ---- execution -----------------------------------------------------------------------
    def execute(self, run_id: int) -> RunResult:
        started = time.monotonic()
        journal, plan = self.journal, self.plan
        journal.add_steps(run_id, self._step_rows())
        rows = journal.steps(run_id)
        status: dict[str, str] = {sid: rows[sid].status for sid in plan.steps}
        outputs: dict[str, dict] = {sid: rows[sid].outputs or {} for sid in plan.steps if rows[sid].status == DONE}
        resumed = any(st != PENDING for st in status.values())

        interrupted = {sid for sid, st in status.items() if st == RUNNING}
        for sid in interrupted:
            journal.end_attempt(run_id, sid, "interrupted", step_status=PENDING,
                                detail={"note": "the previous process stopped during this step; it will be probed"})
        for sid, st in status.items():
            if st in (RUNNING, FAILED, PAUSED):
                status[sid] = PENDING
        # Read-only checks marked `recheck` run again on every invocation: a resume never
        # proceeds on a tree they would refuse. Nothing else starts until they passed.
        # (A check that passed once and failed when run again stays a recheck until it passes.)
        rechecks = {sid for sid, st in status.items() if resumed and plan.steps[sid].recheck and (
            st == DONE or any(a["outcome"] in ("done", "already-done") for a in journal.attempts(run_id, sid)))}
        for sid in sorted(rechecks):
            if status[sid] == DONE:
                journal.event(run_id, sid, "recheck", {"note": "read-only check run again on this invocation"})
            status[sid] = PENDING
        newly_skipped = [sid for sid in plan.skipped if status[sid] == PENDING]
        journal.mark_skipped(run_id, newly_skipped)
        for sid in newly_skipped:
            status[sid] = SKIPPED
        journal.set_run_status(run_id, RUNNING)

        approved = {g for g, a in journal.approvals(run_id).items() if a["decision"] == APPROVED}
        forced = {sid for sid in plan.steps if rows[sid].forced}   # redone: act without probing first
        self.observer.run_started(run_id, plan, dict(status), resumed)
        self._recover(run_id)

        events: queue.Queue = queue.Queue()
        running: dict[str, tuple[Future, StepContext]] = {}
        stopping: dict[str, str] = {}               # step → why its work is being stopped
        asking: dict[str, tuple[Gate, str, float]] = {}   # step → the question a person is answering
        paused: list[tuple[str, str]] = []
        failed: list[str] = []
        interrupt = {"count": 0}
        pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="relman-step")
        questions: queue.Queue = queue.Queue()
        asker: threading.Thread | None = None

        def context(sid: str, attempt: int = 0) -> StepContext:
            step = plan.steps[sid]
            return StepContext(step=step, params=plan.params,
                               dep_outputs={d: outputs.get(d, {}) for d in plan.ancestors[sid]},
                               resources=self.resources, approved_gates=frozenset(approved), _events=events,
                               deadline=time.monotonic() + step.timeout_s if step.timeout_s else None,
                               attempt=attempt, resumed=sid in interrupted, rechecking=sid in rechecks)

        def submit(sid: str) -> None:
            inputs = _jsonish(plan.inputs_of(sid))
            attempt = journal.start_attempt(run_id, sid, fingerprint(inputs), inputs)
            ctx = context(sid, attempt)
            status[sid] = RUNNING
            self.observer.step_status(sid, RUNNING, "probing" if sid in interrupted else
                                      "checking again" if sid in rechecks else "")
            future = pool.submit(_work, step_of(sid), ctx, sid not in forced)
            forced.discard(sid)

            def done(f: Future, sid: str = sid) -> None:
                events.put(("finished", sid, f))

            future.add_done_callback(done)
            running[sid] = (future, ctx)

        def step_of(sid: str) -> Step:
            return plan.steps[sid]

        def ask_questions() -> None:
            """The prompt thread: one question at a time, answers go back to the scheduler."""
            while True:
                item = questions.get()
                if item is None:
                    return
                sid, gate, detail = item
                try:
                    answer = self.observer.prompt(gate, plan.steps[sid], detail)
                except BaseException as error:  # a broken terminal: the gate stays unanswered
                    answer = None
                    events.put(("log", sid, f"could not ask: {failure_text(error)}"))
                events.put(("answer", sid, (gate, detail, answer)))

        def ask(sid: str, gate: Gate, detail: str) -> None:
            nonlocal asker
            if asker is None:
                asker = threading.Thread(target=ask_questions, name="relman-gate", daemon=True)
                asker.start()
            asking[sid] = (gate, detail, time.monotonic())
            journal.event(run_id, sid, "gate-asked", {"gate": gate.id, "question": gate.question, "detail": detail})
            self.observer.step_status(sid, PAUSED, f"waiting for your answer: {gate.question}")
            questions.put((sid, gate, detail))

        def describe_gate(sid: str, detail: str) -> str:
            step = plan.steps[sid]
            if step.gate_detail is None:
                return detail
            try:
                shown = step.gate_detail(context(sid))
            except Exception as error:  # the question is still asked, with what could not be shown
                shown = f"(could not describe what this approves: {failure_text(error)})"
            return "\n".join(part for part in (shown, detail) if part)

        def gate_decision(gate: Gate, sid: str, detail: str = "") -> str:
            if gate.id in approved:
                return APPROVED
            how, who = None, self.approvals.who
            if self.approvals.approve_all:
                how = "flag:--yes"
            elif gate.id in self.approvals.approve:
                how = "flag:--approve"
            elif gate.id in self.approvals.policy or "*" in self.approvals.policy:
                how, who = "policy", self.approvals.policy_name
            elif self.approvals.interactive and not failed and not interrupt["count"]:
                ask(sid, gate, describe_gate(sid, detail))   # answered without blocking the run
                return ASKING
            if how is None:
                journal.event(run_id, sid, "gate-waiting", {"gate": gate.id, "question": gate.question,
                                                            "detail": detail})
                return WAITING
            journal.record_approval(run_id, gate.id, sid, APPROVED, who, how, detail or None)
            approved.add(gate.id)
            return APPROVED

        def answered(sid: str, gate: Gate, detail: str, answer: bool | None) -> None:
            _, _, since = asking.pop(sid)
            waited = time.monotonic() - since
            self.observer.waiting(sid, waited)
            if answer is None or failed or interrupt["count"]:
                # no answer, or the run failed while the question waited: nothing is approved
                journal.event(run_id, sid, "gate-unanswered", {"gate": gate.id, "waited_s": round(waited, 3),
                                                               "run_failed": bool(failed)})
                pause(sid, gate, WAITING)
                return
            decision = APPROVED if answer else DECLINED
            journal.record_approval(run_id, gate.id, sid, decision, self.approvals.who, "interactive", detail or None)
            journal.event(run_id, sid, "gate-answered", {"gate": gate.id, "decision": decision,
                                                         "waited_s": round(waited, 3)})
            if not answer:
                pause(sid, gate, DECLINED)
                return
            approved.add(gate.id)
            status[sid] = PENDING
            self.observer.step_status(sid, PENDING, "approved")
            declared = plan.steps[sid].gate
            if declared is None or declared.id != gate.id:
                submit(sid)   # a gate the action asked for: run it again, now approved

        def pause(sid: str, gate: Gate, decision: str) -> None:
            status[sid] = PAUSED
            journal.set_step_status(run_id, sid, PAUSED)
            paused.append((sid, gate.id))
            self.observer.step_status(sid, PAUSED, f"gate {gate.id}: {gate.question}"
                                      + (" (declined)" if decision == DECLINED else ""))

        def fail(sid: str, text: str, outcome: str = "failed") -> None:
            status[sid] = FAILED
            failed.append(sid)
            journal.end_attempt(run_id, sid, outcome, step_status=FAILED, error=text)
            self.observer.step_status(sid, FAILED, text)

        def finish(sid: str, future: Future) -> None:
            running.pop(sid, None)
            kind, value, how = future.result()
            why = stopping.pop(sid, None)
            if why == "interrupt":
                journal.end_attempt(run_id, sid, "interrupted", step_status=PENDING,
                                    detail={"note": "stopped by Ctrl-C; it will be probed on the next run"})
                status[sid] = PENDING
                self.observer.step_status(sid, PENDING, "stopped")
                return
            if why is not None:       # it ran past its time limit and has now really stopped
                late = (" It finished after its deadline, so its effects may have landed: the next run "
                        "probes it before doing anything again.") if kind == "done" else ""
                fail(sid, self.redact(why + late), "timeout")
                return
            if kind == "done":
                outputs[sid] = value
                status[sid] = DONE
                journal.end_attempt(run_id, sid, "already-done" if how == "probed" else "done",
                                    step_status=DONE, outputs=value)
                if plan.steps[sid].effects:
                    self.restamp_own_changes(run_id, sid)
                self.observer.step_status(sid, DONE, "already done" if how == "probed" else "")
            elif kind == "gate":
                gate_error: GateRequired = value
                journal.end_attempt(run_id, sid, "gate", step_status=PENDING,
                                    detail={"gate": gate_error.gate.id, "detail": gate_error.detail})
                status[sid] = PENDING
                decision = gate_decision(gate_error.gate, sid, gate_error.detail)
                if decision == APPROVED:
                    submit(sid)
                elif decision != ASKING:
                    pause(sid, gate_error.gate, decision)
            else:
                fail(sid, self.redact(failure_text(value)))

        # ---- gate decisions journaled by someone else while this run goes on (the web app) ----
        looked_at = [0.0]
        waiting_since: list[float] = []

        def journaled_decisions(force: bool = False) -> None:
            """Un-pause every step whose gate was approved in the journal since it paused."""
            if not paused or (not force and time.monotonic() - looked_at[0] < 0.5):
                return
            looked_at[0] = time.monotonic()
            answers = journal.approvals(run_id)
            for sid, gate_id in list(paused):
                answer = answers.get(gate_id)
                if answer is not None and answer["decision"] == APPROVED:
                    approved.add(gate_id)
                    paused.remove((sid, gate_id))
                    status[sid] = PENDING
                    journal.set_step_status(run_id, sid, PENDING, event="gate-picked-up",
                                            data={"gate": gate_id, "who": answer["who"], "how": answer["how"]})
                    self.observer.step_status(sid, PENDING, f"gate {gate_id} approved by {answer['who']} "
                                                            f"({answer['how']})")

        def keep_waiting() -> bool:
            """Only gates are left: wait for a journaled decision while `wait_s` allows and
            not every waiting gate has been refused."""
            if not paused or failed or self.approvals.wait_s <= 0:
                return False
            if not waiting_since:
                waiting_since.append(time.monotonic())
                journal.event(run_id, None, "waiting-for-gates", {"gates": sorted({g for _, g in paused}),
                                                                   "for_s": self.approvals.wait_s})
            answers = journal.approvals(run_id)
            if all((answers.get(g) or {}).get("decision") == DECLINED for _, g in paused):
                return False
            return time.monotonic() - waiting_since[0] < self.approvals.wait_s


        def on_sigint(signum, frame) -> None:
            interrupt["count"] += 1
            if interrupt["count"] == 1:
                print(STOPPING_MESSAGE, file=sys.stderr, flush=True)
                events.put(("interrupt", "", None))
                return
            print("forcing: killing every job relman started", file=sys.stderr, flush=True)
            procs.stop_all(force=True)
            raise KeyboardInterrupt

        previous_handler = None
        if threading.current_thread() is threading.main_thread():
            previous_handler = signal.signal(signal.SIGINT, on_sigint)
        try:
            while True:
                journaled_decisions()
                blocked = {s for s, st in status.items() if st in (FAILED, PAUSED)}
                checking = {s for s in rechecks if status[s] in (PENDING, RUNNING)}
                for sid, step in plan.steps.items():
                    if interrupt["count"] or len(running) >= self.max_parallel:
                        break
                    if status[sid] != PENDING or sid in asking or (checking and sid not in checking):
                        continue
                    if any(status[d] not in FINISHED_STATES for d in step.deps) or _depends_on(plan, sid, blocked):
                        continue
                    if step.gate is not None:
                        decision = gate_decision(step.gate, sid)
                        if decision == ASKING:
                            continue
                        if decision != APPROVED:
                            pause(sid, step.gate, decision)
                            continue
                    submit(sid)
                if not running and (not asking or failed or interrupt["count"]):
                    if interrupt["count"] or not keep_waiting():
                        break
                    time.sleep(0.5)
                    journaled_decisions(force=True)
                    continue
                waiting_since.clear()
                try:
                    message = events.get(timeout=_next_timeout(running, stopping))
                except queue.Empty:
                    message = None
                while message is not None:
                    kind, sid, payload = message
                    if kind == "finished":
                        finish(sid, payload)
                    elif kind == "answer":
                        answered(sid, *payload)
                    elif kind == "interrupt":
                        interrupt["journaled"] = 1
                        journal.event(run_id, None, "interrupted",
                                      {"by": "ctrl-c", "who": self.approvals.who, "running": sorted(running)})
                        self.observer.notice(STOPPING_MESSAGE)
                        for rsid, (_, ctx) in running.items():
                            stopping[rsid] = "interrupt"
                            ctx.cancel_event.set()
                            self.observer.step_status(rsid, RUNNING, "stopping")
                        procs.stop_all()   # whole process groups: nothing relman started outlives it
                    elif kind == "log":
                        text = self.redact(payload)
                        journal.event(run_id, sid, "log", {"message": text})
                        self.observer.log(sid, text)
                    elif kind == "progress":
                        self.observer.progress(sid, *payload)
                    elif kind == "retry":
                        number, text, delay = payload
                        text = self.redact(text)
                        journal.end_attempt(run_id, sid, "retry", error=text, detail={"retry_in_s": delay})
                        journal.start_attempt(run_id, sid, fingerprint(_jsonish(plan.inputs_of(sid))),
                                              _jsonish(plan.inputs_of(sid)))
                        self.observer.step_status(sid, RUNNING, f"retry {number + 1} in {delay:.1f} s: {text}")
                    try:
                        message = events.get_nowait()
                    except queue.Empty:
                        message = None
                now = time.monotonic()
                for sid, (_, ctx) in list(running.items()):
                    if ctx.deadline is not None and now > ctx.deadline and sid not in stopping:
                        # Stop its work (commands killed, waits cancelled) and mark it failed only
                        # once it has really stopped: nothing it does lands after the run moved on.
                        stopping[sid] = str(StepTimeout(
                            f"step {sid} ran past its time limit of {plan.steps[sid].timeout_s:g} s and was stopped",
                            hint="run again to retry it, or raise the timeout in the configuration"))
                        ctx.cancel_event.set()
                        journal.event(run_id, sid, "timeout", {"limit_s": plan.steps[sid].timeout_s})
                        self.observer.step_status(sid, RUNNING, "ran past its time limit: stopping")
            if interrupt["count"]:
                raise KeyboardInterrupt
        except BaseException:
            if interrupt["count"] and not interrupt.get("journaled"):
                journal.event(run_id, None, "interrupted", {"by": "ctrl-c", "forced": interrupt["count"] > 1,
                                                            "who": self.approvals.who, "running": sorted(running)})
            for sid, (_, ctx) in running.items():
                ctx.cancel_event.set()
                journal.end_attempt(run_id, sid, "interrupted", step_status=PENDING)
            procs.stop_all(force=interrupt["count"] > 1)
            journal.set_run_status(run_id, "interrupted")
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
            questions.put(None)
        pool.shutdown(wait=False)
        for sid, (gate, _, since) in list(asking.items()):   # withdrawn: the run failed meanwhile
            self.observer.waiting(sid, time.monotonic() - since)
            journal.event(run_id, sid, "gate-withdrawn", {"gate": gate.id, "reason": "the run failed"})
            pause(sid, gate, WAITING)

        if failed:
            final = "failed"
        elif paused:
            final = "paused"
        elif all(st in FINISHED_STATES for st in status.values()):
            final = "done"
        else:
            final = "failed"
        journal.set_run_status(run_id, final, finished=final == "done")
        result = RunResult(run_id, final, journal.steps(run_id), failed, paused, time.monotonic() - started)
        self.observer.run_finished(result)
        return result

    def _recover(self, run_id: int) -> None:
        """Before any step runs, resources that hold outside state (git locks, build jobs left
        by a killed process) put it right; every repair is journaled."""
        def note(kind: str, data: Mapping[str, Any]) -> None:
            self.journal.event(run_id, None, kind, data)
            message = str(data.get("message") or kind)
            self.observer.notice(self.redact(message))

        for resource in list(self.resources.values()):
            recover = getattr(resource, "recover_interrupted", None)
            if callable(recover):
                recover(note)


def _work(step: Step, ctx: StepContext, probe: bool = True) -> tuple[str, Any, str]:
    """Runs in a worker thread: probe (unless `probe` is False: a forced re-run), then act,
    with retries. Never raises.

    Everything runs inside the step's cancel scope: commands it starts (git included) are
    killed when it is stopped. Before each retry of a step with effects, the probe runs again,
    so an effect that landed although its command failed is not done twice."""
    try:
        with procs.cancel_scope(ctx.cancel_event):
            if probe and step.probe is not None and not ctx.rechecking:
                found = step.probe(ctx)
                if found is not None:
                    return "done", _jsonish(found), "probed"
            policy = step.retry or Retry(attempts=1)
            number = 1
            while True:
                try:
                    return "done", _jsonish(step.action(ctx) or {}), "ran"
                except GateRequired:
                    raise
                except Exception as error:
                    if ctx.cancelled or number >= policy.attempts or not policy.retries(error):
                        raise
                    delay = policy.delay(number)
                    ctx._events.put(("retry", step.id, (number, failure_text(error), delay)))
                    ctx.sleep(delay)
                    number += 1
                    if step.probe is not None and step.effects:
                        found = step.probe(ctx)
                        if found is not None:
                            return "done", _jsonish(found), "probed"
    except GateRequired as gate:
        return "gate", gate, ""
    except BaseException as error:  # reported, journaled and shown; the run stays resumable
        if ctx.cancelled and not isinstance(error, Cancelled):
            error = Cancelled(f"step {step.id} was stopped: {failure_text(error)}")
        return "failed", error, ""


def _jsonish(value: Any) -> Any:
    """Outputs and inputs are stored as JSON: make sure they are (paths become strings)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonish(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _depends_on(plan: Plan, sid: str, blocked: set[str]) -> bool:
    return bool(blocked) and not blocked.isdisjoint(plan.ancestors[sid])


def _next_timeout(running: Mapping[str, tuple[Future, StepContext]], stopping: Mapping[str, str]) -> float:
    deadlines = [ctx.deadline for sid, (_, ctx) in running.items() if ctx.deadline is not None and sid not in stopping]
    if not deadlines:
        return 1.0
    return max(0.01, min(1.0, min(deadlines) - time.monotonic()))


def describe_drift(drifts: list[Drift], params: Mapping[str, tuple[Any, Any]], plan: Plan | None = None,
                   rows: Mapping[str, StepRow] | None = None) -> str:
    lines = []
    for name, (old, new) in params.items():
        lines += [f"  run input {change}" for change in diff_values(old, new, f"{name}.")]
    for d in drifts:
        for name, (old, new) in d.changes().items():
            lines += [f"  step {d.step_id}: {change}" for change in diff_values(old, new, f"{name}.")]
    if plan is not None and rows is not None and drifts:
        choice = plan.drift_choices([d.step_id for d in drifts], rows)
        done = {sid for sid, row in rows.items() if row.status == DONE}
        for d in drifts:
            after = [s for s in plan.descendants(d.step_id) if s in done]
            what = "re-run" if d.step_id in choice["rerun"] else "keep its result (re-stamped)"
            lines.append(f"  affects {d.step_id}" + (f" and the finished steps after it: {', '.join(after)}"
                                                      if after else "") + f"; on accepting: {what}")
    return "\n".join(lines)


def refuse_drift(drifts: list[Drift], params: Mapping[str, tuple[Any, Any]], plan: Plan | None = None,
                 rows: Mapping[str, StepRow] | None = None) -> UsageError:
    return UsageError("the inputs changed since this run started:\n" + describe_drift(drifts, params, plan, rows),
                      hint="pass --accept-changes to continue with the new inputs (each affected step keeps its "
                           "result or re-runs, as shown), --redo STEP to do a kept step again, or --fresh to start "
                           "a new run")
