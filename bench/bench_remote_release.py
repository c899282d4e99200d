"""The release build on two isolated Buildbot workers next to the local executor.

The same three build steps of the sample release (3.14.0rc1: archives, SBOMs, docs; the
reproducibility gate; test-source) run

- with the local executor (processes here, signing in the build job), and
- on a real Buildbot master with two workers that share nothing with this user (another user,
  its own venv, the fork over git daemon): build unsigned there, arrive, check, sign here; the
  gate's second build on the other worker; test-source on a worker.

For every Buildbot job the time is split by where it goes, from the master's own step
timestamps (REST `/builds/N/steps`): waiting for a worker (request submitted → build started),
`worker_preparation`, the `job` step (fetch + build on the worker), the `upload`/`input`
transfers, and relman's side after the build (fetching logs, collecting the drop copy).
Home work (arrival check, verify, signing) is measured around the calls.

Needs root (the worker user). Run from the repository root:
    .venv/bin/python bench/bench_remote_release.py
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench.results import write_section
from relman.ci.buildbot import BuildbotClient
from relman.ci.buildbot_isolated import (
    ensure_worker_user,
    start_isolated_buildbot,
    worker_venv,
)
from relman.ci.local import LocalExecutor
from relman.config import load_settings
from relman.demo.rehearsal import run_demo
from relman.demo.signing import demo_signing
from relman.engine.step import StepContext
from relman.release import build as build_mod
from relman.release import remote_build
from relman.release.context import Release
from relman.vcs import Git
from relman.version import Version

VERSION, TAG = "3.14.0rc1", "v3.14.0rc1"
STEPS = ("build.artifacts", "build.reproducible", "build.test-source")


def ctx_for(step_id: str, release: Release, executor, deps: dict, resources: dict) -> StepContext:
    step = next(s for s in build_mod.build_steps() if s.id == step_id)
    return StepContext(step=step, params={"executor": executor.name, "profile": "demo"}, dep_outputs=deps,
                       resources={"release": release, "executor": executor, **resources},
                       approved_gates=frozenset(), _events=queue.Queue())


def run_steps(release: Release, executor, deps: dict, resources: dict) -> dict[str, float]:
    times: dict[str, float] = {}
    outputs = dict(deps)
    actions = {"build.artifacts": build_mod.build_artifacts, "build.reproducible": build_mod.check_reproducible,
               "build.test-source": build_mod.run_test_source}
    for step_id in STEPS:
        t0 = time.perf_counter()
        outputs[step_id] = actions[step_id](ctx_for(step_id, release, executor, outputs, resources))
        times[step_id] = time.perf_counter() - t0
    return times


async def split_builds(url: str) -> list[dict[str, float]]:
    """Per Buildbot build: queue wait, worker_preparation, job, transfers (from the master's timestamps)."""
    rows = []
    async with BuildbotClient(url) as bb:
        builds = await bb.get("/builds", [("field", f) for f in ("buildid", "buildrequestid", "started_at",
                                                                 "complete_at")], key="builds")
        for b in builds:
            request = (await bb.get(f"/buildrequests/{b['buildrequestid']}", key="buildrequests"))[0]
            steps = await bb.get(f"/builds/{b['buildid']}/steps", key="steps")
            spans = {s["name"]: (s["complete_at"] or 0) - (s["started_at"] or 0) for s in steps if s.get("started_at")}
            rows.append({"queue": b["started_at"] - request["submitted_at"],
                         "prepare": spans.get("worker_preparation", 0.0),
                         "job": spans.get("job", 0.0),
                         "transfer": spans.get("upload outputs", 0.0) + spans.get("input", 0.0) + spans.get("output dir", 0.0),
                         "build": (b["complete_at"] or 0) - b["started_at"]})
    return rows


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root: the workers run as another user")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        assert run_demo(root / "demo", executor="local").result.status == "done"
        demo = root / "demo"
        repo = demo / "cpython"
        commit = Git(repo).out("rev-parse", f"{TAG}^{{commit}}")
        settings = load_settings(repo, {"signing": demo_signing(demo)})
        print(f"sample released in {time.perf_counter() - t0:.1f} s")

        local_release = Release(Version.parse(VERSION), repo, settings, Git(repo), root / "local")
        local = run_steps(local_release, LocalExecutor(log_dir=root / "local" / "logs"), {"source.tag": {
            "tag": TAG, "commit": commit}}, {})
        print("local:", {k: round(v, 2) for k, v in local.items()})

        t0 = time.perf_counter()
        worker_venv(ensure_worker_user())      # made once per source digest (reused when it exists)
        venv_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with start_isolated_buildbot(root / "bb", 2, serve=[demo / "fork.git"]) as bb:
            startup = time.perf_counter() - t0
            assert bb.isolated, bb.isolation
            remote_release = Release(Version.parse(VERSION), repo, settings, Git(repo), root / "remote")
            executor = bb.executor(log_dir=root / "remote" / "logs", poll=0.2)
            fork = {"url": bb.fork_url(demo / "fork.git"), "tag": TAG, "commit": commit}
            calls = {"arrival": 0.0, "sign": 0.0}
            originals = (remote_build.check_arrival, remote_build.sign_at_home)

            def timed(name, fn):
                def wrapper(*a, **k):
                    s = time.perf_counter()
                    try:
                        return fn(*a, **k)
                    finally:
                        calls[name] += time.perf_counter() - s
                return wrapper
            remote_build.check_arrival = timed("arrival", originals[0])
            remote_build.sign_at_home = timed("sign", originals[1])
            try:
                remote = run_steps(remote_release, executor, {"source.tag": fork, "build.fork-tag": fork}, {})
            finally:
                remote_build.check_arrival, remote_build.sign_at_home = originals
            split = asyncio.run(split_builds(bb.url))
        print("buildbot:", {k: round(v, 2) for k, v in remote.items()}, split, calls)

    n = len(split)
    total_remote, total_local = sum(remote.values()), sum(local.values())
    sums = {k: sum(r[k] for r in split) for k in ("queue", "prepare", "job", "transfer", "build")}
    rows = "\n".join(f"| `{s}` | {local[s]:.2f} s | {remote[s]:.2f} s |" for s in STEPS)
    body = f"""Script: `bench/bench_remote_release.py`. The sample release's build steps (3.14.0rc1: two
archives, SBOMs, three docs archives; the reproducibility gate; test-source), with the local
executor and on a real Buildbot 4.3 master with **2 isolated workers** (user `relman-worker`,
own venv with the system Python, the fork over `git daemon`; files built unsigned there,
checked and signed here; the gate's second build on the other worker).

| step | local executor | 2 isolated Buildbot workers |
|---|---:|---:|
{rows}
| **total** | **{total_local:.2f} s** | **{total_remote:.2f} s** |

Starting the master, the git daemon and the two isolated workers: {startup:.1f} s. The worker's
venv (a wheel built from the source, the venv seeded with hard links, relman installed):
{venv_s:.1f} s here, made once per source digest and reused while the source is unchanged.

Where a Buildbot job's time goes ({n} builds, sums over them, from the master's step timestamps,
which are whole seconds):

| part | total | per job |
|---|---:|---:|
| waiting for a worker (request → build start) | {sums['queue']:.2f} s | {sums['queue'] / n:.2f} s |
| `worker_preparation` | {sums['prepare']:.2f} s | {sums['prepare'] / n:.2f} s |
| the job on the worker (fetch the tag + build / test) | {sums['job']:.2f} s | {sums['job'] / n:.2f} s |
| transfers (mkdir, input download, upload to the drop dir) | {sums['transfer']:.2f} s | {sums['transfer'] / n:.2f} s |
| relman here: arrival check (name, size, SHA-256) | {calls['arrival']:.2f} s | |
| relman here: verify unsigned + sign + signed manifest | {calls['sign']:.2f} s | |
| the rest: polling, log fetch over REST, copying from the drop dir, the master's step bookkeeping | {total_remote - sums['queue'] - sums['build'] - calls['arrival'] - calls['sign']:.2f} s | |

Overhead per job against the local executor: {(total_remote - total_local) / n:.2f} s.
2 cores shared by the master, both workers and the jobs (and by other work on this machine:
load inflates the Buildbot column). The local executor's gate rebuilds only the source
archives here; the remote gate rebuilds everything on the other worker (stronger evidence,
more work)."""
    write_section("Release build: 2 isolated Buildbot workers vs local executor", body)
    print(body)


if __name__ == "__main__":
    main()
