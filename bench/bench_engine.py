"""Engine overhead: 200 no-op steps in a chain and in parallel; resume of a 200-step run.

Targets (PRODUCT.md): 200 no-op steps < 1 s; resume of a 200-step run with 199 done
< 0.3 s to start the last step. The peer is CPython's run_release.py model — a pickled
shelve rewritten after every task — measured beside us on the same 200 no-op tasks.
"""

from __future__ import annotations

import shelve
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402

from relman.engine import Journal, Plan, Runner, Step  # noqa: E402
from relman.engine.runner import Observer  # noqa: E402

N = 200
REPEAT = 5


def noop(ctx):
    return {}


def chain_steps():
    return [Step(f"s{i}", f"step {i}", noop, deps=(f"s{i - 1}",) if i else ()) for i in range(N)]


def parallel_steps():
    return [Step(f"s{i}", f"step {i}", noop) for i in range(N)]


def run_fresh(steps) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "state.db")
        runner = Runner(journal, Plan.build("bench", steps, {}), key="bench")
        started = time.perf_counter()
        result = runner.execute(runner.create_run())
        took = time.perf_counter() - started
        assert result.status == "done"
        journal.close()
        return took


class FirstStart(Observer):
    def __init__(self):
        self.at = None

    def step_status(self, step_id, status, info=""):
        if self.at is None and status == "running":
            self.at = time.perf_counter()


def resume_to_last_step() -> float:
    """A 200-step run with 199 done: from opening the journal to starting the last step."""
    with tempfile.TemporaryDirectory() as tmp:
        steps = chain_steps()
        gate_free = steps[:-1]
        journal = Journal(Path(tmp) / "state.db")
        first = Runner(journal, Plan.build("bench", gate_free, {}), key="bench")
        run_id = first.create_run()
        first.execute(run_id)
        journal.close()
        started = time.perf_counter()
        journal = Journal(Path(tmp) / "state.db")
        observer = FirstStart()
        runner = Runner(journal, Plan.build("bench", steps, {}), key="bench", observer=observer)
        runner.drift(run_id)
        result = runner.execute(run_id)
        assert result.status == "done"
        return observer.at - started


def shelve_peer() -> float:
    """run_release.py's model: checkpoint the pickled task list in a shelve before every task."""
    with tempfile.TemporaryDirectory() as tmp:
        tasks = [(f"task{i}", noop) for i in range(N)]
        started = time.perf_counter()
        with shelve.open(str(Path(tmp) / "release")) as db:
            db["completed_tasks"] = []
            for name, fn in tasks:
                db["completed_tasks"] = db["completed_tasks"]  # checkpoint, as run_release does
                fn(None)
                done = db["completed_tasks"]
                done.append(name)
                db["completed_tasks"] = done
        return time.perf_counter() - started


def median(fn, *args) -> float:
    return statistics.median(fn(*args) for _ in range(REPEAT))


def main() -> None:
    chain = median(run_fresh, chain_steps())
    parallel = median(run_fresh, parallel_steps())
    resume = median(resume_to_last_step)
    peer = median(shelve_peer)
    print(f"200 no-op steps in a chain:    {chain:.3f} s (target < 1 s)")
    print(f"200 no-op steps in parallel:   {parallel:.3f} s (target < 1 s)")
    print(f"resume, 199 of 200 done:       {resume:.3f} s to start the last step (target < 0.3 s)")
    print(f"peer: shelve checkpoints, 200 tasks, no journal, no parallelism: {peer:.3f} s")
    write_section("engine overhead", f"""
| measurement | relman | target | verdict |
|---|---|---|---|
| 200 no-op steps, chain (journaled: attempts, events, hash chain) | {chain:.3f} s | < 1 s | {"met" if chain < 1 else "MISSED"} |
| 200 no-op steps, parallel | {parallel:.3f} s | < 1 s | {"met" if parallel < 1 else "MISSED"} |
| resume of a 200-step run, 199 done: open journal → last step starts | {resume:.3f} s | < 0.3 s | {"met" if resume < 0.3 else "MISSED"} |

Peer, same run: CPython's `run_release.py` state model (a shelve holding the pickled list of
completed tasks, checkpointed around every task) on 200 no-op tasks: {peer:.3f} s — without
parallelism, per-step attempts, outputs, an event log or resume by step id. Medians of {REPEAT}.
""")


if __name__ == "__main__":
    main()
