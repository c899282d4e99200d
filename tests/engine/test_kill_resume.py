"""SIGKILL at random points, then resume: every step completes once, none is repeated."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from relman.engine import Journal

from .kill_workflow import STEPS

SCRIPT = Path(__file__).with_name("kill_workflow.py")


def test_sigkill_at_random_points_resumes_to_completion(tmp_path):
    rng = random.Random(20261124)
    kills = 0
    for _ in range(8):  # interrupt it a few times at random moments…
        proc = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path)])
        try:
            proc.wait(timeout=rng.uniform(0.2, 0.7))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, "a resumed run must finish cleanly"
        break
    # …then let it finish.
    final = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], timeout=120)
    assert final.returncode == 0
    assert kills >= 2, "the test should really interrupt the run"

    journal = Journal(tmp_path / "state.db")
    (run,) = journal.runs("kill-test")
    steps = journal.steps(run.id)
    assert run.status == "done"
    assert all(s.status == "done" for s in steps.values()) and len(steps) == STEPS
    for step_id in steps:
        outcomes = [a["outcome"] for a in journal.attempts(run.id, step_id)]
        finished = [o for o in outcomes if o in ("done", "already-done")]
        assert len(finished) == 1, f"{step_id} completed more than once: {outcomes}"
        assert "failed" not in outcomes, f"{step_id} ran its action twice: {outcomes}"
    assert journal.verify_chain(run.id) == []
    assert len(list((tmp_path / "markers").iterdir())) == STEPS
