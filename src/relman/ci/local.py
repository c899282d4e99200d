"""The local executor: build jobs as parallel processes on this machine.

Jobs start as soon as their dependencies succeeded (at most `max_parallel` at once), each
with its own log file (`<log_dir>/<job id>.log`, stdout and stderr together), its own process
group (a timeout kills the job and anything it started), and its declared outputs checked
afterwards. A job whose dependency failed is not run and says why. `run` never raises for a
failed job: every job gets a `JobResult` — except when the step running them is stopped
(timeout, Ctrl-C): then every job's whole process group is stopped and `Cancelled` raised.

Each running job is recorded (`<log_dir>/jobs/<job id>.json`: its process group id and
command) until it ended, so a run resumed after relman itself was killed first stops the jobs
that outlived it (`recover_interrupted`) instead of building into the same folders beside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import procs
from ..errors import Cancelled
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

    def _record_dir(self, job: BuildJob) -> Path:
        return (self.log_dir or job.output_dir) / "jobs"

    def _record(self, job: BuildJob, pgid: int) -> None:
        folder = self._record_dir(job)
        folder.mkdir(parents=True, exist_ok=True)
        data = {"job": job.id, "pgid": pgid, "argv": list(job.argv), "output_dir": str(job.output_dir),
                "started": time.time()}
        temp = folder / f"{job.id}.json.tmp"
        temp.write_text(json.dumps(data))
        os.replace(temp, folder / f"{job.id}.json")

    def _forget(self, job: BuildJob, pgid: int) -> None:
        procs.unregister(pgid)
        (self._record_dir(job) / f"{job.id}.json").unlink(missing_ok=True)

    def recover_interrupted(self, note: Callable[[str, Mapping[str, Any]], None]) -> None:
        """Stop build jobs a killed relman left running (their whole process group), before a
        resumed run reuses their folders. Called by the engine before any step runs."""
        folder = self.log_dir / "jobs" if self.log_dir else None
        if folder is None or not folder.is_dir():
            return
        for record in sorted(folder.glob("*.json")):
            try:
                data = json.loads(record.read_text())
                pgid = int(data["pgid"])
            except (OSError, ValueError, KeyError, TypeError):
                record.unlink(missing_ok=True)
                continue
            if procs.group_alive(pgid):
                procs.stop_group(pgid)
                note("build-job-stopped", {"message": f"stopped build job {data.get('job')} (process group {pgid}) "
                                                      "left running by an interrupted run", "job": data.get("job"),
                                           "pgid": pgid, "stopped": not procs.group_alive(pgid)})
            record.unlink(missing_ok=True)

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

        cancel = procs.current_cancel()
        while len(results) < len(by_id):
            if cancel is not None and cancel.is_set():
                for job_id, (proc, _, _, handle) in list(running.items()):
                    self._kill(proc)
                    proc.wait()
                    handle.close()  # type: ignore[attr-defined]
                    self._forget(by_id[job_id], proc.pid)
                raise Cancelled(f"build job(s) {', '.join(running) or 'none'} stopped: the step was stopped")
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
                    self._forget(job, proc.pid)
                    del running[job_id]
                    finish(job, JobResult(job_id, False, code, log_path, [], elapsed,
                                          error=f"timed out after {job.timeout:.0f} s\n{_tail(log_path)}",
                                          where=f"local pid {proc.pid}"))
                    progressed = True
                elif code is not None:
                    handle.close()  # type: ignore[attr-defined]
                    if procs.group_alive(proc.pid):
                        procs.stop_group(proc.pid)   # what the job left running in its group goes too
                    self._forget(job, proc.pid)
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
        procs.register(proc.pid, f"build job {job.id}")
        self._record(job, proc.pid)
        emit(job.id, "started", f"local pid {proc.pid}: {' '.join(job.argv)}")
        return proc, time.monotonic(), log_path, handle

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        """The whole process group: SIGTERM, then SIGKILL for what is left after 5 s."""
        procs.stop_group(proc.pid, grace_s=5.0)

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
