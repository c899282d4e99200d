"""The local executor: build jobs as parallel processes on this machine.

Jobs start as soon as their dependencies succeeded (at most `max_parallel` at once), each
with its own log file (`<log_dir>/<job id>.log`, stdout and stderr together), its own process
group (a timeout kills the job and anything it started), and its declared outputs checked
afterwards. A job whose dependency failed is not run and says why. `run` never raises for a
failed job: every job gets a `JobResult`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .executor import BuildJob, EventCallback, JobResult, check_jobs, collect_outputs, safe_emitter

TAIL_LINES = 30


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalExecutor:
    name = "local"

    def __init__(self, *, max_parallel: int | None = None, log_dir: Path | None = None, poll: float = 0.05):
        self.max_parallel = max(1, max_parallel or os.cpu_count() or 2)
        self.log_dir = Path(log_dir) if log_dir else None
        self.poll = poll

    def _log_path(self, job: BuildJob) -> Path:
        folder = self.log_dir or job.output_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{job.id}.log"

    def run(self, jobs: Sequence[BuildJob], *, on_event: EventCallback | None = None) -> dict[str, JobResult]:
        emit = safe_emitter(on_event)
        results: dict[str, JobResult] = {}
        by_id, blocked = check_jobs(jobs)
        for job_id, reason in blocked.items():
            results[job_id] = JobResult(job_id, False, None, None, [], 0.0, error=reason, where="local")
        running: dict[str, tuple[subprocess.Popen, float, Path, object]] = {}
        lock = threading.Lock()

        def finish(job: BuildJob, result: JobResult) -> None:
            with lock:
                results[job.id] = result
            emit(job.id, "finished", "ok" if result.ok else (result.error or "failed").splitlines()[0])

        while len(results) < len(by_id):
            progressed = False
            # dependency failures propagate
            for job in by_id.values():
                if job.id in results or job.id in running:
                    continue
                failed = [d for d in job.deps if d in results and not results[d].ok]
                if failed:
                    finish(job, JobResult(job.id, False, None, None, [], 0.0,
                                          error=f"not run: dependency {', '.join(failed)} failed", where="local"))
                    progressed = True
            # start ready jobs
            for job in by_id.values():
                if len(running) >= self.max_parallel:
                    break
                if job.id in results or job.id in running:
                    continue
                if all(d in results and results[d].ok for d in job.deps):
                    started = self._start(job, emit)
                    if isinstance(started, JobResult):
                        finish(job, started)
                    else:
                        running[job.id] = started
                    progressed = True
            # reap finished or timed-out jobs
            for job_id in list(running):
                proc, t0, log_path, handle = running[job_id]
                job = by_id[job_id]
                code = proc.poll()
                elapsed = time.monotonic() - t0
                if code is None and elapsed > job.timeout:
                    self._kill(proc)
                    code = proc.wait()
                    handle.close()  # type: ignore[attr-defined]
                    del running[job_id]
                    finish(job, JobResult(job_id, False, code, log_path, [], elapsed,
                                          error=f"timed out after {job.timeout:.0f} s\n{_tail(log_path)}",
                                          where=f"local pid {proc.pid}"))
                    progressed = True
                elif code is not None:
                    handle.close()  # type: ignore[attr-defined]
                    del running[job_id]
                    finish(job, self._result(job, proc, code, log_path, elapsed))
                    progressed = True
            if not progressed:
                if not running:
                    # nothing runs and nothing can start: a dependency cycle
                    for job in by_id.values():
                        if job.id not in results:
                            finish(job, JobResult(job.id, False, None, None, [], 0.0,
                                                  error="not run: dependency cycle", where="local"))
                    break
                time.sleep(self.poll)
        return {job.id: results[job.id] for job in jobs if job.id in results}

    def _start(self, job: BuildJob, emit) -> tuple[subprocess.Popen, float, Path, object] | JobResult:
        log_path = self._log_path(job)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        handle = open(log_path, "w")
        handle.write(f"$ {' '.join(job.argv)}\n")
        handle.flush()
        try:
            proc = subprocess.Popen(list(job.argv), cwd=job.cwd, env={**os.environ, **job.env}, stdout=handle,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            handle.write(f"cannot start: {exc}\n")
            handle.close()
            return JobResult(job.id, False, None, log_path, [], 0.0, error=f"cannot start {job.argv[0]}: {exc}",
                             where="local")
        emit(job.id, "started", f"local pid {proc.pid}: {' '.join(job.argv)}")
        return proc, time.monotonic(), log_path, handle

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @staticmethod
    def _result(job: BuildJob, proc: subprocess.Popen, code: int, log_path: Path, elapsed: float) -> JobResult:
        where = f"local pid {proc.pid}"
        outputs, missing = collect_outputs(job)
        if code != 0:
            return JobResult(job.id, False, code, log_path, outputs, elapsed,
                             error=f"exited {code}\n{_tail(log_path)}", where=where)
        if missing:
            return JobResult(job.id, False, code, log_path, outputs, elapsed,
                             error=f"finished but produced no {', '.join(missing)} in {job.output_dir}", where=where)
        return JobResult(job.id, True, code, log_path, outputs, elapsed, where=where)
