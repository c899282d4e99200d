"""What a person sees while a run goes: a live checklist on a terminal, plain lines otherwise,
nothing but the final JSON document with `--json`.

✅ done   ⏳ running   ⏸ waiting at a gate   💥 failed   ⏭ skipped   · pending
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .journal import DONE, FAILED, PAUSED, PENDING, RUNNING, SKIPPED
from .plan import Plan
from .runner import Observer, RunResult
from .step import Gate, Step

ICONS = {DONE: "✅", RUNNING: "⏳", PAUSED: "⏸ ", FAILED: "💥", SKIPPED: "⏭ ", PENDING: "· "}


class QuietDisplay(Observer):
    """For --json: the command prints one document at the end; nothing else on stdout."""


class PlainDisplay(Observer):
    """One line per change, for logs and pipes."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stdout
        self.clock = StepClock()
        self.lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def run_started(self, run_id, plan, statuses, resumed):
        done = sum(1 for s in statuses.values() if s == DONE)
        skipped = sum(1 for s in statuses.values() if s == SKIPPED)
        verb = "resuming" if resumed else "starting"
        counts = [f"{done} already done"] if done else []
        counts += [f"{skipped} skipped (their condition does not hold)"] if skipped else []
        self._say(f"{verb} run {run_id} ({plan.name}): {len(plan.steps)} steps"
                  + (", " + ", ".join(counts) if counts else ""))

    def step_status(self, step_id, status, info=""):
        self.clock.status(step_id, status)
        if status == RUNNING:
            if info:
                self._say(f"{ICONS[RUNNING]} {step_id}: {info}")
            return
        took = ""
        if status in (DONE, FAILED) and self.clock.ran(step_id) is not None:
            took = f" ({self.clock.describe(step_id)})"
        suffix = f" — {info}" if info else ""
        self._say(f"{ICONS.get(status, '?')} {step_id}{took}{suffix}")

    def waiting(self, step_id, seconds):
        self.clock.waited(step_id, seconds)

    def notice(self, message):
        self._say(message)

    def log(self, step_id, message):
        self._say(f"   {step_id}: {message}")

    def run_finished(self, result: RunResult):
        self._say(summary_line(result))


