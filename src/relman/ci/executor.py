"""The executor interface: where build jobs run.

A build job is a command line with an output folder. The release DAG hands jobs to an
executor and gets back results; it does not care whether they ran as local processes or on
Buildbot workers. Each executor implements `Executor.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


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


# on_event(job_id, kind, message): kind is "started", "log", "finished".
EventCallback = Callable[[str, str, str], None]


class Executor(Protocol):
    name: str

    def run(self, jobs: Sequence[BuildJob], *, on_event: EventCallback | None = None) -> dict[str, JobResult]:
        """Run the jobs, respecting deps, in parallel where possible; never raise for a failed job."""
        ...
