"""The executor interface: where build jobs run.

A build job is a command line with an output folder. The release DAG hands jobs to an
executor and gets back results; it does not care whether they ran as local processes or on
Buildbot workers. Each executor implements `Executor.run`.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class BuildJob:
    id: str                          # "build-source", "test-source", "build-docs"
    argv: tuple[str, ...]            # the command to run
    cwd: Path                        # where it runs (on a worker: relative to its build dir)
    output_dir: Path                 # where the job writes what it produces
    outputs: tuple[str, ...] = ()    # glob patterns, relative to output_dir, that must exist afterwards
    env: dict[str, str] = field(default_factory=dict)
    deps: tuple[str, ...] = ()       # ids of jobs that must succeed first
    timeout: float = 1800.0
    # Remote workers (executors whose `shares_filesystem` is False) see none of this machine's
    # paths: the job writes into worker_output_dir (relative to the worker's build folder) and the
    # files come back into output_dir; worker_input is (a file the executor already holds, e.g.
    # "relman-jobs/7/x.tgz" of an earlier job's outputs; where the job finds it on the worker).
    worker_output_dir: str | None = None
    worker_input: tuple[str, str] | None = None
    worker: str | None = None        # run on this worker only (executors with several workers)


@dataclass
class JobResult:
    id: str
    ok: bool
    returncode: int | None
    log_path: Path | None
    outputs: list[Path]
    duration_s: float
    error: str | None = None         # for people: what failed, with the tail of the log
    where: str | None = None         # "local pid 1234", "buildbot: AMD64 Ubuntu build #7"
    info: dict[str, Any] = field(default_factory=dict)   # executor facts: worker, build URL, drop copy…


# on_event(job_id, kind, message): kind is "started", "log", "finished".
EventCallback = Callable[[str, str, str], None]


class Executor(Protocol):
    name: str

    def run(self, jobs: Sequence[BuildJob], *, on_event: EventCallback | None = None) -> dict[str, JobResult]:
        """Run the jobs, respecting deps, in parallel where possible; never raise for a failed job."""
        ...


def safe_emitter(on_event: EventCallback | None) -> EventCallback:
    """Wrap a display callback so that it can never stop a build."""
    def emit(job_id: str, kind: str, message: str) -> None:
        if on_event is not None:
            try:
                on_event(job_id, kind, message)
            except Exception:  # noqa: BLE001 - a display callback never stops the build
                pass
    return emit


def check_jobs(jobs: Sequence[BuildJob]) -> tuple[dict[str, BuildJob], dict[str, str]]:
    """The jobs by id, and why some can never run: a duplicate id, an unknown dependency, a cycle."""
    by_id: dict[str, BuildJob] = {}
    blocked: dict[str, str] = {}
    for job in jobs:
        if job.id in by_id:
            blocked[job.id] = f"duplicate job id {job.id!r}"
            continue
        by_id[job.id] = job
    for job in by_id.values():
        unknown = [d for d in job.deps if d not in by_id]
        if unknown:
            blocked.setdefault(job.id, f"unknown dependency {', '.join(unknown)}")
    for job_id in jobs_in_cycles({j.id: [d for d in j.deps if d in by_id] for j in by_id.values()}):
        blocked.setdefault(job_id, "not run: dependency cycle")
    return by_id, blocked


def jobs_in_cycles(graph: Mapping[str, Sequence[str]]) -> set[str]:
    """Nodes that can never run: on a dependency cycle, or depending on one (Kahn's algorithm)."""
    waiting = {node: len(set(deps)) for node, deps in graph.items()}
    users: dict[str, list[str]] = {}
    for node, deps in graph.items():
        for dep in set(deps):
            users.setdefault(dep, []).append(node)
    ready = [node for node, count in waiting.items() if count == 0]
    while ready:
        node = ready.pop()
        for user in users.get(node, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return {node for node, count in waiting.items() if count > 0}


def collect_outputs(job: BuildJob) -> tuple[list[Path], list[str]]:
    """The files the job's output patterns match, and the patterns that matched nothing."""
    outputs: list[Path] = []
    missing: list[str] = []
    for pattern in job.outputs:
        found = sorted(Path(p) for p in glob.glob(str(job.output_dir / pattern)))
        if found:
            outputs.extend(found)
        else:
            missing.append(pattern)
    return outputs, missing
