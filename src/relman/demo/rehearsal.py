"""`relman demo`: a whole release of the sample project, through the same code as a real one.

Only the configuration differs from a real release: the remotes are local bare repositories
and every gate is approved by the demo's policy (and journaled as such). Running the demo
again on the same folder resumes an interrupted rehearsal; `fresh` starts a new one.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.runner import ApprovalPolicy, Observer, RunResult
from ..errors import UsageError
from ..release.session import ReleaseSession
from ..version import Version
from .sample import create_sample_project
from .signing import demo_signing, stop_demo_agent
from .standins import demo_publishing

DEFAULT_VERSION = "3.14.0rc1"
MARKER = "relman-demo.json"
DEMO_POLICY = "demo policy (rehearsal: every gate pre-approved)"


@dataclass
class DemoOutcome:
    result: RunResult
    session: ReleaseSession
    root: Path
    already_finished: bool
    wall_s: float
    report: Path
    site_url: str | None = None
    workers: str | None = None      # --executor buildbot: who the build workers are (isolated or not)

    def summary(self) -> dict[str, Any]:
        steps = [row.as_dict() for row in self.result.steps.values()]  # the shape of every command's JSON
        return {
            "run_id": self.result.run_id,
            "version": self.session.version.text,
            "status": self.result.status,
            "already_finished": self.already_finished,
            "state_db": str(self.session.db_path),
            "repo": str(self.session.repo),
            "artifacts_dir": str(self.root / "work" / "artifacts"),
            "downloads_dir": str(self.root / "downloads"),
            "site_dir": str(self.root / "site"),
            "site_url": self.site_url,
            "report": str(self.report),
            "steps": steps,
            "failed": self.result.failed,
            "paused": [gate for _, gate in self.result.paused],
            "executor": self.session.settings.build.executor,
            "workers": self.workers,
            "wall_s": round(self.wall_s, 3),
        }


def prepare(root: Path, version: str | None, fresh: bool) -> tuple[Path, Version, bool]:
    """Create (or find) the rehearsal folder; returns (root, version, created)."""
    root = Path(root).expanduser().resolve()
    marker = root / MARKER
    partial = root / (MARKER + ".partial")
    if partial.exists() and not marker.exists():
        shutil.rmtree(root)  # the sample was being created when the last demo stopped: start it again
    if fresh and root.exists():
        if marker.exists() or partial.exists() or not any(root.iterdir()):
            shutil.rmtree(root)
        else:
            raise UsageError(f"{root} exists and is not a relman demo folder; refusing to delete it",
                             hint="choose another --dir")
    if marker.exists():
        recorded = json.loads(marker.read_text())["version"]
        if version and Version.parse(version).text != recorded:
            raise UsageError(f"{root} holds a rehearsal of {recorded}, not {version}",
                             hint="pass --fresh to start over, or another --dir")
        return root, Version.parse(recorded), False
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} is not empty and is not a relman demo folder", hint="choose another --dir")
    v = Version.parse(version or DEFAULT_VERSION)
    if v.is_development_start:
        raise UsageError(f"{v} is not a release", hint=f"try {DEFAULT_VERSION}")
    root.mkdir(parents=True, exist_ok=True)
    partial.write_text(v.text + "\n")
    create_sample_project(root, v)
    partial.unlink()
    marker.write_text(json.dumps({"version": v.text, "created": time.time()}) + "\n")
    return root, v, True


def run_demo(root: Path, *, version: str | None = None, fresh: bool = False, executor: str = "local",
             observer: Observer | None = None, as_json: bool = False,
             serve: Callable[[DemoOutcome], None] | None = None, sftp: bool = False) -> DemoOutcome:
    """Rehearse the release; with `serve`, it is called with the outcome while the demo's
    downloads site is still running (it returns when the site may stop)."""
    started = time.monotonic()
    root, v, _ = prepare(root, version, fresh)
    # Only endpoints and the rehearsal's own key differ from the sample's committed relman.toml.
    overrides = {"build": {"executor": executor}, "readiness": {"cycle": str(root / "release-cycle.json")},
                 "signing": demo_signing(root),
                 "announce": {"live": {"enabled": True, "feed": str(root / "live-feed.jsonl")}}}
    policy = ApprovalPolicy(policy=frozenset({"*"}), policy_name=DEMO_POLICY)
    with build_workers(root, executor, v) as buildbot, \
            demo_publishing(root, v, buildbot.url if buildbot is not None else None, sftp=sftp) as publishing:
        overrides["publish"] = publishing.settings(root)
        if buildbot is not None:
            overrides["build"] = {"executor": "buildbot"}
        session = ReleaseSession.open(v.text, root / "cpython", state_dir=root / "state", work_dir=root / "work",
                                      overrides=overrides)
        workers = buildbot.isolation if buildbot is not None else None
        if buildbot is not None:   # endpoints that change on every start: resources, not settings
            session.resources["executor"] = buildbot.executor(log_dir=root / "work" / "logs")
            session.resources.update(buildbot_resources(root, buildbot))
        try:
            result = session.run(approvals=policy, observer=observer, as_json=as_json)
        finally:
            stop_demo_agent(root)  # the gpg-agent the demo's keyring started does not outlive it
        already = result.wall_s == 0.0 and result.status == "done"
        report = root / "report.md"
        write_report(session, result.run_id, report)
        outcome = DemoOutcome(result, session, root, already, time.monotonic() - started, report,
                              site_url=publishing.site.url, workers=workers)
        if serve is not None:
            serve(outcome)
    return outcome


def ci_builders(version: Version) -> list[tuple[str, list[str]]]:
    """The demo master's CI builders for the release's branch, tagged as CPython's are (branch
    tag, stable, tier-N): their builds are what the dashboard's verdict for the branch reads."""
    tag = "3.x" if version.branch == "main" else version.basic_version
    return [(f"AMD64 Sample {tag}", [tag, "stable", "tier-1"]),
            (f"ARM64 Sample {tag}", [tag, "stable", "tier-2"])]


