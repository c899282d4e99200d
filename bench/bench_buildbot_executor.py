"""The Buildbot executor next to the local executor, on the same jobs.

Two workloads, each run by `LocalExecutor(max_parallel=2)` and by `BuildbotExecutor` on a real
master with two real workers (127.0.0.1):

- 12 trivial jobs (write a file): the per-job overhead of going through Buildbot (force, claim,
  three steps, upload, log fetch over REST);
- 6 jobs of 1 s each, in a chain of 2 and 4 independent ones: how much of the parallelism
  survives.

Run from the repository root: .venv/bin/python bench/bench_buildbot_executor.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench.results import write_section  # noqa: E402
from relman.ci.buildbot_release import start_release_buildbot  # noqa: E402
from relman.ci.executor import BuildJob  # noqa: E402
from relman.ci.local import LocalExecutor  # noqa: E402

WRITE = "import pathlib, sys; pathlib.Path(sys.argv[1], 'out.txt').write_text('x'); print('done')"
SLEEP = "import pathlib, sys, time; time.sleep(1); pathlib.Path(sys.argv[1], 'out.txt').write_text('x')"


def trivial(root: Path, n: int = 12) -> list[BuildJob]:
    return [BuildJob(f"t{i}", (sys.executable, "-c", WRITE, str(root / f"t{i}")), cwd=root,
                     output_dir=root / f"t{i}", outputs=("out.txt",)) for i in range(n)]


def sleepers(root: Path) -> list[BuildJob]:
    jobs = [BuildJob("s0", (sys.executable, "-c", SLEEP, str(root / "s0")), cwd=root, output_dir=root / "s0"),
            BuildJob("s1", (sys.executable, "-c", SLEEP, str(root / "s1")), cwd=root, output_dir=root / "s1",
                     deps=("s0",))]
    jobs += [BuildJob(f"p{i}", (sys.executable, "-c", SLEEP, str(root / f"p{i}")), cwd=root,
                      output_dir=root / f"p{i}") for i in range(4)]
    return jobs


def timed(executor, jobs) -> tuple[float, dict]:
    t0 = time.perf_counter()
    results = executor.run(jobs)
    wall = time.perf_counter() - t0
    bad = [r.error for r in results.values() if not r.ok]
    assert not bad, bad
    return wall, results


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        with start_release_buildbot(tmp_path / "bb", workers=2) as bb:
            startup = time.perf_counter() - t0
            for name, make in (("12 trivial jobs", trivial), ("6 × 1 s jobs (chain of 2 + 4 independent)", sleepers)):
                local_walls, bb_walls = [], []
                for rep in range(2):
                    local_walls.append(timed(LocalExecutor(max_parallel=2), make(tmp_path / f"l-{name[:2]}-{rep}"))[0])
                    bb_walls.append(timed(bb.executor(poll=0.1), make(tmp_path / f"b-{name[:2]}-{rep}"))[0])
                rows.append((name, statistics.median(local_walls), statistics.median(bb_walls)))
    lines = ["| workload | local (2 parallel) | Buildbot (2 workers) |", "|---|---:|---:|"]
    lines += [f"| {name} | {lw:.2f} s | {bw:.2f} s |" for name, lw, bw in rows]
    per_job = (rows[0][2] - rows[0][1]) / 12 * 2
    body = "\n".join(lines) + (
        f"\n\nStarting the master and two workers: {startup:.1f} s. Overhead of Buildbot per trivial job "
        f"(per worker slot): ≈ {per_job:.2f} s (force, claim, mkdir/job/upload steps, REST log fetch; poll 0.1 s). "
        f"Medians of 2 runs; {os.cpu_count()} cores shared with the master, the workers and the jobs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other work on the machine inflates the Buildbot column). "
        "Most of a Buildbot job's overhead is the master's (worker_preparation ≈ 1 s per build); relman polls "
        "every running request in one REST round (2 requests) per poll interval.")
    print(body)
    write_section("Buildbot executor vs local executor", body)


if __name__ == "__main__":
    main()
