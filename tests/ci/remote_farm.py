"""A released sample and a running release master, for the remote-worker tests.

`released_demo(root)` rehearses the sample release with local processes (its tag ends up on
`demo/fork.git`, its signing key in `demo/gnupg`); `Farm` wraps a running `start_isolated_buildbot`
and builds the release steps' contexts against it, the way the release run would.
Shared by test_remote_workers.py (isolated workers) and test_same_user_workers.py (the
fallback without root).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from relman.ci.buildbot_isolated import IsolatedBuildbot
from relman.config import Settings, load_settings
from relman.demo.rehearsal import run_demo
from relman.demo.signing import demo_signing
from relman.engine.step import StepContext
from relman.release.build import build_steps
from relman.release.context import Release
from relman.release.remote_build import RemoteSource
from relman.vcs import Git
from relman.version import Version

VERSION = "3.14.0rc1"
TAG = "v3.14.0rc1"


def released_demo(root: Path) -> Path:
    """The sample released once with the local executor (its tag is on fork.git): `root/demo`."""
    outcome = run_demo(root / "demo", executor="local")
    assert outcome.result.status == "done"
    return root / "demo"


def buildbot_settings(demo: Path) -> Settings:
    """The sample's settings with the Buildbot executor and the demo's signing key."""
    return load_settings(demo / "cpython", {"build": {"executor": "buildbot"}, "signing": demo_signing(demo)})


class Farm:
    def __init__(self, root: Path, bb: IsolatedBuildbot, settings: Settings, tampered_commit: str | None = None):
        self.root, self.bb, self.settings, self.tampered_commit = root, bb, settings, tampered_commit
        self.repo = root / "demo" / "cpython"
        self.commit = Git(self.repo).out("rev-parse", f"{TAG}^{{commit}}")

    def source(self, fork: str = "fork.git") -> RemoteSource:
        return RemoteSource(self.bb.fork_url(self.root / "demo" / fork), TAG, self.commit)

    def release(self, work: Path, **build: object) -> Release:
        build.setdefault("timeout_s", 300.0)     # a stuck test fails in minutes, not half an hour
        settings = self.settings.model_copy(update={"build": self.settings.build.model_copy(update=build)})
        return Release(Version.parse(VERSION), self.repo, settings, Git(self.repo), work)

    def ctx(self, step_id: str, release: Release, deps: dict, queue_timeout: float = 600.0,
            **resources: object) -> StepContext:
        step = next(s for s in build_steps() if s.id == step_id)
        executor = self.bb.executor(log_dir=release.work_dir / "logs", poll=0.2, queue_timeout=queue_timeout)
        return StepContext(step=step, params={"executor": "buildbot", "profile": "demo"}, dep_outputs=deps,
                           resources={"release": release, "executor": executor, **resources},
                           approved_gates=frozenset(), _events=queue.Queue())

    def kill_mid_build(self, killed: list[str]) -> threading.Thread:
        """A thread that SIGKILLs the worker of the first running build, half a second into it."""
        local = self.bb.release.local

        def run() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running = (local.get("/builds?complete=false&property=workername") or {}).get("builds") or []
                for build in running:
                    steps = (local.get(f"/builds/{build['buildid']}/steps") or {}).get("steps") or []
                    if any(s["name"] == "job" and s["started_at"] and not s["complete"] for s in steps):
                        time.sleep(0.5)       # in the middle of the job: fetching or building
                        name = build["properties"]["workername"][0]
                        local.stop_worker(name, kill=True)
                        killed.append(name)
                        return
                time.sleep(0.1)
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def revive(self, killed: list[str]) -> None:
        local = self.bb.release.local
        for name in killed:
            local.start_worker(name)
        local.wait_for(lambda: all(w["connected_to"] for w in local.get("/workers")["workers"]), "workers back")
