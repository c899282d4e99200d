"""A workflow run in a subprocess by test_kill_resume: killed with SIGKILL, then resumed.

Each step's action creates its marker file with O_EXCL, so an action that ran to completion
twice would fail loudly; each step's probe reports the marker, so work that finished just
before a kill is recognised instead of repeated.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from relman.engine import Journal, Plan, Runner, Step, run_lock

STEPS = 40


def build_steps(markers: Path) -> list[Step]:
    rng = random.Random(7)
    steps = []
    for i in range(STEPS):
        deps = tuple(sorted({f"s{rng.randrange(i)}" for _ in range(rng.randint(0, 2))})) if i else ()

        def action(ctx, i=i):
            time.sleep(random.uniform(0.05, 0.1))
            fd = os.open(markers / f"s{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.close(fd)
            return {"step": i}

        def probe(ctx, i=i):
            return {"step": i, "probed": True} if (markers / f"s{i}").exists() else None

        steps.append(Step(f"s{i}", f"step {i}", action, deps=deps, probe=probe))
    return steps


def main(state: Path) -> int:
    markers = state / "markers"
    markers.mkdir(parents=True, exist_ok=True)
    with run_lock(state, "kill-test"):
        journal = Journal(state / "state.db")
        runner = Runner(journal, Plan.build("kill", build_steps(markers), {}), key="kill-test", max_parallel=2)
        latest = journal.latest_run("kill-test")
        run_id = latest.id if latest else runner.create_run()
        return runner.execute(run_id).exit_code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
