"""The Buildbot executor: build jobs as builds on Buildbot workers.

The same `BuildJob`s the local executor runs as processes, run instead as builds forced on a
release build master (see `buildbot_release`: a ForceScheduler `relman` declaring the job's
properties, and builders whose factory runs the job command from them):

1. for each job whose dependencies succeeded, force a build on its builder with the job as
   properties (argv as JSON, cwd, env as JSON, output_dir, max_time, upload, tag, commit);
   independent jobs are forced at once and run in parallel on as many workers as are free;
2. follow each build over the REST API until it completes; past `job.timeout` (counted from
   the moment a worker started it) the build is stopped and the job fails as timed out;
3. collect the outputs: the job writes into `output_dir` (the same absolute path on the
   worker), and the build uploads that folder to the master's drop dir
   (`<drop_dir>/<builder>/<build number>/`); files missing from `job.output_dir` are copied
   from the drop copy, so workers that do not share this machine's filesystem work too;
4. fetch every step's logs (`/builds/N/steps`, `/steps/M/logs`, `/logs/L/contents`) into one
   local log file per job, `<log_dir or output_dir>/<job id>.log`.

Like every executor, `run` never raises for a failed job: an unreachable master, an unknown
builder, a failed command, a timeout or a missing output each become a `JobResult` with
`ok=False` and an error for people (with the tail of the job's log when there is one).
`JobResult.where` is "buildbot: <builder> build #N (<link to the build page>)".
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RelmanError
from .buildbot import RETRY, SUCCESS, WARNINGS, Build, BuildbotClient, result_name
from .buildbot_release import DEFAULT_BUILDER, SCHEDULER, worker_builder
from .executor import BuildJob, EventCallback, JobResult, check_jobs, collect_outputs, safe_emitter

TAIL_LINES = 30
JOB_STEP = "job"                  # the factory's step that runs the command
_EXIT_CODE = re.compile(r"program finished with exit code (-?\d+)")


class BuildbotExecutor:
    """Run build jobs as builds on a Buildbot master's workers.

    buildbot_url  the master's web root (or its /api/v2)
    builder       one builder name for every job, or a mapping job id → builder name (jobs not
                  in it go to `relman-jobs`)
    drop_dir      the master's drop dir as seen from here; builds upload their output_dir there.
                  None: no upload (the workers share this machine's filesystem)
    log_dir       where `<job id>.log` goes (default: the job's output_dir, like LocalExecutor)
    poll          seconds between status polls of a running build
    tag, commit   build properties for every job (a job's env RELMAN_TAG / RELMAN_COMMIT wins)
    queue_timeout how long a build may wait for a free worker before the job fails
    """

    name = "buildbot"

    def __init__(self, buildbot_url: str, *, builder: str | Mapping[str, str] = DEFAULT_BUILDER,
                 drop_dir: Path | None = None, log_dir: Path | None = None, poll: float = 0.5,
                 tag: str | None = None, commit: str | None = None, queue_timeout: float = 3600.0,
                 scheduler: str = SCHEDULER, username: str = "relman <relman@relman.invalid>",
                 stop_grace: float = 30.0, client_factory: Callable[[str], BuildbotClient] | None = None):
        self.url = buildbot_url
        self.builder = builder
        self.drop_dir = Path(drop_dir) if drop_dir is not None else None
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.poll = poll
        self.tag = tag
        self.commit = commit
        self.queue_timeout = queue_timeout
        self.scheduler = scheduler
        self.username = username
        self.stop_grace = stop_grace
        self._client_factory = client_factory or (lambda url: BuildbotClient(url))

    # ---- public ---------------------------------------------------------------------------
    # Workers of a release build master see none of this machine's paths (release builds send them
    # a remote URL, a tag and a commit, and get the files back through the master's drop dir).
    shares_filesystem = False

    def builder_for(self, job: BuildJob) -> str:
        if job.worker:
            return worker_builder(job.worker)
        if isinstance(self.builder, str):
            return self.builder
        return self.builder.get(job.id, DEFAULT_BUILDER)

    def properties_for(self, job: BuildJob) -> dict[str, str]:
        """The ForceScheduler parameters for `job` (all strings, as the scheduler declares them)."""
        return {
            "job_id": job.id,
            "argv": json.dumps(list(job.argv)),
            "cwd": str(job.cwd),
            "env": json.dumps(dict(job.env), sort_keys=True),
            "output_dir": job.worker_output_dir or str(job.output_dir),
            # the worker's own backstop; relman stops the build itself at job.timeout
            "max_time": str(int(job.timeout + self.stop_grace + 1)),
            "upload": "1" if self.drop_dir is not None else "0",
            "tag": job.env.get("RELMAN_TAG") or self.tag or "",
            "commit": job.env.get("RELMAN_COMMIT") or self.commit or "",
            "input_src": job.worker_input[0] if job.worker_input else "",
            "input_dest": job.worker_input[1] if job.worker_input else "",
        }

    def connected_workers(self) -> list[str]:
        """The names of the master's workers that are connected now."""
        async def ask() -> list[str]:
            async with self._client_factory(self.url) as bb:
                return sorted(w.name for w in await bb.workers() if w.connected)
        return _run_sync(ask)

    def run(self, jobs: Sequence[BuildJob], *, on_event: EventCallback | None = None) -> dict[str, JobResult]:
        """Run the jobs, respecting deps, in parallel where possible; never raise for a failed job."""
        return _run_sync(lambda: self._run_all(jobs, on_event))

    # ---- scheduling -------------------------------------------------------------------------
    async def _run_all(self, jobs: Sequence[BuildJob], on_event: EventCallback | None) -> dict[str, JobResult]:
        emit = safe_emitter(on_event)
        results: dict[str, JobResult] = {}
        by_id, blocked = check_jobs(jobs)

        done = {job_id: asyncio.Event() for job_id in by_id}

        def finish(job_id: str, result: JobResult) -> None:
            results[job_id] = result
            done[job_id].set()
            emit(job_id, "finished", "ok" if result.ok else (result.error or "failed").splitlines()[0])

        async with self._client_factory(self.url) as bb:
            watcher = _Watcher(bb, self.poll)

            async def one(job: BuildJob) -> None:
                if job.id in blocked:
                    finish(job.id, self._failed(job.id, blocked[job.id]))
                    return
                for dep in job.deps:
                    await done[dep].wait()
                failed = [d for d in job.deps if not results[d].ok]
                if failed:
                    finish(job.id, self._failed(job.id, f"not run: dependency {', '.join(failed)} failed"))
                    return
                try:
                    result = await self._run_job(bb, watcher, job, emit)
                except Exception as error:  # noqa: BLE001 - run() never raises for a failed job
                    message = error.message if isinstance(error, RelmanError) else f"{type(error).__name__}: {error}"
                    result = self._failed(job.id, f"buildbot executor: {message}", where=f"buildbot: {self.url}")
                finish(job.id, result)

            await asyncio.gather(*(one(job) for job in by_id.values()))
        return {job.id: results[job.id] for job in jobs if job.id in results}

    # ---- one job ------------------------------------------------------------------------------
    async def _run_job(self, bb: BuildbotClient, watcher: _Watcher, job: BuildJob, emit) -> JobResult:
        builder = self.builder_for(job)
        log_path = self._log_path(job)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        try:
            requests = await bb.force_build(builder, self.properties_for(job), scheduler=self.scheduler,
                                            reason=f"relman job {job.id}", username=self.username)
        except RelmanError as error:
            message, hint = error.message, error.hint
            if "HTTP 404" in message and "/builders/" in message:
                message = f"no builder named {builder!r} on {bb.root}"
                hint = await _known_builders_hint(bb)
            elif "HTTP 404" in message and "/forceschedulers/" in message:
                message = f"no ForceScheduler {self.scheduler!r} on {bb.root}"
                hint = "is this a relman release build master? (see relman.ci.buildbot_release)"
            text = f"could not force a build on {builder!r}: {message}" + (f"\n  hint: {hint}" if hint else "")
            log_path.write_text(f"$ {' '.join(job.argv)}\n{text}\n")
            return JobResult(job.id, False, None, log_path, [], time.monotonic() - t0, error=text,
                             where=f"buildbot: {builder} ({bb.root})")
        if len(requests) != 1:
            return JobResult(job.id, False, None, log_path, [], time.monotonic() - t0,
                             error=f"forcing {builder!r} made {len(requests)} build requests, expected 1",
                             where=f"buildbot: {builder} ({bb.root})")
        [request] = requests

        tried: list[Build] = []
        build, timed_out, problem = await self._follow(bb, watcher, job, builder, request, t0, emit, tried)
        elapsed = time.monotonic() - t0
        if build is None:
            log_path.write_text(f"$ {' '.join(job.argv)}\n{problem}\n")
            return JobResult(job.id, False, None, log_path, [], elapsed, error=problem,
                             where=f"buildbot: {builder} build request #{request} ({bb.root})")

        build_url = bb.build_url(build.builderid, build.number)
        where = f"buildbot: {builder} build #{build.number} ({build_url})"
        job_log, returncode = await self._write_log(bb, job, builder, build, log_path)
        info = {"builder": builder, "build_number": build.number, "build_url": build_url,
                "worker": await _worker_of(bb, build), "log": str(log_path),
                "drop": f"{builder}/{build.number}" if self.drop_dir is not None else None,
                "attempts": len(tried)}
        retried = [b for b in tried if b.buildid != build.buildid]
        if retried:
            gone = [await _worker_of(bb, b) for b in retried]
            info["retried_after"] = gone
            with log_path.open("a") as log:
                for b, worker in zip(retried, gone):
                    log.write(f"\n=== relman: build #{b.number} on worker {worker} did not finish (its worker went "
                              f"away); Buildbot gave the job to another worker: build #{build.number}\n")
        tail = "\n".join(job_log.splitlines()[-TAIL_LINES:])
        if timed_out:
            return JobResult(job.id, False, returncode, log_path, [], elapsed,
                             error=_with_tail(f"timed out after {job.timeout:g} s; build stopped", tail),
                             where=where, info=info)
        if build.results not in (SUCCESS, WARNINGS):
            what = f"exited {returncode}" if returncode not in (None, 0) else \
                f"build {result_name(build.results)}: {build.state_string}"
            return JobResult(job.id, False, returncode, log_path, [], elapsed, error=_with_tail(what, tail),
                             where=where, info=info)
        copied = self._collect(job, builder, build)
        outputs, missing = collect_outputs(job)
        if missing:
            return JobResult(job.id, False, returncode, log_path, outputs, elapsed,
                             error=f"finished but produced no {', '.join(missing)} in {job.output_dir}",
                             where=where, info=info)
        if copied:
            with log_path.open("a") as log:
                log.write(f"\n=== relman: copied {len(copied)} file(s) from the drop dir into {job.output_dir}\n")
        return JobResult(job.id, True, returncode if returncode is not None else 0, log_path, outputs, elapsed,
                         where=where, info=info)

    async def _follow(self, bb: BuildbotClient, watcher: _Watcher, job: BuildJob, builder: str, request: int,
                      t0: float, emit, tried: list[Build]) -> tuple[Build | None, bool, str]:
        """Follow the build request until its build completes: (build, timed out?, problem)."""
        started: float | None = None
        lost_at: float | None = None
        announced: set[int] = set()
        watcher.watch(request)
        try:
            while True:
                builds, state = await watcher.status(request)
                latest = max(builds, key=lambda b: b.buildid) if builds else None
                if latest is not None and latest.buildid not in announced:
                    announced.add(latest.buildid)
                    tried.append(latest)
                    if started is None:
                        started = time.monotonic()
                    worker = await _worker_of(bb, latest)
                    on = f" on worker {worker}" if worker else ""
                    emit(job.id, "started", f"buildbot: {builder} build #{latest.number}{on} "
                                            f"({bb.build_url(latest.builderid, latest.number)}): {' '.join(job.argv)}")
                if latest is not None and latest.complete and latest.results != RETRY:
                    return latest, False, ""
                if (latest is None or latest.results == RETRY) and state.get("complete"):
                    if latest is not None:
                        return latest, False, ""
                    return None, False, (f"build request #{request} on {builder!r} ended without a build "
                                         f"({result_name(state.get('results'))})")
                if latest is None and time.monotonic() - t0 > self.queue_timeout:
                    await _cancel_request(bb, request)
                    return None, False, (f"no worker of {builder!r} took the build within {self.queue_timeout:g} s "
                                         f"(build request #{request} cancelled)")
                if latest is not None and latest.results == RETRY and latest.complete:
                    # its worker went away mid-build: Buildbot put the request back in the queue
                    lost_at = lost_at or time.monotonic()
                    if time.monotonic() - lost_at > self.queue_timeout:
                        await _cancel_request(bb, request)
                        return None, False, (f"the worker of build #{latest.number} went away mid-build and no "
                                             f"other worker of {builder!r} took the job within "
                                             f"{self.queue_timeout:g} s (build request #{request} cancelled); "
                                             "run again when a worker is back")
                    continue
                if latest is not None and started is not None and time.monotonic() - started > job.timeout:
                    await bb.stop_build(latest.buildid, reason=f"relman: timed out after {job.timeout:g} s")
                    return await self._wait_stopped(bb, latest), True, ""
        finally:
            watcher.unwatch(request)

    async def _wait_stopped(self, bb: BuildbotClient, build: Build) -> Build:
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline:
            current = await bb.build(build.buildid)
            if current.complete:
                return current
            await asyncio.sleep(min(self.poll, 0.2))
        return build

    # ---- logs and outputs ---------------------------------------------------------------------
    async def _write_log(self, bb: BuildbotClient, job: BuildJob, builder: str, build: Build,
                         log_path: Path) -> tuple[str, int | None]:
        """Every step's logs into `log_path`; return the job step's log text and exit code."""
        steps = await bb.get(f"/builds/{build.buildid}/steps", key="steps")
        logs = await bb.gather(bb.get(f"/steps/{s['stepid']}/logs", key="logs") for s in steps)
        contents = await bb.gather(bb.gather(_log_text(bb, log) for log in step_logs) for step_logs in logs)
        job_text = ""
        job_ran = False
        returncode = None
        with log_path.open("w") as out:
            out.write(f"$ {' '.join(job.argv)}\n")
            out.write(f"# buildbot: {builder} build #{build.number} "
                      f"{bb.build_url(build.builderid, build.number)} ({result_name(build.results)})\n")
            for step, step_logs, texts in zip(steps, logs, contents):
                out.write(f"\n=== step {step.get('number')}: {step.get('name')} — "
                          f"{step.get('state_string') or result_name(step.get('results'))}\n")
                for log, (text, output) in zip(step_logs, texts):
                    if len(step_logs) > 1:
                        out.write(f"--- log {log.get('name')}\n")
                    out.write(text if text.endswith("\n") or not text else text + "\n")
                    if step.get("name") == JOB_STEP and log.get("name") == "stdio":
                        job_ran = True
                        job_text = output
                        codes = _EXIT_CODE.findall(text)
                        returncode = int(codes[-1]) if codes else None
        if not job_ran:   # the job step never ran (e.g. mkdir failed): show the whole log
            job_text = log_path.read_text(errors="replace")
        return job_text, returncode

    def _collect(self, job: BuildJob, builder: str, build: Build) -> list[Path]:
        """Copy files of the build's drop copy that are missing from job.output_dir."""
        if self.drop_dir is None:
            return []
        return collect_from_drop(self.drop_dir / builder / str(build.number), job.output_dir)

    def _log_path(self, job: BuildJob) -> Path:
        folder = self.log_dir or job.output_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{job.id}.log"

    def _failed(self, job_id: str, error: str, where: str | None = None) -> JobResult:
        return JobResult(job_id, False, None, None, [], 0.0, error=error, where=where or "buildbot")


class _Watcher:
    """One poller for every followed build request: two REST requests per round, whatever the
    number of jobs (a master is single-threaded Python; one poll per job per round slows it down)."""

    BUILD_FIELDS = ("buildid", "buildrequestid", "builderid", "number", "results", "complete",
                    "started_at", "complete_at", "state_string")

    def __init__(self, bb: BuildbotClient, poll: float):
        self.bb = bb
        self.poll = poll
        self.requests: set[int] = set()
        self.builds: dict[int, list[Build]] = {}
        self.states: dict[int, dict[str, Any]] = {}
        self._round: asyncio.Future[None] | None = None
        self._last = 0.0

    def watch(self, request: int) -> None:
        self.requests.add(request)

    def unwatch(self, request: int) -> None:
        self.requests.discard(request)
        self.builds.pop(request, None)
        self.states.pop(request, None)

    async def status(self, request: int) -> tuple[list[Build], dict[str, Any]]:
        """The request's builds and state after the next polling round (shared by every caller)."""
        if self._round is None or self._round.done():
            self._round = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._round)
        return self.builds.get(request, []), self.states.get(request, {})

    async def _refresh(self) -> None:
        wait = self._last + self.poll - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = time.monotonic()
        ids = sorted(self.requests)
        if not ids:
            return
        wanted = [("buildrequestid__in", i) for i in ids]
        builds, states = await self.bb.gather([
            self.bb.get("/builds", [*wanted, *(("field", f) for f in self.BUILD_FIELDS)], key="builds"),
            self.bb.get("/buildrequests", [*wanted, ("field", "buildrequestid"), ("field", "complete"),
                                           ("field", "results")], key="buildrequests")])
        grouped: dict[int, list[Build]] = {}
        for item in builds:
            grouped.setdefault(int(item["buildrequestid"]), []).append(Build.from_api(item))
        self.builds = grouped
        self.states = {int(item["buildrequestid"]): item for item in states}


def _run_sync(coroutine_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to its end, also when called from inside an event loop (in a thread then)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine_factory())
        except BaseException as error:  # noqa: BLE001 - re-raised below in the caller's thread
            box["error"] = error
    thread = threading.Thread(target=target, name="relman-buildbot-executor")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def collect_from_drop(drop: Path, output_dir: Path) -> list[Path]:
    """Copy every file under `drop` that `output_dir` lacks (same relative path); return the copies.

    On workers sharing this filesystem the job already wrote output_dir and nothing is copied;
    on remote workers the master's drop copy is the only one, and this brings it here.
    """
    if not drop.is_dir():
        return []
    copied = []
    for source in sorted(drop.rglob("*")):
        if not source.is_file():
            continue
        target = output_dir / source.relative_to(drop)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(target)
    return copied


def _with_tail(message: str, tail: str) -> str:
    return f"{message}\n{tail}" if tail.strip() else message


async def _log_text(bb: BuildbotClient, log: Mapping[str, Any]) -> tuple[str, str]:
    """A log's text, and the command's own output in it.

    Stdio logs ('s') carry a stream letter per line: o (stdout), e (stderr), h (Buildbot's
    header: the command, its folder, the exit code). The letters are dropped; the output
    leaves the header lines out (for the tail shown to people).
    """
    chunks = await bb.get(f"/logs/{log['logid']}/contents", key="logchunks")
    text = "".join(c.get("content") or "" for c in chunks)
    if log.get("type") != "s":
        return text, text
    full: list[str] = []
    output: list[str] = []
    for line in text.splitlines(keepends=True):
        stream, rest = (line[:1], line[1:]) if line[:1] in ("o", "e", "h") else ("o", line)
        full.append(rest)
        if stream != "h":
            output.append(rest)
    return "".join(full), "".join(output)


async def _worker_of(bb: BuildbotClient, build: Build) -> str | None:
    """The name of the worker that ran `build` (its `workername` property)."""
    try:
        full = await bb.build(build.buildid, properties=["workername"])
    except RelmanError:
        return None
    name = full.properties.get("workername")
    return str(name) if name else None


async def _known_builders_hint(bb: BuildbotClient) -> str | None:
    try:
        names = sorted(b.name for b in await bb.builders())
    except RelmanError:
        return None
    return ("builders on this master: " + ", ".join(names[:20]) + (" …" if len(names) > 20 else "")) if names \
        else "this master has no builders"


async def _cancel_request(bb: BuildbotClient, request: int) -> None:
    try:
        await bb._rpc(f"/buildrequests/{request}", "cancel", {"reason": "relman: no worker took it in time"})
    except RelmanError:
        pass


__all__ = ["BuildbotExecutor", "collect_from_drop"]
