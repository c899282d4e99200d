"""What people see: the live checklist (with waiting lines and progress bars) and plain lines."""

from __future__ import annotations

import io

from rich.console import Console

from relman.engine import Journal, Plan, Runner, Step
from relman.engine.display import LiveDisplay, PlainDisplay


def test_live_checklist_shows_icons_waiting_lines_and_progress(tmp_path):
    console = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
    display = LiveDisplay(console)

    def waits(ctx):
        calls = {"n": 0}

        def ready():
            calls["n"] += 1
            return calls["n"] >= 4
        ctx.log("asking the drop folder for the Windows installer")
        ctx.wait_for(ready, what="the Windows installer", timeout=30, interval=0.05)
        return {}

    def fails(ctx):
        raise RuntimeError("boom")

    steps = [Step("wait", "wait for a hand-off", waits), Step("bad", "a step that fails", fails),
             Step("after", "after the failure", lambda ctx: {}, deps=("bad",)),
             Step("never", "condition false", lambda ctx: {}, condition=lambda p: False)]
    journal = Journal(tmp_path / "state.db")
    runner = Runner(journal, Plan.build("t", steps, {}), key="t", observer=display)
    run_id = runner.create_run()

    rendered = []
    original = display.progress

    def progress(step_id, done, total, label):
        original(step_id, done, total, label)
        probe = Console(file=io.StringIO(), width=100, record=True, force_terminal=True)
        probe.print(display._render())
        rendered.append(probe.export_text())

    display.progress = progress
    result = runner.execute(run_id)
    assert result.status == "failed"
    during = rendered[-1]
    assert "⏳ wait" in during and "waiting for the Windows installer" in during and "━" in during
    final = Console(file=io.StringIO(), width=100, record=True)
    final.print(display._render())
    text = final.export_text()
    assert "✅ wait" in text and "💥 bad" in text and "· " in text and "⏭" in text
    assert "boom" in text


def test_plain_lines_when_not_a_terminal(tmp_path):
    out = io.StringIO()
    journal = Journal(tmp_path / "state.db")
    steps = [Step("one", "first", lambda ctx: ctx.log("hello") or {}), Step("two", "second", lambda ctx: {},
                                                                           deps=("one",))]
    runner = Runner(journal, Plan.build("t", steps, {}), key="t", observer=PlainDisplay(out))
    runner.execute(runner.create_run())
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("starting run 1")
    assert "   one: hello" in lines and any(line.startswith("✅ one") for line in lines)
    assert lines[-1].startswith("✅ run 1 finished")
    assert "\x1b[" not in out.getvalue()