class LiveDisplay(Observer):
    """A live checklist with waiting lines and progress bars, redrawn in place on a terminal."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console()
        self.plan: Plan | None = None
        self.status: dict[str, str] = {}
        self.info: dict[str, str] = {}
        self.clock = StepClock()
        self.notices: list[str] = []
        self.bars: dict[str, tuple[float, float | None, str]] = {}
        self.live: Live | None = None
        self.run_id = 0

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=2)
        table.add_column()
        table.add_column(style="dim")
        now = time.monotonic()
        phase = None
        for sid, step in grouped_by_phase(self.plan):
            if step.phase != phase:
                phase = step.phase
                table.add_row("", Text(phase, style="bold underline"), "")
            st = self.status.get(sid, PENDING)
            timing = self.clock.describe(sid, now) if self.clock.ran(sid, now) is not None else ""
            label = Text(f"{sid}  ", style="bold" if st == RUNNING else "")
            label.append(step.description, style="dim")
            if self.info.get(sid) and st in (RUNNING, PAUSED, FAILED):
                label.append(f"\n   {self.info[sid]}", style={"failed": "red", "paused": "yellow"}.get(st, "cyan"))
            table.add_row(ICONS.get(st, "?"), label, timing)
            if st == RUNNING and sid in self.bars:
                done, total, text = self.bars[sid]
                if total:
                    table.add_row("", Group(Text(f"{text}: {done:.0f}/{total:.0f}", style="cyan"),
                                            ProgressBar(total=total, completed=done, width=40)), "")
        counts = {k: sum(1 for v in self.status.values() if v == k) for k in ICONS}
        version = self.plan.params.get("version") if self.plan is not None else None
        name = f"relman run {self.run_id}" + (f" — {version}" if version else "")
        head = Text(f"{name}: {counts[DONE]}/{len(self.status) - counts[SKIPPED]} done"
                    + (f", {counts[SKIPPED]} skipped" if counts[SKIPPED] else ""), style="bold")
        notes = [Text(n, style="yellow") for n in self.notices[-3:]]
        return Group(head, *notes, table)

    def run_started(self, run_id, plan, statuses, resumed):
        self.plan, self.run_id = plan, run_id
        self.status = dict(statuses)
        self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                         get_renderable=self._render, transient=False)
        self.live.start()

    def step_status(self, step_id, status, info=""):
        self.clock.status(step_id, status)
        self.status[step_id] = status
        self.info[step_id] = info

    def waiting(self, step_id, seconds):
        self.clock.waited(step_id, seconds)

    def notice(self, message):
        self.notices.append(message)
        if self.live is None:
            self.console.print(message, style="yellow")

    def log(self, step_id, message):
        self.info[step_id] = message.splitlines()[-1] if message else ""

    def progress(self, step_id, done, total, label):
        self.bars[step_id] = (done, total, label)

    def prompt(self, gate: Gate, step: Step, detail: str) -> bool | None:
        if self.live:
            self.live.stop()
        try:
            return ask_gate(gate, step, detail, self.console)
        finally:
            if self.live:
                self.live.start()

    def run_finished(self, result: RunResult):
        if self.live:
            self.live.stop()
        self.console.print(summary_line(result))


class StepClock:
    """How long each step really ran (time spent waiting at a gate is not counted, it is
    shown apart): a step's clock runs only while it is RUNNING."""

    def __init__(self) -> None:
        self.since: dict[str, float] = {}
        self.total: dict[str, float] = {}
        self.wait: dict[str, float] = {}

    def status(self, step_id: str, status: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if status == RUNNING:
            self.since.setdefault(step_id, now)
        elif step_id in self.since:
            self.total[step_id] = self.total.get(step_id, 0.0) + now - self.since.pop(step_id)

    def waited(self, step_id: str, seconds: float) -> None:
        self.wait[step_id] = self.wait.get(step_id, 0.0) + seconds

    def ran(self, step_id: str, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if step_id not in self.since and step_id not in self.total:
            return None
        return self.total.get(step_id, 0.0) + (now - self.since[step_id] if step_id in self.since else 0.0)

    def describe(self, step_id: str, now: float | None = None) -> str:
        ran = self.ran(step_id, now) or 0.0
        text = f"{ran:.2f} s"
        if self.wait.get(step_id):
            text += f", waited {self.wait[step_id]:.1f} s for approval"
        return text


def grouped_by_phase(plan: Plan | None) -> list[tuple[str, Step]]:
    """The plan's steps, phases in order of first appearance, steps in plan order within each."""
    if plan is None:
        return []
    order: dict[str, int] = {}
    for step in plan.steps.values():
        order.setdefault(step.phase, len(order))
    items = list(plan.steps.items())
    return sorted(items, key=lambda item: order[item[1].phase])  # stable: plan order within a phase


def ask_gate(gate: Gate, step: Step, detail: str, console: Console) -> bool | None:
    """Ask y/yes/n/no on the terminal; None when there is no answer (end of input)."""
    console.print(f"\n[bold yellow]⏸  gate {escape(gate.id)}[/] — {escape(step.description)}")
    for effect in step.effects:
        style = "bold red" if effect.kind == "irreversible" else ""
        console.print(f"   effect ({effect.kind}): {escape(effect.what)}", style=style)
    for line in detail.splitlines():
        console.print(f"   {escape(line)}")
    while True:
        try:
            answer = console.input(escape(f"   {gate.question} [y/yes/n/no] ")).strip().lower()
        except EOFError:
            return None
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        console.print("   please answer y, yes, n or no")


class PromptingPlainDisplay(PlainDisplay):
    def prompt(self, gate, step, detail):
        return ask_gate(gate, step, detail, Console(file=self.stream))


def summary_line(result: RunResult) -> str:
    if result.status == "done":
        return f"✅ run {result.run_id} finished in {result.wall_s:.1f} s"
    if result.status == "paused":
        gates = ", ".join(g for _, g in result.paused)
        return (f"⏸  run {result.run_id} paused at gate(s) {gates}: approve with --approve {gates.replace(' ', '')}"
                " (or answer interactively) and run the same command again")
    steps = ", ".join(result.failed) or "a dependency"
    return f"💥 run {result.run_id} failed at {steps}: fix the cause and run the same command again to resume"


def choose_display(as_json: bool, interactive: bool) -> Observer:
    if as_json:
        return QuietDisplay()
    if sys.stdout.isatty():
        return LiveDisplay()
    return PromptingPlainDisplay() if interactive else PlainDisplay()
