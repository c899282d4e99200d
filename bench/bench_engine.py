"""Engine overhead: 200 no-op steps in a chain and in parallel; resume of a 200-step run.

Targets (PRODUCT.md): 200 no-op steps < 1 s; resume of a 200-step run with 199 done
< 0.3 s to start the last step. The peer is CPython's run_release.py model — a pickled
shelve rewritten after every task — measured beside us on the same 200 no-op tasks.
"""

from __future__ import annotations

import shelve
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402

from relman.engine import Journal, Plan, Runner, Step  # noqa: E402
from relman.engine.runner import Observer, run_lock  # noqa: E402
from relman.errors import StepFailed  # noqa: E402

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
    """An unfinished 200-step run (the last step failed, 199 done): from opening the journal —
    with the run lock taken, the checkout's HEAD read through git as a release session does, and
    the journal's hash chain verified — to the failed step starting again."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        repo = state / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "x"],
                       cwd=repo, check=True)
        fixed = state / "fixed"

        def flaky(ctx):
            if not fixed.exists():
                raise StepFailed("the last step fails on the first run")
            return {}

        steps = chain_steps()
        steps[-1] = Step(steps[-1].id, steps[-1].description, flaky, deps=steps[-1].deps)
        journal = Journal(state / "state.db")
        first = Runner(journal, Plan.build("bench", steps, {}), key="bench")
        run_id = first.create_run()
        assert first.execute(run_id).status == "failed"
        journal.close()
        fixed.touch()
        started = time.perf_counter()
        with run_lock(state, "bench"):
            journal = Journal(state / "state.db")
            subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True)
            broken = journal.verify_chain(run_id)
            assert not broken, broken
            observer = FirstStart()
            runner = Runner(journal, Plan.build("bench", steps, {}), key="bench", observer=observer)
            runner.drift(run_id)
            result = runner.execute(run_id)
            assert result.status == "done"
            journal.close()
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
    print(f"resume, 199 of 200 done:       {resume:.3f} s to restart the failed last step (target < 0.3 s)")
    print(f"peer: shelve checkpoints, 200 tasks, no journal, no parallelism: {peer:.3f} s")
    write_section("engine overhead", headline=(
        f"**engine**: 200 no-op steps in {chain:.2f} s (chain) and {parallel:.2f} s (parallel); an unfinished "
        f"200-step run resumes to its failed step in {resume * 1000:.0f} ms (targets < 1 s and < 0.3 s)"), body=f"""
| measurement | relman | target | verdict |
|---|---|---|---|
| 200 no-op steps, chain (journaled: attempts, events, hash chain) | {chain:.3f} s | < 1 s | {"met" if chain < 1 else "MISSED"} |
| 200 no-op steps, parallel | {parallel:.3f} s | < 1 s | {"met" if parallel < 1 else "MISSED"} |
| resume of an unfinished 200-step run (last step failed, 199 done): lock, open journal, read HEAD with git, verify the hash chain, drift check → the failed step starts again | {resume:.3f} s | < 0.3 s | {"met" if resume < 0.3 else "MISSED"} |

Peer, same run: CPython's `run_release.py` state model (a shelve holding the pickled list of
completed tasks, checkpointed around every task) on 200 no-op tasks: {peer:.3f} s — without
parallelism, per-step attempts, outputs, an event log or resume by step id. Medians of {REPEAT}.
""")


if __name__ == "__main__":
    main()
