"""Run the demo and SIGKILL it at the first not-yet-visited point of a list (used by
test_crash_converges.py). Points:

  STEP:start / STEP:end   the step was journaled as started / as done
  job:JOB                 a build job was started (it outlives relman: its own session)
  commit:STEP             inside `git commit` of STEP: git is killed too, holding index.lock
  checkout:STEP           inside the `git checkout` of STEP: git killed half-way through
  push:STEP               while the remote receives STEP's push

Usage: crash_driver.py ROOT POINTS_FILE VISITED_FILE
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from relman.demo.rehearsal import prepare, run_demo
from relman.engine.runner import Observer

root, points_file, visited_file = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
points = json.loads(points_file.read_text())
visited = set(visited_file.read_text().split()) if visited_file.exists() else set()
os.environ["CRASH_PID"] = str(os.getpid())
ARMED = root / "armed"


def visit(point: str) -> None:
    with open(visited_file, "a") as handle:
        handle.write(point + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def die(point: str) -> None:
    visit(point)
    os.kill(os.getpid(), signal.SIGKILL)


def next_point(*candidates: str) -> str | None:
    return next((p for p in points if p not in visited and p in candidates), None)


class Killer(Observer):
    armed = False

    def step_status(self, step_id, status, info=""):
        if status == "running" and info in ("", "probing", "checking again"):
            point = next_point(f"{step_id}:start")
            if point:
                die(point)
            for kind in ("commit", "checkout", "push"):
                point = next_point(f"{kind}:{step_id}")
                if point and not self.armed:
                    self.armed = True
                    visit(point)
                    if kind == "checkout":          # every file git writes goes through the filter
                        (root / "cpython" / ".git" / "info" / "attributes").write_text("* filter=crash\n")
                    ARMED.write_text(kind)          # the git hook or filter kills us (and git)
        elif status == "done":
            point = next_point(f"{step_id}:end")
            if point:
                die(point)

    def log(self, step_id, message):
        for point in points:
            if point.startswith("job:") and point not in visited and message.startswith(point[4:] + " started"):
                die(point)


prepare(root, None, False)
outcome = run_demo(root, observer=Killer())
print(json.dumps({"status": outcome.result.status, "run_id": outcome.result.run_id}))