def start_ci_builds(buildbot: Any, root: Path, version: Version) -> threading.Thread:
    """Build the release branch on the CI builders once, in the background: a clone of the fork
    over git:// and the sample's own `make test`, on the workers (real builds, real results)."""
    from ..ci.executor import BuildJob

    url = buildbot.fork_url(root / "fork.git")
    names = [name for name, _ in ci_builders(version)]
    jobs = [BuildJob(id=f"ci-{i}", cwd=Path("."), output_dir=root / "work" / "ci" / f"ci-{i}", worker_output_dir="ci-out",
                     argv=("sh", "-c", f"rm -rf src && git clone -q --depth 1 --branch {version.branch} {url} src "
                                       "&& make -C src test"), timeout=600)
            for i, _ in enumerate(names)]
    executor = buildbot.executor(builder={job.id: name for job, name in zip(jobs, names)},
                                 log_dir=root / "work" / "ci-logs")

    def run() -> None:
        try:
            executor.run(jobs)
        except Exception as error:  # noqa: BLE001 - CI for the dashboard must never stop the rehearsal
            print(f"demo: CI builds did not finish: {error}", file=sys.stderr)

    thread = threading.Thread(target=run, name="demo-ci-builds", daemon=True)
    thread.start()
    return thread


@contextmanager
def build_workers(root: Path, executor: str, version: Version) -> Iterator[Any]:
    """With `--executor buildbot`, a real Buildbot master and two workers for the rehearsal's build
    jobs, and CI builders for the release branch whose builds the dashboard judges (stopped
    afterwards, whatever happens); nothing for local processes."""
    if executor != "buildbot":
        yield None
        return
    from ..ci.buildbot_isolated import make_rm_private, start_isolated_buildbot

    # The workers share nothing with the release manager: another user, its own HOME and venv,
    # the fork over git:// (see ci/buildbot_isolated.py); the RM's folders are private.
    make_rm_private([root, root / "cpython", root / "state", root / "gnupg"])
    with start_isolated_buildbot(root / "buildbot", workers=2, serve=[root / "fork.git"],
                                 log=lambda line: print(f"demo: {line}", file=sys.stderr),
                                 ci_builders=ci_builders(version)) as buildbot:
        print(f"demo: build workers: {buildbot.isolation}", file=sys.stderr)
        ci = start_ci_builds(buildbot, root, version)
        try:
            yield buildbot
        finally:
            ci.join(timeout=60)   # (a CI build still running is stopped with the master)


def buildbot_resources(root: Path, buildbot: Any) -> dict[str, Any]:
    """What the demo's workers are told: the fork's git:// URL, and their relman command (their
    own `relman`; a same-user worker uses this relman, as its label says)."""
    command = ["relman"] if buildbot.isolated else [str(Path(sys.executable).with_name("relman"))]
    return {"worker_fork_url": buildbot.fork_url(root / "fork.git"), "worker_command": command}


def write_report(session: ReleaseSession, run_id: int, path: Path) -> None:
    from ..announce.diary import render_diary
    from ..engine.journal import Journal

    journal = Journal(session.db_path)
    try:
        path.write_text(render_diary(journal, run_id, "md"))
        path.with_suffix(".svg").write_text(render_diary(journal, run_id, "svg"))
    finally:
        journal.close()
